"""iff-engine: finds illicit financial flows linked to human trafficking in transaction data.

``scan``, ``open_run`` and ``Run`` (see :mod:`engine.api`) are imported on first use, so
importing the package (and ``iff --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Run", "__version__", "open_run", "scan"]

if TYPE_CHECKING:
    from engine.api import Run, open_run, scan


def __getattr__(name: str) -> Any:
    if name in ("Run", "open_run", "scan"):
        from engine import api

        return getattr(api, name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
