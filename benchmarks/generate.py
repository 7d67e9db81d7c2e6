"""Seeded synthetic transactions with ground truth, for the demo, the tests and benchmarks.

    python -m benchmarks.generate --size 1M --seed 7 --out data/synth [--format csv]
        [--population a|b] [--clean]

A normal population (individuals and businesses: salaries from employers, rents to
landlords, utilities, card spend at real merchant categories, daytime ATM cash, P2P among
friends, remittances, cash-intensive businesses depositing takings; businesses paying
suppliers, commercial rent, utilities, payroll, payroll tax and business card spend,
a few of them crews that travel for work) with the traps real
monitoring trips over (employers paying many staff, payroll processors paying the staff
of several employers the day after or the morning the employer funds them, landlords
with many tenants, shops with many customers, students living on monthly wires from family abroad,
cash-intensive businesses), plus planted instances of the typologies, each labelled at
transaction level (``is_laundering``, ``pattern``) and at account level
(``truth_accounts.parquet``: account_id, pattern, role, instance_id).

The normal population also does ordinary things that look like typologies (households
pooling wages, friends splitting bills, trips, large purchases, gig work, clubs and
churches, cash rent, shared flats, marketplace sellers, owner-run shops, large one-off
invoices: ``benchmarks.ordinary``), in one of the population configurations of
``benchmarks.ordinary.POPULATIONS`` (``--population``). ``normal_segments.parquet`` lists
the behaviours of every normal account (account_id, behaviour) to read false positives by.

Everything is vectorised with numpy and written in chunks, so memory stays bounded by
``chunk_rows``; every chunk has its own seed derived from (seed, chunk), so the output is
byte-identical for the same arguments.
"""

from __future__ import annotations

import argparse
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.ordinary import (
    POPULATIONS,
    Lookalikes,
    PopulationConfig,
    expected_rows,
    lookalikes,
    ordinary_flows,
)
from benchmarks.planting import CITIES, DAYS, START, TX_SCHEMA, Planted, at
from benchmarks.plants import PATTERNS

GENERATOR_VERSION = 8
Format = Literal["parquet", "csv", "amlworld"]
# (mcc, name stem, typical amount) of everyday card spend
SPEND = [
    ("5411", "FRESH MARKET", 60.0),
    ("5812", "BISTRO", 35.0),
    ("5814", "QUICK BURGER", 12.0),
    ("5912", "CITY PHARMACY", 25.0),
    ("5541", "FUEL STOP", 45.0),
    ("5311", "DEPT STORE", 70.0),
    ("4111", "METRO TRANSIT", 3.0),
    ("4121", "CITY CAB", 18.0),
    ("5999", "GENERAL STORE", 30.0),
    ("7011", "INN HOTEL", 140.0),
]
SPEND_WEIGHTS = np.array([24, 14, 14, 6, 10, 8, 8, 4, 10, 2], dtype=float)
PAYROLL_PROCESSOR_NAMES = ["ADP PAYROLL", "PAYCHEX PAYROLL", "GUSTO PAYROLL", "PAYLOCITY"]
# (segment, weight, share of its employers whose crews travel for work: hotels and cars)
EMPLOYER_SEGMENTS = [
    ("construction", 16, 0.10),
    ("professional_services", 15, 0.06),
    ("manufacturing", 12, 0.03),
    ("transport", 10, 0.08),
    ("healthcare", 10, 0.02),
    ("restaurant", 10, 0.0),
    ("cleaning", 9, 0.04),
    ("hospitality", 9, 0.0),
    ("agriculture", 9, 0.05),
]
# (mcc, name stem, typical amount) of business card spend
BUSINESS_SPEND = [
    ("5943", "OFFICE SUPPLY", 120.0),
    ("5541", "FUEL STOP", 70.0),
    ("5812", "BISTRO", 60.0),
    ("4814", "TELECOM STORE", 150.0),
    ("5200", "BUILDERS SUPPLY", 300.0),
    ("5300", "WHOLESALE CLUB", 260.0),
    ("7011", "INN HOTEL", 180.0),
    ("7512", "CAR RENTAL", 220.0),
]
# weights of BUSINESS_SPEND per spending profile: office, trades, food trade, travelling crew
BUSINESS_SPEND_PROFILES = np.array(
    [
        [4.0, 3.0, 2.0, 1.0, 0.5, 0.5, 0.15, 0.1],
        [1.5, 4.0, 1.0, 1.0, 4.0, 0.5, 0.2, 0.2],
        [1.0, 1.5, 0.5, 1.0, 0.5, 4.0, 0.05, 0.05],
        [1.0, 2.0, 1.5, 0.5, 0.5, 0.3, 6.0, 3.0],
    ]
)
TRAVELLING = 3
TRADES_SEGMENTS = {"construction", "agriculture", "cleaning", "transport", "manufacturing"}
FOOD_SEGMENTS = {"restaurant", "hospitality"}
CARD_SIGMA = 0.7
PAYROLL_TAX_RATE = 0.22  # withheld income tax and FICA deposited by EFTPS each month
TAKINGS_MEAN = 1140.0  # mean cash deposit of a cash-intensive business's takings
FUNDING_DAYS = np.arange(9, DAYS - 2, 14)  # businesses funding a processor: every two weeks
PAYMENT_RUN_DAY = 9  # cash-intensive businesses pay their bills in one run a month


@dataclass(frozen=True)
class GeneratedDataset:
    """Paths and counts of one generated dataset."""

    folder: Path
    transaction_files: tuple[Path, ...]
    accounts_file: Path
    truth_file: Path
    n_transactions: int
    n_accounts: int
    patterns_file: Path | None = None


@dataclass(frozen=True)
class Population:
    individuals: np.ndarray
    employers: np.ndarray
    landlords: np.ndarray
    shops: np.ndarray
    cash_businesses: np.ndarray
    employer_of: np.ndarray
    landlord_of: np.ndarray  # "" when the individual owns their home
    processors: np.ndarray  # payroll processors paying staff on behalf of employers
    processor_of: np.ndarray  # per employer: its payroll processor, "" when it pays itself
    student: np.ndarray  # per individual: supported by family abroad instead of a salary
    employer_segment: np.ndarray  # per employer: its industry (the accounts file segment)
    config: PopulationConfig
    look: Lookalikes  # the ordinary look-alike behaviours (benchmarks.ordinary)

    @property
    def businesses(self) -> np.ndarray:
        return np.concatenate(
            [self.employers, self.landlords, self.shops, self.cash_businesses, self.processors]
        )


# ----------------------------------------------------------------------------- population


def population(
    n_accounts: int, rng: np.random.Generator, cfg: PopulationConfig = POPULATIONS["a"]
) -> Population:
    n_ind = int(n_accounts * cfg.individual_share)
    n_emp = max(5, int(n_accounts * cfg.employer_share))
    n_land = max(5, int(n_accounts * cfg.landlord_share))
    n_shop = max(10, int(n_accounts * cfg.shop_share))
    n_cash = max(3, n_accounts - n_ind - n_emp - n_land - n_shop)
    individuals = np.char.add("C", np.arange(n_ind).astype(str).astype("U10"))
    employers = np.char.add("EMP", np.arange(n_emp).astype(str))
    landlords = np.char.add("LAND", np.arange(n_land).astype(str))
    shops = np.char.add("SHOP", np.arange(n_shop).astype(str))
    cash = np.char.add("CASHBIZ", np.arange(n_cash).astype(str))
    # heavy-tailed sizes: a few employers and landlords have many people
    emp_weights = rng.pareto(1.2, n_emp) + 1
    land_weights = rng.pareto(1.5, n_land) + 1
    employer_of = employers[rng.choice(n_emp, n_ind, p=emp_weights / emp_weights.sum())]
    tenant = rng.random(n_ind) < cfg.tenant_share
    landlord_of = np.where(
        tenant, landlords[rng.choice(n_land, n_ind, p=land_weights / land_weights.sum())], ""
    )
    # some employers run payroll through a processor: the employer funds it the day
    # before payday (or the same morning) and the processor pays every employee (a
    # fan-out trap)
    processors = np.array([f"PAYPROC{k}" for k in range(max(2, n_emp // 40))])
    processor_of = np.where(
        rng.random(n_emp) < cfg.processor_share,
        processors[rng.integers(0, len(processors), n_emp)],
        "",
    )
    # a few individuals are students living on monthly support wired by family abroad
    student = rng.random(n_ind) < cfg.student_share
    weights = np.array([w for _, w, _ in EMPLOYER_SEGMENTS], dtype=float)
    employer_segment = np.array([name for name, _, _ in EMPLOYER_SEGMENTS])[
        rng.choice(len(EMPLOYER_SEGMENTS), n_emp, p=weights / weights.sum())
    ]
    look = lookalikes(cfg, n_ind, landlords, land_weights / land_weights.sum(), rng)
    # earners pooling into a family account pay no rent of their own (the family does),
    # nor do flatmates (the lead tenant does)
    landlord_of = np.where((look.household_of >= 0) | (look.flat_of >= 0), "", landlord_of)
    student &= ~look.gig_only
    return Population(
        individuals,
        employers,
        landlords,
        shops,
        cash,
        employer_of,
        landlord_of,
        processors,
        processor_of,
        student,
        employer_segment,
        cfg,
        look,
    )


def accounts_table(
    pop: Population,
    rng: np.random.Generator,
    planted_accounts: dict[str, tuple[str, str, np.datetime64 | None]],
) -> pa.Table:
    """One row per normal account, plus the planted accounts a plant gave a row (opened
    when the plant says, else on a date drawn like a normal account's)."""
    extra = sorted(planted_accounts.items())
    look = pop.look
    ids = np.concatenate(
        [pop.individuals, look.families, pop.businesses, look.clubs, [a for a, _ in extra]]
    )
    kinds = np.array(
        ["individual"] * (len(pop.individuals) + len(look.families))
        + ["business"] * (len(pop.businesses) + len(look.clubs))
        + [kind for _, (kind, _, _) in extra]
    )
    segments = np.concatenate(
        [
            np.full(len(pop.individuals) + len(look.families), "retail"),
            pop.employer_segment,
            np.full(len(pop.landlords), "property"),
            np.full(len(pop.shops), "merchant"),
            np.full(len(pop.cash_businesses), "cash_intensive"),
            np.full(len(pop.processors), "payroll_processor"),
            np.full(len(look.clubs), "nonprofit"),
            np.array([segment for _, (_, segment, _) in extra], dtype=str),
        ]
    )
    country = np.full(len(ids), "US", dtype=object)
    foreign = np.flatnonzero(look.foreign_resident != "")
    country[foreign] = look.foreign_resident[foreign]
    opened = START - (rng.integers(120, 20 * 365, len(ids)) * 86400).astype("timedelta64[s]")
    first_planted = len(ids) - len(extra)
    for k, (_, (_, _, opened_at)) in enumerate(extra):
        if opened_at is not None:
            opened[first_planted + k] = opened_at
    return pa.table(
        {
            "account_id": ids.astype(str),
            "customer_type": kinds,
            "opened_at": opened,
            "country": country.astype(str),
            "segment": segments,
            "bank": np.full(len(ids), "B001"),
        }
    )


def _times(rng: np.random.Generator, n: int, day_hours: tuple[int, int] = (7, 22)) -> np.ndarray:
    days = rng.integers(0, DAYS, n)
    hours = rng.integers(day_hours[0], day_hours[1], n)
    seconds = days * 86400 + hours * 3600 + rng.integers(0, 3600, n)
    return START + seconds.astype("timedelta64[s]")


def recurring_flows(
    pop: Population, people: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Monthly income, rent (ACH to the landlord, or cash) and utilities of the
    individuals at index ``people``: the standing relationships of real accounts. Income
    is a salary (ACH from the employer, or from its payroll processor, which the employer
    funds the day before or the same morning in one transfer per block of people), for
    students a wire from family abroad, and nothing here for gig workers living on their
    platforms' payouts. Some tenants pay cash: they withdraw the rent and the landlord
    banks it a day or two later."""
    cfg = pop.config
    months = DAYS // 30
    person = np.repeat(people, months)
    month = np.tile(np.arange(months), len(people))
    n = len(person)
    salary_day = month * 30 + 14 + rng.integers(-1, 2, n)
    rent_day = month * 30 + rng.integers(0, 5, n)
    util_day = month * 30 + 20 + rng.integers(0, 5, n)
    salary_amount = np.round(pop.look.salary[person], 2)
    rent_sd = 300 * cfg.rent_mean / 1400
    rent_amount = np.repeat(
        np.round(rng.normal(cfg.rent_mean, rent_sd, len(people)).clip(500) / 50) * 50, months
    )
    util_amount = np.round(rng.lognormal(4.2, 0.4, n), 2)
    tenant = pop.landlord_of[person] != ""
    cash_rent = tenant & pop.look.cash_rent[person]
    tenant &= ~cash_rent
    ids = pop.individuals[person]
    employer = pop.employer_of[person]
    employer_index = np.searchsorted(pop.employers, employer, sorter=np.argsort(pop.employers))
    processor = pop.processor_of[np.argsort(pop.employers)[employer_index]]
    processor_number = np.char.replace(
        np.where(processor == "", "0", processor), "PAYPROC", ""
    ).astype(int)
    student = pop.student[person]
    paid = ~pop.look.gig_only[person]
    payer = np.where(processor != "", processor, employer)
    payer = np.where(student, np.char.add("FAMILYABROAD-", person.astype(str)), payer)
    income_description = np.where(
        student,
        "FAMILY SUPPORT",
        np.where(
            processor != "",
            np.array(PAYROLL_PROCESSOR_NAMES)[processor_number % len(PAYROLL_PROCESSOR_NAMES)],
            "PAYROLL",
        ),
    )
    homes = np.array(cfg.student_countries)
    income_country = np.where(student, homes[person % len(homes)], "US")
    income_channel = np.where(student, "wire", "ach")
    # one funding transfer per (employer, month) of this block of people
    funded = (processor != "") & ~student & paid
    keys = np.char.add(np.char.add(employer[funded], "|"), month[funded].astype(str))
    unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    funding_amount = np.round(np.bincount(inverse, weights=salary_amount[funded]), 2)
    funding_src = employer[funded][first]
    funding_dst = processor[funded][first]
    funding_day = salary_day[funded][first] - cfg.processor_lead_days
    k = len(unique_keys)
    c = int(cash_rent.sum())
    withdrawn_day = rent_day[cash_rent] - rng.integers(0, 3, c)
    src = np.concatenate(
        [payer[paid], ids[tenant], ids, funding_src, ids[cash_rent], np.full(c, "CASH")]
    )
    dst = np.concatenate(
        [
            ids[paid],
            pop.landlord_of[person][tenant],
            np.char.add("UTIL-", (person % 4).astype(str)),
            funding_dst,
            np.full(c, "CASH"),
            pop.landlord_of[person][cash_rent],
        ]
    )
    days = np.concatenate(
        [
            salary_day[paid],
            rent_day[tenant],
            util_day,
            funding_day,
            withdrawn_day,
            rent_day[cash_rent] + rng.integers(0, 3, c),
        ]
    )
    hours = rng.integers(6, 10, len(days))
    # cash is drawn and banked in the daytime
    hours[len(days) - 2 * c :] = rng.integers(9, 18, 2 * c)
    when = START + (
        np.clip(days, 0, DAYS - 1) * 86400 + hours * 3600 + rng.integers(0, 3600, len(days))
    ).astype("timedelta64[s]")
    rest = int(tenant.sum()) + n + k + 2 * c
    return {
        "src": src,
        "dst": dst,
        "when": when,
        "amount": np.concatenate(
            [
                salary_amount[paid],
                rent_amount[tenant],
                util_amount,
                funding_amount,
                rent_amount[cash_rent],
                rent_amount[cash_rent],
            ]
        ),
        "channel": np.concatenate(
            [
                income_channel[paid],
                np.full(tenant.sum() + n + k, "ach"),
                np.full(c, "cash_withdrawal"),
                np.full(c, "cash_deposit"),
            ]
        ).astype(object),
        "src_country": np.concatenate([income_country[paid], np.full(rest, "US")]).astype(object),
        "description": np.concatenate(
            [
                income_description[paid].astype(object),
                np.full(tenant.sum(), "RENT", dtype=object),
                np.full(n, None, dtype=object),
                np.full(k, "PAYROLL FUNDING", dtype=object),
                np.full(c, None, dtype=object),
                np.full(c, "RENT", dtype=object),
            ]
        ),
    }


@dataclass(frozen=True)
class BusinessProfiles:
    """The standing costs of every normal business (in ``Population.businesses`` order):
    what it pays each month and to whom. Built once per dataset; the flows of each block
    of businesses are drawn from it chunk by chunk."""

    ids: np.ndarray
    costs: np.ndarray  # monthly costs other than wages and payroll tax
    supplier_share: np.ndarray  # of costs, paid to suppliers by ACH or wire
    n_suppliers: np.ndarray
    first_supplier: np.ndarray  # index into the supplier pool; the others follow by step
    supplier_step: np.ndarray
    n_supplier_pool: int
    rent_to: np.ndarray  # landlord of its premises ("" for landlords themselves)
    rent: np.ndarray  # monthly commercial rent
    utilities: np.ndarray  # monthly utilities
    card_rate: np.ndarray  # business card payments a month (Poisson mean)
    spend_profile: np.ndarray  # row of BUSINESS_SPEND_PROFILES
    payroll: np.ndarray  # monthly wages funded through a payroll processor (0: none)
    processor: np.ndarray  # the processor funded ("" when payroll is 0)
    payroll_tax: np.ndarray  # monthly federal payroll tax deposit (0: no staff)
    batched: np.ndarray  # pays all its bills in one early-morning run a month
    one_off: np.ndarray  # a single invoice far above its usual ones (0: none)
    one_off_day: np.ndarray
    owner: np.ndarray  # owner-run shop: the individual paid owner draws ("" otherwise)
    owner_draw: np.ndarray  # monthly

    def expected_rows(self, months: int) -> float:
        """Expected transactions of all businesses over ``months`` months."""
        return float(
            months
            * (
                self.n_suppliers.sum()
                + len(self.ids)
                + (self.rent_to != "").sum()
                + (self.payroll_tax > 0).sum()
                + self.card_rate.sum()
            )
            + len(FUNDING_DAYS) * ((self.payroll > 0) & ~self.batched).sum()
            + months * ((self.payroll > 0) & self.batched).sum()
            + (self.one_off > 0).sum()
            + months * (self.owner_draw > 0).sum()
        )


def _index_of(names: np.ndarray, values: np.ndarray) -> np.ndarray:
    order = np.argsort(names)
    return order[np.searchsorted(names, values, sorter=order)]


def business_profiles(
    pop: Population, rng: np.random.Generator, shop_revenue: float, cash_revenue: float
) -> BusinessProfiles:
    """Monthly costs of every normal business, sized to what it takes in (shops and
    cash-intensive businesses: their expected monthly takings ``shop_revenue`` and
    ``cash_revenue``; landlords: their tenants' rents) or, for employers, to their wage
    bill. Shops, cash-intensive businesses and landlords with staff fund their payroll
    through a payroll processor; every business with staff deposits payroll tax; small
    landlords run their buildings themselves (no staff, no payroll)."""
    ids = pop.businesses
    n_emp, n_land = len(pop.employers), len(pop.landlords)
    n_trade = len(pop.shops) + len(pop.cash_businesses)
    nb = len(ids)
    kind = np.repeat(
        np.arange(5),
        [n_emp, n_land, len(pop.shops), len(pop.cash_businesses), len(pop.processors)],
    )
    trade = (kind == 2) | (kind == 3)
    salaried = ~pop.student & ~pop.look.gig_only
    wage_bill = np.bincount(
        _index_of(pop.employers, pop.employer_of[salaried]),
        weights=pop.look.salary[salaried],
        minlength=n_emp,
    )
    revenue = np.zeros(nb)
    revenue[kind == 2] = shop_revenue
    revenue[kind == 3] = cash_revenue
    revenue *= rng.lognormal(0, 0.25, nb)
    costs = np.zeros(nb)
    # employers: costs besides wages of 30-90% of the wage bill (at least a small office)
    costs[kind == 0] = np.maximum(wage_bill, 3000.0) * rng.uniform(0.3, 0.9, n_emp)
    costs[trade] = revenue[trade] * rng.uniform(0.45, 0.6, n_trade)
    costs[kind == 4] = 20_000.0 * rng.lognormal(0, 0.25, len(pop.processors))
    # commercial premises: every business but the landlords rents from one of them
    rents_premises = kind != 1
    land_weights = rng.pareto(1.5, n_land) + 1
    rent_to = np.where(
        rents_premises,
        pop.landlords[rng.choice(n_land, nb, p=land_weights / land_weights.sum())],
        "",
    )
    rent_share = np.where(rents_premises, rng.uniform(0.08, 0.18, nb), 0.0)
    rent = np.round(costs * rent_share / 50) * 50
    # landlords: their tenants' rents and the commercial rents of their business tenants
    land_revenue = np.bincount(
        _index_of(pop.landlords, pop.landlord_of[pop.landlord_of != ""]), minlength=n_land
    ) * pop.config.rent_mean + np.bincount(
        _index_of(pop.landlords, rent_to[rents_premises]),
        weights=rent[rents_premises],
        minlength=n_land,
    )
    costs[kind == 1] = land_revenue * rng.uniform(0.3, 0.5, n_land)
    utility_share = rng.uniform(0.03, 0.08, nb)
    # staff: employers pay their own (recurring_flows); shops and cash-intensive businesses
    # fund a processor; landlords from half the median revenue up employ building staff,
    # smaller ones run their buildings themselves
    payroll = np.zeros(nb)
    payroll[trade] = revenue[trade] * rng.uniform(0.18, 0.32, n_trade)
    # owner-run shops have no staff: the owner takes monthly draws instead of wages
    owner_run = trade & (rng.random(nb) < pop.config.owner_run_share)
    owner_draw = np.where(owner_run, np.round(payroll * rng.uniform(0.6, 1.0, nb), -1), 0.0)
    owner = np.where(owner_run, pop.individuals[rng.integers(0, len(pop.individuals), nb)], "")
    payroll[owner_run] = 0.0
    staffed = land_revenue >= 0.5 * np.median(land_revenue)
    payroll[kind == 1] = np.where(staffed, land_revenue * rng.uniform(0.06, 0.12, n_land), 0.0)
    proc_weights = rng.pareto(1.0, len(pop.processors)) + 1
    processor = np.where(
        payroll > 0,
        pop.processors[rng.choice(len(pop.processors), nb, p=proc_weights / proc_weights.sum())],
        "",
    )
    payroll_tax = PAYROLL_TAX_RATE * payroll
    payroll_tax[kind == 0] = PAYROLL_TAX_RATE * wage_bill
    # business card spend: 6-15% of the costs, 35-60% for crews that travel for work
    # (hotels and car rental: up to a fifth of all their outflows)
    segment = np.concatenate(
        [
            pop.employer_segment,
            np.full(n_land, "property"),
            np.full(len(pop.shops), "merchant"),
            np.full(len(pop.cash_businesses), "cash_intensive"),
            np.full(len(pop.processors), "payroll_processor"),
        ]
    )
    travel_rate = {name: rate for name, _, rate in EMPLOYER_SEGMENTS}
    travels = rng.random(nb) < np.array([travel_rate.get(s, 0.0) for s in segment])
    profile = np.where(
        np.isin(segment, sorted(TRADES_SEGMENTS)) | (kind == 1),
        1,
        np.where(np.isin(segment, sorted(FOOD_SEGMENTS)) | trade, 2, 0),
    )
    profile = np.where(travels, TRAVELLING, profile)
    card_share = np.where(travels, rng.uniform(0.35, 0.6, nb), rng.uniform(0.06, 0.15, nb))
    weights = BUSINESS_SPEND_PROFILES / BUSINESS_SPEND_PROFILES.sum(axis=1, keepdims=True)
    mean_card = weights @ np.array([b for _, _, b in BUSINESS_SPEND]) * np.exp(CARD_SIGMA**2 / 2)
    card_rate = np.clip(card_share * costs / mean_card[profile], 0.5, np.where(travels, 60, 25))
    n_pool = max(30, nb // 4)
    pool_weights = rng.pareto(1.2, n_pool) + 1
    # equipment, a vehicle, a renovation or a stock purchase: one invoice of 1.5 to 8
    # months of supplier payments, paid by wire
    one_off = np.where(
        (rng.random(nb) < pop.config.big_invoice_share) & (kind != 4),
        costs * rng.uniform(0.6, 0.8) * rng.uniform(1.5, 8, nb),
        0.0,
    )
    one_off_day = rng.integers(3, DAYS - 3, nb)
    return BusinessProfiles(
        ids=ids,
        costs=costs,
        supplier_share=1.0 - rent_share - utility_share - card_share,
        n_suppliers=rng.integers(2, 7, nb),
        first_supplier=rng.choice(n_pool, nb, p=pool_weights / pool_weights.sum()),
        supplier_step=rng.integers(1, 8, nb),
        n_supplier_pool=n_pool,
        rent_to=rent_to,
        rent=rent,
        utilities=np.round(costs * utility_share, 2),
        card_rate=card_rate,
        spend_profile=profile,
        payroll=payroll,
        processor=processor,
        payroll_tax=np.round(payroll_tax, 2),
        batched=kind == 3,
        one_off=np.round(one_off, -2),
        one_off_day=one_off_day,
        owner=owner,
        owner_draw=owner_draw,
    )


def business_flows(
    pop: Population, prof: BusinessProfiles, block: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Three months of the businesses at index ``block`` of ``prof``: supplier invoices
    (ACH, or wire for some suppliers; heavy-tailed, most to the main supplier), commercial
    rent to the landlord, utilities, payroll funding to the processor every two weeks,
    the monthly EFTPS payroll-tax deposit, and business card spend (office supplies,
    fuel, restaurants, telecom, builders' supplies, wholesale clubs, and hotels and car
    rental, mostly by crews that travel for work). Cash-intensive businesses pay their
    bills in one early-morning payment run a month, payroll funding first, as businesses
    that bank their takings daily commonly do: banking takings and paying bills is not
    money passed straight through."""
    months = DAYS // 30
    parts: list[dict[str, np.ndarray]] = []

    def part(
        b: np.ndarray,
        dst: np.ndarray,
        day: np.ndarray,
        amount: np.ndarray,
        channel: np.ndarray | str,
        description: np.ndarray | str | None,
        lead: bool = False,
    ) -> None:
        n = len(b)
        parts.append(
            {
                "b": b,
                "lead": np.full(n, lead),
                "src": prof.ids[b].astype(object),
                "dst": dst.astype(object),
                "day": np.clip(day, 0, DAYS - 1),
                "amount": np.round(amount, 2),
                "channel": np.broadcast_to(np.asarray(channel, dtype=object), n),
                "description": np.broadcast_to(np.asarray(description, dtype=object), n),
                "mcc": np.full(n, None, dtype=object),
                "merchant": np.full(n, None, dtype=object),
                "city": np.full(n, None, dtype=object),
            }
        )

    # suppliers: each paid every month, the main one most (weights 1, 0.55, 0.3, ...)
    n_sup = prof.n_suppliers[block]
    per = n_sup * months
    b = np.repeat(block, per)
    k = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    ns = np.repeat(n_sup, per)
    j, month = k % ns, k // ns
    share = 0.55**j * 0.45 / (1 - 0.55**ns)
    supplier = (prof.first_supplier[b] + j * prof.supplier_step[b]) % prof.n_supplier_pool
    part(
        b,
        np.char.add("SUPPLIER", supplier.astype(str)),
        month * 30 + 7 + (b * 7 + j * 11) % 20 + rng.integers(0, 3, len(b)),
        prof.costs[b] * prof.supplier_share[b] * share * rng.lognormal(0, 0.45, len(b)),
        np.where((b + j) % 4 == 0, "wire", "ach"),
        np.char.add("INVOICE ", (10_000 + (b * 37 + j * 101) % 80_000 + month).astype(str)),
    )
    # a one-off large invoice to a vendor it has not paid before
    big = block[prof.one_off[block] > 0]
    part(
        big,
        np.char.add("VENDOR", (big * 13 % 997).astype(str)),
        prof.one_off_day[big],
        prof.one_off[big],
        "wire",
        np.char.add("INVOICE ", (500_000 + big * 7).astype(str)),
    )
    # owner draws to the owner's personal account around the end of the month
    drawing = block[prof.owner_draw[block] > 0]
    b, month = np.repeat(drawing, months), np.tile(np.arange(months), len(drawing))
    part(
        b,
        prof.owner[b],
        month * 30 + 27 + rng.integers(0, 3, len(b)),
        prof.owner_draw[b] * rng.uniform(0.8, 1.2, len(b)),
        np.where(b % 3 == 0, "internal", "ach"),
        np.array(["OWNER DRAW", None], dtype=object)[b % 2],
    )
    # commercial rent on the first days of the month, utilities late in the month
    renting = block[prof.rent_to[block] != ""]
    b, month = np.repeat(renting, months), np.tile(np.arange(months), len(renting))
    part(b, prof.rent_to[b], month * 30 + b % 5, prof.rent[b], "ach", "COMMERCIAL RENT")
    b, month = np.repeat(block, months), np.tile(np.arange(months), len(block))
    part(
        b,
        np.char.add("UTIL-BIZ-", (b % 4).astype(str)),
        month * 30 + 20 + rng.integers(0, 6, len(b)),
        prof.utilities[b] * rng.lognormal(0, 0.2, len(b)),
        "ach",
        None,
    )
    # payroll funded every two weeks (once a month in a payment run)
    funding = block[(prof.payroll[block] > 0) & ~prof.batched[block]]
    b = np.repeat(funding, len(FUNDING_DAYS))
    part(
        b,
        prof.processor[b],
        np.tile(FUNDING_DAYS, len(funding)) + b % 3,
        prof.payroll[b] * 14 / 30 * rng.lognormal(0, 0.05, len(b)),
        "ach",
        "PAYROLL FUNDING",
    )
    funding = block[(prof.payroll[block] > 0) & prof.batched[block]]
    b, month = np.repeat(funding, months), np.tile(np.arange(months), len(funding))
    part(
        b,
        prof.processor[b],
        month * 30,
        prof.payroll[b] * rng.lognormal(0, 0.05, len(b)),
        "ach",
        "PAYROLL FUNDING",
        lead=True,
    )
    # withheld income tax and FICA deposited by EFTPS by the 15th of each month
    taxed = block[prof.payroll_tax[block] > 0]
    b, month = np.repeat(taxed, months), np.tile(np.arange(months), len(taxed))
    part(
        b,
        np.full(len(b), "IRS-EFTPS"),
        month * 30 + 13 + rng.integers(0, 3, len(b)),
        prof.payroll_tax[b] * rng.lognormal(0, 0.05, len(b)),
        "ach",
        "IRS USATAXPYMT EFTPS",
    )
    # business card spend at shops of the business's city; hotels and car rental anywhere
    b = np.repeat(block, rng.poisson(prof.card_rate[block] * months))
    weights = BUSINESS_SPEND_PROFILES / BUSINESS_SPEND_PROFILES.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(weights, axis=1)[prof.spend_profile[b]]
    spend = np.minimum(
        (rng.random(len(b))[:, None] > cumulative).sum(axis=1), len(BUSINESS_SPEND) - 1
    )
    per_city = max(1, len(pop.shops) // len(CITIES))
    shop_idx = (rng.integers(0, per_city, len(b)) * len(CITIES) + b % len(CITIES)) % len(pop.shops)
    away = np.isin(spend, [6, 7])
    shop_idx[away] = rng.integers(0, len(pop.shops), away.sum())
    base = np.array([s[2] for s in BUSINESS_SPEND])[spend]
    part(
        b,
        pop.shops[shop_idx],
        rng.integers(0, DAYS, len(b)),
        base * rng.lognormal(0, CARD_SIGMA, len(b)),
        "card",
        None,
    )
    parts[-1]["mcc"] = np.array([s[0] for s in BUSINESS_SPEND], dtype=object)[spend]
    parts[-1]["merchant"] = np.char.add(
        np.array([s[1] + " " for s in BUSINESS_SPEND])[spend], (shop_idx % 97).astype(str)
    ).astype(object)
    parts[-1]["city"] = CITIES[shop_idx % len(CITIES)].astype(object)

    flows = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    day, b, lead = flows.pop("day"), flows.pop("b"), flows.pop("lead")
    n = len(day)
    seconds = day * 86400 + rng.integers(8, 18, n) * 3600 + rng.integers(0, 3600, n)
    # payment runs: every bill of the month at 5 am, before the day's takings are banked,
    # the payroll funding first
    run = prof.batched[b] & (flows["channel"] != "card")
    run_day = np.minimum(day[run] // 30, months - 1) * 30 + PAYMENT_RUN_DAY + b[run] % 3
    seconds[run] = (
        run_day * 86400 + 5 * 3600 + np.where(lead[run], 0, 600) + rng.integers(0, 600, run.sum())
    )
    flows["when"] = START + seconds.astype("timedelta64[s]")
    return flows


def normal_chunk(
    pop: Population,
    people: np.ndarray,
    n_random: int,
    rng: np.random.Generator,
    first_id: int,
    profiles: BusinessProfiles,
    businesses: np.ndarray,
    clubs: np.ndarray | None = None,
) -> pa.Table:
    """The recurring flows of the individuals ``people`` plus ``n_random`` everyday
    transactions (card spend, ATM cash, P2P, remittances, business takings), plus the
    costs of the businesses at index ``businesses`` of ``profiles``, plus the ordinary
    look-alike behaviours of those people and of the clubs at index ``clubs``. Amounts
    are scaled by the population's ``amount_scale`` (cash withdrawals stay round)."""
    cfg = pop.config
    n = n_random
    kinds = rng.choice(["card", "atm", "p2p", "remit", "takings"], n, p=list(cfg.everyday_mix))
    person_idx = people[rng.integers(0, len(people), n)]
    person = pop.individuals[person_idx]
    src = person.astype(object)
    dst = np.empty(n, dtype=object)
    amount = np.round(rng.lognormal(3.3, 0.9, n), 2)
    channel = np.full(n, "card", dtype=object)
    mcc = np.full(n, None, dtype=object)
    merchant = np.full(n, None, dtype=object)
    city = np.full(n, None, dtype=object)
    dst_country = np.full(n, "US", dtype=object)
    src_country = np.full(n, "US", dtype=object)
    description = np.full(n, None, dtype=object)
    when = _times(rng, n)

    m = kinds == "card"
    # people shop in their home city (shop k sits in city k mod 12); 3% of card
    # payments happen while travelling
    home = person_idx[m] % len(CITIES)
    per_city = max(1, len(pop.shops) // len(CITIES))
    shop_idx = (rng.integers(0, per_city, m.sum()) * len(CITIES) + home) % len(pop.shops)
    travel = rng.random(m.sum()) < 0.03
    shop_idx[travel] = rng.integers(0, len(pop.shops), travel.sum())
    spend = rng.choice(len(SPEND), m.sum(), p=SPEND_WEIGHTS / SPEND_WEIGHTS.sum())
    dst[m] = pop.shops[shop_idx]
    mcc[m] = np.array([s[0] for s in SPEND], dtype=object)[spend]
    merchant[m] = np.char.add(
        np.array([s[1] + " " for s in SPEND])[spend], (shop_idx % 97).astype(str)
    )
    city[m] = CITIES[shop_idx % len(CITIES)]
    base = np.array([s[2] for s in SPEND])[spend]
    amount[m] = np.round(base * rng.lognormal(0, 0.5, m.sum()), 2)

    m = kinds == "atm"
    dst[m] = "CASH"
    amount[m] = rng.choice(list(cfg.atm_amounts), m.sum())
    channel[m] = "cash_withdrawal"
    city[m] = CITIES[person_idx[m] % len(CITIES)]
    when[m] = _times(rng, int(m.sum()), (8, 21))

    m = kinds == "p2p"
    friend = pop.individuals[(person_idx[m] + rng.integers(1, 50, m.sum())) % len(pop.individuals)]
    dst[m] = friend
    amount[m] = np.round(rng.lognormal(3.5, 0.8, m.sum()), 0)
    channel[m] = "p2p"

    m = kinds == "remit"
    dst[m] = np.char.add("FAMILY-", person_idx[m].astype(str))
    dst_country[m] = np.array(cfg.remittance_countries, dtype=object)[
        person_idx[m] % len(cfg.remittance_countries)
    ]
    amount[m] = np.round(rng.lognormal(5.8, 0.5, m.sum()), 2)
    channel[m] = "wire"

    m = kinds == "takings"
    src[m] = "CASH"
    dst[m] = pop.cash_businesses[rng.integers(0, len(pop.cash_businesses), m.sum())]
    amount[m] = np.round(rng.lognormal(6.8, 0.7, m.sum()).clip(50, 7900), 2)
    channel[m] = "cash_deposit"

    flows = recurring_flows(pop, people, rng)
    k = len(flows["src"])
    src = np.concatenate([src, flows["src"].astype(object)])
    dst = np.concatenate([dst, flows["dst"].astype(object)])
    when = np.concatenate([when, flows["when"]])
    amount = np.concatenate([amount, flows["amount"]])
    channel = np.concatenate([channel, flows["channel"]])
    mcc = np.concatenate([mcc, np.full(k, None, dtype=object)])
    merchant = np.concatenate([merchant, np.full(k, None, dtype=object)])
    city = np.concatenate([city, np.full(k, None, dtype=object)])
    dst_country = np.concatenate([dst_country, np.full(k, "US", dtype=object)])
    src_country = np.concatenate([src_country, flows["src_country"]])
    description = np.concatenate([description, flows["description"]])

    if len(businesses):
        costs = business_flows(pop, profiles, businesses, rng)
        k = len(costs["src"])
        src = np.concatenate([src, costs["src"]])
        dst = np.concatenate([dst, costs["dst"]])
        when = np.concatenate([when, costs["when"]])
        amount = np.concatenate([amount, costs["amount"]])
        channel = np.concatenate([channel, costs["channel"]])
        mcc = np.concatenate([mcc, costs["mcc"]])
        merchant = np.concatenate([merchant, costs["merchant"]])
        city = np.concatenate([city, costs["city"]])
        dst_country = np.concatenate([dst_country, np.full(k, "US", dtype=object)])
        src_country = np.concatenate([src_country, np.full(k, "US", dtype=object)])
        description = np.concatenate([description, costs["description"]])

    look = ordinary_flows(
        pop.individuals,
        pop.shops,
        pop.look,
        cfg,
        people,
        np.arange(0) if clubs is None else clubs,
        rng,
    )
    src = np.concatenate([src, look["src"]])
    dst = np.concatenate([dst, look["dst"]])
    when = np.concatenate([when, look["when"]])
    amount = np.concatenate([amount, look["amount"]])
    channel = np.concatenate([channel, look["channel"]])
    mcc = np.concatenate([mcc, look["mcc"]])
    merchant = np.concatenate([merchant, look["merchant"]])
    city = np.concatenate([city, look["city"]])
    dst_country = np.concatenate([dst_country, look["dst_country"]])
    src_country = np.concatenate([src_country, look["src_country"]])
    description = np.concatenate([description, look["description"]])
    if cfg.amount_scale != 1.0:
        cash_out = channel == "cash_withdrawal"
        amount = np.where(
            cash_out,
            np.maximum(20.0, np.round(amount * cfg.amount_scale / 20) * 20),
            np.round(amount * cfg.amount_scale, 2),
        )

    total = len(src)
    keep = src != dst
    order = np.lexsort((np.arange(total), when))
    order = order[keep[order]]
    count = len(order)
    return pa.table(
        {
            "tx_id": np.char.add(
                "T", np.char.zfill(np.arange(first_id, first_id + count).astype(str), 10)
            ),
            "timestamp": when[order].astype("datetime64[us]"),
            "src_account": src[order].astype(str),
            "dst_account": dst[order].astype(str),
            # heavy-tailed draws can round to 0.00 (one row in 100M): a cent is the least.
            # Only such rows change, so datasets without them keep their bytes (same version).
            "amount": np.maximum(amount[order], 0.01),
            "currency": np.full(count, "USD"),
            "channel": channel[order].astype(str),
            "src_bank": np.full(count, "B001"),
            "dst_bank": np.full(count, "B001"),
            "mcc": pa.array(mcc[order], pa.string()),
            "merchant_name": pa.array(merchant[order], pa.string()),
            "merchant_city": pa.array(city[order], pa.string()),
            "src_country": src_country[order].astype(str),
            "dst_country": dst_country[order].astype(str),
            "description": pa.array(description[order], pa.string()),
            "is_laundering": np.zeros(count, dtype=np.int8),
            "pattern": pa.nulls(count, pa.string()),
        },
        schema=TX_SCHEMA,
    )


def planted(
    n_transactions: int, rng: np.random.Generator, pop: Population, patterns: Sequence[str]
) -> Planted:
    plan = Planted()
    per_pattern = max(2, n_transactions // 100_000)
    for name in patterns:
        plant = PATTERNS[name]
        for i in range(per_pattern):
            plant(plan, rng, i, float(rng.uniform(2, DAYS - 32)))
    # ordinary activity around planted accounts, so they are not isolated
    accounts = sorted({a for a, *_ in plan.truth})
    for k, acct in enumerate(accounts):
        shop = str(pop.shops[k % len(pop.shops)])
        plan.add(
            None,
            at(rng, rng.uniform(0, DAYS - 1), 14),
            acct,
            shop,
            rng.uniform(10, 80),
            "card",
            mcc="5411",
            merchant_name=f"FRESH MARKET {k % 97}",
            merchant_city=str(CITIES[k % len(CITIES)]),
        )
    return plan


def planted_table(plan: Planted) -> pa.Table:
    rows = dict(plan.rows)
    rows["timestamp"] = list(np.array(rows["timestamp"], dtype="datetime64[us]"))
    return pa.table(rows, schema=TX_SCHEMA).sort_by(
        [("timestamp", "ascending"), ("tx_id", "ascending")]
    )


# ----------------------------------------------------------------------------- writers


CURRENCY_NAMES = {"USD": "US Dollar", "EUR": "Euro", "GBP": "UK Pound", "CAD": "Canadian Dollar"}
FORMAT_NAMES = {
    "wire": "Wire",
    "ach": "ACH",
    "card": "Credit Card",
    "cash_deposit": "Cash",
    "cash_withdrawal": "Cash",
    "cheque": "Cheque",
    "p2p": "Wire",
    "crypto": "Bitcoin",
    "internal": "Reinvestment",
    "other": "Wire",
}


def amlworld_rows(table: pa.Table) -> pa.Table:
    """The IBM AMLworld layout of canonical rows (header written separately)."""
    ts = table.column("timestamp").to_numpy().astype("datetime64[m]").astype(str)
    stamp = np.char.replace(np.char.replace(ts, "-", "/"), "T", " ")
    amounts = np.char.mod("%.2f", table.column("amount").to_numpy())
    currency = np.array([CURRENCY_NAMES.get(c, c) for c in table.column("currency").to_pylist()])
    channel = np.array([FORMAT_NAMES[c] for c in table.column("channel").to_pylist()])
    return pa.table(
        {
            "Timestamp": stamp,
            "From Bank": table.column("src_bank"),
            "Account": table.column("src_account"),
            "To Bank": table.column("dst_bank"),
            "Account.1": table.column("dst_account"),
            "Amount Received": amounts,
            "Receiving Currency": currency,
            "Amount Paid": amounts,
            "Payment Currency": currency,
            "Payment Format": channel,
            "Is Laundering": table.column("is_laundering"),
        }
    )


AMLWORLD_HEADER = (
    "Timestamp,From Bank,Account,To Bank,Account,Amount Received,"
    "Receiving Currency,Amount Paid,Payment Currency,Payment Format,"
    "Is Laundering\n"
)


def _write(table: pa.Table, path: Path, fmt: Format) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
    elif fmt == "csv":
        out = table.set_column(
            1,
            "timestamp",
            pa.array(np.datetime_as_string(table.column("timestamp").to_numpy(), unit="s")),
        )
        pacsv.write_csv(out, path)
    else:
        with path.open("ab") as handle:
            pacsv.write_csv(
                amlworld_rows(table),
                handle,
                pacsv.WriteOptions(include_header=False, quoting_style="none"),
            )


def generate(
    n_transactions: int,
    seed: int,
    out_dir: Path,
    fmt: Format = "parquet",
    chunk_rows: int = 2_000_000,
    patterns: Sequence[str] | None = None,
    population_name: str = "a",
) -> GeneratedDataset:
    """Write a dataset of about ``n_transactions`` rows into ``out_dir``.

    ``patterns`` chooses the planted typologies (default: every one in ``PATTERNS``;
    an empty tuple gives a clean normal population); ``population_name`` the normal
    population's configuration (a key of ``benchmarks.ordinary.POPULATIONS``).
    """
    cfg = POPULATIONS[population_name]
    out_dir.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence([seed, GENERATOR_VERSION, ord(cfg.name)])
    pop_seed, plant_seed, business_seed, *chunk_seeds = root.spawn(
        3 + 2 * max(1, -(-n_transactions // chunk_rows)) + 1
    )
    n_accounts = max(200, n_transactions // cfg.tx_per_account)
    pop = population(n_accounts, np.random.default_rng(pop_seed), cfg)
    chosen = tuple(PATTERNS) if patterns is None else tuple(patterns)
    plan = planted(n_transactions, np.random.default_rng(plant_seed), pop, chosen)
    planted_rows = planted_table(plan)
    remaining = max(0, n_transactions - planted_rows.num_rows)
    suffix = {"parquet": "parquet", "csv": "csv", "amlworld": "csv"}[fmt]
    files: list[Path] = []
    aml_file = out_dir / "HI-Synth_Trans.csv"
    if fmt == "amlworld":
        aml_file.write_text(AMLWORLD_HEADER, encoding="utf-8")
        files.append(aml_file)
    # each chunk covers a block of individuals (their recurring flows plus their share of
    # everyday transactions) and a block of businesses (their costs), so that the total
    # comes to about n_transactions
    n_people = len(pop.individuals)
    months = DAYS // 30
    recurring = n_people * months * (2 + float(np.mean(pop.landlord_of != ""))) + expected_rows(
        pop.look, n_people
    )
    # businesses' costs are sized to their expected takings (card spend at shops, cash
    # deposits at cash-intensive businesses), estimated from the everyday transactions
    # (a first guess of the businesses' rows, then the rows of that first draw)
    card_mean = float(
        SPEND_WEIGHTS @ np.array([s[2] for s in SPEND]) / SPEND_WEIGHTS.sum() * np.exp(0.125)
    )
    business_rows = 40.0 * len(pop.businesses)
    for _ in range(2):
        everyday = max(0.0, remaining - recurring - business_rows) / months
        profiles = business_profiles(
            pop,
            np.random.default_rng(business_seed),
            shop_revenue=cfg.everyday_mix[0] * everyday * card_mean / len(pop.shops),
            cash_revenue=cfg.everyday_mix[4] * everyday * TAKINGS_MEAN / len(pop.cash_businesses),
        )
        business_rows = profiles.expected_rows(months)
    random_per_person = max(0.0, (remaining - recurring - business_rows) / n_people)
    per_chunk = max(
        1, int(chunk_rows / (random_per_person + 3 * months + business_rows / n_people))
    )
    n_chunks = min(len(chunk_seeds), -(-n_people // per_chunk))
    business_blocks = np.array_split(np.arange(len(profiles.ids)), n_chunks)
    club_blocks = np.array_split(np.arange(len(pop.look.clubs)), n_chunks)
    first_id = 0
    for index, chunk_seed in enumerate(chunk_seeds[:n_chunks]):
        people = np.arange(index * per_chunk, min(n_people, (index + 1) * per_chunk))
        if len(people) == 0:
            break
        n_random = round(random_per_person * len(people))
        chunk = normal_chunk(
            pop,
            people,
            n_random,
            np.random.default_rng(chunk_seed),
            first_id,
            profiles,
            business_blocks[index],
            club_blocks[index],
        )
        first_id += chunk.num_rows
        path = aml_file if fmt == "amlworld" else out_dir / f"transactions-{index:05d}.{suffix}"
        _write(chunk, path, fmt)
        if fmt != "amlworld":
            files.append(path)
    if planted_rows.num_rows:
        path = aml_file if fmt == "amlworld" else out_dir / f"transactions-planted.{suffix}"
        _write(planted_rows, path, fmt)
        if fmt != "amlworld":
            files.append(path)

    accounts = accounts_table(pop, np.random.default_rng(pop_seed), plan.accounts)
    accounts_file = out_dir / f"accounts.{'parquet' if fmt == 'parquet' else 'csv'}"
    if fmt == "parquet":
        pq.write_table(accounts, accounts_file)
    else:
        pacsv.write_csv(
            accounts.set_column(
                2,
                "opened_at",
                pa.array(np.datetime_as_string(accounts.column("opened_at").to_numpy(), unit="D")),
            ),
            accounts_file,
        )
    truth = pa.table(
        {
            name: [row[i] for row in plan.truth]
            for i, name in enumerate(("account_id", "pattern", "role", "instance_id", "flagged"))
        }
    )
    truth_file = out_dir / "truth_accounts.parquet"
    pq.write_table(truth, truth_file)
    pq.write_table(normal_segments(pop, profiles), out_dir / NORMAL_SEGMENTS)
    patterns_file = None
    if fmt == "amlworld":
        patterns_file = out_dir / "HI-Synth_Patterns.txt"
        patterns_file.write_text(_patterns_text(plan, planted_rows), encoding="utf-8")
    return GeneratedDataset(
        folder=out_dir,
        transaction_files=tuple(files),
        accounts_file=accounts_file,
        truth_file=truth_file,
        n_transactions=first_id + planted_rows.num_rows,
        n_accounts=accounts.num_rows + len({a for a, *_ in plan.truth} - set(plan.accounts)),
        patterns_file=patterns_file,
    )


NORMAL_SEGMENTS = "normal_segments.parquet"


def normal_segments(pop: Population, profiles: BusinessProfiles) -> pa.Table:
    """Which ordinary behaviours each normal account has (account_id, behaviour; one row
    per pair): not a label (these accounts are all normal) but the key to read false
    positives by, e.g. which typology hits households pooling income."""
    look = pop.look
    ind = pop.individuals
    member = look.member_of >= 0
    employer_processor = pop.processor_of != ""
    parts = [
        (ind[look.household_of >= 0], "household_earner"),
        (look.families, "family_account"),
        (ind[look.splitter], "bill_splitter"),
        (ind[look.traveller], "traveller"),
        (ind[look.gig & ~look.gig_only], "gig_worker_side"),
        (ind[look.gig_only], "gig_worker_only"),
        (ind[look.seller], "marketplace_seller"),
        (ind[look.big_buyer], "large_purchase"),
        (ind[member & look.church[np.maximum(look.member_of, 0)]], "church_member"),
        (ind[member & ~look.church[np.maximum(look.member_of, 0)]], "club_member"),
        (look.clubs[look.church], "church"),
        (look.clubs[~look.church], "club"),
        (ind[look.cash_rent & (pop.landlord_of != "")], "cash_rent_tenant"),
        (ind[look.foreign_resident != ""], "foreign_resident"),
        (ind[pop.student], "student"),
        (profiles.ids[profiles.one_off > 0], "large_invoice"),
        (profiles.ids[profiles.owner_draw > 0], "owner_run_business"),
        (ind[(look.flat_of >= 0)], "flatmate"),
        (ind[look.flat_lead], "flat_lead_tenant"),
        (ind[look.sweeper], "savings_sweeper"),
        (pop.employers[employer_processor], "employer_via_processor"),
        (pop.employers[~employer_processor], "employer"),
        (pop.landlords, "landlord"),
        (pop.shops, "shop"),
        (pop.cash_businesses, "cash_business"),
        (pop.processors, "payroll_processor"),
    ]
    return pa.table(
        {
            "account_id": np.concatenate([ids for ids, _ in parts]).astype(str),
            "behaviour": np.concatenate([np.full(len(ids), name) for ids, name in parts]),
        }
    )


def _patterns_text(plan: Planted, rows: pa.Table) -> str:
    by_id = {tx: i for i, tx in enumerate(rows.column("tx_id").to_pylist())}
    lines = []
    aml = amlworld_rows(rows).to_pylist()
    for kind, limit, members in plan.graph_blocks:
        lines.append(f"BEGIN LAUNDERING ATTEMPT - {kind}: {limit}")
        for index in members:
            row = aml[by_id[f"P{index:09d}"]]
            lines.append(",".join(str(v) for v in row.values()))
        lines.append(f"END LAUNDERING ATTEMPT - {kind}")
        lines.append("")
    return "\n".join(lines)


def cached_dataset(
    n: int, seed: int, fmt: Format, cache_root: Path, population: str = "a"
) -> GeneratedDataset:
    """Reuse ``cache_root/<fmt>-<n>-s<seed>-v<version>`` (``-p<population>`` appended
    for populations other than "a") or generate it there atomically."""
    suffix = "" if population == "a" else f"-p{population}"
    folder = cache_root / f"{fmt}-{n}-s{seed}-v{GENERATOR_VERSION}{suffix}"
    if not (folder / "_COMPLETE").exists():
        tmp = cache_root / f".{folder.name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        generate(n, seed, tmp, fmt, population_name=population)
        (tmp / "_COMPLETE").write_text("ok\n")
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    return _describe(folder, fmt)


def _describe(folder: Path, fmt: Format) -> GeneratedDataset:
    if fmt == "amlworld":
        files: tuple[Path, ...] = (folder / "HI-Synth_Trans.csv",)
    else:
        files = tuple(sorted(folder.glob(f"transactions-*.{fmt}")))
    accounts = folder / f"accounts.{'parquet' if fmt == 'parquet' else 'csv'}"
    truth = folder / "truth_accounts.parquet"
    n_tx = sum(pq.ParquetFile(f).metadata.num_rows for f in files) if fmt == "parquet" else 0
    return GeneratedDataset(
        folder,
        files,
        accounts,
        truth,
        n_tx,
        0,
        folder / "HI-Synth_Patterns.txt" if fmt == "amlworld" else None,
    )


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size like 10k, 1M or 250000, got {text!r}")
    return int(float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=parse_size, default=parse_size("100k"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=["parquet", "csv", "amlworld"], default="parquet")
    parser.add_argument("--chunk-rows", type=int, default=2_000_000)
    parser.add_argument(
        "--population",
        choices=sorted(POPULATIONS),
        default="a",
        help="normal population configuration (benchmarks.ordinary.POPULATIONS)",
    )
    parser.add_argument(
        "--clean", action="store_true", help="no planted patterns: the normal population only"
    )
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    dataset = generate(
        args.size,
        args.seed,
        args.out,
        args.format,
        args.chunk_rows,
        patterns=() if args.clean else None,
        population_name=args.population,
    )
    print(
        f"{dataset.n_transactions:,} transactions, {dataset.n_accounts:,} accounts "
        f"-> {dataset.folder}"
    )


if __name__ == "__main__":
    main()
