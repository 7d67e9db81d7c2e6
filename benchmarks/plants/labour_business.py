"""Planted instances of the forced-labour business typologies: wage kick-back loops
(LAB-03), a business with revenue and no payroll (LAB-04) and a business paying its
workers' living costs (LAB-05)."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import DAYS, Planted, at

WAGE_WORDS = ["PAYROLL", "SALARY", "WAGES", "PAYROLL WEEKLY"]
LABOUR_SEGMENTS = ["agriculture", "construction", "cleaning", "hospitality"]
# (mcc, merchant name, group) of what a business pays to house, move and feed workers
LODGING = [("7011", "ROADSIDE MOTEL"), ("3512", "BUDGET INN CHAIN"), ("7011", "EXTENDED STAY")]
VANS = [("7513", "CITY VAN HIRE"), ("7512", "AIRPORT CAR RENTAL")]
FOOD = [("5300", "BULK WHOLESALE CLUB"), ("5411", "FRESH MARKET DEPOT")]


def plant_wage_kickback(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """An employer pays workers' wages and takes most of them back within days, directly
    (even instances) or through a crew boss who forwards the money (odd instances), on one
    or two paydays; other staff keep their wages."""
    pattern, inst = "LAB-03", f"LAB-03-{i}"
    employer, boss = f"PLABK{i}EMP", f"PLABK{i}BOSS"
    through_boss = i % 2 == 1
    p.account(employer, "business", LABOUR_SEGMENTS[i % len(LABOUR_SEGMENTS)])
    p.role(employer, pattern, "controller", inst, flagged=True)
    if through_boss:
        p.role(boss, pattern, "controller", inst, flagged=True)
    workers = [f"PLABK{i}W{k}" for k in range(int(rng.integers(2, 6)))]
    for worker in workers:
        p.role(worker, pattern, "victim", inst, flagged=True)
    wage_of = {w: round(float(rng.uniform(1500, 3200)), 2) for w in workers}
    word = WAGE_WORDS[i % len(WAGE_WORDS)]
    # the business has clients: revenue by wire through the period
    for k in range(int(rng.integers(3, 7))):
        p.add(
            None,
            at(rng, rng.uniform(0, DAYS - 1), 8),
            f"PLABK{i}CLIENT{k % 2}",
            employer,
            rng.uniform(8000, 20000),
            "wire",
            description=f"INVOICE {1000 + 7 * k + i}",
        )
    # one payday, or two a month apart when both loops close inside the period
    periods = 2 if day + 37 < DAYS and rng.random() < 0.5 else 1
    for period in range(periods):
        payday = day + 30 * period
        # ordinary staff are paid the same day and keep their wages
        for k in range(int(rng.integers(1, 4))):
            staff = f"PLABK{i}STAFF{k}"
            p.add(
                None,
                at(rng, payday, 2),
                employer,
                staff,
                rng.uniform(2200, 3600),
                "ach",
                description=word,
            )
            p.add(
                None,
                at(rng, payday + rng.uniform(1, 5), 8),
                staff,
                f"PLABK{i}LANDLORD",
                rng.uniform(700, 1200),
                "ach",
                description="RENT",
            )
        collected = 0.0
        last_return = payday
        for worker in workers:
            wage = wage_of[worker]
            p.add(pattern, at(rng, payday, 2), employer, worker, wage, "ach", description=word)
            share = rng.uniform(0.72, 0.95)
            back = payday + rng.uniform(0.3, 3.5 if through_boss else 6.0)
            last_return = max(last_return, back)
            p.add(
                pattern,
                at(rng, back),
                worker,
                boss if through_boss else employer,
                round(wage * share, 0),
                str(rng.choice(["p2p", "wire"])),
            )
            collected += round(wage * share, 0)
            # what is left of the wage goes on food
            p.add(
                None,
                at(rng, payday + rng.uniform(1, 6), 10),
                worker,
                f"PLABK{i}GROCER",
                rng.uniform(20, 90),
                "card",
                mcc="5411",
                merchant_name="CORNER GROCERY",
            )
        if through_boss:
            # the boss keeps a cut and wires the rest to the employer within the week
            forwarded = collected * rng.uniform(0.9, 1.0)
            p.add(
                pattern,
                at(rng, min(payday + 6.5, last_return + rng.uniform(0.2, 1.0))),
                boss,
                employer,
                forwarded,
                "wire",
                description="LOAN REPAYMENT",
            )


def plant_no_payroll_business(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """A front business with revenue above its peers, paying rent, suppliers and its
    owner, and withdrawing cash every week (the workers' pay), but no wages, payroll
    processor or payroll tax over the whole 90 days."""
    pattern, inst = "LAB-04", f"LAB-04-{i}"
    biz = f"PLABN{i}"
    p.account(biz, "business", "merchant" if i % 2 == 0 else "restaurant")
    p.role(biz, pattern, "business", inst, flagged=True)
    p.role(f"PLABN{i}OWNER", pattern, "controller", inst)
    # takings: cash deposits every one to three days from the first to the last day
    t = 0.0
    while t < DAYS:
        p.add(
            pattern,
            at(rng, min(t, DAYS - 1), 6),
            "CASH",
            biz,
            rng.uniform(600, 2200),
            "cash_deposit",
        )
        t += float(rng.uniform(1, 3))
    p.add(pattern, at(rng, DAYS - 1, 6), "CASH", biz, rng.uniform(600, 2200), "cash_deposit")
    # and weekly card settlements from the acquirer
    for week in range(DAYS // 7):
        p.add(
            pattern,
            at(rng, 7 * week + rng.uniform(0, 2), 4),
            f"PLABN{i}ACQ",
            biz,
            rng.uniform(1500, 4000),
            "ach",
            description="CARD SETTLEMENT",
        )
    for month in range(DAYS // 30):
        p.add(
            pattern,
            at(rng, 30 * month + rng.uniform(1, 4), 4),
            biz,
            f"PLABN{i}LANDLORD",
            rng.uniform(3000, 6000),
            "ach",
            description="RENT",
        )
        p.add(
            pattern,
            at(rng, 30 * month + rng.uniform(10, 20), 4),
            biz,
            f"PLABN{i}SUPPLY",
            rng.uniform(2000, 6000),
            "wire",
            description=f"INVOICE {200 + month}",
        )
        p.add(
            pattern,
            at(rng, 30 * month + rng.uniform(20, 28), 4),
            biz,
            f"PLABN{i}OWNER",
            rng.uniform(3000, 8000),
            "internal",
            description="OWNER DRAWINGS",
        )
    for week in range(DAYS // 7):
        p.add(
            pattern,
            at(rng, 7 * week + rng.uniform(4, 6), 4),
            biz,
            "CASH",
            rng.uniform(1500, 3500),
            "cash_withdrawal",
        )


def plant_living_costs(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """A labour business pays rooms for its workers every week, rents vans and buys food
    in bulk, next to its ordinary costs and a small payroll."""
    pattern, inst = "LAB-05", f"LAB-05-{i}"
    biz = f"PLABL{i}"
    p.account(biz, "business", LABOUR_SEGMENTS[(i + 1) % len(LABOUR_SEGMENTS)])
    p.role(biz, pattern, "business", inst, flagged=True)
    weeks = min(int(rng.integers(4, 7)), int((DAYS - 1 - day) // 7))
    for k in range(3):
        p.add(
            None,
            at(rng, day + 10 * k, 8),
            f"PLABL{i}CLIENT",
            biz,
            rng.uniform(15000, 30000),
            "wire",
            description=f"INVOICE {500 + k}",
        )
    lodging_mcc, lodging_name = LODGING[i % len(LODGING)]
    van_mcc, van_name = VANS[i % len(VANS)]
    for w in range(weeks):
        start = day + 7 * w
        rooms = int(rng.integers(2, 5))
        p.add(
            pattern,
            at(rng, start + rng.uniform(0, 1), 10),
            biz,
            f"PLABL{i}HOTEL",
            rooms * rng.uniform(350, 500),
            "card",
            mcc=lodging_mcc,
            merchant_name=lodging_name,
        )
        food_mcc, food_name = FOOD[w % len(FOOD)]
        p.add(
            pattern,
            at(rng, start + rng.uniform(2, 6), 10),
            biz,
            f"PLABL{i}FOOD",
            rng.uniform(300, 900),
            "card",
            mcc=food_mcc,
            merchant_name=food_name,
        )
        if w % 2 == 0:
            p.add(
                pattern,
                at(rng, start + rng.uniform(0, 2), 8),
                biz,
                f"PLABL{i}VANS",
                rng.uniform(600, 1100),
                "card",
                mcc=van_mcc,
                merchant_name=van_name,
            )
    # ordinary costs: materials and a small payroll
    p.add(
        None,
        at(rng, day + 5, 8),
        biz,
        f"PLABL{i}SUPPLY",
        rng.uniform(2000, 5000),
        "wire",
        description="MATERIALS",
    )
    p.add(
        None,
        at(rng, day + 14, 2),
        biz,
        f"PLABL{i}FOREMAN",
        rng.uniform(2500, 3500),
        "ach",
        description="PAYROLL",
    )


PLANTS = {
    "LAB-03": plant_wage_kickback,
    "LAB-04": plant_no_payroll_business,
    "LAB-05": plant_living_costs,
}
