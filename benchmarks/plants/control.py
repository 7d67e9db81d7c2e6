"""Planted instances of the control-of-victims'-money and property typologies: collector
accounts (CTRL-01), victims' accounts kept depleted (CTRL-03) and one payer renting
several properties (PROP-01)."""

from __future__ import annotations

import numpy as np

from benchmarks.planting import DAYS, START, Planted, at

ALIASES = ["BAMBI", "CANDY", "LUNA", "ANGEL", "KITTY", "STAR", "ROXY", "JADE"]
SENDER_NAMES = ["J SMITH", "M GARCIA", "D NGUYEN", "R JOHNSON", "K LEE", "T BROWN", "A KHAN"]
RENT_MEMOS = ["RENT", "RENT UNIT {n}", "LEASE PAYMENT", "rent {n} Oak St", "RENT APT {n}B"]
PROPERTY_MANAGERS = ["OAKWOOD RESIDENTIAL", "PARKSIDE PROPERTY MGMT", "CITY LOFTS LEASING"]


def plant_collector(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """Unrelated senders pay a collector over a few days; the collector passes 82-97% of
    it on to one to three controllers, either each morning or in one batch after the
    last inflow. A third of the instances carry aliases in the memos and may have as few
    as three senders."""
    acct, inst = f"PCTL{i}", f"CTRL-01-{i}"
    p.role(acct, "CTRL-01", "collector", inst, flagged=True)
    memos = rng.random() < 1 / 3
    senders = int(rng.integers(3, 7)) if memos else int(rng.integers(5, 15))
    span = rng.uniform(1.5, 6)
    bosses = [f"PCTL{i}BOSS{k}" for k in range(int(rng.integers(1, 4)))]
    for boss in bosses:
        p.role(boss, "CTRL-01", "controller", inst)
    share = rng.uniform(0.82, 0.97)
    daily = rng.random() < 0.5
    received: dict[int, float] = {}
    last_in = day
    for k in range(senders):
        victim = f"PCTL{i}V{k}"
        p.role(victim, "CTRL-01", "victim", inst)
        when = day + rng.uniform(0, span)
        last_in = max(last_in, when)
        # at least 350 each, so that three senders reach the 1,000 collection floor
        amount = rng.uniform(350, 900)
        received[int(when)] = received.get(int(when), 0.0) + amount
        memo = None
        if memos and (k == 0 or rng.random() < 0.6):
            memo = f"{SENDER_NAMES[k % len(SENDER_NAMES)]} ({ALIASES[(i + k) % len(ALIASES)]})"
        # evening and night-time e-transfers
        evening = at(rng, int(when) + 0.75, 6)
        p.add("CTRL-01", evening, victim, acct, amount, "p2p", description=memo)
    if daily:
        # each day's takings go out the next morning, to one controller at a time
        for k, (d, amount) in enumerate(sorted(received.items())):
            boss = bosses[k % len(bosses)]
            p.add("CTRL-01", at(rng, d + 1.3, 3), acct, boss, amount * share, "p2p")
    else:
        total = sum(received.values())
        weights = rng.dirichlet(np.ones(len(bosses)))
        for boss, weight in zip(bosses, weights, strict=True):
            when = int(last_in) + 1 + rng.uniform(0.3, 0.7)
            p.add("CTRL-01", at(rng, when), acct, boss, total * share * weight, "wire")
    # the collector's own small spending around the pattern
    for _ in range(int(rng.integers(0, 4))):
        p.add(
            None,
            at(rng, day + rng.uniform(0, span + 2), 10),
            acct,
            f"PCTL{i}FOOD",
            rng.uniform(8, 40),
            "card",
            mcc="5814",
            merchant_name="QUICK BURGER 7",
        )


def plant_depleted(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """A victim deposits each night's cash earnings and hands nearly all of it to the
    controller the same night (by P2P, or as cash withdrawn), now and then the next
    morning; over six to nine weeks there is one small meal and a taxi ride or two, no
    other living spend."""
    acct, inst = f"PDEP{i}", f"CTRL-03-{i}"
    boss = f"PDEP{i}BOSS"
    p.role(acct, "CTRL-03", "victim", inst, flagged=True)
    p.role(boss, "CTRL-03", "controller", inst)
    p.account(acct, "individual", "retail")
    end = min(day + rng.uniform(40, 60), DAYS - 1)
    t = day
    while t < end:
        night = int(t)
        amount = rng.uniform(150, 700)
        p.add("CTRL-03", at(rng, night + 0.75, 2), "CASH", acct, amount, "cash_deposit")
        handed = np.floor(amount / 10) * 10
        month = (START + np.timedelta64(night, "D")).astype("datetime64[M]")
        next_month = (START + np.timedelta64(night + 1, "D")).astype("datetime64[M]")
        # the same night, or the next morning when that is still the same month
        when = night + 0.875 if rng.random() < 0.8 or next_month != month else night + 1.3
        if rng.random() < 0.75:
            p.add("CTRL-03", at(rng, when, 2.5), acct, boss, handed, "p2p")
        else:
            p.add("CTRL-03", at(rng, when, 2.5), acct, "CASH", handed, "cash_withdrawal")
        t += rng.uniform(1, 3.5)
    # what little the victim spends: a taxi or two (not living spend) and one meal
    for _ in range(int(rng.integers(0, 3))):
        p.add(
            None,
            at(rng, rng.uniform(day, end), 10),
            acct,
            f"PDEP{i}TAXI",
            rng.uniform(8, 15),
            "card",
            mcc="4121",
            merchant_name="CITY CAB 3",
        )
    p.add(
        None,
        at(rng, rng.uniform(day, end), 10),
        acct,
        f"PDEP{i}FOOD",
        rng.uniform(5, 9),
        "card",
        mcc="5814",
        merchant_name="QUICK BURGER 7",
    )


def plant_several_rents(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """One individual pays rent for three to five properties every month for one or two
    months, by ACH or wire with rent wording or by card to property managers (MCC 6513),
    funded by transfers from a collector; a parking space is paid to one of the same
    landlords, and there is ordinary card spend."""
    acct, inst = f"PPROP{i}", f"PROP-01-{i}"
    collector = f"PPROP{i}COL"
    p.role(acct, "PROP-01", "controller", inst, flagged=True)
    p.role(collector, "PROP-01", "collector", inst)
    p.account(acct, "individual", "retail")
    properties = int(rng.integers(3, 6))
    months = int(rng.integers(1, 3))
    rents = [float(np.round(rng.uniform(700, 2200) / 50) * 50) for _ in range(properties)]
    for m in range(months):
        start = day + 30 * m
        if start + 8 >= DAYS:
            break
        p.add("PROP-01", at(rng, start - 1, 10), collector, acct, sum(rents) * 1.1, "p2p")
        for k, rent in enumerate(rents):
            when = at(rng, start + rng.uniform(0, 8), 6)
            landlord = f"PPROP{i}L{k}"
            if k % 3 == 1:
                name = PROPERTY_MANAGERS[(i + k) % len(PROPERTY_MANAGERS)]
                p.add("PROP-01", when, acct, landlord, rent, "card", mcc="6513", merchant_name=name)
            else:
                memo = RENT_MEMOS[(i + k) % len(RENT_MEMOS)].format(n=k + 2)
                channel = "ach" if k % 2 == 0 else "wire"
                p.add("PROP-01", when, acct, landlord, rent, channel, description=memo)
        p.add(
            None,
            at(rng, start + rng.uniform(0, 8), 6),
            acct,
            f"PPROP{i}L0",
            rng.uniform(80, 150),
            "ach",
            description="PARKING SPACE RENT",
        )
    for _ in range(int(rng.integers(2, 6))):
        p.add(
            None,
            at(rng, day + rng.uniform(0, 30), 12),
            acct,
            f"PPROP{i}SHOP",
            rng.uniform(20, 200),
            "card",
            mcc="5411",
            merchant_name="FRESH MARKET 11",
        )


PLANTS = {
    "CTRL-01": plant_collector,
    "CTRL-03": plant_depleted,
    "PROP-01": plant_several_rents,
}
