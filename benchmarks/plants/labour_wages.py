"""Planted instances of the forced-labour wage typologies (LAB-01, LAB-02, LAB-07).

Wages are ACH or wire credits described the way the normal population's are ("PAYROLL",
a processor's "ADP PAYROLL", "SALARY <name>"), so the rules recognise them through the
shared payroll descriptor categories, not through anything only plants carry.
"""

from __future__ import annotations

import numpy as np

from benchmarks.planting import Planted, at

NAMES = ["ANA LOPEZ", "MEI CHEN", "IVAN PETROV", "MARIA SANTOS", "TRAN VAN AN", "OLGA MAZUR"]
PROCESSOR_WAGES = ["ADP PAYROLL", "PAYCHEX PAYROLL", "GUSTO PAYROLL"]
FEE_LABELS = ["RENT", "HOUSING", "TRANSPORT FEE", "AGENCY FEE", "DEBT"]


def _living_spend(p: Planted, rng: np.random.Generator, acct: str, day: float, n: int) -> None:
    """Noise: a few everyday card payments of a planted account."""
    for _ in range(n):
        p.add(
            None,
            at(rng, day + rng.uniform(0, 20), 12),
            acct,
            f"SHOP{int(rng.integers(0, 10))}",
            rng.uniform(8, 90),
            "card",
            mcc="5411",
            merchant_name=f"FRESH MARKET {int(rng.integers(0, 97))}",
        )


def plant_wage_collection(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """LAB-01: the wages of 3-6 workers credited to one account within one pay period,
    either from different employers or from one employer naming each worker."""
    acct, inst = f"PLAB{i}", f"LAB-01-{i}"
    p.role(acct, "LAB-01", "collector", inst, flagged=True)
    n_workers = int(rng.integers(3, 7))
    one_employer = bool(rng.random() < 0.5)
    spread = float(rng.uniform(0, 12))
    for k in range(n_workers):
        employer = f"PLAB{i}EMP" if one_employer else f"PLAB{i}EMP{k}"
        if k == 0 or not one_employer:
            p.role(employer, "LAB-01", "business", inst)
        description = (
            f"SALARY {NAMES[k % len(NAMES)]}"
            if one_employer
            else ["PAYROLL", "WAGES", "SALARY"][k % 3]
        )
        p.add(
            "LAB-01",
            at(rng, day + (0 if one_employer else rng.uniform(0, spread)), 8),
            employer,
            acct,
            rng.uniform(1200, 3200),
            str(rng.choice(["ach", "ach", "wire"])),
            description=description,
        )
    # the collector spends a little and withdraws the rest in cash
    _living_spend(p, rng, acct, day, int(rng.integers(1, 4)))
    p.add(
        None, at(rng, day + spread + 2, 10), acct, "CASH", rng.uniform(500, 2000), "cash_withdrawal"
    )


def plant_wage_forwarding(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """LAB-02: 2-5 workers each pass 82-100% of their wage to the same controller within
    2-40 hours, for one or two monthly paydays; some workers are paid by a processor."""
    ctl, inst = f"PLBW{i}CTL", f"LAB-02-{i}"
    p.role(ctl, "LAB-02", "controller", inst, flagged=True)
    n_workers = int(rng.integers(2, 6))
    months = int(rng.integers(1, 3))
    for k in range(n_workers):
        worker = f"PLBW{i}W{k}"
        p.role(worker, "LAB-02", "victim", inst)
        by_processor = bool(rng.random() < 0.4)
        payer = f"PLBW{i}PROC" if by_processor else f"PLBW{i}EMP{k % 2}"
        p.role(payer, "LAB-02", "business", inst)
        wage = rng.uniform(1300, 2800)
        channel = str(rng.choice(["p2p", "wire", "p2p"]))
        for m in range(months):
            payday = day + 30 * m + rng.uniform(0, 2)
            paid = at(rng, payday, 6)
            p.add(
                "LAB-02",
                paid,
                payer,
                worker,
                wage,
                "ach",
                description=str(rng.choice(PROCESSOR_WAGES)) if by_processor else "PAYROLL",
            )
            share = rng.uniform(0.82, 1.0)
            parts = 1 if rng.random() < 0.6 else 2
            for part in range(parts):
                p.add(
                    "LAB-02",
                    paid + np.timedelta64(int(rng.uniform(2, 40) * 3600) + part * 600, "s"),
                    worker,
                    ctl,
                    wage * share / parts,
                    channel,
                )
        _living_spend(p, rng, worker, day, int(rng.integers(0, 3)))
    # the controller moves part of the money on
    p.add(
        None,
        at(rng, day + 4, 10),
        ctl,
        f"PLBW{i}ABROAD",
        rng.uniform(1000, 3000),
        "wire",
        dst_country="PH",
    )


def plant_wage_retention(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """LAB-07: an employer pays 3-8 workers; within 1-6 days of payday each pays a fixed
    share (15-45%, +-2 points) of the wage as "rent" or "fees" to the employer itself or
    to an associate the employer pays, for one or two paydays."""
    emp, boss, inst = f"PLBR{i}EMP", f"PLBR{i}BOSS", f"LAB-07-{i}"
    to_employer = bool(rng.random() < 0.3)
    payee = emp if to_employer else boss
    p.role(payee, "LAB-07", "controller", inst, flagged=True)
    if not to_employer:
        p.role(emp, "LAB-07", "business", inst)
        p.add(
            "LAB-07",
            at(rng, max(0.0, day - rng.uniform(1, 10)), 8),
            emp,
            boss,
            rng.uniform(2000, 9000),
            "wire",
            description=str(rng.choice(["CONSULTING", "SERVICES", "MANAGEMENT FEE"])),
        )
    n_workers = int(rng.integers(3, 9))
    months = int(rng.integers(1, 3))
    share = rng.uniform(0.15, 0.45)
    label = str(rng.choice(FEE_LABELS))
    for k in range(n_workers):
        worker = f"PLBR{i}W{k}"
        p.role(worker, "LAB-07", "victim", inst)
        wage = rng.uniform(1200, 3000)
        for m in range(months):
            paid = at(rng, day + 30 * m, 6)
            p.add("LAB-07", paid, emp, worker, wage, "ach", description="PAYROLL")
            p.add(
                "LAB-07",
                paid + np.timedelta64(int(rng.uniform(1, 6) * 86400), "s"),
                worker,
                payee,
                round(wage * (share + rng.uniform(-0.02, 0.02)), 0),
                str(rng.choice(["p2p", "ach"])),
                description=label,
            )
        _living_spend(p, rng, worker, day, int(rng.integers(0, 3)))


PLANTS = {
    "LAB-01": plant_wage_collection,
    "LAB-02": plant_wage_forwarding,
    "LAB-07": plant_wage_retention,
}
