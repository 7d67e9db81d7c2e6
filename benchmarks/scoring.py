"""Scores of a scan against ground truth: what it catches (recall, precision, precision at
k, per pattern, victims apart) and, for AMLworld data, transaction-level minority F1.

All joins run in DuckDB over the Parquet outputs, so scoring a 10M-row run stays cheap.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

NON_VICTIM_ROLES = ("controller", "collector", "mule", "business")


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
class DetectionScore:
    """Account-level quality of one ranked alert list.

    Attributes:
        accounts: accounts seen in the data.
        alerts: alerted accounts.
        planted: planted non-victim accounts (controllers, collectors, mules, businesses).
        recall: share of planted non-victim accounts that were alerted.
        precision: share of alerted accounts that are planted (any role).
        precision_at_k: share of the top-k alerts that are planted non-victim accounts,
            with k = ``planted``.
        alerts_per_10k_accounts: alert volume an analyst team has to work.
        victims / victim_recall: planted victim accounts and the share alerted.
        victims_above_controller: victim alerts ranked above every alerted account of
            their own instance that is not a victim (should be 0).
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

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def score_alerts(alerts: Path, truth: Path, accounts_seen: int) -> DetectionScore:
    """Compare ``alerts.parquet`` with an account truth file (account_id, pattern, role,
    instance_id)."""
    con = duckdb.connect()
    con.read_parquet(str(alerts)).to_view("alerts")
    con.read_parquet(str(truth)).to_view("truth")
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
    victims, victims_caught = con.execute(
        "select count(distinct account_id), count(distinct a.subject_id) "
        "from truth t left join alerts a on a.subject_id = t.account_id "
        "where t.role = 'victim'"
    ).fetchall()[0]
    above = con.execute(
        """
        select count(*) from (
            select v.account_id
            from truth v join alerts va on va.subject_id = v.account_id
            join truth c on c.instance_id = v.instance_id and c.role <> 'victim'
            join alerts ca on ca.subject_id = c.account_id
            where v.role = 'victim'
            group by v.account_id, va.rank
            having va.rank < min(ca.rank)
        )
        """
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
    return DetectionScore(
        accounts=accounts_seen,
        alerts=int(n_alerts),
        planted=int(planted),
        recall=_ratio(caught, planted),
        precision=_ratio(true_alerts, n_alerts),
        precision_at_k=_ratio(top_k_true, planted),
        alerts_per_10k_accounts=round(10_000 * n_alerts / accounts_seen, 2) if accounts_seen else 0,
        victims=int(victims),
        victim_recall=_ratio(victims_caught, victims),
        victims_above_controller=int(above),
        per_pattern=per_pattern,
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
