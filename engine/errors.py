"""Errors with context. User errors exit with code 2, everything else with code 1."""

from __future__ import annotations

from collections.abc import Sequence


class IffError(Exception):
    """Base class of every error the engine raises on purpose."""

    exit_code = 1


class InputError(IffError):
    """A problem with what the user gave us: a file, an option, a config value.

    Attributes:
        path: the file concerned, when there is one.
        problem: what is wrong, in one sentence an analyst can act on.
    """

    exit_code = 2

    def __init__(self, problem: str, path: str | None = None) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class CatalogError(IffError):
    """The typology catalog is inconsistent; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"typology catalog has {len(self.problems)} problem(s):\n{listing}")


class StageError(IffError):
    """An unexpected failure inside one pipeline stage (an engine bug, not bad input)."""

    def __init__(self, stage: str, detail: str) -> None:
        self.stage = stage
        super().__init__(f"stage {stage!r} failed: {detail}")


class ResourceError(IffError):
    """The machine ran out of something the run needs: disk space for spill files or
    outputs, or memory under DuckDB's memory limit.

    Attributes:
        folder: where the space ran out (``None`` for memory).
    """

    exit_code = 2

    def __init__(self, problem: str, folder: str | None = None) -> None:
        self.folder = folder
        super().__init__(problem)


class RunInterrupted(BaseException):
    """SIGINT or SIGTERM ended the run; exit code 128 + signal number (130, 143).

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception``
    swallows it and every cleanup on the way out runs.
    """

    def __init__(self, signum: int, name: str) -> None:
        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"{name} received; the run was stopped and no output was published")
