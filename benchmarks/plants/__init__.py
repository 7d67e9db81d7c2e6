"""Registry of planted patterns: every module of this package exports ``PLANTS``, a dict
from typology id to plant function (see ``benchmarks.planting``). Modules are merged in
name order and the registry is sorted by id, so the draw order is stable."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import numpy as np

from benchmarks.planting import Planted

PlantFn = Callable[[Planted, np.random.Generator, int, float], None]


def _collect() -> dict[str, PlantFn]:
    found: dict[str, PlantFn] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for pattern, plant in module.PLANTS.items():
            if pattern in found:
                raise ValueError(f"pattern {pattern} planted twice (again in {info.name})")
            found[pattern] = plant
    return dict(sorted(found.items()))


PATTERNS: dict[str, PlantFn] = _collect()
"""Typology id -> plant function, for every planted pattern."""
