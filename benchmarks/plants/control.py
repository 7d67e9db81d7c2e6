"""Planted instances of the control-of-victims'-money and property typologies."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import Planted, at


def plant_collector(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PCOL{i}", f"CTRL-01-{i}"
    p.role(acct, "CTRL-01", "collector", inst, flagged=True)
    total = 0.0
    for k in range(int(rng.integers(5, 11))):
        victim = f"PCOL{i}V{k}"
        p.role(victim, "CTRL-01", "victim", inst)
        amount = rng.uniform(200, 900)
        total += amount
        p.add("CTRL-01", at(rng, day + rng.uniform(0, 5)), victim, acct, amount, "p2p")
    for k in range(int(rng.integers(1, 4))):
        p.add(
            "CTRL-01",
            at(rng, day + 5 + rng.uniform(0, 1.5)),
            acct,
            f"PCOL{i}BOSS{k}",
            total * 0.85 / 2,
            "wire",
        )


PLANTS = {
    "CTRL-01": plant_collector,
}
