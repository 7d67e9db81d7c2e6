"""Planted instances of cycles and chains."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import Planted, at


def plant_cycle(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    hops = int(rng.integers(3, 9))
    inst = f"GRAPH-05-{i}"
    members = [f"PCYC{i}N{k}" for k in range(hops)]
    amount = rng.uniform(5000, 20000)
    when = day
    ids = []
    for k in range(hops):
        p.role(members[k], "GRAPH-05", "mule", inst, flagged=True)
        ids.append(
            p.add("GRAPH-05", at(rng, when), members[k], members[(k + 1) % hops], amount, "wire")
        )
        amount *= rng.uniform(0.9, 0.95)
        when += rng.uniform(0.5, 3)
    p.graph_blocks.append(("CYCLE", f"Max {hops} hops", ids))


PLANTS = {
    "GRAPH-05": plant_cycle,
}
