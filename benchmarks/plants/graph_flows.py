"""Planted instances of gather-scatter, scatter-gather, deposit-send (cash in, cash out)
and single large out-of-profile payments."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import Planted, at

_TRANSFER_CHANNELS = ["wire", "p2p", "wire", "ach"]


def _channel(rng: np.random.Generator) -> str:
    return _TRANSFER_CHANNELS[int(rng.integers(0, len(_TRANSFER_CHANNELS)))]


def _split(rng: np.random.Generator, total: float, parts: int) -> np.ndarray:
    """``total`` split into ``parts`` uneven shares, none below half an even share."""
    shares = rng.dirichlet(np.full(parts, 3.0))
    shares = np.maximum(shares, 0.5 / parts)
    scaled: np.ndarray = total * shares / shares.sum()
    return scaled


def _everyday_spend(
    p: Planted, rng: np.random.Generator, acct: str, day: float, days: float, n: int
) -> None:
    """Card spend and a few small P2P transfers (under 100 USD, below the graph rules'
    smallest leg) on ``n`` days from ``day`` (not before the start of the data) on."""
    start = max(0.0, day)
    for _ in range(n):
        when = at(rng, start + rng.uniform(0, max(0.5, day + days - start)), 14)
        if rng.random() < 0.75:
            p.add(
                None,
                when,
                acct,
                "SHOP" + str(int(rng.integers(0, 40))),
                rng.uniform(8, 90),
                "card",
                mcc="5411",
                merchant_name="FRESH MARKET " + str(int(rng.integers(0, 97))),
                merchant_city="Chicago",
            )
        else:
            p.add(None, when, acct, f"{acct}FRIEND", rng.uniform(10, 60), "p2p")


def plant_gather_scatter(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    hub, inst = f"PGS{i}", f"GRAPH-03-{i}"
    p.role(hub, "GRAPH-03", "collector", inst, flagged=True)
    n_in, n_out = int(rng.integers(3, 11)), int(rng.integers(3, 9))
    gather_days = rng.uniform(0.5, 10)
    scatter_days = rng.uniform(0.3, 8)
    members = []
    # an ordinary transfer well before the pattern, and everyday spend throughout
    p.add(
        None,
        at(rng, max(0.0, day - 2) * rng.uniform(0, 1)),
        hub,
        f"PGS{i}OLD",
        rng.uniform(150, 600),
        "p2p",
    )
    _everyday_spend(p, rng, hub, day - 10, 40, int(rng.integers(4, 12)))
    gathered = 0.0
    last_in = day
    for k in range(n_in):
        sender = f"PGS{i}S{k}"
        p.role(sender, "GRAPH-03", "mule", inst)
        amount = rng.uniform(800, 4000)
        gathered += amount
        offset = gather_days * k / max(1, n_in - 1) + rng.uniform(0, 0.2)
        last_in = max(last_in, day + offset)
        members.append(p.add("GRAPH-03", at(rng, day + offset), sender, hub, amount, _channel(rng)))
    start = last_in + rng.uniform(0.3, 3)
    for k, amount in enumerate(_split(rng, gathered * rng.uniform(0.82, 0.96), n_out)):
        payee = f"PGS{i}R{k}"
        p.role(payee, "GRAPH-03", "controller" if k == 0 else "mule", inst)
        offset = scatter_days * k / max(1, n_out - 1) + rng.uniform(0, 0.2)
        members.append(
            p.add("GRAPH-03", at(rng, start + offset), hub, payee, amount, _channel(rng))
        )
    p.graph_blocks.append(("GATHER-SCATTER", f"Max {n_in}-degree Fan-In", members))


def plant_scatter_gather(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    source, sink, inst = f"PSG{i}", f"PSG{i}T", f"GRAPH-04-{i}"
    p.role(source, "GRAPH-04", "controller", inst, flagged=True)
    p.role(sink, "GRAPH-04", "collector", inst, flagged=True)
    n_mid = int(rng.integers(3, 10))
    scatter_days = rng.uniform(0, 6)
    members = []
    _everyday_spend(p, rng, source, day - 5, 30, int(rng.integers(3, 8)))
    _everyday_spend(p, rng, sink, day - 5, 30, int(rng.integers(3, 8)))
    for k in range(n_mid):
        mule = f"PSG{i}M{k}"
        p.role(mule, "GRAPH-04", "mule", inst)
        amount = rng.uniform(800, 6000)
        sent_at = day + scatter_days * rng.random()
        members.append(p.add("GRAPH-04", at(rng, sent_at, 4), source, mule, amount, _channel(rng)))
        passed_at = sent_at + rng.uniform(0.3, 10)
        members.append(
            p.add(
                "GRAPH-04",
                at(rng, passed_at),
                mule,
                sink,
                amount * rng.uniform(0.82, 0.98),
                _channel(rng),
            )
        )
        # the mules' own lives: card spend, and a small unrelated credit for some
        _everyday_spend(p, rng, mule, day - 3, 20, int(rng.integers(1, 5)))
        if rng.random() < 0.4:
            p.add(
                None,
                at(rng, day + rng.uniform(0, 15), 12),
                f"{mule}FAMILY",
                mule,
                rng.uniform(50, 400),
                "p2p",
            )
    # the source also pays one account that keeps the money (not part of the pattern)
    p.add(
        None, at(rng, day + rng.uniform(0, 5)), source, f"PSG{i}X", rng.uniform(300, 2000), "wire"
    )
    p.graph_blocks.append(("SCATTER-GATHER", f"Max {n_mid}-degree Fan-Out", members))


def plant_deposit_send(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PCIO{i}", f"GRAPH-09-{i}"
    p.role(acct, "GRAPH-09", "mule", inst, flagged=True)
    _everyday_spend(p, rng, acct, day - 5, 35, int(rng.integers(3, 10)))
    when = day
    for e in range(int(rng.integers(1, 4))):
        # one to three deposits within hours, then most of the cash leaves within a day
        n_deposits = int(rng.integers(1, 4))
        cash = 0.0
        deposit_at = when
        for k in range(n_deposits):
            if k:
                deposit_at += rng.uniform(0.05, 0.2)
            amount = rng.uniform(1200, 9500)
            cash += amount
            p.add(
                "GRAPH-09",
                at(rng, deposit_at, 3),
                "CASH",
                acct,
                amount,
                "cash_deposit",
                merchant_city="Houston",
            )
        out_total = cash * rng.uniform(0.83, 0.97)
        out_at = deposit_at + rng.uniform(0.15, 0.8)
        if rng.random() < 0.35:
            # cash in, cash out: withdrawn in another city
            p.add(
                "GRAPH-09",
                at(rng, out_at),
                acct,
                "CASH",
                out_total,
                "cash_withdrawal",
                merchant_city="Denver",
            )
        else:
            payee = f"PCIO{i}B{e}"
            p.role(payee, "GRAPH-09", "controller", inst)
            for part in _split(rng, out_total, int(rng.integers(1, 3))):
                p.add("GRAPH-09", at(rng, out_at, 2), acct, payee, part, _channel(rng))
        when += rng.uniform(4, 12)


def plant_single_large(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PSLG{i}", f"GRAPH-10-{i}"
    p.role(acct, "GRAPH-10", "controller", inst, flagged=True)
    # a personal account, compared with the personal accounts of the population
    p.account(acct, "individual", "retail")
    payee = f"PSLG{i}X"
    p.role(payee, "GRAPH-10", "collector", inst)
    # an ordinary history before the payment: card spend, small transfers, two bills
    start = max(0.0, day - 25)
    _everyday_spend(p, rng, acct, start, day - start - 0.7, int(rng.integers(8, 20)))
    for bill_day in (start, (start + day) / 2):
        p.add(None, at(rng, bill_day, 8), acct, f"PSLG{i}TELCO", rng.uniform(40, 120), "ach")
    amount = float(rng.choice([rng.uniform(12000, 40000), rng.uniform(40000, 150000)]))
    # AMLworld has no single-large pattern, so no Patterns.txt block
    p.add("GRAPH-10", at(rng, day + rng.uniform(0, 5), 10), acct, payee, amount, _channel(rng))


PLANTS = {
    "GRAPH-03": plant_gather_scatter,
    "GRAPH-04": plant_scatter_gather,
    "GRAPH-09": plant_deposit_send,
    "GRAPH-10": plant_single_large,
}
