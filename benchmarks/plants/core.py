"""Planted instances of structuring, fan-in/fan-out, pass-through, cash-to-remittance and
adult-advertising typologies."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import ADULT_AD_MERCHANTS, XB_COUNTRIES, Planted, at


def plant_structuring(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PSTR{i}", f"STR-01-{i}"
    p.role(acct, "STR-01", "mule", inst, flagged=True)
    for k in range(int(rng.integers(3, 7))):
        p.add(
            "STR-01",
            at(rng, day + k * rng.uniform(0.2, 0.6), 8),
            "CASH",
            acct,
            rng.uniform(8000, 9999.99),
            "cash_deposit",
        )
    p.add("STR-01", at(rng, day + 4), acct, f"PSTROUT{i}", rng.uniform(20000, 30000), "wire")


def plant_fan_in(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    sink, inst = f"PFI{i}", f"GRAPH-01-{i}"
    p.role(sink, "GRAPH-01", "collector", inst, flagged=True)
    degree = int(rng.integers(5, 17))
    members = []
    for k in range(degree):
        src = f"PFI{i}S{k}"
        p.role(src, "GRAPH-01", "mule", inst)
        members.append(
            p.add(
                "GRAPH-01",
                at(rng, day + rng.uniform(0, 6)),
                src,
                sink,
                rng.uniform(500, 3000),
                "wire",
            )
        )
    p.graph_blocks.append(("FAN-IN", f"Max {degree}-degree Fan-In", members))


def plant_fan_out(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    source, inst = f"PFO{i}", f"GRAPH-02-{i}"
    p.role(source, "GRAPH-02", "controller", inst, flagged=True)
    degree = int(rng.integers(5, 17))
    members = [
        p.add(
            "GRAPH-02",
            at(rng, day + rng.uniform(0, 6)),
            source,
            f"PFO{i}D{k}",
            rng.uniform(500, 3000),
            "wire",
        )
        for k in range(degree)
    ]
    p.graph_blocks.append(("FAN-OUT", f"Max {degree}-degree Fan-Out", members))


def plant_pass_through(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PPT{i}", f"FLOW-01-{i}"
    p.role(acct, "FLOW-01", "mule", inst, flagged=True)
    # cycles 4 to 6.5 days apart: k * uniform(4, 8) could put two cycles on adjacent
    # days, where they read as one
    start = day
    for k in range(int(rng.integers(3, 6))):
        if k:
            start += rng.uniform(4, 6.5)
        amount = rng.uniform(3000, 15000)
        p.add("FLOW-01", at(rng, start, 6), f"PPT{i}IN{k}", acct, amount, "wire")
        p.add(
            "FLOW-01",
            at(rng, start + rng.uniform(0.3, 1.5)),
            acct,
            f"PPT{i}OUT{k}",
            amount * rng.uniform(0.9, 0.97),
            "wire",
        )


def plant_cash_remittance(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PXB{i}", f"XB-01-{i}"
    p.role(acct, "XB-01", "controller", inst, flagged=True)
    total = 0.0
    for k in range(int(rng.integers(1, 4))):
        amount = rng.uniform(1500, 6000)
        total += amount
        p.add("XB-01", at(rng, day + k * 0.3, 8), "CASH", acct, amount, "cash_deposit")
    country = XB_COUNTRIES[int(rng.integers(0, len(XB_COUNTRIES)))]
    p.add(
        "XB-01",
        at(rng, day + rng.uniform(1, 2.5)),
        acct,
        f"PXB{i}ABROAD",
        total * rng.uniform(0.75, 0.95),
        "wire",
        dst_country=country,
    )


def plant_adult_ads(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    acct, inst = f"PSEX{i}", f"SEX-01-{i}"
    p.role(acct, "SEX-01", "controller", inst, flagged=True)
    merchant = ADULT_AD_MERCHANTS[int(rng.integers(0, len(ADULT_AD_MERCHANTS)))]
    for _ in range(int(rng.integers(3, 13))):
        amount = float(rng.choice([3, 12, 24, rng.uniform(5, 49)]))
        p.add(
            "SEX-01",
            at(rng, day + rng.uniform(0, 25), 20),
            acct,
            f"M-{merchant}",
            amount,
            "card",
            mcc=str(rng.choice(["7311", "5967"])),
            merchant_name=merchant,
            merchant_city="Online",
        )


PLANTS = {
    "STR-01": plant_structuring,
    "GRAPH-01": plant_fan_in,
    "GRAPH-02": plant_fan_out,
    "FLOW-01": plant_pass_through,
    "XB-01": plant_cash_remittance,
    "SEX-01": plant_adult_ads,
}
