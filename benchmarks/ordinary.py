"""Ordinary behaviours that look like typologies, and the population configurations.

Real customers do things that resemble laundering and exploitation patterns without
being either; a generator without them cannot show how often the rules mistake them.
Every behaviour here is a normal population segment (no label, no truth row):

- households pooling income: 2-4 earners, each paid by payroll, pass most of their wage
  on to one family account, which pays the rent, the utilities and the groceries;
- friends splitting bills: one pays a restaurant or a trip by card and the others pay
  their share back by P2P within days, or one pays several friends back within a week;
- travel: flights, hotel stays in one to four cities (sometimes abroad) over a week or
  two, card spend and cash in those cities, car rental;
- one-off large purchases: a car bought from a dealer, an earnest-money or down-payment
  deposit, a renovation, paid out of savings or a family gift moved in days before;
- gig workers paid by several platforms (many small payouts, some without a salary);
- clubs and churches collecting dues and donations from many members (and churches
  banking the cash of the collection plate every week), paying rent, staff and missions;
- tenants paying their rent in cash (withdrawn by the tenant, banked by the landlord);
- shared flats: 2-4 flatmates pay their share of the rent and the utilities by P2P to the
  lead tenant, who pays the landlord and the utility the same or the next day;
- gig workers sweeping each payout into savings within hours;
- small marketplace sellers: many small payments from many buyers, weekly payouts
  from a marketplace, stock and postage bought by card.

Large supplier invoices of businesses, owner-run shops paying their owner by owner draws
instead of payroll, and payroll processors paying the staff of the employers that fund
them live with the business flows in ``benchmarks.generate``.

``PopulationConfig`` holds what differs between populations: segment shares and account
counts, the mix of everyday channels, income and amount levels, countries. ``POPULATIONS``
names them ("a": the original mix; "b": a poorer, more cash- and P2P-based population with
more households, gig workers and remittances), so that no threshold can be fitted to one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.planting import CITIES, DAYS, START

MONTHS = DAYS // 30


@dataclass(frozen=True)
class PopulationConfig:
    """What one synthetic population is made of (shares of individuals unless named)."""

    name: str
    tx_per_account: int  # transactions per normal account over the 90 days
    employer_share: float  # of all accounts
    landlord_share: float
    shop_share: float
    individual_share: float  # the rest are cash-intensive businesses
    everyday_mix: tuple[float, float, float, float, float]  # card, atm, p2p, remit, takings
    amount_scale: float  # every normal amount (a poorer or richer area, another price level)
    salary_mu: float  # log of the median monthly salary (before amount_scale)
    salary_sigma: float
    rent_mean: float
    tenant_share: float
    student_share: float
    processor_share: float  # of employers paying through a payroll processor
    processor_lead_days: int  # days between the employer's funding and payday
    remittance_countries: tuple[str, ...]
    student_countries: tuple[str, ...]
    foreign_resident_share: float  # accounts of residents of another country
    foreign_countries: tuple[str, ...]
    atm_amounts: tuple[int, ...]
    household_share: float  # earners pooling into a family account
    splitter_share: float
    traveller_share: float
    abroad_share: float  # of trips
    gig_share: float
    gig_only_share: float  # of gig workers: no salary besides
    seller_share: float
    big_purchase_share: float
    member_share: float  # members of a club or church
    members_per_club: int
    church_share: float  # of clubs
    cash_rent_share: float  # of tenants
    big_invoice_share: float  # of businesses: one invoice far above their usual ones
    flat_share: float  # living in a shared flat
    owner_run_share: float  # of shops and cash businesses: no staff, owner draws
    sweep_share: float  # of gig workers without a salary: sweep payouts to savings


POPULATIONS: dict[str, PopulationConfig] = {
    "a": PopulationConfig(
        name="a",
        tx_per_account=40,
        employer_share=0.03,
        landlord_share=0.02,
        shop_share=0.04,
        individual_share=0.9,
        everyday_mix=(0.66, 0.12, 0.14, 0.03, 0.05),
        amount_scale=1.0,
        salary_mu=8.0,
        salary_sigma=0.35,
        rent_mean=1400.0,
        tenant_share=0.7,
        student_share=0.02,
        processor_share=1 / 3,
        processor_lead_days=1,
        remittance_countries=("IN", "PL", "DE", "GB", "FR", "IT"),
        student_countries=("CN", "IN", "NG", "VN", "BR", "KR", "MX"),
        foreign_resident_share=0.01,
        foreign_countries=("CA", "GB", "DE"),
        atm_amounts=(20, 40, 60, 80, 100, 200, 300),
        household_share=0.06,
        splitter_share=0.08,
        traveller_share=0.06,
        abroad_share=0.15,
        gig_share=0.03,
        gig_only_share=0.4,
        seller_share=0.01,
        big_purchase_share=0.01,
        member_share=0.15,
        members_per_club=60,
        church_share=0.5,
        cash_rent_share=0.05,
        big_invoice_share=0.08,
        flat_share=0.06,
        owner_run_share=0.25,
        sweep_share=0.3,
    ),
    "b": PopulationConfig(
        name="b",
        tx_per_account=30,
        employer_share=0.045,
        landlord_share=0.012,
        shop_share=0.05,
        individual_share=0.87,
        everyday_mix=(0.48, 0.2, 0.2, 0.06, 0.06),
        amount_scale=0.8,
        salary_mu=7.8,
        salary_sigma=0.55,
        rent_mean=1100.0,
        tenant_share=0.8,
        student_share=0.01,
        processor_share=0.6,
        processor_lead_days=0,
        remittance_countries=("MX", "GT", "PH", "HN", "IN", "NG", "SV"),
        student_countries=("IN", "CN", "NG"),
        foreign_resident_share=0.04,
        foreign_countries=("MX", "CA", "GT"),
        atm_amounts=(20, 40, 60, 100, 140, 200, 400, 500),
        household_share=0.15,
        splitter_share=0.12,
        traveller_share=0.03,
        abroad_share=0.4,
        gig_share=0.06,
        gig_only_share=0.5,
        seller_share=0.025,
        big_purchase_share=0.006,
        member_share=0.3,
        members_per_club=120,
        church_share=0.75,
        cash_rent_share=0.2,
        big_invoice_share=0.12,
        flat_share=0.1,
        owner_run_share=0.4,
        sweep_share=0.5,
    ),
}

GIG_PLATFORMS = ["UBER", "LYFT", "DOORDASH", "INSTACART", "GRUBHUB", "UPWORK", "TASKRABBIT"]
MARKETPLACES = ["ETSY", "EBAY", "AMAZON MKTPLACE", "POSHMARK", "MERCARI"]
FOREIGN_CITIES = {
    "MX": "Cancun",
    "FR": "Paris",
    "GB": "London",
    "IT": "Rome",
    "CA": "Toronto",
    "JP": "Tokyo",
    "ES": "Barcelona",
    "DO": "Punta Cana",
}
MISSION_COUNTRIES = ["KE", "GT", "HT", "PH", "UG"]
# (mcc, name stem, typical amount) of card spend during a stay
TRIP_SPEND = [
    ("5812", "BISTRO", 45.0),
    ("5814", "QUICK BURGER", 14.0),
    ("4121", "CITY CAB", 22.0),
    ("5999", "GENERAL STORE", 30.0),
    ("5541", "FUEL STOP", 50.0),
    ("7991", "CITY TOURS", 60.0),
]
SPLIT_NOTES = ["DINNER", "SPLIT", "TRIP", "CONCERT TIX", "GROCERIES", None, None]


@dataclass(frozen=True)
class Lookalikes:
    """Who in the normal population does which look-alike behaviour."""

    salary: np.ndarray  # per individual: monthly salary (before amount_scale)
    household_of: np.ndarray  # per individual: index of its family account, -1
    families: np.ndarray  # family (joint) account ids
    family_head: np.ndarray  # per family: lowest member index (flows go with its chunk)
    family_landlord: np.ndarray  # per family: landlord paid the rent, "" when owners
    family_income: np.ndarray  # per family: the wages passed on each month (expected)
    splitter: np.ndarray
    traveller: np.ndarray
    gig: np.ndarray
    gig_only: np.ndarray  # gig workers without a salary
    seller: np.ndarray
    big_buyer: np.ndarray
    clubs: np.ndarray  # club and church account ids
    church: np.ndarray  # per club
    club_landlord: np.ndarray  # per club
    member_of: np.ndarray  # per individual: club index, -1
    cash_rent: np.ndarray  # per individual: pays the rent in cash
    foreign_resident: np.ndarray  # per individual: country of residence, "" when domestic
    flat_of: np.ndarray  # per individual: shared flat index, -1
    flat_lead: np.ndarray  # per flat: the lead tenant (individual index)
    flat_size: np.ndarray
    flat_rent: np.ndarray
    flat_landlord: np.ndarray
    sweeper: np.ndarray  # per individual: sweeps gig payouts into savings


def lookalikes(
    cfg: PopulationConfig,
    n_ind: int,
    landlords: np.ndarray,
    land_p: np.ndarray,
    rng: np.random.Generator,
) -> Lookalikes:
    salary = rng.lognormal(cfg.salary_mu, cfg.salary_sigma, n_ind)
    # households: a random set of earners grouped 2-4 at a time
    n_earners = int(n_ind * cfg.household_share)
    earners = rng.permutation(n_ind)[:n_earners]
    sizes = rng.integers(2, 5, max(1, n_earners // 3 + 1))
    ends = np.cumsum(sizes)
    sizes = sizes[ends <= n_earners]
    earners = earners[: int(sizes.sum())]
    n_fam = len(sizes)
    household_of = np.full(n_ind, -1)
    household_of[earners] = np.repeat(np.arange(n_fam), sizes)
    family_head = np.full(n_fam, n_ind)
    np.minimum.at(family_head, household_of[earners], earners)
    family_income = np.bincount(household_of[earners], weights=salary[earners], minlength=n_fam)
    renting = rng.random(n_fam) < cfg.tenant_share
    family_landlord = np.where(renting, landlords[rng.choice(len(landlords), n_fam, p=land_p)], "")
    gig = rng.random(n_ind) < cfg.gig_share
    n_clubs = max(2, int(n_ind * cfg.member_share / cfg.members_per_club))
    club_weights = rng.pareto(1.3, n_clubs) + 1
    member = rng.random(n_ind) < cfg.member_share
    member_of = np.where(
        member, rng.choice(n_clubs, n_ind, p=club_weights / club_weights.sum()), -1
    )
    church = rng.random(n_clubs) < cfg.church_share
    foreign = rng.random(n_ind) < cfg.foreign_resident_share
    # shared flats: 2-4 flatmates outside the pooling households
    free = np.flatnonzero(household_of < 0)
    mates = rng.permutation(free)[: int(n_ind * cfg.flat_share)]
    flat_sizes = rng.integers(2, 5, max(1, len(mates) // 2 + 1))
    flat_sizes = flat_sizes[np.cumsum(flat_sizes) <= len(mates)]
    mates = mates[: int(flat_sizes.sum())]
    n_flats = len(flat_sizes)
    flat_of = np.full(n_ind, -1)
    flat_of[mates] = np.repeat(np.arange(n_flats), flat_sizes)
    flat_lead = np.full(n_flats, n_ind)
    np.minimum.at(flat_lead, flat_of[mates], mates)
    return Lookalikes(
        salary=salary,
        household_of=household_of,
        families=np.char.add("FAM", np.arange(n_fam).astype(str)),
        family_head=family_head,
        family_landlord=family_landlord,
        family_income=family_income,
        splitter=rng.random(n_ind) < cfg.splitter_share,
        traveller=rng.random(n_ind) < cfg.traveller_share,
        gig=gig,
        gig_only=gig & (rng.random(n_ind) < cfg.gig_only_share) & (household_of < 0),
        seller=rng.random(n_ind) < cfg.seller_share,
        big_buyer=rng.random(n_ind) < cfg.big_purchase_share,
        clubs=np.where(
            church,
            np.char.add("CHURCH", np.arange(n_clubs).astype(str)),
            np.char.add("CLUB", np.arange(n_clubs).astype(str)),
        ),
        church=church,
        club_landlord=landlords[rng.choice(len(landlords), n_clubs, p=land_p)],
        member_of=member_of,
        cash_rent=rng.random(n_ind) < cfg.cash_rent_share,
        foreign_resident=np.where(
            foreign,
            np.array(cfg.foreign_countries)[rng.integers(0, len(cfg.foreign_countries), n_ind)],
            "",
        ),
        flat_of=flat_of,
        flat_lead=flat_lead,
        flat_size=flat_sizes,
        flat_rent=np.round(flat_sizes * rng.uniform(0.5, 0.8, n_flats) * cfg.rent_mean / 50) * 50,
        flat_landlord=landlords[rng.choice(len(landlords), n_flats, p=land_p)],
        sweeper=gig & (rng.random(n_ind) < cfg.sweep_share),
    )


def expected_rows(look: Lookalikes, n_ind: int) -> float:
    """About how many transactions ``ordinary_flows`` writes for the whole population."""
    earners = float((look.household_of >= 0).sum())
    return float(
        earners * MONTHS
        + len(look.families) * MONTHS * 16
        + look.splitter.sum() * 2 * 4.5
        + look.traveller.sum() * 1.5 * 25
        + look.big_buyer.sum() * 2
        + look.gig.sum() * 3 * 16
        + (look.member_of >= 0).sum() * 8
        + len(look.clubs) * MONTHS * 8
        + look.seller.sum() * (30 + 13 + 12)
        + (look.flat_of >= 0).sum() * MONTHS * 2
        + len(look.flat_lead) * MONTHS * 2
    )


class Rows:
    """Column arrays of generated transactions, added part by part."""

    KEYS = (
        "src",
        "dst",
        "when",
        "amount",
        "channel",
        "mcc",
        "merchant",
        "city",
        "src_country",
        "dst_country",
        "description",
    )

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        when: np.ndarray,
        amount: np.ndarray,
        channel: np.ndarray | str,
        mcc: np.ndarray | str | None = None,
        merchant: np.ndarray | str | None = None,
        city: np.ndarray | str | None = None,
        src_country: np.ndarray | str = "US",
        dst_country: np.ndarray | str = "US",
        description: np.ndarray | str | None = None,
    ) -> None:
        n = len(src)
        if n == 0:
            return

        def column(value: np.ndarray | str | None) -> np.ndarray:
            out = np.empty(n, dtype=object)
            out[:] = value if not isinstance(value, np.ndarray) else value.astype(object)
            return out

        self.parts.append(
            {
                "src": column(src),
                "dst": column(dst),
                "when": when.astype("datetime64[s]"),
                "amount": np.round(np.asarray(amount, dtype=float), 2),
                "channel": column(channel),
                "mcc": column(mcc),
                "merchant": column(merchant),
                "city": column(city),
                "src_country": column(src_country),
                "dst_country": column(dst_country),
                "description": column(description),
            }
        )

    def columns(self) -> dict[str, np.ndarray]:
        if not self.parts:
            empty = {key: np.empty(0, dtype=object) for key in self.KEYS}
            empty["when"] = np.empty(0, dtype="datetime64[s]")
            empty["amount"] = np.empty(0)
            return empty
        return {key: np.concatenate([p[key] for p in self.parts]) for key in self.KEYS}


def moment(
    rng: np.random.Generator, day: np.ndarray, hours: tuple[int, int] = (8, 22)
) -> np.ndarray:
    """Times on whole days ``day`` (clipped to the period) at random hours in ``hours``."""
    day = np.clip(np.asarray(day, dtype=int), 0, DAYS - 1)
    seconds = day * 86400 + rng.integers(hours[0], hours[1], len(day)) * 3600
    seconds = seconds + rng.integers(0, 3600, len(day))
    return START + seconds.astype("timedelta64[s]")


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For owners with ``counts`` items each: the owner of every item and its rank."""
    counts = np.asarray(counts, dtype=int)
    owner = np.repeat(np.arange(len(counts)), counts)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, rank


def ordinary_flows(
    individuals: np.ndarray,
    shops: np.ndarray,
    look: Lookalikes,
    cfg: PopulationConfig,
    people: np.ndarray,
    clubs: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """The look-alike behaviours of the individuals at index ``people`` (and of the family
    accounts they head) and of the clubs at index ``clubs``."""
    rows = Rows()
    n_ind = len(individuals)
    _households(rows, individuals, shops, look, people, rng)
    _splitting(rows, individuals, look, people, n_ind, rng)
    _travel(rows, individuals, shops, look, cfg, people, rng)
    _big_purchases(rows, individuals, look, people, rng)
    _gig(rows, individuals, look, people, rng)
    _clubs(rows, individuals, look, people, clubs, rng)
    _sellers(rows, individuals, shops, look, people, n_ind, rng)
    _flats(rows, individuals, look, people, rng)
    return rows.columns()


def _flats(
    rows: Rows,
    individuals: np.ndarray,
    look: Lookalikes,
    people: np.ndarray,
    rng: np.random.Generator,
) -> None:
    # flatmates pay their share of the rent a few days before it is due, and their share
    # of the utilities a few days after the lead tenant paid the bill
    mates = people[look.flat_of[people] >= 0]
    mates = mates[look.flat_lead[look.flat_of[mates]] != mates]
    flat = look.flat_of[mates]
    m, month = np.repeat(np.arange(len(mates)), MONTHS), np.tile(np.arange(MONTHS), len(mates))
    f = flat[m]
    due = month * 30 + 1 + f % 3
    share = look.flat_rent[f] / look.flat_size[f]
    rows.add(
        individuals[mates[m]],
        individuals[look.flat_lead[f]],
        moment(rng, due - rng.integers(0, 4, len(m)), (7, 24)),
        np.round(share * rng.choice([1.0, 1.0, 0.98, 1.02], len(m))),
        "p2p",
        description=np.array(["RENT", "RENT SHARE", None], dtype=object)[mates[m] % 3],
    )
    bill = np.round(np.exp(4.6 + (f % 7) / 10 + month / 20), 2)
    rows.add(
        individuals[mates[m]],
        individuals[look.flat_lead[f]],
        moment(rng, month * 30 + 22 + rng.integers(0, 5, len(m)), (7, 24)),
        np.round(bill / look.flat_size[f], 2),
        "p2p",
        description=np.array(["UTILITIES", "BILLS", None], dtype=object)[mates[m] % 3],
    )
    # the lead tenant pays the whole rent and the bill
    flats = np.flatnonzero(np.isin(look.flat_lead, people))
    f, month = np.repeat(flats, MONTHS), np.tile(np.arange(MONTHS), len(flats))
    rows.add(
        individuals[look.flat_lead[f]],
        look.flat_landlord[f],
        moment(rng, month * 30 + 1 + f % 3 + rng.integers(0, 2, len(f)), (8, 22)),
        look.flat_rent[f],
        np.where(f % 4 == 0, "p2p", "ach"),
        description="RENT",
    )
    rows.add(
        individuals[look.flat_lead[f]],
        np.char.add("UTIL-", (f % 4).astype(str)),
        moment(rng, month * 30 + 21, (8, 22)),
        np.round(np.exp(4.6 + (f % 7) / 10 + month / 20), 2),
        "ach",
    )


def _households(
    rows: Rows,
    individuals: np.ndarray,
    shops: np.ndarray,
    look: Lookalikes,
    people: np.ndarray,
    rng: np.random.Generator,
) -> None:
    # each earner passes 60-95% of the wage on a day or few after payday
    earners = people[look.household_of[people] >= 0]
    e = np.repeat(earners, MONTHS)
    month = np.tile(np.arange(MONTHS), len(earners))
    keep = rng.uniform(0.6, 0.95, len(earners))
    amount = np.round(look.salary[e] * np.repeat(keep, MONTHS) * rng.uniform(0.97, 1.0, len(e)))
    channel = np.array(["internal", "p2p", "ach"])[rng.choice(3, len(e), p=[0.5, 0.3, 0.2])]
    rows.add(
        individuals[e],
        look.families[look.household_of[e]],
        moment(rng, month * 30 + 15 + rng.integers(0, 4, len(e)), (10, 23)),
        amount,
        channel,
        description=np.array(["TRANSFER TO JOINT", None], dtype=object)[
            (channel != "internal") * 1
        ],
    )
    # the family account pays rent, utilities, groceries and fuel, and draws some cash
    fams = np.flatnonzero(np.isin(look.family_head, people))
    if len(fams) == 0:
        return
    renting = fams[look.family_landlord[fams] != ""]
    f, month = np.repeat(renting, MONTHS), np.tile(np.arange(MONTHS), len(renting))
    rent = np.repeat(
        np.round(look.family_income[renting] * rng.uniform(0.22, 0.35, len(renting)) / 50) * 50,
        MONTHS,
    )
    rows.add(
        look.families[f],
        look.family_landlord[f],
        moment(rng, month * 30 + rng.integers(0, 5, len(f)), (6, 10)),
        rent,
        "ach",
        description="RENT",
    )
    f = np.repeat(fams, MONTHS * 3)
    k = np.tile(np.arange(MONTHS * 3), len(fams))
    rows.add(
        look.families[f],
        np.char.add("UTIL-", (k % 3).astype(str)),
        moment(rng, (k // 3) * 30 + 18 + rng.integers(0, 8, len(f)), (6, 10)),
        rng.lognormal(4.4, 0.4, len(f)),
        "ach",
    )
    # groceries, stores and fuel at the family's home city: 8-16 a month
    counts = rng.integers(8, 17, len(fams)) * MONTHS
    owner, _ = expand(counts)
    f = fams[owner]
    spend = rng.choice(4, len(f), p=[0.5, 0.2, 0.2, 0.1])
    mccs = np.array(["5411", "5300", "5541", "5912"])
    names = np.array(["FRESH MARKET ", "WHOLESALE CLUB ", "FUEL STOP ", "CITY PHARMACY "])
    base = np.array([95.0, 160.0, 55.0, 30.0])
    home = look.family_head[f] % len(CITIES)
    per_city = max(1, len(shops) // len(CITIES))
    shop = (rng.integers(0, per_city, len(f)) * len(CITIES) + home) % len(shops)
    atm = rng.random(len(f)) < 0.08
    rows.add(
        look.families[f[~atm]],
        shops[shop[~atm]],
        moment(rng, rng.integers(0, DAYS, (~atm).sum())),
        base[spend[~atm]] * rng.lognormal(0, 0.45, (~atm).sum()),
        "card",
        mcc=mccs[spend[~atm]],
        merchant=np.char.add(names[spend[~atm]], (shop[~atm] % 97).astype(str)),
        city=CITIES[shop[~atm] % len(CITIES)],
    )
    rows.add(
        look.families[f[atm]],
        np.full(atm.sum(), "CASH"),
        moment(rng, rng.integers(0, DAYS, atm.sum()), (8, 21)),
        rng.choice([40, 60, 100, 200], atm.sum()).astype(float),
        "cash_withdrawal",
        city=CITIES[home[atm]],
    )


def _some_round(rng: np.random.Generator, amount: np.ndarray) -> np.ndarray:
    """Half the amounts in whole units, the others to the cent."""
    return np.where(rng.random(len(amount)) < 0.5, np.round(amount), np.round(amount, 2))


def _splitting(
    rows: Rows,
    individuals: np.ndarray,
    look: Lookalikes,
    people: np.ndarray,
    n_ind: int,
    rng: np.random.Generator,
) -> None:
    splitters = people[look.splitter[people]]
    events = rng.integers(1, 4, len(splitters))
    owner, _ = expand(events)
    person = splitters[owner]
    n_ev = len(person)
    day = rng.integers(0, DAYS - 6, n_ev)
    friends = rng.integers(2, 7, n_ev)
    organiser = rng.random(n_ev) < 0.55
    # the organiser pays a restaurant, a rental or tickets by card ...
    kind = rng.choice(3, n_ev, p=[0.55, 0.3, 0.15])
    mccs = np.array(["5812", "7011", "7922"])
    names = np.array(["BISTRO ", "VACATION RENTAL ", "TICKET HUB "])
    base = np.array([180.0, 650.0, 260.0])
    total = base[kind] * (friends + 1) / 4 * rng.lognormal(0, 0.35, n_ev)
    org = np.flatnonzero(organiser)
    rows.add(
        individuals[person[org]],
        np.char.add("MERCH-SPLIT-", kind[org].astype(str)),
        moment(rng, day[org], (12, 23)),
        total[org],
        "card",
        mcc=mccs[kind[org]],
        merchant=np.char.add(names[kind[org]], (person[org] % 89).astype(str)),
        city=CITIES[person[org] % len(CITIES)],
    )
    # ... and the friends pay their share back by P2P within days
    ev, rank = expand(friends[org])
    e = org[ev]
    friend = (person[e] + 1 + (rank * 7 + person[e] % 5) % 60) % n_ind
    share = total[e] / (friends[e] + 1)
    rows.add(
        individuals[friend],
        individuals[person[e]],
        moment(rng, day[e] + rng.integers(0, 5, len(e)), (7, 24)),
        _some_round(rng, share),
        "p2p",
        description=np.array(SPLIT_NOTES, dtype=object)[rng.integers(0, len(SPLIT_NOTES), len(e))],
    )
    # a debtor pays several friends back within a week (each paid part of a trip)
    debt = np.flatnonzero(~organiser)
    ev, rank = expand(friends[debt])
    e = debt[ev]
    friend = (person[e] + 1 + (rank * 11 + person[e] % 7) % 60) % n_ind
    rows.add(
        individuals[person[e]],
        individuals[friend],
        moment(rng, day[e] + rng.integers(0, 7, len(e)), (7, 24)),
        _some_round(rng, rng.lognormal(np.log(70), 0.7, len(e))),
        "p2p",
        description=np.array(SPLIT_NOTES, dtype=object)[rng.integers(0, len(SPLIT_NOTES), len(e))],
    )


def _travel(
    rows: Rows,
    individuals: np.ndarray,
    shops: np.ndarray,
    look: Lookalikes,
    cfg: PopulationConfig,
    people: np.ndarray,
    rng: np.random.Generator,
) -> None:
    travellers = people[look.traveller[people]]
    owner, _ = expand(rng.integers(1, 3, len(travellers)))
    person = travellers[owner]
    n_trip = len(person)
    length = rng.integers(4, 15, n_trip)
    start = rng.integers(0, DAYS - length)
    abroad = rng.random(n_trip) < cfg.abroad_share
    countries = np.array(sorted(FOREIGN_CITIES))
    country = np.where(abroad, countries[rng.integers(0, len(countries), n_trip)], "US")
    ids = individuals[person]
    # flights booked days to weeks before
    rows.add(
        ids,
        np.full(n_trip, "MERCH-AIRLINE"),
        moment(rng, start - rng.integers(1, 40, n_trip)),
        rng.lognormal(np.log(np.where(abroad, 900, 320)), 0.4),
        "card",
        mcc="4511",
        merchant=np.array(["SKYWAYS AIR", "BLUE JET", "TRANSCONTINENTAL AIR"])[person % 3],
        city="Online",
    )
    # stays: 1-4 cities (one abroad), nights split between them
    n_city = np.where(abroad, 1, np.minimum(rng.integers(1, 5, n_trip), length // 2 + 1))
    trip, rank = expand(n_city)
    nights = np.maximum(1, length[trip] // n_city[trip])
    arrive = start[trip] + rank * nights
    city_idx = (person[trip] + 1 + rank * 5 + trip % 3) % len(CITIES)
    foreign = abroad[trip]
    countries_city = np.array([FOREIGN_CITIES[c] for c in countries])
    city = np.where(
        foreign,
        countries_city[np.searchsorted(countries, country[trip]) % len(countries)],
        CITIES[city_idx],
    )
    dst_country = country[trip]
    hotel_dst = np.where(
        foreign, np.char.add("MERCH-", dst_country), shops[(city_idx * 7 + trip) % len(shops)]
    )
    rows.add(
        ids[trip],
        hotel_dst,
        moment(rng, arrive + nights, (7, 12)),
        nights * rng.lognormal(np.log(150), 0.35, len(trip)),
        "card",
        mcc="7011",
        merchant=np.char.add(
            np.array(["INN HOTEL ", "GRAND HOTEL ", "SUITES "])[trip % 3],
            (city_idx % 97).astype(str),
        ),
        city=city,
        dst_country=dst_country,
    )
    # a car rented at the first city for 40% of trips
    car = np.flatnonzero((rank == 0) & (rng.random(len(trip)) < 0.4))
    rows.add(
        ids[trip[car]],
        hotel_dst[car],
        moment(rng, start[trip[car]]),
        length[trip[car]] * rng.uniform(45, 90, len(car)),
        "card",
        mcc="7512",
        merchant="CAR RENTAL",
        city=city[car],
        dst_country=dst_country[car],
    )
    # 2-4 card payments a day in the city of the stay, and now and then cash
    # (at shops of that city: shop k sits in city k mod 12, as in everyday spend)
    stay, night = expand(nights * rng.integers(2, 5, len(trip)))
    when = arrive[stay] + night % np.maximum(1, nights[stay])
    spend = rng.integers(0, len(TRIP_SPEND), len(stay))
    per_city = max(1, len(shops) // len(CITIES))
    shop = (rng.integers(0, per_city, len(stay)) * len(CITIES) + city_idx[stay]) % len(shops)
    spend_dst = np.where(foreign[stay], hotel_dst[stay], shops[shop])
    cash = rng.random(len(stay)) < 0.07
    keep = ~cash
    rows.add(
        ids[trip[stay[keep]]],
        spend_dst[keep],
        moment(rng, when[keep]),
        np.array([s[2] for s in TRIP_SPEND])[spend[keep]] * rng.lognormal(0, 0.5, keep.sum()),
        "card",
        mcc=np.array([s[0] for s in TRIP_SPEND])[spend[keep]],
        merchant=np.char.add(
            np.array([s[1] + " " for s in TRIP_SPEND])[spend[keep]],
            (shop[keep] % 97).astype(str),
        ),
        city=city[stay[keep]],
        dst_country=dst_country[stay[keep]],
    )
    rows.add(
        ids[trip[stay[cash]]],
        np.full(cash.sum(), "CASH"),
        moment(rng, when[cash], (9, 21)),
        rng.choice([60, 100, 200, 300], cash.sum()).astype(float),
        "cash_withdrawal",
        city=city[stay[cash]],
        dst_country=dst_country[stay[cash]],
    )


def _big_purchases(
    rows: Rows,
    individuals: np.ndarray,
    look: Lookalikes,
    people: np.ndarray,
    rng: np.random.Generator,
) -> None:
    buyers = people[look.big_buyer[people]]
    n = len(buyers)
    kind = rng.choice(3, n, p=[0.55, 0.3, 0.15])
    amount = np.array([26_000.0, 30_000.0, 14_000.0])[kind] * rng.lognormal(0, 0.4, n)
    day = rng.integers(6, DAYS - 2, n)
    # savings moved in days before (or a gift wired by family)
    gift = rng.random(n) < 0.25
    rows.add(
        np.where(
            gift, np.char.add("GIFT-", buyers.astype(str)), np.char.add("SAV-", individuals[buyers])
        ),
        individuals[buyers],
        moment(rng, day - rng.integers(1, 6, n), (8, 20)),
        amount * rng.uniform(0.85, 1.1, n),
        np.where(gift, "wire", "internal"),
        description=np.where(gift, "GIFT", "TRANSFER FROM SAVINGS"),
    )
    rows.add(
        individuals[buyers],
        np.array(["DEALER", "ESCROW", "CONTRACTOR"])[kind].astype(object)
        + (buyers % 40).astype(str).astype(object),
        moment(rng, day, (9, 17)),
        np.where(kind == 1, np.round(amount, -2), np.round(amount, 2)),
        np.where(kind == 2, "ach", "wire"),
        description=np.array(["VEHICLE PURCHASE", "EARNEST MONEY DEPOSIT", "RENOVATION DEPOSIT"])[
            kind
        ],
    )


def _gig(
    rows: Rows,
    individuals: np.ndarray,
    look: Lookalikes,
    people: np.ndarray,
    rng: np.random.Generator,
) -> None:
    workers = people[look.gig[people]]
    platforms = rng.integers(2, 6, len(workers))
    w, rank = expand(platforms)
    platform = (workers[w] * 3 + rank * 2) % len(GIG_PLATFORMS)
    full = look.gig_only[workers[w]]
    # weekly payouts, or instant cash-outs a few times a week for full-time drivers
    count = np.where(full, rng.integers(8, 22, len(w)), rng.integers(3, 9, len(w)))
    pw, _ = expand(count)
    name = np.array(GIG_PLATFORMS)[platform[pw]]
    when = moment(rng, rng.integers(0, DAYS, len(pw)), (0, 24))
    payout = np.round(rng.lognormal(np.log(np.where(full[pw], 95, 60)), 0.6), 2)
    worker = individuals[workers[w[pw]]]
    rows.add(
        np.char.add("GIG-", name),
        worker,
        when,
        payout,
        "ach",
        description=np.char.add(name, " PAYOUT"),
    )
    # some sweep every payout into savings within hours (an automatic saving rule)
    swept = np.flatnonzero(look.sweeper[workers[w[pw]]])
    rows.add(
        worker[swept],
        np.char.add("SAV-", worker[swept]),
        np.minimum(
            when[swept] + (rng.integers(1, 20, len(swept)) * 3600).astype("timedelta64[s]"),
            START + np.timedelta64(DAYS * 86400 - 1, "s"),
        ),
        np.round(payout[swept] * rng.uniform(0.8, 0.95, len(swept)), 2),
        "internal",
        description="AUTO SAVE",
    )


def _clubs(
    rows: Rows,
    individuals: np.ndarray,
    look: Lookalikes,
    people: np.ndarray,
    clubs: np.ndarray,
    rng: np.random.Generator,
) -> None:
    members = people[look.member_of[people] >= 0]
    club = look.member_of[members]
    church = look.church[club]
    # church members give weekly or monthly, club members pay monthly dues
    count = np.where(church, np.where(members % 3 == 0, 12, MONTHS), MONTHS)
    m, rank = expand(count)
    weekly = count[m] > MONTHS
    day = np.where(weekly, rank * 7 + 6, rank * 30 + members[m] % 10)
    amount = np.where(
        church[m],
        np.round(rng.lognormal(np.log(np.where(weekly, 25, 80)), 0.6)),
        np.repeat(rng.choice([15.0, 25.0, 40.0, 60.0, 100.0], len(members)), count),
    )
    rows.add(
        individuals[members[m]],
        look.clubs[club[m]],
        moment(rng, day + (members[m] % 2), (7, 22)),
        np.maximum(amount, 5),
        np.where(
            church[m] & (members[m] % 4 == 1), "card", np.where(members[m] % 5 == 0, "p2p", "ach")
        ),
        description=np.where(church[m], "DONATION", "MEMBERSHIP DUES"),
    )
    # the club's own flows: cash from the plate (churches), rent, utilities, staff, missions
    size = np.bincount(look.member_of[look.member_of >= 0], minlength=len(look.clubs))
    sunday = np.arange(6, DAYS, 7)
    churches = clubs[look.church[clubs]]
    c = np.repeat(churches, len(sunday))
    rows.add(
        np.full(len(c), "CASH"),
        look.clubs[c],
        moment(rng, np.tile(sunday + 1, len(churches)), (9, 12)),
        np.round(size[c] * rng.lognormal(np.log(6), 0.5, len(c)) + 20),
        "cash_deposit",
        description="SUNDAY COLLECTION",
    )
    income = size[clubs] * 40.0
    c, month = np.repeat(clubs, MONTHS), np.tile(np.arange(MONTHS), len(clubs))
    inc = np.repeat(income, MONTHS)
    rows.add(
        look.clubs[c],
        look.club_landlord[c],
        moment(rng, month * 30 + rng.integers(0, 4, len(c)), (8, 12)),
        np.round(inc * 0.3 / 50) * 50 + 200,
        "ach",
        description="RENT",
    )
    rows.add(
        look.clubs[c],
        np.char.add("UTIL-BIZ-", (c % 4).astype(str)),
        moment(rng, month * 30 + 20 + rng.integers(0, 5, len(c)), (8, 12)),
        inc * 0.05 * rng.lognormal(0, 0.2, len(c)) + 60,
        "ach",
    )
    rows.add(
        look.clubs[c],
        np.char.add("STAFF-", look.clubs[c]),
        moment(rng, month * 30 + 14, (6, 10)),
        np.round(inc * 0.35 * rng.uniform(0.95, 1.05, len(c))),
        "ach",
        description="PAYROLL",
    )
    mission = look.church[c] & (month == 1)
    rows.add(
        look.clubs[c[mission]],
        np.char.add("MISSION-", (c[mission] % 9).astype(str)),
        moment(rng, month[mission] * 30 + 25, (9, 15)),
        np.round(inc[mission] * rng.uniform(0.1, 0.3, mission.sum()), -1),
        "wire",
        dst_country=np.array(MISSION_COUNTRIES)[c[mission] % len(MISSION_COUNTRIES)],
        description="MISSION SUPPORT",
    )


def _sellers(
    rows: Rows,
    individuals: np.ndarray,
    shops: np.ndarray,
    look: Lookalikes,
    people: np.ndarray,
    n_ind: int,
    rng: np.random.Generator,
) -> None:
    sellers = people[look.seller[people]]
    # buyers pay directly by P2P ...
    s, _ = expand(rng.integers(10, 50, len(sellers)))
    buyer = rng.integers(0, n_ind, len(s))
    rows.add(
        individuals[buyer],
        individuals[sellers[s]],
        moment(rng, rng.integers(0, DAYS, len(s)), (7, 24)),
        rng.lognormal(np.log(32), 0.6, len(s)),
        "p2p",
        description=np.char.add("ORDER ", (1000 + s * 13 % 9000).astype(str)),
    )
    # ... or through a marketplace paying out every week
    market = np.array(MARKETPLACES)[sellers % len(MARKETPLACES)]
    s, week = expand(np.full(len(sellers), DAYS // 7))
    rows.add(
        np.char.add("MKT-", market[s]),
        individuals[sellers[s]],
        moment(rng, week * 7 + 3, (2, 6)),
        rng.lognormal(np.log(220), 0.7, len(s)),
        "ach",
        description=np.char.add(market[s], " PAYOUT"),
    )
    # stock and postage bought by card
    s, _ = expand(rng.integers(6, 18, len(sellers)))
    kind = rng.random(len(s)) < 0.5
    shop = rng.integers(0, len(shops), len(s))
    rows.add(
        individuals[sellers[s]],
        shops[shop],
        moment(rng, rng.integers(0, DAYS, len(s))),
        np.where(kind, 110.0, 24.0) * rng.lognormal(0, 0.5, len(s)),
        "card",
        mcc=np.where(kind, "5300", "9402"),
        merchant=np.where(kind, "WHOLESALE CLUB", "POSTAL SERVICE"),
        city=CITIES[shop % len(CITIES)],
    )
