"""Planted instances of the layered graph patterns: bipartite blocks and stacks."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import Planted, at

CHANNELS = ["wire", "wire", "p2p", "crypto"]


def _channel(rng: np.random.Generator) -> str:
    return CHANNELS[int(rng.integers(0, len(CHANNELS)))]


def plant_bipartite(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """2-5 payers each pay the same 2-5 payees within 3-12 days; in blocks of at least
    3 x 3 one link may be missing (density still at least 8/9). The payers are flagged
    (GRAPH-07's subjects); the payees forward part of the money or withdraw it in cash."""
    inst = f"GRAPH-07-{i}"
    n_src, n_snk = int(rng.integers(2, 6)), int(rng.integers(2, 6))
    sources = [f"PBIP{i}S{k}" for k in range(n_src)]
    sinks = [f"PBIP{i}K{k}" for k in range(n_snk)]
    for s in sources:
        p.role(s, "GRAPH-07", "controller", inst, flagged=True)
    for k in sinks:
        p.role(k, "GRAPH-07", "mule", inst)
    missing = None
    if n_src >= 3 and n_snk >= 3 and rng.random() < 0.5:
        missing = (int(rng.integers(0, n_src)), int(rng.integers(0, n_snk)))
    span = rng.uniform(3, 12)
    received = dict.fromkeys(sinks, 0.0)
    ids = []
    for a, s in enumerate(sources):
        for b, k in enumerate(sinks):
            if (a, b) == missing:
                continue
            amount = rng.uniform(300, 3000)
            received[k] += amount
            ids.append(
                p.add("GRAPH-07", at(rng, day + rng.uniform(0, span)), s, k, amount, _channel(rng))
            )
    # noise: payees move the money on after the block, payers pay an unrelated friend
    for b, k in enumerate(sinks):
        when = at(rng, day + span + rng.uniform(0.5, 3))
        if rng.random() < 0.5:
            p.add(None, when, k, "CASH", round(received[k] * 0.5, -1), "cash_withdrawal")
        else:
            p.add(None, when, k, f"PBIP{i}OUT{b}", received[k] * rng.uniform(0.6, 0.9), "wire")
    for a, s in enumerate(sources):
        if rng.random() < 0.5:
            p.add(
                None,
                at(rng, day + rng.uniform(-5, 20), 10),
                s,
                f"PBIP{i}F{a}",
                rng.uniform(20, 80),
                "p2p",
            )
    # AMLworld-style block header; the limit text follows the fan patterns' form
    p.graph_blocks.append(("BIPARTITE", f"Max {n_snk}-degree Fan-Out", ids))


def plant_stack(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """3 or 4 layers of 2-4 accounts; every account of a layer pays every account of the
    next (complete bipartite hops), each middle account passes on 85-95% of what it
    received, and each hop starts after the previous one has ended. The middle layers
    are flagged (GRAPH-08's subjects); the first layer is the controller side and the
    last layer the collectors, who withdraw part in cash."""
    inst = f"GRAPH-08-{i}"
    n_layers = int(rng.integers(3, 5))
    layers = [[f"PSTK{i}L{n}A{k}" for k in range(int(rng.integers(2, 5)))] for n in range(n_layers)]
    for n, layer in enumerate(layers):
        role = "controller" if n == 0 else "collector" if n == n_layers - 1 else "mule"
        for acct in layer:
            p.role(acct, "GRAPH-08", role, inst, flagged=0 < n < n_layers - 1)
    received: dict[str, float] = {}
    hop_start = day
    ids = []
    for n in range(n_layers - 1):
        senders, receivers = layers[n], layers[n + 1]
        for s in senders:
            if n == 0:
                amounts = rng.uniform(500, 3000, len(receivers))
            else:
                out = received[s] * rng.uniform(0.85, 0.95)
                amounts = np.full(len(receivers), out / len(receivers))
            for r, amount in zip(receivers, amounts, strict=True):
                received[r] = received.get(r, 0.0) + float(amount)
                when = at(rng, hop_start + rng.uniform(0, 1))
                ids.append(p.add("GRAPH-08", when, s, r, float(amount), _channel(rng)))
        hop_start += 1 + rng.uniform(0.5, 4)
    # noise: the last layer withdraws part in cash, a middle account gets a small
    # unrelated P2P payment before the stack
    for acct in layers[-1]:
        p.add(
            None,
            at(rng, hop_start + rng.uniform(0, 2), 8),
            acct,
            "CASH",
            round(received[acct] * 0.4, -1),
            "cash_withdrawal",
        )
    friend = f"PSTK{i}F"
    p.add(
        None, at(rng, day - rng.uniform(1, 6), 10), friend, layers[1][0], rng.uniform(20, 90), "p2p"
    )
    widest = max(len(layer) for layer in layers)
    p.graph_blocks.append(("STACK", f"Max {widest}-degree Fan-Out", ids))


PLANTS = {
    "GRAPH-07": plant_bipartite,
    "GRAPH-08": plant_stack,
}
