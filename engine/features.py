"""Features stage: the tables shared by detectors and typologies, built once per scan.

Each table comes from one file ``sql/features/<table>.sql``, built in the order of
``FEATURE_TABLES`` (a table may read those before it):

- ``account_legs`` (a view, see ``FEATURE_VIEWS``): every transaction as an incoming leg
  of its destination and an outgoing leg of its source;
- ``account_keys``: every account numbered once in id order, so the aggregates with
  about one row per transaction (per pair of parties and day) group integers;
- ``pair_flows``: every pair of parties once, by key, with the money each way over the
  scan: the distinct counterparties of ``account_features`` and the risk propagation and
  victim ties of the score stage;
- ``account_features``: one row per account from one narrow pass over the two sides of
  the transactions (grouped per side, and per pair of parties and day). Typologies may
  read it; the detectors read the numeric columns listed in ``FEATURES``;
- ``account_graph``: one row per account with its place in the transfer graph over the
  whole export (degrees, concentration, windowed distinct counterparties, pass-through,
  time-ordered cycles, scatter-gather and gather-scatter, counterparties shared with other
  accounts of those structures), for the slow, small patterns no total shows. The
  detectors read the columns listed in ``GRAPH_FEATURES``;
- ``merchant_categories``: every distinct merchant descriptor matched against the
  reference patterns once (merchant_name, category, label), so typologies join on the
  name instead of running the regexes again;
- ``wage_credits``: the credits that look like wages (payroll wording or a payroll
  processor's name), for the forced-labour rules;
- ``card_purchases``: the customer side of merchant payments, refunds and merchants
  resolved once for the spend-group rules;
- ``peer_levels``: per peer group, the ordered values of the account measures rules set
  against their peers, so each rule reads the quantile its parameter asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import duckdb

from engine.db import scalar
from engine.resources import sql_text
from engine.runguard import building


@dataclass(frozen=True)
class Feature:
    """One detector input: its column, how an analyst reads it, and the value read where
    the column is NULL (``missing``: no such money, e.g. no card spend, reads as 0)."""

    name: str
    label: str
    heavy_tailed: bool = False
    missing: float = 0.0


FEATURES: Final[tuple[Feature, ...]] = (
    Feature("in_count", "incoming transactions", True),
    Feature("out_count", "outgoing transactions", True),
    Feature("in_amount", "money received", True),
    Feature("out_amount", "money sent", True),
    Feature("in_counterparties", "distinct senders", True),
    Feature("out_counterparties", "distinct receivers", True),
    Feature("avg_in_amount", "average amount received", True),
    Feature("avg_out_amount", "average amount sent", True),
    Feature("flow_balance", "money out vs in (1 = all passed on)"),
    Feature("pass_through_day_share", "share of days passing on >=80% of the inflow"),
    Feature("cash_in_share", "cash share of inflow"),
    Feature("cash_out_share", "cash share of outflow"),
    Feature("night_share", "night-time share of transactions"),
    Feature("night_cash_share", "night-time share of cash transactions"),
    Feature("cross_border_share", "cross-border share of transactions"),
    Feature("foreign_countries_out", "countries paid abroad", True),
    Feature("round_amount_share", "round-amount share"),
    Feature("near_threshold_count", "cash transactions just under the threshold", True),
    Feature("p2p_in_share", "P2P share of incoming transactions"),
    Feature("card_spend_share", "card share of spending"),
    Feature("lodging_share", "lodging share of card spend"),
    Feature("food_delivery_share", "food-delivery share of card spend"),
    Feature("taxi_share", "taxi/ride-hail share of card spend"),
    Feature("advertising_share", "advertising share of card spend"),
    Feature("prepaid_share", "prepaid/quasi-cash share of card spend"),
    Feature("luxury_share", "luxury/nightlife share of card spend"),
    Feature("distinct_cities", "distinct merchant cities", True),
    Feature("active_days", "active days", True),
    Feature("tx_per_active_day", "transactions per active day", True),
    Feature("max_daily_senders", "most distinct senders in one day", True),
    Feature("max_daily_receivers", "most distinct receivers in one day", True),
    Feature("longest_gap_days", "longest gap between active days", True),
    Feature("mutual_counterparties", "counterparties both paying and paid", True),
)
"""Detector inputs from ``account_features``, in column order. NULL (e.g. no card spend)
is read as the feature's ``missing`` value."""

GRAPH_FEATURES: Final[tuple[Feature, ...]] = (
    Feature("cycle_count", "time-ordered cycles through the account", True),
    Feature("sg_intermediary_count", "scatter-gathers with the account in the middle", True),
    # an account that received (sent) no transfer reads as one with a single sender
    # (receiver), the most common case, rather than as one spread over many
    Feature("top_in_share", "largest sender's share of transfers received", missing=1.0),
    Feature("top_out_share", "largest receiver's share of transfers sent", missing=1.0),
    Feature("max_senders_30d", "most distinct senders in 30 days", True),
    Feature("max_receivers_30d", "most distinct receivers in 30 days", True),
    Feature("gather_scatter_30d", "one-off senders then receivers within 30 days", True),
    Feature("shared_counterparties", "counterparties shared with other structures' accounts", True),
    Feature("sg_source_count", "scatter-gathers the account starts", True),
    Feature("sg_sink_count", "scatter-gathers the account ends", True),
)
"""Detector inputs from ``account_graph`` (transfers only, hubs left out of the structure
searches)."""

DETECTOR_FEATURES: Final[tuple[Feature, ...]] = FEATURES + GRAPH_FEATURES
"""Every detector input, in column order: ``account_features`` joined to ``account_graph``."""

DEFAULT_PARAMS: Final = {
    "night_start_hour": 22,  # FINTRAC-2016-OA003: cash between 10 p.m. and 6 a.m.
    "night_end_hour": 6,
    "near_threshold_ratio": 0.8,  # the STR-01 band [0.8 T, T)
}

WAGE_CREDIT_PARAMS: Final = {
    # Channels a wage is paid by: ACH (NACHA PPD/CCD entries whose company entry description
    # reads PAYROLL or SALARY), wire, cheque (paycheques) and book transfers; P2P, card and
    # cash credits carry no payroll entry.
    "wage_channels": ["ach", "wire", "cheque", "internal", "other"],
    # An account paying wage credits to at least three accounts is a payroll payer (an
    # employer or a payroll processor): the "PAYROLL FUNDING" it receives is money to pay
    # out, not its wage. Three, so a household paying one nanny or carer "SALARY" keeps its
    # own wage credits.
    "payer_min_payees": 3,
}


GRAPH_PARAMS: Final = {
    # Transfer channels whose legs make the graph: card payments buy goods and cash has no
    # identifiable counterparty (the channels of the GRAPH typologies).
    "channels": ["wire", "ach", "cheque", "p2p", "crypto", "internal", "other"],
    # An account dealing with more than 30 distinct senders or receivers in some 30 days is
    # a hub (merchant, employer, biller, payroll processor, marketplace) and takes no part
    # in the structure searches: the hub cap of the GRAPH path rules (GRAPH-05, GRAPH-06),
    # about twice the largest fan degree of the synthetic generators (AMLworld about 16,
    # AMLGentex 15), so busy private accounts stay in.
    "hub_counterparties": 30,
    # Cycles: every hop at least 100 (AMLSim's minimum individual amount), the whole cycle
    # within 90 days (slow rings spread their hops over weeks), 2 to 6 hops, each hop
    # 70%-105% of the hop before (the same money less a cut: the catalogue's decay bound
    # and a 5% tolerance for fees or rounding up).
    "cycle_min_amount": 100,
    "cycle_span_days": 90,
    "cycle_max_hops": 6,
    "cycle_min_hop_ratio": 0.7,
    "cycle_max_hop_growth": 0.05,
    # A 2-hop round trip (A pays B, B pays A back) is everyday life between two people:
    # loans repaid, refunds, shared costs paid back, two-way standing relationships. It
    # counts only as the layering shape: at least 1,000 (AMLSim's minimum aggregate) back
    # within 30 days (AMLSim's pattern period), less than 98% of it (a loan repaid or a
    # purchase refunded returns the whole sum; the intermediary keeps a cut, AMLSim and
    # AMLGentex margin 10%). Slow rings of ordinary sums have three hops or more.
    "cycle_round_trip_min_amount": 1000,
    "cycle_round_trip_days": 30,
    "cycle_round_trip_max_return": 0.98,
    # Search bounds: per hop in, the earliest hop out to each of at most 5 next accounts,
    # and at most 10 open paths per first hop at each depth.
    "cycle_max_next_hops": 5,
    "cycle_max_paths_per_start": 10,
    # Scatter-gather and gather-scatter: at least 3 intermediaries (senders, receivers),
    # the smallest fan of AMLGentex's templates; a pair transacting in 2 calendar months is
    # a standing relationship, not a one-off layering leg; a leg out of an intermediary
    # counts within 30 days of a leg in (AMLSim's 30-day pattern period).
    "fan_min_counterparties": 3,
    "sg_span_days": 30,
    "recurring_months": 2,
}

FEATURE_TABLES: Final[tuple[str, ...]] = (
    "account_legs",
    "account_keys",
    "pair_flows",
    "account_features",
    "account_graph",
    "merchant_categories",
    "wage_credits",
    "card_purchases",
    "peer_levels",
)
"""The tables (and views) the features stage creates, in build order."""

_TABLE_PARAMS: Final[dict[str, Mapping[str, object]]] = {
    "account_features": DEFAULT_PARAMS,
    "account_graph": GRAPH_PARAMS,
    "wage_credits": WAGE_CREDIT_PARAMS,
}


FEATURE_VIEWS: Final[frozenset[str]] = frozenset({"account_legs"})
"""Tables of ``FEATURE_TABLES`` created as views: two legs per transaction would double the
transactions in memory for the whole scan, while a view costs nothing and lets each reader's
column choice and filters reach the scans of ``transactions``."""


def build_account_features(con: duckdb.DuckDBPyConnection) -> int:
    """Create the shared tables of ``FEATURE_TABLES`` in order; returns the number of
    accounts."""
    for table in FEATURE_TABLES:
        kind = "view" if table in FEATURE_VIEWS else "table"
        with building(table):
            con.execute(
                f"create or replace {kind} {table} as " + sql_text(f"features/{table}.sql"),
                _TABLE_PARAMS.get(table, {}),
            )
    return int(scalar(con, "select count(*) from account_features"))
