"""The alert policy and risk propagation on hand-made accounts (README, "How alerts are
ranked"): which evidence opens an alert, what only raises a score, where a victim's hit is
read, and how risk travels along money flows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pytest

from engine.catalog import Catalog, load_catalog
from engine.config import RunConfig, ScoringConfig
from engine.db import connect
from engine.detectors import create_empty_anomaly_tables
from engine.rules import create_hits_table
from engine.score import build_alerts
from tests.score_inputs import create_score_inputs

T0 = datetime(2024, 1, 1, 10)
T1 = datetime(2024, 1, 3, 10)
T2 = datetime(2024, 2, 3, 10)

LOW_PAY = "PAY-01"  # low, PAY
LOW_LAB = "LAB-04"  # low, LAB
LOW_GRAPH = ("GRAPH-02", "GRAPH-09")  # low, both GRAPH
VICTIM_SIDE = "SEX-05"  # low, victim side
MEDIUM = "XB-01"
HIGH = "STR-01"
STRUCTURE = "GRAPH-03"  # medium, GRAPH: a money-flow structure (gather-scatter)
BLOCK = "GRAPH-07"  # medium, GRAPH: a bipartite block, whose rule binds every account


Transfer = (
    tuple[str, str, float] | tuple[str, str, float, str] | tuple[str, str, float, str, datetime]
)
"""(src, dst, amount[, channel[, timestamp]])"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog().select(
        [LOW_PAY, LOW_LAB, *LOW_GRAPH, VICTIM_SIDE, MEDIUM, HIGH, STRUCTURE, BLOCK]
    )


def _scan(
    catalog: Catalog,
    hits: Sequence[tuple[str, str, str] | tuple[str, str, str, list[str]]],
    transfers: Sequence[Transfer] = (),
    accounts: tuple[str, ...] = (),
    scoring: ScoringConfig | None = None,
    anomalies: Sequence[tuple[str, float, bool]] = (),
    explanations: Sequence[tuple[str, str]] = (),
) -> duckdb.DuckDBPyConnection:
    """Score hand-made hits (typology_id, subject_id, likely_role[, evidence tx ids: x0 by
    default]), transfers
    (src, dst, amount[, channel: p2p by default, 'payroll' makes a wage credit[, timestamp:
    T0 by default]]) and
    detector scores (account, anomaly_score, has an ANOMALY hit) and explanations
    (account, text)."""
    con = connect(RunConfig())
    con.execute(
        "create table transactions (tx_id varchar, src_account varchar, dst_account varchar, "
        "amount_rep decimal(18,4), channel varchar, timestamp timestamp)"
    )
    for i, transfer in enumerate(transfers):
        src, dst, amount = transfer[:3]
        channel = transfer[3] if len(transfer) > 3 else "p2p"
        at = transfer[4] if len(transfer) > 4 else T0
        con.execute(
            "insert into transactions values ($i, $s, $d, $a, $c, $t)",
            {"i": f"x{i}", "s": src, "d": dst, "a": amount, "c": channel, "t": at},
        )
    create_hits_table(con)
    for i, hit in enumerate(hits):
        typology_id, subject, role = hit[:3]
        evidence = hit[3] if len(hit) > 3 else ["x0"]
        con.execute(
            "insert into hits values ($h, $t, 1, $s, $a, $b, 1, 100, "
            "[{'tx_id': x, 'why': 'w'} for x in $e], $reason, $r)",
            {
                "h": f"h{i}",
                "t": typology_id,
                "s": subject,
                "a": T0,
                "b": T1,
                "e": evidence,
                "reason": f"{typology_id} reason",
                "r": role,
            },
        )
    create_empty_anomaly_tables(con)
    for account, score, hit in anomalies:
        con.execute("insert into anomaly_scores values ($a, 'all', $s)", {"a": account, "s": score})
        if hit:
            con.execute(
                "insert into anomaly_hits values ($h, 'ANOMALY', 1, $a, $t0, $t1, 1, 10, [], "
                "'anomaly score', 'unknown')",
                {"h": f"a-{account}", "a": account, "t0": T0, "t1": T1},
            )
    for account, text in explanations:
        con.execute(
            "insert into anomaly_explanations values ($a, $x, [])", {"a": account, "x": text}
        )
    create_score_inputs(con, accounts)
    build_alerts(con, catalog, scoring or ScoringConfig(), "USD")
    return con


def _scores(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, float, bool]]:
    rows = con.execute("select account_id, rank, risk_score, alerted from account_scores")
    return {a: (rank, score, alerted) for a, rank, score, alerted in rows.fetchall()}


def _opening(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Each account's opening_score: the evidence the alert policy weighs."""
    rows = con.execute("select account_id, opening_score from account_scores").fetchall()
    return {a: s for a, s in rows}


def _alerted(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select subject_id from alerts order by rank").fetchall()]


def test_default_threshold_sits_between_low_and_medium(catalog: Catalog) -> None:
    by_severity: dict[str, list[float]] = {}
    for t in load_catalog().typologies:
        by_severity.setdefault(t.severity, []).append(t.risk_score)
    threshold = ScoringConfig().alert_threshold
    assert max(by_severity["low"]) < threshold <= min(by_severity["medium"])
    assert min(by_severity["high"]) >= threshold


def test_single_low_hit_raises_the_score_but_opens_no_alert(catalog: Catalog) -> None:
    con = _scan(catalog, [(LOW_PAY, "A", "mule")], accounts=("QUIET",))
    scores = _scores(con)
    assert scores["A"] == (1, pytest.approx(catalog.get(LOW_PAY).risk_score), False)
    assert scores["QUIET"] == (2, 0.0, False)
    assert _alerted(con) == []
    reason = con.execute("select top_reason from account_scores where account_id = 'A'")
    assert reason.fetchall() == [(f"{LOW_PAY}: {LOW_PAY} reason",)]


def test_medium_hit_opens_an_alert(catalog: Catalog) -> None:
    con = _scan(catalog, [(MEDIUM, "A", "collector")])
    assert _alerted(con) == ["A"]


def test_two_low_families_open_but_two_low_typologies_of_one_family_do_not(
    catalog: Catalog,
) -> None:
    con = _scan(
        catalog,
        [
            (LOW_PAY, "TWO_FAMILIES", "mule"),
            (LOW_LAB, "TWO_FAMILIES", "mule"),
            (LOW_GRAPH[0], "ONE_FAMILY", "mule"),
            (LOW_GRAPH[1], "ONE_FAMILY", "mule"),
        ],
    )
    assert _alerted(con) == ["TWO_FAMILIES"]
    # both still rank by the noisy-OR of all their typologies
    one_family = 1 - (1 - catalog.get(LOW_GRAPH[0]).risk_score / 100) * (
        1 - catalog.get(LOW_GRAPH[1]).risk_score / 100
    )
    assert _scores(con)["ONE_FAMILY"][1] == pytest.approx(100 * one_family)
    # a higher threshold says two low families are not enough
    strict = _scan(
        catalog,
        [(LOW_PAY, "TWO_FAMILIES", "mule"), (LOW_LAB, "TWO_FAMILIES", "mule")],
        scoring=ScoringConfig(alert_threshold=60),
    )
    assert _alerted(strict) == []


def test_victim_hit_opens_nothing_and_is_read_in_the_controllers_alert(
    catalog: Catalog,
) -> None:
    con = _scan(
        catalog,
        [(VICTIM_SIDE, "VICTIM", "victim"), (MEDIUM, "BOSS", "controller")],
        transfers=[("VICTIM", "BOSS", 500.0)],
    )
    assert _alerted(con) == ["BOSS"]
    reasons = con.execute("select reasons from alerts where subject_id = 'BOSS'").fetchall()[0][0]
    assert reasons == [
        f"{MEDIUM}: {MEDIUM} reason",
        f"linked victim VICTIM, {VICTIM_SIDE}: {VICTIM_SIDE} reason",
    ]
    scores = _scores(con)
    assert 0 < scores["VICTIM"][1] < scores["BOSS"][1]
    assert scores["VICTIM"][2] is False


def test_anomaly_opens_beside_a_low_hit_not_alone_by_default(catalog: Catalog) -> None:
    anomalies = [
        ("LOW_ODD", 0.99, True),
        ("ODD", 0.99, True),
        ("LOW", 0.2, False),
        # above anomaly_floor without reaching the ANOMALY hit's share: beside a rule hit
        # its part counts, 0.5 x (0.95 - 0.9) / 0.1 = 0.25, and 1 - 0.7 x 0.75 >= 0.4 ...
        ("LOW_UNUSUAL", 0.95, False),
        # ... 0.1 at 0.92 is not enough beside a low hit at 30 (1 - 0.7 x 0.9 = 0.37)
        ("LOW_SLIGHT", 0.92, False),
        # and beside a victim-side hit it never counts
        ("VICTIM_ODD", 0.99, True),
    ]
    hits = [
        (LOW_PAY, "LOW_ODD", "mule"),
        (LOW_PAY, "LOW", "mule"),
        (LOW_PAY, "LOW_UNUSUAL", "mule"),
        (LOW_PAY, "LOW_SLIGHT", "mule"),
        (VICTIM_SIDE, "VICTIM_ODD", "victim"),
    ]
    con = _scan(catalog, hits, anomalies=anomalies)
    assert _alerted(con) == ["LOW_ODD", "LOW_UNUSUAL"]
    opening = _opening(con)
    assert opening["LOW_UNUSUAL"] == pytest.approx(100 * (1 - 0.7 * 0.75))
    assert opening["LOW_SLIGHT"] == pytest.approx(100 * (1 - 0.7 * 0.9))
    scores = _scores(con)
    # ranked all the same (the anomaly above the peer group's median, anomaly_rank_floor)
    assert scores["ODD"][1] == pytest.approx(100 * 0.5 * (0.99 - 0.5) / 0.5)
    assert scores["ODD"][2] is False
    opened = _scan(
        catalog, hits, anomalies=anomalies, scoring=ScoringConfig(anomaly_alone_opens=True)
    )
    # the ANOMALY hit alone opens, a victim's too
    assert sorted(_alerted(opened)) == ["LOW_ODD", "LOW_UNUSUAL", "ODD", "VICTIM_ODD"]


def test_account_scores_rank_every_account_consistently_with_alerts(catalog: Catalog) -> None:
    con = _scan(
        catalog,
        [
            (HIGH, "H", "controller"),
            (MEDIUM, "M", "collector"),
            (LOW_PAY, "L", "mule"),
            (LOW_PAY, "L2", "mule"),
            (LOW_LAB, "L2", "mule"),
        ],
        transfers=[("P", "Q", 10.0)],
        accounts=("Z",),
    )
    rows = con.execute("select account_id, rank, alerted from account_scores order by rank")
    ranked = rows.fetchall()
    features = con.execute("select count(*) from account_features").fetchall()[0][0]
    assert len(ranked) == features == len({a for a, _, _ in ranked}) == 7
    assert [r for _, r, _ in ranked] == list(range(1, 8))
    assert [a for a, _, alerted in ranked if alerted] == _alerted(con) == ["H", "L2", "M"]
    ranks = con.execute("select rank from alerts order by rank").fetchall()
    assert [r[0] for r in ranks] == [1, 2, 3]


def test_propagation_lifts_network_members_bounded_by_hops_and_hub(catalog: Catalog) -> None:
    con = _scan(
        catalog,
        [(HIGH, "HUB", "controller"), (LOW_PAY, "MEMBER", "mule"), (LOW_PAY, "LONER", "mule")],
        # MEMBER moves all its money with HUB; FAR only with NEXT, which moves half with HUB
        transfers=[
            ("HUB", "MEMBER", 100.0),
            ("HUB", "NEXT", 100.0),
            ("NEXT", "FAR", 100.0),
            ("LONER", "SHOP", 100.0),
        ],
    )
    scores = _scores(con)
    hub = scores["HUB"][1]
    own = catalog.get(LOW_PAY).risk_score
    lifted = 100 * (1 - (1 - own / 100) * (1 - 0.5 * hub / 100))
    assert scores["MEMBER"][1] == pytest.approx(lifted)
    assert scores["MEMBER"][0] < scores["LONER"][0] and scores["LONER"][1] == own
    assert scores["NEXT"][1] == pytest.approx(0.5 * hub * 0.5)  # one hop, half its money
    assert scores["FAR"][1] == pytest.approx(0.25 * hub * 0.5)  # two hops
    assert scores["FAR"][1] < scores["NEXT"][1] < hub and scores["MEMBER"][1] < hub
    assert scores["SHOP"][1] == 0
    # propagated risk alone opens nothing
    assert _alerted(con) == ["HUB"]
    reason = con.execute("select top_reason from account_scores where account_id = 'FAR'")
    assert reason.fetchall() == [("PROPAGATED: 2 hops by money flows from HUB (own score 75.0)",)]


def test_the_top_reason_names_the_larger_part_of_a_score_without_hits(catalog: Catalog) -> None:
    # FAR gets a sliver of HUB's risk two hops away (NEXT moves a tenth of its money with
    # HUB) and is far above its peers' median; ODD only the latter; NEXT only propagated
    # risk (its anomaly at the median adds nothing)
    con = _scan(
        catalog,
        [(HIGH, "HUB", "controller")],
        transfers=[
            ("HUB", "NEXT", 10.0),
            ("HUB", "SHOP", 90.0),
            ("NEXT", "FAR", 10.0),
            ("NEXT", "OTHER", 90.0),
            ("ODD", "SHOP2", 10.0),
        ],
        anomalies=[("FAR", 0.96, False), ("ODD", 0.9, False), ("NEXT", 0.5, False)],
        explanations=[("ODD", "distinct receivers 9.00 vs peer median 1.00")],
    )
    rows = con.execute(
        "select account_id, top_reason, propagated_score from account_scores "
        "where account_id in ('FAR', 'ODD', 'NEXT') order by account_id"
    ).fetchall()
    reasons = {a: (r, p) for a, r, p in rows}
    assert 0 < reasons["FAR"][1] < 5
    assert reasons["FAR"][0] == (
        "ANOMALY: anomaly score 0.960 above its peer group's median, no typology hit; "
        "2 hops by money flows from HUB"
    )
    # where the detectors explained the account, its top reason names the features
    assert reasons["ODD"] == (
        "ANOMALY: anomaly score 0.900 above its peer group's median (distinct receivers "
        "9.00 vs peer median 1.00), no typology hit",
        0.0,
    )
    assert reasons["NEXT"][0] == "PROPAGATED: 1 hop by money flows from HUB (own score 75.0)"


def test_propagation_never_lifts_above_the_hub(catalog: Catalog) -> None:
    # a member with strong evidence of its own (just under the hub) is lifted, but only
    # up to the hub's own score
    con = _scan(
        catalog,
        [(MEDIUM, "HUB", "controller"), (MEDIUM, "MEMBER", "mule"), (LOW_PAY, "HUB", "mule")],
        transfers=[("HUB", "MEMBER", 100.0)],
    )
    scores = _scores(con)
    assert scores["MEMBER"][1] <= scores["HUB"][1]


def test_hubs_and_disabled_propagation_pass_no_risk(catalog: Catalog) -> None:
    hits = [(HIGH, "HUB", "controller")]
    transfers = [("HUB", "A", 100.0), ("HUB", "B", 100.0)]
    hub = _scan(catalog, hits, transfers, scoring=ScoringConfig(propagation_max_counterparties=1))
    off = _scan(catalog, hits, transfers, scoring=ScoringConfig(propagation_hops=0))
    on = _scan(catalog, hits, transfers)
    for con in (hub, off):
        assert _scores(con)["A"][1] == 0
    assert _scores(on)["A"][1] == pytest.approx(0.5 * _scores(on)["HUB"][1] * 1.0)


def test_two_hops_reach_a_source_from_its_neighbours_other_source(catalog: Catalog) -> None:
    # A's strongest source is S1 itself: S1's two-hop path through A starts from S2
    con = _scan(
        catalog,
        [(HIGH, "S1", "controller"), (MEDIUM, "S2", "controller")],
        transfers=[("S1", "A", 100.0), ("S2", "A", 100.0), ("S1", "X", 100.0)],
    )
    rows = con.execute("select account_id, propagated_score from account_scores").fetchall()
    propagated = dict(rows)
    s1 = catalog.get(HIGH).risk_score
    s2 = catalog.get(MEDIUM).risk_score
    assert propagated["A"] == pytest.approx(0.5 * s1 * 0.5)
    assert propagated["S1"] == pytest.approx(0.25 * s2 * 0.5 * 0.5)


def _link(con: duckdb.DuckDBPyConnection, account: str) -> list[tuple[str, float, str]]:
    rows = con.execute(
        "select likely_role, risk_score, reason from scored_hits "
        "where typology_id = 'LINK' and subject_id = $a",
        {"a": account},
    )
    return [(r, s, t) for r, s, t in rows.fetchall()]


def test_beneficiary_of_a_victims_money_opens_with_a_link(catalog: Catalog) -> None:
    # VICTIM shows a victim-side indicator and passes 900 of its 1,000 sent to BOSS
    victim_side = catalog.get(VICTIM_SIDE).risk_score
    con = _scan(
        catalog,
        [(VICTIM_SIDE, "VICTIM", "victim")],
        transfers=[
            ("VICTIM", "BOSS", 500.0),
            ("VICTIM", "BOSS", 400.0),
            ("VICTIM", "SHOP", 100.0, "card"),
            ("BOSS", "SHOP", 50.0, "card"),
        ],
    )
    link = _link(con, "BOSS")
    expected = 100 * (1 - (1 - victim_side / 100) * (1 - ScoringConfig().link_score / 100))
    assert [(r, s) for r, s, _ in link] == [("controller", pytest.approx(expected, abs=1e-3))]
    assert "receives 90% of all the money sent by VICTIM" in link[0][2]
    assert _alerted(con) == ["BOSS"]
    boss = con.execute(
        "select likely_role, reasons, evidence_count from alerts where subject_id = 'BOSS'"
    ).fetchall()[0]
    assert boss[0] == "controller"
    assert boss[1][0].startswith("LINK: receives 90%")
    assert boss[1][-1] == f"linked victim VICTIM, {VICTIM_SIDE}: {VICTIM_SIDE} reason"
    assert boss[2] == 2  # the two transfers, not the card purchase
    scores = _scores(con)
    assert scores["VICTIM"][2] is False and scores["VICTIM"][1] < scores["BOSS"][1]
    assert scores["SHOP"][2] is False


@pytest.mark.parametrize(
    ("case", "transfers", "scoring"),
    [
        # a minority of the money is no control
        (
            "minority",
            [("VICTIM", "X", 400.0), ("VICTIM", "Y", 300.0), ("VICTIM", "Z", 300.0)],
            ScoringConfig(),
        ),
        # the employer paying the victim's wage supplies its money but controls nothing
        (
            "wage",
            [("X", "VICTIM", 900.0, "payroll"), ("X", "VICTIM", 900.0, "payroll")],
            ScoringConfig(),
        ),
        # a merchant paid by card takes money for goods
        ("card", [("VICTIM", "X", 900.0, "card"), ("VICTIM", "X", 900.0, "card")], ScoringConfig()),
        # a typology whose evidence is the pass-on itself would count the tie twice
        (
            "pass-on",
            [("VICTIM", "X", 900.0), ("VICTIM", "X", 900.0)],
            ScoringConfig(link_pass_on_typologies=(VICTIM_SIDE,)),
        ),
        # a standing order (rent: the same amount in two months) is a fixed living cost
        (
            "standing order",
            [("VICTIM", "X", 900.0, "ach", T0), ("VICTIM", "X", 900.0, "ach", T2)],
            ScoringConfig(),
        ),
        # an account seen once says nothing of its own money
        ("seen once", [("VICTIM", "X", 900.0)], ScoringConfig()),
    ],
)
def test_no_link_without_a_dominant_transfer_tie(
    catalog: Catalog,
    case: str,
    transfers: list[tuple[str, str, float] | tuple[str, str, float, str]],
    scoring: ScoringConfig,
) -> None:
    padded = [*transfers, ("Y", "SHOP", 10.0, "card")]
    con = _scan(catalog, [(VICTIM_SIDE, "VICTIM", "victim")], transfers=padded, scoring=scoring)
    assert _link(con, "X") == [] and _link(con, "Y") == [], case
    assert _alerted(con) == [], case


def test_network_member_opens_only_with_most_of_its_money_and_a_strong_source(
    catalog: Catalog,
) -> None:
    # HUB: a high and a medium family (about 86); MEMBER moves all its money with HUB;
    # HALF only half of it; ONCE appears in one transaction only
    hub_hits = [(HIGH, "HUB", "controller"), (MEDIUM, "HUB", "collector")]
    transfers = [
        ("MEMBER", "HUB", 300.0),
        ("MEMBER", "HUB", 200.0),
        ("HALF", "HUB", 250.0),
        ("HALF", "OTHER", 250.0),
        ("ONCE", "HUB", 900.0),
    ]
    con = _scan(catalog, hub_hits, transfers=transfers)
    hub = _scores(con)["HUB"][1]
    assert _link(con, "MEMBER") == [
        (
            "mule",
            pytest.approx(0.5 * hub, abs=1e-3),
            f"moved 100% of its money with HUB, whose own evidence opens an alert "
            f"(score {hub:.1f}): a member of its network",
        )
    ]
    assert _link(con, "HALF") == [] and _link(con, "ONCE") == []
    assert _alerted(con) == ["HUB", "MEMBER"]
    # a source of 75 cannot open its members (0.5 x 75 < 40): propagation only lifts them
    weaker = _scan(catalog, [(HIGH, "HUB", "controller")], transfers=transfers)
    assert _link(weaker, "MEMBER") == [] and _alerted(weaker) == ["HUB"]
    off = _scan(catalog, hub_hits, transfers=transfers, scoring=ScoringConfig(propagation_hops=0))
    assert _alerted(off) == ["HUB"]


def test_conduit_between_two_alerted_accounts_opens(catalog: Catalog) -> None:
    # MID receives from SRC and sends on to DST, both alerted on their own evidence;
    # SIDE also receives from SRC but spends most of it elsewhere; VIC has victim evidence
    hits = [
        (MEDIUM, "SRC", "controller"),
        (MEDIUM, "DST", "collector"),
        (VICTIM_SIDE, "VIC", "victim"),
    ]
    transfers = [
        ("SRC", "MID", 1000.0),
        ("MID", "DST", 900.0),
        ("MID", "SHOP", 50.0, "card"),
        ("SRC", "SIDE", 1000.0),
        ("SIDE", "DST", 300.0),
        ("SIDE", "RENT", 700.0),
        ("SRC", "VIC", 1000.0),
        ("VIC", "DST", 900.0),
    ]
    con = _scan(catalog, hits, transfers=transfers)
    medium = catalog.get(MEDIUM).risk_score
    link = _link(con, "MID")
    assert [(r, s) for r, s, _ in link] == [("mule", pytest.approx(medium))]
    assert link[0][2] == (
        f"passes money from SRC (score {medium:.1f}) on to DST (score {medium:.1f}): 100% "
        "of what it received came from, and 95% of what it sent went to, accounts whose "
        "own evidence opens an alert"
    )
    evidence = con.execute(
        "select list(e.tx_id order by e.tx_id) from evidence e join alert_keys k "
        "using (alert_id) where k.subject_id = 'MID' and e.typology_id = 'LINK'"
    ).fetchall()[0][0]
    assert evidence == ["x0", "x1"]  # the two transfers, not the card purchase
    assert _link(con, "VIC") == []
    # SIDE is no conduit (most of what it sent went elsewhere); half its money, all it
    # received, came from SRC: a recipient's weak tie. SIDE is seen beyond SRC, so the tie
    # weighs the term (0.5 x 50 x 0.5) and link_score, 34.4: still under the threshold
    term = 0.5 * medium * 0.5
    link_score = ScoringConfig().link_score
    assert _link(con, "SIDE") == [
        (
            "mule",
            pytest.approx(100 * (1 - (1 - term / 100) * (1 - link_score / 100))),
            f"moved 50% of its money with SRC, whose own evidence opens an alert (score "
            f"{medium:.1f}) and which supplied most of what it received: a member of its "
            "network",
        )
    ]
    assert sorted(_alerted(con)) == ["DST", "MID", "SRC"]


def test_accounts_of_a_structure_open_when_it_carries_most_of_their_money(
    catalog: Catalog,
) -> None:
    # a structure found on HUB (its evidence x0-x5): S1 and S2 moved almost all their
    # money in it; MULE received from FEED and paid it all into the block (half of all it
    # moved); A -> B is a link of the structure between two other accounts; ORD paid into
    # the block among much else; WORKER paid its whole wage into it (its own earnings)
    transfers = [
        ("S1", "HUB", 500.0),  # x0
        ("S2", "HUB", 400.0),  # x1
        ("MULE", "HUB", 1000.0),  # x2
        ("ORD", "HUB", 300.0),  # x3
        ("A", "B", 700.0),  # x4
        ("WORKER", "HUB", 1000.0),  # x5
        ("S1", "SHOP", 20.0, "card"),
        ("S2", "SHOP", 20.0, "card"),
        ("FEED", "MULE", 1000.0),
        ("A", "SHOP", 20.0, "card"),
        ("B", "SHOP", 20.0, "card"),
        ("EMPLOYER", "ORD", 1000.0, "payroll"),
        ("ORD", "RENT", 700.0),
        ("EMPLOYER", "WORKER", 1000.0, "payroll"),
    ]
    evidence = ["x0", "x1", "x2", "x3", "x4", "x5"]
    con = _scan(catalog, [(STRUCTURE, "HUB", "controller", evidence)], transfers=transfers)
    structure = catalog.get(STRUCTURE).risk_score
    for account, share in (("S1", 96), ("S2", 95), ("MULE", 50), ("A", 97), ("B", 97)):
        assert _link(con, account) == [
            (
                "mule",
                pytest.approx(structure),
                f"moved {share}% of its money within the {STRUCTURE} structure found on "
                f"HUB (score {structure:.1f}): an account of the pattern",
            )
        ], account
    assert _link(con, "ORD") == [] and _link(con, "WORKER") == []
    assert sorted(_alerted(con)) == ["A", "B", "HUB", "MULE", "S1", "S2"]
    evidence_of_s1 = con.execute(
        "select list(e.tx_id order by e.tx_id) from evidence e join alert_keys k "
        "using (alert_id) where k.subject_id = 'S1' and e.typology_id = 'LINK'"
    ).fetchall()[0][0]
    assert evidence_of_s1 == ["x0"]  # its transfer in the block, not its card purchase
    # a structure whose subject does not open (a low GRAPH hit) makes no participants, and
    # families outside link_structure_families make none either
    low = _scan(catalog, [(LOW_GRAPH[0], "HUB", "controller", evidence)], transfers=transfers)
    assert _alerted(low) == []
    other = _scan(
        catalog,
        [(STRUCTURE, "HUB", "controller", evidence)],
        transfers=transfers,
        scoring=ScoringConfig(link_structure_families=("LAB",)),
    )
    assert _alerted(other) == ["HUB"]


def test_every_account_of_a_structure_its_rule_binds_is_a_participant(
    catalog: Catalog,
) -> None:
    # a bipartite block found on P1 (evidence x0-x4: P1 and P2 each paid Q1 and Q2): Q1 and
    # P2 live busy lives of their own, so the block is a small part of their money, but
    # the rule put them in it (each payee paid by most payers, each payer paying most
    # payees): they are participants whatever share it carries. WORKER paid its own wage
    # into the block and is still not linked.
    transfers = [
        ("P1", "Q1", 600.0),  # x0
        ("P1", "Q2", 600.0),  # x1
        ("P2", "Q1", 600.0),  # x2
        ("P2", "Q2", 600.0),  # x3
        ("WORKER", "Q2", 500.0),  # x4
        ("CLIENT", "Q1", 400000.0),
        ("Q1", "RENT", 4000.0),
        ("FEED", "P2", 9000.0),
        ("P2", "OTHER", 8000.0),
        ("EMPLOYER", "WORKER", 1000.0, "payroll"),
    ]
    evidence = ["x0", "x1", "x2", "x3", "x4"]
    con = _scan(catalog, [(BLOCK, "P1", "controller", evidence)], transfers=transfers)
    block = catalog.get(BLOCK).risk_score
    assert _link(con, "Q1") == [
        (
            "mule",
            pytest.approx(block),
            f"moved under 1% of its money within the {BLOCK} structure found on P1 "
            f"(score {block:.1f}): an account of the pattern",
        )
    ]
    assert [r[0] for r in _link(con, "P2")] == ["mule"]
    assert _link(con, "WORKER") == []
    assert sorted(_alerted(con)) == ["P1", "P2", "Q1", "Q2"]
    # without the block list the share condition holds for the block too: Q2 (the block
    # and WORKER's payment are all its money) stays, Q1 and P2 do not
    plain = _scan(
        catalog,
        [(BLOCK, "P1", "controller", evidence)],
        transfers=transfers,
        scoring=ScoringConfig(link_block_typologies=()),
    )
    assert sorted(_alerted(plain)) == ["P1", "Q2"]


def test_the_anomaly_corroborates_a_link_as_it_does_a_rule_hit(catalog: Catalog) -> None:
    # a low structure found on HUB, which opens by a medium hit of another family: S1 and
    # S2 moved almost all their money in it and earn a LINK hit at the structure's low
    # score; S2 is also more unusual than its peers (0.99: 0.5 x 0.9 = 0.45 of evidence)
    transfers = [
        ("S1", "HUB", 500.0),  # x0
        ("S2", "HUB", 400.0),  # x1
        ("S1", "SHOP", 20.0, "card"),
        ("S2", "SHOP", 20.0, "card"),
    ]
    low_structure = LOW_GRAPH[0]
    hits = [(low_structure, "HUB", "controller", ["x0", "x1"]), (MEDIUM, "HUB", "controller")]
    anomalies = [("S1", 0.6, False), ("S2", 0.99, False)]
    con = _scan(catalog, hits, transfers=transfers, anomalies=anomalies)
    low = catalog.get(low_structure).risk_score
    assert low < 40
    assert [s for _, s, _ in _link(con, "S1")] == [pytest.approx(low)]
    assert [s for _, s, _ in _link(con, "S2")] == [pytest.approx(low)]
    assert sorted(_alerted(con)) == ["HUB", "S2"]
    opening = _opening(con)
    assert opening["S1"] == pytest.approx(low)
    assert opening["S2"] == pytest.approx(100 * (1 - (1 - low / 100) * (1 - 0.45)), abs=1e-3)


def test_a_recipient_of_an_alerted_accounts_money_opens_when_seen_beyond_it(
    catalog: Catalog,
) -> None:
    # HUB scores 75 (one high hit): too weak for its members to open on the tie alone
    # (0.5 x 75 < 40). RECIPIENT received nearly all its money from it and is seen paying
    # a shop too; ONLY_HUB and ODD_ONLY_HUB are seen only in their payments from HUB
    # (outside payees: a 100% share says nothing of their money); ODD_FEEDER paid nearly
    # all of its money into HUB
    transfers = [
        ("HUB", "RECIPIENT", 900.0),
        ("HUB", "RECIPIENT", 800.0),
        ("RECIPIENT", "SHOP", 20.0, "card"),
        ("HUB", "ONLY_HUB", 900.0),
        ("HUB", "ONLY_HUB", 800.0),
        ("HUB", "ODD_ONLY_HUB", 900.0),
        ("HUB", "ODD_ONLY_HUB", 800.0),
        ("ODD_FEEDER", "HUB", 900.0),
        ("ODD_FEEDER", "HUB", 800.0),
        ("ODD_FEEDER", "SHOP", 20.0, "card"),
    ]
    anomalies = [
        ("RECIPIENT", 0.6, False),
        ("ONLY_HUB", 0.6, False),
        ("ODD_ONLY_HUB", 0.99, False),
        ("ODD_FEEDER", 0.99, False),
    ]
    con = _scan(catalog, [(HIGH, "HUB", "controller")], transfers=transfers, anomalies=anomalies)
    hub = _scores(con)["HUB"][1]
    link_score = ScoringConfig().link_score
    term = 0.5 * hub * 1700 / 1720
    # the source's money is most of what RECIPIENT received and the export shows it
    # dealing with someone else: the tie opens on its own, the term plus link_score
    assert _link(con, "RECIPIENT") == [
        (
            "mule",
            pytest.approx(100 * (1 - (1 - term / 100) * (1 - link_score / 100)), abs=1e-3),
            f"moved 99% of its money with HUB, whose own evidence opens an alert "
            f"(score {hub:.1f}) and which supplied most of what it received: a member of "
            "its network",
        )
    ]
    # seen only with HUB: the tie is the propagation term and opens only beside the
    # account's own evidence (ODD_ONLY_HUB's anomaly above the floor)
    for account in ("ONLY_HUB", "ODD_ONLY_HUB"):
        assert _link(con, account) == [
            (
                "mule",
                pytest.approx(0.5 * hub, abs=1e-3),
                f"moved 100% of its money with HUB, whose own evidence opens an alert "
                f"(score {hub:.1f}) and which supplied most of what it received: a member "
                "of its network",
            )
        ], account
    # a feeder's tie is no link: who pays into a flagged account may be its victim
    assert _link(con, "ODD_FEEDER") == []
    assert sorted(_alerted(con)) == ["HUB", "ODD_ONLY_HUB", "RECIPIENT"]
    # the tie opens but does not rank: the propagated risk is the same term, so
    # RECIPIENT ranks by it as before, under the hub
    scores = _scores(con)
    assert scores["RECIPIENT"][1] < hub


def test_a_link_and_a_path_from_the_same_account_count_once(catalog: Catalog) -> None:
    # S1 sent nearly all its money into the structure found on HUB: its participant link
    # carries HUB's structure hit, and the propagated path from HUB carries HUB's own
    # score, both for the same money. The stronger counts, once: S1 ranks at it, not at
    # their noisy-OR. BOSS takes the money of VIC, an account with victim-side evidence
    # (a beneficiary link from VIC), and is also paid by HUB2 (a path from HUB2): two
    # accounts' evidence, both count
    transfers = [
        ("S1", "HUB", 500.0),  # x0
        ("S1", "SHOP", 20.0, "card"),
        ("VIC", "BOSS", 900.0),
        ("HUB2", "BOSS", 600.0),
        ("HUB2", "SHOP", 20.0, "card"),
    ]
    hits = [
        (STRUCTURE, "HUB", "controller", ["x0"]),
        (HIGH, "HUB", "controller"),
        (HIGH, "HUB2", "controller"),
        (VICTIM_SIDE, "VIC", "victim"),
    ]
    con = _scan(catalog, hits, transfers=transfers)
    structure = catalog.get(STRUCTURE).risk_score
    scores = _scores(con)
    propagated = dict(
        con.execute("select account_id, propagated_score from account_scores").fetchall()
    )
    assert _link(con, "S1")[0][1] == pytest.approx(structure)
    # HUB's own score: its structure hit and its high hit, two families
    hub = 100 * (1 - (1 - structure / 100) * (1 - catalog.get(HIGH).risk_score / 100))
    assert propagated["S1"] == pytest.approx(0.5 * hub * 500 / 520, abs=1e-3)
    assert scores["S1"][1] == pytest.approx(max(structure, propagated["S1"]), abs=1e-3)
    # BOSS: the link from VIC and the path from HUB2 are different evidence (noisy-OR,
    # capped at the stronger of its own score and the path's source)
    beneficiary = _link(con, "BOSS")[0][1]
    assert propagated["BOSS"] == pytest.approx(
        0.5 * catalog.get(HIGH).risk_score * 600 / 1500, abs=1e-3
    )
    both = 100 * (1 - (1 - beneficiary / 100) * (1 - propagated["BOSS"] / 100))
    assert scores["BOSS"][1] == pytest.approx(
        min(both, max(beneficiary, catalog.get(HIGH).risk_score)), abs=1e-3
    )
    assert scores["BOSS"][1] > max(beneficiary, propagated["BOSS"])
