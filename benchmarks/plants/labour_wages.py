"""Planted instances of the forced-labour wage typologies."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import Planted, at


def plant_wage_collection(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PLAB{i}", f"LAB-01-{i}"
    p.role(acct, "LAB-01", "controller", inst, flagged=True)
    for k in range(int(rng.integers(3, 7))):
        p.add(
            "LAB-01",
            at(rng, day + rng.uniform(0, 10), 8),
            f"PLAB{i}EMP{k}",
            acct,
            rng.uniform(1800, 3200),
            "ach",
            description=f"PAYROLL WORKER {k}",
        )


PLANTS = {
    "LAB-01": plant_wage_collection,
}
