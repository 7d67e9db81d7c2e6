"""Scores of a scan against ground truth: what it catches (recall, precision, precision at
k, per pattern, victims apart), what it costs (false alerts per 10,000 normal accounts), how
the full ranking does within a review budget, what the alert threshold trades (a sweep over
``account_scores.parquet``'s opening scores), and, for AMLworld data, transaction-level
minority F1.

Truth files come in two shapes, both read by ``truth_table``:
- the generator's ``truth_accounts.parquet``: account_id, pattern, role, instance_id (one
  row per planted account and pattern), and ``flagged`` (the accounts the pattern's own
  typology must hit). A ``business`` that is not flagged is a third party: an employer or
  payment processor whose wage payments the pattern uses (LAB-01's workers' employers,
  LAB-02's payers, LAB-07's employer paying the associate who takes the workers' fees).
  It is scored as role ``third_party``: neither a controlling account (the controllers,
  collectors and mules whose recall the targets measure, plus the front businesses the
  typologies name) nor a normal account (its alerts are not false alerts), and reported
  apart like the victims;
- a labelled dataset's truth (CSV or Parquet): account_id and a 0/1 label column (``is_sar``,
  ``label`` or ``is_laundering``), optionally the patterns (``sar_patterns``, ``;``-separated,
  or ``pattern``). Labelled accounts count as controlling (role ``mule``); unlabelled ones are
  normal.

All joins run in DuckDB over the Parquet outputs, so scoring a 10M-row run stays cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

NON_VICTIM_ROLES = ("controller", "collector", "mule", "business")
"""Controlling roles: what recall, precision@k and the budget measure (victims and third
parties apart)."""
THIRD_PARTY_ROLE = "third_party"
LABEL_COLUMNS = ("is_sar", "label", "is_laundering")
BUDGET_FACTOR = 2
"""Review budget of the ranking measure: twice the number of controlling accounts."""
SWEEP_THRESHOLDS = (10, 20, 30, 40, 50, 60, 70, 80, 90)
"""Alert thresholds (``[scoring] alert_threshold``) of the trade-off table."""


def truth_table(con: duckdb.DuckDBPyConnection, truth: Path) -> None:
    """Create the table ``truth(account_id, pattern, role, instance_id)`` from either shape."""
    reader = "read_csv" if truth.suffix in (".csv", ".gz") else "read_parquet"
    raw = con.sql(f"select * from {reader}($p)", params={"p": str(truth)})
    columns = set(raw.columns)
    if {"account_id", "role"} <= columns:
        pattern = "pattern::varchar" if "pattern" in columns else "'planted'"
        instance = "instance_id::varchar" if "instance_id" in columns else pattern
        role = (
            f"case when role = 'business' and not flagged then '{THIRD_PARTY_ROLE}' "
            "else role::varchar end"
            if "flagged" in columns
            else "role::varchar"
        )
        query = (
            f"select account_id::varchar as account_id, {pattern} as pattern, "
            f"{role} as role, {instance} as instance_id from {reader}($p)"
        )
    else:
        label = next((c for c in LABEL_COLUMNS if c in columns), None)
        if "account_id" not in columns or label is None:
            raise ValueError(
                f"{truth}: a truth file needs account_id and role, or account_id and one of "
                f"{LABEL_COLUMNS}; found {sorted(columns)}"
            )
        if "sar_patterns" in columns:
            patterns = "unnest(coalesce(string_split(nullif(sar_patterns, ''), ';'), ['labelled']))"
        elif "pattern" in columns:
            patterns = "coalesce(nullif(pattern::varchar, ''), 'labelled')"
        else:
            patterns = "'labelled'"
        query = (
            f"select account_id::varchar as account_id, {patterns} as pattern, "
            f"'mule' as role, account_id::varchar as instance_id "
            f"from {reader}($p) where {label}::int = 1"
        )
    con.execute(f"create or replace table truth as {query}", {"p": str(truth)})


@dataclass(frozen=True)
class PatternScore:
    """One planted pattern: non-victim accounts planted and alerted, and its victims apart."""

    pattern: str
    planted_accounts: int
    caught_accounts: int
    recall: float
    victims: int
    victims_caught: int


@dataclass(frozen=True)
class SweepPoint:
    """The alert list one ``alert_threshold`` would give, read from ``account_scores``:
    accounts whose ``opening_score`` reaches it (and is above 0) are alerted.

    Attributes:
        threshold: the ``alert_threshold``.
        alerts: alerted accounts.
        false_alerts_per_10k_normal: alerts on normal accounts per 10,000 of them.
        recall: share of planted non-victim (controlling) accounts alerted.
    """

    threshold: float
    alerts: int
    false_alerts_per_10k_normal: float
    recall: float


@dataclass(frozen=True)
class DetectionScore:
    """Account-level quality of one ranked alert list.

    Attributes:
        accounts: accounts seen in the data.
        alerts: alerted accounts.
        planted: planted controlling accounts (controllers, collectors, mules, the front
            businesses the typologies name).
        recall: share of planted non-victim accounts that were alerted.
        precision: share of alerted accounts that are planted (any role).
        precision_at_k: share of the top-k alerts that are planted non-victim accounts,
            with k = ``planted``.
        alerts_per_10k_accounts: alert volume an analyst team has to work.
        victims / victim_recall: planted victim accounts and the share alerted.
        third_parties / third_parties_alerted: planted third parties (unflagged
            businesses: employers whose wages a pattern collects) and how many are alerted.
        victims_above_controller: victim alerts ranked above every alerted account of
            their own instance that is not a victim (should be 0).
        normal_accounts: accounts seen that are in no planted or labelled pattern.
        false_alerts_per_10k_normal: alerts on normal accounts per 10,000 of them.
        budget: review budget of the ranking measure (``BUDGET_FACTOR`` x ``planted``).
        budget_recall: share of planted non-victim accounts within the first ``budget``
            ranks of ``account_scores.parquet`` (every account ranked); without that file,
            of the alert ranking.
        ranking_source: which file ``budget_recall`` read.
        ranking_precision_at_k: share of the first k = ``planted`` ranks of that ranking
            that are planted non-victim accounts: what an analyst working down
            ``account_scores.parquet`` to k accounts finds, whether or not they are alerts
            (``precision_at_k`` reads the alerts only, so it cannot exceed alerts / k).
        threshold_sweep: the alert policy's trade-off at ``SWEEP_THRESHOLDS`` (empty
            without an ``account_scores.parquet`` carrying ``opening_score``).
    """

    accounts: int
    alerts: int
    planted: int
    recall: float
    precision: float
    precision_at_k: float
    alerts_per_10k_accounts: float
    victims: int
    victim_recall: float
    victims_above_controller: int
    per_pattern: tuple[PatternScore, ...]
    normal_accounts: int = 0
    false_alerts_per_10k_normal: float = 0.0
    budget: int = 0
    budget_recall: float = 0.0
    ranking_precision_at_k: float = 0.0
    ranking_source: str = "alerts"
    threshold_sweep: tuple[SweepPoint, ...] = ()
    third_parties: int = 0
    third_parties_alerted: int = 0

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def score_alerts(
    alerts: Path, truth: Path, accounts_seen: int, account_scores: Path | None = None
) -> DetectionScore:
    """Compare ``alerts.parquet`` (and, when given and present, ``account_scores.parquet``)
    with an account truth file (see ``truth_table``)."""
    con = duckdb.connect()
    con.read_parquet(str(alerts)).to_view("alerts")
    truth_table(con, truth)
    planted = con.execute(
        "select count(distinct account_id) from truth where role in $roles",
        {"roles": list(NON_VICTIM_ROLES)},
    ).fetchall()[0][0]
    n_alerts = con.execute("select count(*) from alerts").fetchall()[0][0]
    caught = con.execute(
        "select count(distinct t.account_id) from truth t join alerts a "
        "on a.subject_id = t.account_id where t.role in $roles",
        {"roles": list(NON_VICTIM_ROLES)},
    ).fetchall()[0][0]
    true_alerts = con.execute(
        "select count(*) from alerts where subject_id in (select account_id from truth)"
    ).fetchall()[0][0]
    top_k_true = con.execute(
        "select count(*) from alerts where rank <= $k and subject_id in "
        "(select account_id from truth where role in $roles)",
        {"k": planted, "roles": list(NON_VICTIM_ROLES)},
    ).fetchall()[0][0]
    # the accounts scored apart: victims and third parties, planted and alerted
    victims, victims_caught, third_parties, third_parties_alerted = con.execute(
        "select count(distinct account_id) filter (where t.role = 'victim'), "
        "count(distinct a.subject_id) filter (where t.role = 'victim'), "
        "count(distinct account_id) filter (where t.role = $third_party), "
        "count(distinct a.subject_id) filter (where t.role = $third_party) "
        "from truth t left join alerts a on a.subject_id = t.account_id",
        {"third_party": THIRD_PARTY_ROLE},
    ).fetchall()[0]
    above = con.execute(
        """
        select count(*) from (
            select v.account_id
            from truth v join alerts va on va.subject_id = v.account_id
            join truth c on c.instance_id = v.instance_id and c.role in $roles
            join alerts ca on ca.subject_id = c.account_id
            where v.role = 'victim'
            group by v.account_id, va.rank
            having va.rank < min(ca.rank)
        )
        """,
        {"roles": list(NON_VICTIM_ROLES)},
    ).fetchall()[0][0]
    per_pattern = tuple(
        PatternScore(str(p), int(n), int(c), _ratio(c, n), int(v), int(vc))
        for p, n, c, v, vc in con.execute(
            """
            select
                t.pattern,
                count(distinct t.account_id) filter (where t.role in $roles),
                count(distinct a.subject_id) filter (where t.role in $roles),
                count(distinct t.account_id) filter (where t.role = 'victim'),
                count(distinct a.subject_id) filter (where t.role = 'victim')
            from truth t left join alerts a on a.subject_id = t.account_id
            group by t.pattern order by t.pattern
            """,
            {"roles": list(NON_VICTIM_ROLES)},
        ).fetchall()
    )
    in_truth = con.execute("select count(distinct account_id) from truth").fetchall()[0][0]
    false_alerts = con.execute(
        "select count(*) from alerts where subject_id not in (select account_id from truth)"
    ).fetchall()[0][0]
    normal = max(accounts_seen - int(in_truth), 0)
    budget = BUDGET_FACTOR * int(planted)
    ranking_source = "alerts"
    ranking = "select subject_id as account_id, rank from alerts"
    if account_scores is not None and account_scores.exists():
        con.read_parquet(str(account_scores)).to_view("account_scores")
        ranking_source = "account_scores"
        ranking = "select account_id, rank from account_scores"
    sweep: tuple[SweepPoint, ...] = ()
    if (
        ranking_source == "account_scores"
        and "opening_score" in con.table("account_scores").columns
    ):
        sweep = _sweep(con, int(planted), normal)
    in_budget, ranking_top_k = (
        con.execute(
            f"select count(distinct r.account_id) from ({ranking}) r "
            "join truth t on t.account_id = r.account_id "
            "where r.rank <= $depth and t.role in $roles",
            {"depth": depth, "roles": list(NON_VICTIM_ROLES)},
        ).fetchall()[0][0]
        for depth in (budget, planted)
    )
    return DetectionScore(
        normal_accounts=normal,
        ranking_precision_at_k=_ratio(ranking_top_k, planted),
        false_alerts_per_10k_normal=round(10_000 * false_alerts / normal, 2) if normal else 0.0,
        budget=budget,
        budget_recall=_ratio(in_budget, planted),
        ranking_source=ranking_source,
        threshold_sweep=sweep,
        accounts=accounts_seen,
        alerts=int(n_alerts),
        planted=int(planted),
        recall=_ratio(caught, planted),
        precision=_ratio(true_alerts, n_alerts),
        precision_at_k=_ratio(top_k_true, planted),
        alerts_per_10k_accounts=round(10_000 * n_alerts / accounts_seen, 2) if accounts_seen else 0,
        victims=int(victims),
        victim_recall=_ratio(victims_caught, victims),
        third_parties=int(third_parties),
        third_parties_alerted=int(third_parties_alerted),
        victims_above_controller=int(above),
        per_pattern=per_pattern,
    )


def _sweep(con: duckdb.DuckDBPyConnection, planted: int, normal: int) -> tuple[SweepPoint, ...]:
    rows = con.execute(
        """
        select t.threshold,
               count(s.account_id),
               count(s.account_id) filter (
                   where s.account_id not in (select account_id from truth)),
               count(distinct s.account_id) filter (
                   where s.account_id in (select account_id from truth where role in $roles))
        from unnest($thresholds::double[]) t(threshold)
        left join account_scores s
          on s.opening_score >= t.threshold and s.opening_score > 0
        group by t.threshold order by t.threshold
        """,
        {"thresholds": list(SWEEP_THRESHOLDS), "roles": list(NON_VICTIM_ROLES)},
    ).fetchall()
    return tuple(
        SweepPoint(
            float(threshold),
            int(alerts),
            round(10_000 * false / normal, 2) if normal else 0.0,
            _ratio(caught, planted),
        )
        for threshold, alerts, false, caught in rows
    )


@dataclass(frozen=True)
class TransactionScore:
    """Transaction-level minority-class (laundering) precision, recall and F1."""

    laundering: int
    predicted: int
    true_positive: int
    precision: float
    recall: float
    f1: float


def score_transactions(evidence: Path, labelled: Path) -> TransactionScore:
    """A transaction is predicted laundering when it is evidence of an alert.

    ``labelled`` is a Parquet file with columns tx_id and is_laundering.
    """
    con = duckdb.connect()
    laundering, predicted, tp = con.execute(
        """
        with predicted as (select distinct tx_id from read_parquet($e)),
             labels as (select tx_id, is_laundering from read_parquet($l))
        select count(*) filter (where l.is_laundering = 1),
               (select count(*) from predicted),
               count(*) filter (where l.is_laundering = 1 and p.tx_id is not null)
        from labels l left join predicted p using (tx_id)
        """,
        {"e": str(evidence), "l": str(labelled)},
    ).fetchall()[0]
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, laundering)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return TransactionScore(int(laundering), int(predicted), int(tp), precision, recall, f1)
