"""Planted instances of cycles (GRAPH-05) and chains / peel chains (GRAPH-06)."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import Planted, at

TRANSFER_CHANNELS = ["wire", "wire", "p2p", "crypto", "internal", "ach"]


def _channel(rng: np.random.Generator) -> str:
    return str(TRANSFER_CHANNELS[int(rng.integers(0, len(TRANSFER_CHANNELS)))])


def plant_cycle(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """A ring of 2-10 accounts: the first sends, each passes most of it on to the next,
    the last pays the first back, all within 28 days and with 74-97% returned.

    The total loss is split at random over the hops (some keep nothing, some more), the
    hop times are spread at random over a span of a few hours per hop up to 28 days, and
    noise sits around the ring: a member sending a similar sum to an outside account (a
    branch that never closes, labelled as part of the attempt), small P2P payments to
    friends and, for some rings, the cash deposit the money started from (both
    unlabelled).
    """
    hops = int(rng.integers(2, 11))
    inst = f"GRAPH-05-{i}"
    members = [f"PCYC{i}N{k}" for k in range(hops)]
    start_amount = rng.uniform(2000, 40000)
    returned = rng.uniform(0.74, 0.97)
    # hop k carries start * returned ** (share of the loss taken by hops 1..k)
    shares = np.concatenate([[0.0], np.cumsum(rng.dirichlet(np.ones(hops - 1)))])
    amounts = start_amount * returned**shares
    span = rng.uniform(0.2 * hops, 28)
    # strictly increasing hop times: sorted offsets, ten minutes apart at least
    offsets = np.concatenate([[0.0], np.sort(rng.uniform(0, span, hops - 1))])
    offsets += np.arange(hops) * (10 / 1440)
    ids = []
    for k in range(hops):
        role = "controller" if k == 0 else "mule"
        p.role(members[k], "GRAPH-05", role, inst, flagged=True)
        ids.append(
            p.add(
                "GRAPH-05",
                at(rng, day + offsets[k]),
                members[k],
                members[(k + 1) % hops],
                amounts[k],
                _channel(rng),
            )
        )
    p.graph_blocks.append(("CYCLE", f"Max {hops} hops", ids))
    if rng.random() < 0.5:
        # the money the ring started from, deposited in cash the day before
        p.add(
            None,
            at(rng, day - 1, 8),
            "CASH",
            members[0],
            start_amount * rng.uniform(1.0, 1.1),
            "cash_deposit",
        )
    if hops > 2 and rng.random() < 0.6:
        # a member also sends a similar sum out of the ring, an hour after its
        # ring hop: a branch the search must follow and drop
        k = int(rng.integers(1, hops - 1))
        outside = f"PCYC{i}X{k}"
        p.role(outside, "GRAPH-05", "collector", inst)
        p.add(
            "GRAPH-05",
            at(rng, day + offsets[k] + 1 / 24),
            members[k],
            outside,
            amounts[k] * rng.uniform(0.8, 1.0),
            _channel(rng),
        )
    for k in range(hops):
        if rng.random() < 0.5:
            # everyday activity, not part of the pattern (no role)
            p.add(
                None,
                at(rng, day + rng.uniform(0, span), 14),
                members[k],
                f"PCYC{i}F{k}",
                rng.uniform(20, 200),
                "p2p",
            )


def plant_peel_chain(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """A chain of 4-10 hops: each relay passes on 80-98% of what it received within
    3 days, peeling the rest off to a side account; the chain carries at least 600 to
    its end. The origin got the money as a cash deposit in some instances; the relays
    are the accounts the typology must hit."""
    hops = int(rng.integers(4, 11))
    inst = f"GRAPH-06-{i}"
    accounts = [f"PPEEL{i}N{k}" for k in range(hops + 1)]
    factors = np.concatenate([[1.0], rng.uniform(0.8, 0.98, hops - 1)])
    amounts = rng.uniform(3000, 40000) * np.cumprod(factors)
    if amounts[-1] < 600:
        amounts *= 600 / amounts[-1]
    gaps = np.concatenate([[0.0], rng.uniform(0.02, 2.9, hops - 1)])
    offsets = np.cumsum(gaps)
    p.role(accounts[0], "GRAPH-06", "controller", inst)
    for k in range(1, hops):
        p.role(accounts[k], "GRAPH-06", "mule", inst, flagged=True)
    p.role(accounts[hops], "GRAPH-06", "collector", inst)
    if rng.random() < 0.5:
        p.add(
            None,
            at(rng, day - rng.uniform(0.2, 2), 6),
            "CASH",
            accounts[0],
            amounts[0] * rng.uniform(1.0, 1.05),
            "cash_deposit",
        )
    ids = []
    for k in range(hops):
        ids.append(
            p.add(
                "GRAPH-06",
                at(rng, day + offsets[k]),
                accounts[k],
                accounts[k + 1],
                amounts[k],
                _channel(rng),
            )
        )
        peeled = amounts[k - 1] - amounts[k] if k > 0 else 0.0
        if k > 0 and peeled > 5 and rng.random() < 0.7:
            side = f"PPEEL{i}S{k}"
            p.role(side, "GRAPH-06", "collector", inst)
            p.add(
                "GRAPH-06",
                at(rng, day + offsets[k] + rng.uniform(0.01, 0.2)),
                accounts[k],
                side,
                peeled * rng.uniform(0.5, 1.0),
                "p2p",
            )
    p.graph_blocks.append(("RANDOM", f"Max {hops} hops", ids))


PLANTS = {
    "GRAPH-05": plant_cycle,
    "GRAPH-06": plant_peel_chain,
}
