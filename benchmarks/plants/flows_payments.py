"""Planted instances of the smurfing, flow-shape, smuggling-fee, payment-method, lifestyle
and front-business typologies: STR-02, STR-03, FLOW-02, FLOW-03, FLOW-04, XB-02, PAY-01,
PAY-02, PAY-04, PAY-05, LIFE-01, LIFE-02 and BIZ-01.

Merchants, processors and exchanges are counterparties without a role (they are
uninvolved businesses); the people around a subject (depositors, senders, recipients,
owners) have one. Amounts, counts and spans are drawn per instance, and every instance
has a little ordinary activity of the subject around the pattern.
"""

from __future__ import annotations

import numpy as np

from benchmarks.planting import CITIES, DAYS, START, Planted, at

# cities on or near the south-west border, where smuggling fees are collected
BORDER_CITIES = ["El Paso", "Laredo", "McAllen", "Brownsville", "San Diego", "Tucson", "Nogales"]
# places in Mexico and Central America that relatives send from (city, country)
ABROAD_PLACES = [
    ("Guatemala City", "GT"),
    ("San Pedro Sula", "HN"),
    ("Tegucigalpa", "HN"),
    ("San Salvador", "SV"),
    ("Monterrey", "MX"),
    ("Puebla", "MX"),
]
OTHER_BANKS = ["B014", "B027", "B031", "B052", "B063", "B078", "B090"]
# (descriptor, mcc) of prepaid and gift cards bought or loaded
PREPAID_CARDS = [
    ("VANILLA VISA GIFT CARD", "6540"),
    ("ONEVANILLA PREPAID", "6540"),
    ("GREEN DOT RELOAD", "6540"),
    ("NETSPEND RELOAD", "6540"),
    ("MONEYPAK", "6051"),
    ("GIFT CARD MALL", "5999"),
]
# (descriptor, mcc) of grocery and convenience stores selling cards at the till
CONVENIENCE_STORES = [
    ("7-ELEVEN 34117", "5499"),
    ("CIRCLE K 2291", "5499"),
    ("QUICK MART 24", "5499"),
    ("FRESH MARKET 12", "5411"),
    ("SAVE MART 508", "5411"),
]
# foreign classified sites (descriptor, country of the site)
CLASSIFIED_SITES = [
    ("LOCANTO*PREMIUM AD", "MT"),
    ("VIVASTREET", "FR"),
    ("QUOKA.DE", "DE"),
    ("LEBONCOIN", "FR"),
    ("OLX PL", "PL"),
    ("GUMTREE AU", "AU"),
    ("AVITO", "MA"),
]
# (processor id, description on the payout, channel)
PROCESSOR_PAYOUTS = [
    ("PTPP-PAYPAL", "PAYPAL TRANSFER", "ach"),
    ("PTPP-STRIPE", "STRIPE PAYOUT", "ach"),
    ("PTPP-SKRILL", "SKRILL WITHDRAWAL", "wire"),
    ("PTPP-PAYONEER", "PAYONEER INC", "ach"),
    ("PTPP-NETELLER", "NETELLER WITHDRAWAL", "other"),
]
# lavish merchants (descriptor, mcc, amount range); the last three count from 1,000 only
LAVISH = [
    ("TIFFANY & CO", "5944", (1500, 9000)),
    ("KAY JEWELERS", "5944", (600, 4000)),
    ("MERCEDES-BENZ OF DALLAS", "5511", (5000, 15000)),
    ("LIV NIGHTCLUB", "5813", (400, 2500)),
    ("XS NIGHTCLUB", "5813", (300, 2000)),
    ("NOBU RESTAURANT", "5812", (1000, 2600)),
    ("BLACK TIE LIMOUSINE", "4121", (1000, 2200)),
    ("AESTHETIC MEDSPA", "8099", (1500, 6000)),
]
# bills a newly opened account pays by direct debit (biller, description, typical amount)
NEW_ACCOUNT_BILLS = [
    ("PNEW-TELCO", "MOBILE PHONE BILL", 65.0),
    ("PNEW-POWER", "ELECTRIC BILL", 90.0),
    ("PNEW-INSURE", "RENTERS INSURANCE", 25.0),
]
# everyday card spend around the planted patterns (descriptor stem, mcc, typical amount)
EVERYDAY = [
    ("FRESH MARKET", "5411", 60.0),
    ("BISTRO", "5812", 35.0),
    ("CITY PHARMACY", "5912", 25.0),
    ("FUEL STOP", "5541", 45.0),
]


def _daytime(rng: np.random.Generator, day: float, first: int = 9, last: int = 18) -> np.datetime64:
    """A moment between ``first`` and ``last`` o'clock on the calendar day of ``day``."""
    return at(rng, float(np.floor(day)) + first / 24, last - first)


def _city(rng: np.random.Generator) -> str:
    return str(CITIES[int(rng.integers(0, len(CITIES)))])


def _everyday(p: Planted, rng: np.random.Generator, acct: str, prefix: str, day: float) -> None:
    """A few ordinary card payments of ``acct`` around ``day``."""
    for _ in range(int(rng.integers(1, 4))):
        stem, mcc, typical = EVERYDAY[int(rng.integers(0, len(EVERYDAY)))]
        shop = int(rng.integers(0, 97))
        p.add(
            None,
            _daytime(rng, float(np.clip(day + rng.uniform(-10, 20), 0, DAYS - 1)), 8, 21),
            acct,
            f"{prefix}-SHOP{shop}",
            typical * rng.lognormal(0, 0.4),
            "card",
            mcc=mcc,
            merchant_name=f"{stem} {shop}",
            merchant_city=_city(rng),
        )


# ----------------------------------------------------------------------------- STR


def plant_smurfing(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """STR-02: several people deposit cash at branches in different cities (and, in some
    instances, third parties send e-transfers) into one funnel account within three
    calendar days, each under 10,000 and together over it; the money leaves in a border
    city or abroad soon after."""
    acct, inst = f"PSMF{i}", f"STR-02-{i}"
    p.role(acct, "STR-02", "collector", inst, flagged=True)
    depositors = int(rng.integers(3, 9))
    cities = rng.choice(CITIES, size=depositors, replace=False)
    floor = max(1500.0, 11000.0 / depositors)
    base = float(np.floor(day))
    total = 0.0
    for k in range(depositors):
        amount = rng.uniform(floor, 9500)
        total += amount
        when = _daytime(rng, base + int(rng.integers(0, 3)))
        if k >= 3 and rng.random() < 0.4:
            sender = f"PSMF{i}D{k}"
            p.role(sender, "STR-02", "victim", inst)
            p.add("STR-02", when, sender, acct, round(amount), "p2p", description="E-TRANSFER")
        else:
            p.add(
                "STR-02",
                when,
                "CASH",
                acct,
                amount,
                "cash_deposit",
                src_bank=str(rng.choice(["B001", "B001", "B002"])),
                merchant_city=str(cities[k]),
            )
    # the funnel is emptied near the border: ATM cash, sometimes a wire to Mexico
    border = BORDER_CITIES[int(rng.integers(0, len(BORDER_CITIES)))]
    left = total
    if rng.random() < 0.5:
        wired = round(total * rng.uniform(0.5, 0.8), -2)
        left -= wired
        boss = f"PSMF{i}MX"
        p.role(boss, "STR-02", "controller", inst)
        p.add(
            "STR-02",
            _daytime(rng, base + 3 + rng.uniform(0, 2)),
            acct,
            boss,
            wired,
            "wire",
            dst_country="MX",
        )
    for _ in range(int(rng.integers(2, 6))):
        cash = float(rng.choice([300, 400, 500, 800, 1000]))
        if cash > left:
            break
        left -= cash
        p.add(
            "STR-02",
            _daytime(rng, base + 3 + rng.uniform(0, 4), 6, 23),
            acct,
            "CASH",
            cash,
            "cash_withdrawal",
            merchant_city=border,
        )
    _everyday(p, rng, acct, "PSMF", day)


def plant_sub_3000_wires(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """STR-03: wires of just under 3,000 to one beneficiary near the border within a
    week, from many senders across the country or from one sender splitting a fee."""
    acct, inst = f"PMSB{i}", f"STR-03-{i}"
    p.role(acct, "STR-03", "collector", inst, flagged=True)
    n = int(rng.integers(3, 8))
    one_sender = rng.random() < 0.35
    span = rng.uniform(1, 5.5)  # calendar days, so the last wire is within 7 days
    for k in range(n):
        sender = f"PMSB{i}S0" if one_sender else f"PMSB{i}S{k}"
        if k == 0 or not one_sender:
            p.role(sender, "STR-03", "victim", inst)
        amount = float(rng.choice([2500, 2600, 2750, 2800, 2900, 2950, rng.uniform(2450, 2999)]))
        p.add(
            "STR-03",
            _daytime(rng, day + (k / max(1, n - 1)) * span, 8, 19),
            sender,
            acct,
            amount,
            "wire",
            src_bank=OTHER_BANKS[int(rng.integers(0, len(OTHER_BANKS)))],
            merchant_city=_city(rng),
        )
    # an ordinary small wire from a relative, and the beneficiary drawing cash in town
    p.add(
        None,
        _daytime(rng, max(0.0, day - rng.uniform(3, 15))),
        f"PMSB{i}REL",
        acct,
        round(rng.uniform(150, 600)),
        "wire",
        src_bank=OTHER_BANKS[0],
    )
    border = BORDER_CITIES[int(rng.integers(0, len(BORDER_CITIES)))]
    for _ in range(int(rng.integers(2, 5))):
        p.add(
            "STR-03",
            _daytime(rng, day + span + rng.uniform(0.5, 5), 7, 22),
            acct,
            "CASH",
            float(rng.choice([500, 800, 1000, 1500])),
            "cash_withdrawal",
            merchant_city=border,
        )
    _everyday(p, rng, acct, "PMSB", day)


# ----------------------------------------------------------------------------- FLOW


def plant_dormant_then_active(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """FLOW-02: an account with a little cash activity more than six months before the
    export's start, silent since, that moves tens of thousands within days of waking.

    The silence must exceed 180 days and the export covers 90, so the old activity lies
    before ``START``; only these few transactions do. It ends at least 181 days before
    ``START``, so whatever the account does first in the export ends a long enough
    silence, and the burst falls within the first 24 days of the export: even when the
    generator's ordinary card payment of the account comes first, the burst is inside the
    30 days after it."""
    acct, inst = f"PDORM{i}", f"FLOW-02-{i}"
    p.role(acct, "FLOW-02", "mule", inst, flagged=True)
    last_old = -float(rng.integers(181, 215))
    old_span = rng.uniform(3, 25)
    for k in range(int(rng.integers(2, 6))):
        when = _daytime(rng, last_old - old_span * k / 4, 8, 20) if k else _daytime(rng, last_old)
        if k % 2 == 0:
            p.add(None, when, "CASH", acct, round(rng.uniform(100, 300)), "cash_deposit")
        else:
            cash = float(rng.choice([20, 40, 60, 100]))
            p.add(None, when, acct, "CASH", cash, "cash_withdrawal", merchant_city=_city(rng))
    woke = rng.uniform(0.5, 20)
    for k in range(int(rng.integers(2, 6))):
        sender, receiver = f"PDORM{i}IN{k}", f"PDORM{i}OUT{k}"
        p.role(sender, "FLOW-02", "collector", inst)
        p.role(receiver, "FLOW-02", "controller", inst)
        start = woke + rng.uniform(0, 2.5)
        amount = rng.uniform(5000, 15000)
        channel = str(rng.choice(["wire", "p2p"]))
        p.add("FLOW-02", at(rng, start, 10), sender, acct, amount, channel)
        p.add(
            "FLOW-02",
            at(rng, start + rng.uniform(0.1, 1.2)),
            acct,
            receiver,
            amount * rng.uniform(0.9, 0.98),
            "wire",
        )


def plant_round_transfers(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """FLOW-03: an account funded by cash sends transfers in round hundreds to several
    accounts within a few weeks, next to the odd non-round bill."""
    acct, inst = f"PRND{i}", f"FLOW-03-{i}"
    p.role(acct, "FLOW-03", "mule", inst, flagged=True)
    n = int(rng.integers(5, 11))
    receivers = [f"PRND{i}R{k}" for k in range(int(rng.integers(3, min(7, n + 1))))]
    for r in receivers:
        p.role(r, "FLOW-03", "mule", inst)
    span = rng.uniform(6, 27)
    amounts = rng.integers(5, 50, n) * 100.0
    # cash paid in ahead of the transfers covers them
    deposits = int(rng.integers(2, 5))
    for k in range(deposits):
        p.add(
            "FLOW-03",
            _daytime(rng, day - 1 + k * span / 4),
            "CASH",
            acct,
            amounts.sum() * rng.uniform(1.0, 1.15) / deposits,
            "cash_deposit",
            merchant_city=_city(rng),
        )
    for k, amount in enumerate(amounts.tolist()):
        target = receivers[k % len(receivers)] if k < len(receivers) else str(rng.choice(receivers))
        p.add(
            "FLOW-03",
            _daytime(rng, day + span * k / (n - 1), 8, 21),
            acct,
            target,
            amount,
            str(rng.choice(["wire", "p2p", "ach"])),
        )
    # one ordinary bill that is not round
    p.add(
        None,
        _daytime(rng, day + rng.uniform(0, span)),
        acct,
        f"PRND{i}INSURER",
        rng.uniform(500, 900),
        "ach",
        description="AUTO INSURANCE",
    )
    _everyday(p, rng, acct, "PRND", day)


def plant_new_account_velocity(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """FLOW-04: an account opened inside the export receives and passes on tens of
    thousands in its first weeks, among a cohort of other accounts opened in the same
    period whose first month is ordinary (an opening deposit, a bill or two).

    The cohort is the peer group the typology ranks against (above its 99th percentile);
    about a hundred ordinary openings per planted one keep that percentile below every
    planted account however many instances a dataset has. The cohort pays no card spend,
    so that it leaves the card-spend peer groups of other typologies (SEX-05 basket
    share, LIFE-01 lavish share among retail individuals) as the normal population makes
    them."""
    acct, inst = f"PNEW{i}", f"FLOW-04-{i}"
    opened = float(np.floor(day))
    p.role(acct, "FLOW-04", "mule", inst, flagged=True)
    p.account(acct, "individual", "retail", opened_at=START + np.timedelta64(int(opened), "D"))
    for k in range(int(rng.integers(3, 9))):
        sender, receiver = f"PNEW{i}IN{k}", f"PNEW{i}OUT{k}"
        p.role(sender, "FLOW-04", "victim", inst)
        p.role(receiver, "FLOW-04", "controller", inst)
        start = opened + 1 + rng.uniform(0, 24)
        amount = rng.uniform(4000, 12000)
        p.add("FLOW-04", at(rng, start, 12), sender, acct, amount, str(rng.choice(["wire", "p2p"])))
        p.add(
            "FLOW-04",
            at(rng, start + rng.uniform(0.05, 1.5)),
            acct,
            receiver,
            amount * rng.uniform(0.88, 0.97),
            str(rng.choice(["wire", "p2p"])),
        )
    _everyday(p, rng, acct, "PNEW", opened + 11)
    # the cohort of ordinary accounts opened in the same period (noise, no roles)
    for k in range(int(rng.integers(100, 131))):
        peer = f"PNEW{i}P{k}"
        peer_opened = int(rng.integers(0, DAYS - 10))
        p.account(peer, "individual", "retail", opened_at=START + np.timedelta64(peer_opened, "D"))
        p.add(
            None,
            _daytime(rng, peer_opened + rng.uniform(0, 3)),
            f"{peer}X",
            peer,
            round(min(9000.0, rng.lognormal(6.5, 0.8)), 2),
            str(rng.choice(["ach", "wire"])),
            src_bank=OTHER_BANKS[int(rng.integers(0, len(OTHER_BANKS)))],
            description="OPENING DEPOSIT",
        )
        for _ in range(int(rng.integers(0, 3))):
            biller, description, typical = NEW_ACCOUNT_BILLS[int(rng.integers(0, 3))]
            p.add(
                None,
                _daytime(rng, min(DAYS - 1, peer_opened + rng.uniform(2, 25)), 6, 10),
                peer,
                biller,
                typical * rng.lognormal(0, 0.3),
                "ach",
                description=description,
            )


# ----------------------------------------------------------------------------- XB


def plant_many_senders_to_border(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """XB-02: relatives in several places across the US (and some in Central America)
    each send one transfer under 3,000 to one beneficiary near the border within a few
    weeks; the beneficiary draws the money in cash and wires part to Mexico."""
    acct, inst = f"PXBS{i}", f"XB-02-{i}"
    p.role(acct, "XB-02", "collector", inst, flagged=True)
    n = int(rng.integers(5, 13))
    span = rng.uniform(2, 24)
    places = [(str(c), "US") for c in rng.choice(CITIES, size=min(n, 8), replace=False)]
    places += ABROAD_PLACES[: int(rng.integers(0, 3))]
    total = 0.0
    for k in range(n):
        sender = f"PXBS{i}S{k}"
        p.role(sender, "XB-02", "victim", inst)
        city, country = places[k] if k < 3 else places[int(rng.integers(0, len(places)))]
        amount = rng.uniform(300, 2950)
        total += amount
        p.add(
            "XB-02",
            at(rng, day + span * k / (n - 1), 10),
            sender,
            acct,
            amount,
            str(rng.choice(["wire", "wire", "other", "p2p"])),
            src_bank=OTHER_BANKS[int(rng.integers(0, len(OTHER_BANKS)))],
            merchant_city=city,
            src_country=country,
        )
    border = BORDER_CITIES[int(rng.integers(0, len(BORDER_CITIES)))]
    for _ in range(int(rng.integers(2, 6))):
        p.add(
            "XB-02",
            _daytime(rng, day + rng.uniform(1, span + 3), 7, 22),
            acct,
            "CASH",
            float(rng.choice([400, 500, 800, 1000])),
            "cash_withdrawal",
            merchant_city=border,
        )
    boss = f"PXBS{i}MX"
    p.role(boss, "XB-02", "controller", inst)
    p.add(
        "XB-02",
        _daytime(rng, day + span + rng.uniform(1, 4)),
        acct,
        boss,
        round(total * rng.uniform(0.3, 0.6), -1),
        "wire",
        dst_country="MX",
    )
    _everyday(p, rng, acct, "PXBS", day)


# ----------------------------------------------------------------------------- PAY


def plant_prepaid_buying(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """PAY-01: an account funded by cash buys or loads prepaid and gift cards several
    times in a month, or pays round sums at convenience stores (cards bought at the
    till), next to its ordinary grocery baskets."""
    acct, inst = f"PPRE{i}", f"PAY-01-{i}"
    p.role(acct, "PAY-01", "controller", inst, flagged=True)
    span = rng.uniform(5, 27)
    for k in range(int(rng.integers(1, 4))):
        p.add(
            "PAY-01",
            _daytime(rng, day - 1 + k * span / 3),
            "CASH",
            acct,
            rng.uniform(800, 3000),
            "cash_deposit",
        )
    prepaid = rng.random() < 0.5
    n = int(rng.integers(4, 9)) if prepaid else int(rng.integers(3, 7))
    for k in range(n):
        when = _daytime(rng, day + span * k / (n - 1), 7, 23)
        if prepaid:
            name, mcc = PREPAID_CARDS[int(rng.integers(0, len(PREPAID_CARDS)))]
            face = float(rng.choice([100, 200, 300, 500]))
            fee = 3.95 if face <= 100 else 5.95 if face <= 300 else 6.95
            amount = face + fee
        else:
            name, mcc = CONVENIENCE_STORES[int(rng.integers(0, len(CONVENIENCE_STORES)))]
            amount = float(rng.choice([100, 150, 200, 250, 300, 400, 500]))
        p.add(
            "PAY-01",
            when,
            acct,
            f"PPRE-{name.split()[0]}",
            amount,
            "card",
            mcc=mcc,
            merchant_name=name,
            merchant_city=_city(rng),
        )
    _everyday(p, rng, acct, "PPRE", day)


def plant_etransfers_to_exchange(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """PAY-02: several people send e-transfers to one account within hours, and the
    account pays most of it to a crypto exchange the same day; repeated a few times."""
    acct, inst = f"PVASP{i}", f"PAY-02-{i}"
    p.role(acct, "PAY-02", "collector", inst, flagged=True)
    pool = [f"PVASP{i}S{k}" for k in range(int(rng.integers(4, 11)))]
    paid: set[str] = set()
    exchange = int(rng.integers(0, 3))
    start = day
    for _ in range(int(rng.integers(1, 4))):
        senders = rng.choice(pool, size=int(rng.integers(3, min(6, len(pool)) + 1)), replace=False)
        first = start + rng.uniform(0.3, 0.5)
        hours = rng.uniform(2, 18)
        credits = 0.0
        for k, sender in enumerate(senders):
            amount = float(rng.choice([100, 150, 200, 250, 300, 400, 500, rng.uniform(80, 600)]))
            credits += amount
            offset = first + hours / 24 * k / (len(senders) - 1)
            p.add("PAY-02", at(rng, offset), str(sender), acct, amount, "p2p")
            if str(sender) not in paid:
                paid.add(str(sender))
                p.role(str(sender), "PAY-02", "victim", inst)
        when = at(rng, first + (hours + rng.uniform(0.5, 4)) / 24)
        amount = round(credits * rng.uniform(0.7, 1.0), 0)
        if exchange == 0:
            p.add(
                "PAY-02",
                when,
                acct,
                "PVASP-COINBASE",
                amount,
                "card",
                mcc="6051",
                merchant_name="COINBASE.COM",
                merchant_city="Online",
            )
        elif exchange == 1:
            p.add(
                "PAY-02",
                when,
                acct,
                "PVASP-KRAKEN",
                amount,
                "ach",
                description="PAYWARD INC KRAKEN DEPOSIT",
            )
        else:
            p.add("PAY-02", when, acct, f"PVASP{i}WALLET", amount, "crypto")
        start += rng.uniform(3, 10)
    _everyday(p, rng, acct, "PVASP", day)


def plant_processor_payouts(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """PAY-04: a personal account receives many payouts from payment processors within
    a month (clients paying through PayPal, Stripe, Skrill ...) and passes most on."""
    acct, inst = f"PTPP{i}", f"PAY-04-{i}"
    p.role(acct, "PAY-04", "collector", inst, flagged=True)
    p.account(acct, "individual", "retail")
    used = rng.choice(len(PROCESSOR_PAYOUTS), size=int(rng.integers(1, 4)), replace=False)
    n = int(rng.integers(5, 13))
    span = rng.uniform(4, 28)
    total = 0.0
    for k in range(n):
        processor, description, channel = PROCESSOR_PAYOUTS[int(rng.choice(used))]
        amount = rng.uniform(150, 1500)
        total += amount
        p.add(
            "PAY-04",
            _daytime(rng, day + span * k / (n - 1), 6, 12),
            processor,
            acct,
            amount,
            channel,
            description=description,
        )
    boss = f"PTPP{i}BOSS"
    p.role(boss, "PAY-04", "controller", inst)
    p.add(
        "PAY-04",
        _daytime(rng, day + span + rng.uniform(0.5, 3)),
        acct,
        boss,
        round(total * rng.uniform(0.6, 0.85), -1),
        "p2p",
    )
    _everyday(p, rng, acct, "PTPP", day)


def plant_foreign_classifieds(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """PAY-05: small card payments to foreign classified sites every few days (postings,
    renewals, top-of-listing fees)."""
    acct, inst = f"PCLS{i}", f"PAY-05-{i}"
    p.role(acct, "PAY-05", "controller", inst, flagged=True)
    sites = rng.choice(len(CLASSIFIED_SITES), size=int(rng.integers(1, 3)), replace=False)
    n = int(rng.integers(3, 9))
    span = rng.uniform(3, 27)
    for k in range(n):
        name, country = CLASSIFIED_SITES[int(rng.choice(sites))]
        p.add(
            "PAY-05",
            at(rng, day + span * k / (n - 1), 20),
            acct,
            f"PCLS-{name.split('*')[0].split()[0].split('.')[0]}",
            float(rng.choice([4.99, 9.99, 14.99, 19.99, 29.0, rng.uniform(5, 60)])),
            "card",
            mcc="7311",
            merchant_name=name,
            merchant_city="Online",
            dst_country=country,
        )
    _everyday(p, rng, acct, "PCLS", day)


# ----------------------------------------------------------------------------- LIFE / BIZ


def plant_lavish_lifestyle(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """LIFE-01: an account fed by e-transfers from several people and by cash spends
    thousands on jewellery, a car deposit, nightclubs and big restaurant and limousine
    bills within a few weeks."""
    acct, inst = f"PLUX{i}", f"LIFE-01-{i}"
    p.role(acct, "LIFE-01", "controller", inst, flagged=True)
    p.account(acct, "individual", "retail")
    victims = [f"PLUX{i}V{k}" for k in range(int(rng.integers(2, 6)))]
    for v in victims:
        p.role(v, "LIFE-01", "victim", inst)
    span = rng.uniform(6, 25)
    received = 0.0
    for k in range(int(rng.integers(8, 20))):
        amount = float(rng.choice([300, 500, 600, 800, 1000, 1200, 1500]))
        received += amount
        p.add(
            "LIFE-01",
            at(rng, max(0.0, day - 3) + (span + 3) * rng.random(), 20),
            victims[k % len(victims)],
            acct,
            amount,
            "p2p",
        )
    # cash deposits make up the rest: at least 16,000 comes in, so that the spending
    # below (at most 90% of it) always passes 5,000
    while True:
        amount = rng.uniform(2000, 9000)
        received += amount
        p.add(
            "LIFE-01",
            _daytime(rng, day + span * rng.random()),
            "CASH",
            acct,
            amount,
            "cash_deposit",
        )
        if received >= 16000 and rng.random() < 0.5:
            break
    spent = 0.0
    order = rng.permutation(len(LAVISH))
    for k in order:
        name, mcc, (low, high) = LAVISH[int(k)]
        amount = rng.uniform(low, high)
        if spent + amount > 0.9 * received:
            continue
        spent += amount
        moment = day + span * rng.random()
        p.add(
            "LIFE-01",
            _daytime(rng, moment, 22, 27) if mcc == "5813" else _daytime(rng, moment, 11, 22),
            acct,
            f"PLUX-{name.split()[0]}",
            amount,
            "card",
            mcc=mcc,
            merchant_name=name,
            merchant_city=_city(rng),
        )
    _everyday(p, rng, acct, "PLUX", day)


def plant_cash_funded_purchase(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """LIFE-02: an account fed by cash deposits under the threshold for a few weeks
    (and sometimes a transfer from a partner) pays a down payment on a house or a car."""
    acct, inst = f"PCSH{i}", f"LIFE-02-{i}"
    p.role(acct, "LIFE-02", "controller", inst, flagged=True)
    span = rng.uniform(14, 28)
    cash_target = rng.uniform(58000, 110000)
    # the holder's own cash, paid in at one or two branches near home (several people at
    # many branches would be STR-02's smurfing instead)
    branches = [_city(rng), _city(rng)]
    cash = 0.0
    while cash < cash_target:
        amount = rng.uniform(2500, 9500)
        cash += amount
        p.add(
            "LIFE-02",
            _daytime(rng, day + span * rng.random()),
            "CASH",
            acct,
            amount,
            "cash_deposit",
            merchant_city=branches[int(rng.random() < 0.2)],
        )
    other = 0.0
    if rng.random() < 0.5:
        other = rng.uniform(0.1, 0.8) * cash
        partner = f"PCSH{i}PARTNER"
        p.role(partner, "LIFE-02", "controller", inst)
        p.add("LIFE-02", _daytime(rng, day + span * rng.random()), partner, acct, other, "wire")
    when = _daytime(rng, day + span + rng.uniform(1, 3))
    amount = round((cash + other) * rng.uniform(0.9, 0.98), -2)
    if rng.random() < 0.5:
        p.add(
            "LIFE-02",
            when,
            acct,
            "PCSH-ESCROW",
            amount,
            "wire",
            description=f"ESCROW DOWN PAYMENT {int(rng.integers(100, 9999))} OAK ST",
        )
    else:
        p.add(
            "LIFE-02",
            when,
            acct,
            "PCSH-DEALER",
            amount,
            str(rng.choice(["cheque", "wire"])),
            description="CADILLAC OF HOUSTON VEHICLE PURCHASE",
        )
    _everyday(p, rng, acct, "PCSH", day)


def plant_cash_front_business(p: Planted, rng: np.random.Generator, i: int, day: float) -> None:
    """BIZ-01: a massage or nail business deposits cash almost daily for one to two
    months, far more than the generator's cash-intensive businesses (about 185,000 over
    the export, 250,000 at most), with no card settlements or ACH credits; it pays rent
    and supplies and moves the money on to its owner."""
    acct, inst = f"PBIZ{i}", f"BIZ-01-{i}"
    p.role(acct, "BIZ-01", "business", inst, flagged=True)
    p.account(acct, "business", "cash_intensive")
    owner = f"PBIZ{i}OWNER"
    p.role(owner, "BIZ-01", "controller", inst)
    first = float(np.floor(min(day, DAYS - 32.0)))
    last = min(first + rng.uniform(35, 60), DAYS - 1.0)
    target = rng.uniform(300000, 480000)
    city = _city(rng)
    total = 0.0
    while total < target:
        amount = rng.uniform(3000, 9800)
        total += amount
        p.add(
            "BIZ-01",
            _daytime(rng, first + (last - first) * rng.random(), 10, 23),
            "CASH",
            acct,
            amount,
            "cash_deposit",
            merchant_city=city,
        )
    week = first + rng.uniform(2, 7)
    moved = 0.0
    while week < last and moved < 0.7 * total:
        amount = round(rng.uniform(10000, 40000), -2)
        moved += amount
        p.add("BIZ-01", _daytime(rng, week), acct, owner, amount, "wire")
        week += rng.uniform(5, 9)
    p.add(
        None,
        _daytime(rng, first + 1, 8, 10),
        acct,
        f"PBIZ{i}LANDLORD",
        round(rng.uniform(2500, 6000), -2),
        "ach",
        description="RENT",
    )
    for _ in range(int(rng.integers(1, 4))):
        p.add(
            None,
            _daytime(rng, first + (last - first) * rng.random()),
            acct,
            "PBIZ-SUPPLY",
            rng.uniform(80, 600),
            "card",
            mcc="5999",
            merchant_name="SALON SUPPLY CO",
            merchant_city=city,
        )


PLANTS = {
    "STR-02": plant_smurfing,
    "STR-03": plant_sub_3000_wires,
    "FLOW-02": plant_dormant_then_active,
    "FLOW-03": plant_round_transfers,
    "FLOW-04": plant_new_account_velocity,
    "XB-02": plant_many_senders_to_border,
    "PAY-01": plant_prepaid_buying,
    "PAY-02": plant_etransfers_to_exchange,
    "PAY-04": plant_processor_payouts,
    "PAY-05": plant_foreign_classifieds,
    "LIFE-01": plant_lavish_lifestyle,
    "LIFE-02": plant_cash_funded_purchase,
    "BIZ-01": plant_cash_front_business,
}
