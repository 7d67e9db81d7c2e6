"""Where the shipped data lives: typologies, their fixture cases, SQL, reference tables and
input mappings.

In a wheel the top-level folders are packaged under ``engine/_data``; in a source
checkout (editable install, tests) they sit beside the ``engine`` package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def data_root() -> Path:
    """Return the folder holding ``typologies/``, ``sql/``, ``reference/`` and ``mappings/``."""
    packaged = Path(__file__).parent / "_data"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent


def typologies_dir() -> Path:
    return data_root() / "typologies"


def sql_dir() -> Path:
    return data_root() / "sql"


def reference_dir() -> Path:
    root = data_root()
    packaged = root / "reference"
    return packaged if packaged.is_dir() else root / "fixtures" / "reference"


def mappings_dir() -> Path:
    root = data_root()
    packaged = root / "mappings"
    return packaged if packaged.is_dir() else root / "fixtures" / "mappings"


def cases_dir() -> Path:
    """The fixture cases, ``<ID>/pos_*.yaml`` and ``<ID>/neg_*.yaml`` per typology."""
    root = data_root()
    packaged = root / "cases"
    return packaged if packaged.is_dir() else root / "fixtures" / "typologies"


def sql_text(relative: str) -> str:
    """Read one shipped SQL file, e.g. ``sql_text("staging/transactions.sql")``."""
    return (sql_dir() / relative).read_text(encoding="utf-8")
