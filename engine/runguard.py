"""Run control: a signal stops a run cleanly, a full disk becomes one clear message.

``interruptible()`` (entered by the command line around a scan or a validation) turns
SIGINT and SIGTERM into ``RunInterrupted``. Python runs signal handlers only between
bytecodes, so a long DuckDB query would delay the stop until it finished: the signal
also wakes a watcher thread (``signal.set_wakeup_fd``) that interrupts every connection
registered with ``watched(con)``; the query then fails at once and the handler's
exception unwinds the run, whose cleanup removes the staging folder and spill files.

``out_of_space(...)`` maps DuckDB's out-of-space errors (spill past
``max_temp_directory_size``, "No space left on device") and ``OSError`` ENOSPC to
``ResourceError`` naming the folder and the space needed.
"""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Final

import duckdb

from engine.errors import InputError, ResourceError, RunInterrupted

_SIGNALS: dict[int, str] = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class _Guard:
    """Signal handlers plus the watcher thread that interrupts running queries."""

    def __init__(self) -> None:
        self.connections: list[duckdb.DuckDBPyConnection] = []
        self.lock = threading.Lock()
        self.stopping = False
        self.received: RunInterrupted | None = None
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.thread = threading.Thread(target=self._watch, name="iff-signals", daemon=True)

    def _watch(self) -> None:
        while data := os.read(self.read_fd, 64):
            if any(b in _SIGNALS for b in data):
                with self.lock:
                    for con in self.connections:
                        with suppress(duckdb.Error):
                            con.interrupt()

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            return  # already unwinding: let the cleanup finish
        self.stopping = True
        self.received = RunInterrupted(signum, _SIGNALS.get(signum, str(signum)))
        raise self.received


_active: list[_Guard] = []


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM raise ``RunInterrupted`` and interrupt DuckDB.

    Outside the main thread (where Python allows no signal handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    guard = _Guard()
    previous = {s: signal.signal(s, guard.handle) for s in _SIGNALS}
    previous_fd = signal.set_wakeup_fd(guard.write_fd, warn_on_full_buffer=False)
    guard.thread.start()
    _active.append(guard)
    try:
        yield
    except BaseException as exc:
        # The handler's exception can land anywhere, e.g. inside an import that DuckDB then
        # reports as a missing package, and an interrupted query fails with an error of its
        # own: once a signal came, whatever unwinds the run is that signal.
        if guard.received is not None and not isinstance(exc, RunInterrupted):
            raise guard.received from exc
        raise
    finally:
        _active.remove(guard)
        signal.set_wakeup_fd(previous_fd)
        for s, handler in previous.items():
            signal.signal(s, handler)
        os.close(guard.write_fd)
        guard.thread.join(timeout=1)
        os.close(guard.read_fd)


def raise_if_interrupted() -> None:
    """Raise the signal a guarded run received, if any: the handler's exception can be
    swallowed where it lands (a library catching every exception around a callback), so
    the stages check between them and a stop takes effect at the next boundary at worst."""
    for guard in _active:
        if guard.received is not None:
            raise guard.received


def watched(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Let a signal interrupt the queries of ``con`` for the rest of the guarded run."""
    for guard in _active:
        with guard.lock:
            guard.connections.append(con)
    return con


_ALLOCATE = re.compile(
    r"could not allocate block of size [\d.]+ \w+ \(([\d.]+ \w+/[\d.]+ \w+) used\)"
)
_OFFLOAD = re.compile(
    r"failed to offload data block of size ([\d.]+ \w+) \(([\d.]+ \w+)/([\d.]+ \w+) used\)"
)


def _is_out_of_space(exc: BaseException) -> bool:
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return (
        "No space left on device" in text
        or "max_temp_directory_size" in text
        or "failed to offload data block" in text
        or "[Errno 28]" in text
    )


def folder_bytes(folder: Path) -> int:
    """Bytes held by the files under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _mib(n: int) -> str:
    """Bytes in the unit that reads best: KiB below 1 MiB, MiB below 1 GiB, else GiB."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 2**10:,.1f} KiB"


def _free(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return 0


def _disk_full(folder: Path | str, needed: str, advice: str) -> ResourceError:
    return ResourceError(f"not enough disk space in {folder}: {needed}; {advice}", str(folder))


def _underlying(exc: BaseException) -> BaseException:
    """The DuckDB or OS error behind ``exc``: a stage raises its own error (``StageError``)
    from the one DuckDB raised, e.g. when the scan database's file cannot grow."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, duckdb.Error | OSError):
        cause = cause.__cause__
    return cause if cause is not None else exc


def resource_problem(exc: BaseException) -> ResourceError | None:
    """``ResourceError`` for an exception caused by a full disk or by DuckDB running out
    of memory, without knowing the run's folders (``iff validate``); else ``None``."""
    exc = _underlying(exc)
    text = str(exc)
    if isinstance(exc, duckdb.OutOfMemoryException) and not _is_out_of_space(exc):
        used = _ALLOCATE.search(text)
        detail = f" ({used.group(1)} of the memory limit in use)" if used else ""
        # the step that ran, where the stage named it (``building``)
        step = "".join(f" {note}" for note in getattr(exc, "__notes__", ()))
        return ResourceError(
            f"DuckDB ran out of memory{step}{detail}; raise --memory-limit or use fewer --threads"
        )
    if isinstance(exc, duckdb.Error | OSError) and _is_out_of_space(exc):
        filename = getattr(exc, "filename", None)
        folder = Path(filename).parent if filename else Path.cwd()
        return _disk_full(folder, f"{_mib(_free(folder))} free", "free disk space there")
    return None


def out_of_space(
    exc: BaseException, output_folder: Path, staging: Path, spill_folder: Path
) -> ResourceError | None:
    """``ResourceError`` for an exception caused by a full disk (or DuckDB's memory
    limit), else ``None``.

    Call it before the staging folder is removed: the message reports what was
    written there.

    Args:
        exc: the exception that ended the run.
        output_folder: the output folder asked for (named in the message).
        staging: where the outputs are written until they are published.
        spill_folder: DuckDB's temp directory for this run.
    """
    exc = _underlying(exc)
    if not isinstance(exc, duckdb.Error | OSError) or not _is_out_of_space(exc):
        return resource_problem(exc)
    text = str(exc)
    spill_limit = _OFFLOAD.search(text)
    if spill_limit or "max_temp_directory_size" in text:
        block, used, limit = spill_limit.groups() if spill_limit else ("?", "?", "?")
        return _disk_full(
            spill_folder,
            f"spill files needed more than the {limit} allowed there "
            f"({used} used, {block} more requested)",
            "free disk space there, raise --memory-limit, or use fewer --threads",
        )
    spill_used = folder_bytes(spill_folder)
    # spill files and outputs share the staging folder's disk; DuckDB only writes spill
    in_spill = str(spill_folder) in text or (isinstance(exc, duckdb.Error) and spill_used > 0)
    folder = spill_folder if in_spill else output_folder
    written = spill_used if in_spill else folder_bytes(staging) - spill_used
    return _disk_full(
        folder,
        f"the disk filled after {_mib(max(0, written))} written there "
        f"({_mib(_free(staging))} free now); the run needs more than that",
        "free disk space there or choose another folder (--out)",
    )


# --------------------------------------------------------------------------- memory budget

_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*", re.IGNORECASE)

PROCESS_BYTES: Final = 480 * 2**20
"""Resident memory of the scan outside DuckDB's buffers and the detectors' data: the
interpreter with DuckDB, Arrow and the engine (about 150 MiB), Great Expectations with its
validation sample (about 180 MiB) and PyOD with scikit-learn, SciPy and numba (about
150 MiB), measured with ``/proc/self/status`` on Python 3.11."""

DUCKDB_SHARE: Final = 0.85
"""DuckDB's ``memory_limit`` is this share of what the rest of the process leaves: its
limit covers the buffer manager only, and some operators allocate beside it (with the
whole remainder, a 10M-row scan under ``--memory-limit 3GB`` peaked 5% above the limit)."""

DUCKDB_BYTES_PER_THREAD: Final = 125 * 2**20
"""DuckDB's floor: below about 125 MiB per worker thread its operators cannot run even
when they spill (DuckDB's documentation; a 2.1M-row scan on 2 threads failed at 150 MB and
completed at 250 MB)."""


def parse_size(text: str) -> int:
    """Bytes in a size as DuckDB reads it: ``8GB`` (10^9), ``512MiB`` (2^20), ``1.5GB``.

    Raises:
        InputError: not a size.
    """
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise InputError(f"--memory-limit must be a size such as 8GB, 1.5GB or 512MB, got {text!r}")
    return int(float(match.group(1)) * _UNITS[unit])


def size_text(n: int) -> str:
    """A size as ``--memory-limit`` takes it, rounded up to a tenth of a GB (or 10 MB)."""
    if n > 9 * 10**8:
        return f"{math.ceil(n / 10**8) / 10:.1f}GB"
    return f"{math.ceil(n / 10**7) * 10}MB"


@dataclass(frozen=True)
class MemoryBudget:
    """How ``--memory-limit`` is shared out: the whole process stays under ``limit``.

    DuckDB gets ``DUCKDB_SHARE`` of what is left after ``PROCESS_BYTES`` and, while the
    detectors stage runs, the detectors' working set; it spills to its temp directory
    beyond that. ``check`` stops a run early with ``ResourceError`` (exit code 2) when the
    limit cannot be met, naming what it needs.

    Attributes:
        asked: the limit as given, e.g. "8GB".
        limit: the limit in bytes.
        threads: DuckDB's worker threads.
        detector_bytes: the detectors' working set in bytes, ``None`` until the number
            of accounts is known (``engine.detectors.working_set_bytes``).
    """

    asked: str
    limit: int
    threads: int
    detector_bytes: int | None

    @property
    def duckdb_floor(self) -> int:
        return DUCKDB_BYTES_PER_THREAD * max(1, self.threads)

    @property
    def needed(self) -> int:
        """The smallest limit this run can work under, as far as it is known."""
        return PROCESS_BYTES + (self.detector_bytes or 0) + self.duckdb_needed

    @property
    def duckdb_needed(self) -> int:
        """What DuckDB's floor costs of the limit (DuckDB gets ``DUCKDB_SHARE`` of its part)."""
        return math.ceil(self.duckdb_floor / DUCKDB_SHARE)

    @property
    def duckdb_bytes(self) -> int:
        """DuckDB's share while the detectors hold their working set (at least its floor,
        so that a run that cannot fit reaches ``check`` instead of failing inside DuckDB)."""
        rest = self.limit - PROCESS_BYTES - (self.detector_bytes or 0)
        return max(int(rest * DUCKDB_SHARE), self.duckdb_floor)

    @property
    def duckdb_bytes_between_detectors(self) -> int:
        """DuckDB's share in the stages before and after the detectors: their working set
        exists only while they run, so DuckDB has its part the rest of the time."""
        return replace(self, detector_bytes=None).duckdb_bytes

    def check(self, seen: str) -> None:
        """Raise ``ResourceError`` when the limit is below ``needed``; ``seen`` says
        what the estimate rests on, e.g. "2,100,000 transactions"."""
        if self.limit >= self.needed:
            return
        parts = (
            f"Python with its libraries {_mib(PROCESS_BYTES)}, "
            + (
                f"the detectors {_mib(self.detector_bytes)}, "
                if self.detector_bytes is not None
                else ""
            )
            + f"DuckDB at least {_mib(self.duckdb_needed)} for {self.threads} thread(s)"
        )
        raise ResourceError(
            f"--memory-limit {self.asked} is too small: for {seen} the run needs "
            + ("about " if self.detector_bytes is not None else "at least ")
            + f"{_mib(self.needed)} ({parts}); give --memory-limit "
            f"{size_text(self.needed)} or more"
            + (", or fewer --threads" if self.threads > 1 else "")
        )


@contextmanager
def building(table: str) -> Iterator[None]:
    """Name ``table`` on a DuckDB error raised while it is built (an exception note, read
    by ``resource_problem``: "DuckDB ran out of memory while building link_hits")."""
    try:
        yield
    except duckdb.Error as exc:
        exc.add_note(f"while building {table}")
        raise
