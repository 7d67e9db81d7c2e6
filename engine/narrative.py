"""A narrative draft for one alert, in the shape a suspicious activity report asks for.

FinCEN's SAR narrative guidance (FIN-2003-G002) and the FFIEC BSA/AML examination manual
(appendix L) ask the narrative to answer who, what, when, where, why and how, in
chronological order, with every figure traceable. The draft below answers each from the
run's outputs: the alert, its hits and evidence, the typology catalog (titles, reasons,
red-flag sources) and the input transactions read back through :class:`engine.api.Run`.
Figures cite their hit ids and a few tx ids in brackets so an analyst can find them in
``hits.parquet`` and ``evidence.parquet``. The text is deterministic: the same run gives
the same draft. It is a draft: the analyst checks it and adds what only they know.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from engine.errors import InputError
from engine.score import LINK_ID

if TYPE_CHECKING:
    from engine.api import Run
    from engine.catalog import Catalog

CASH: Final = "CASH"
CITED_TX: Final = 3
"""Tx ids cited per figure before the rest are counted."""
TOP_COUNTERPARTIES: Final = 5

SECTION_TITLES: Final = (
    "Summary",
    "Who",
    "What",
    "When",
    "Where",
    "Why",
    "How",
)


@dataclass(frozen=True)
class _Facts:
    alert: dict[str, Any]
    hits: pl.DataFrame
    evidence: pl.DataFrame
    evidence_tx: pl.DataFrame | None
    subject_tx: pl.DataFrame | None
    account: dict[str, Any] | None
    has_accounts_file: bool
    inputs_problem: str | None
    currency: str
    run_id: str
    alerts_in_run: int
    catalog: Catalog


def draft_narrative(run: Run, alert_id: str, catalog: Catalog | None = None) -> str:
    """The narrative draft of one alert as plain text, one paragraph per section.

    Args:
        run: the finished run.
        alert_id: the alert to describe.
        catalog: typology catalog for titles and sources (default: the shipped one,
            loaded once per process).

    Raises:
        engine.api.UnknownAlertError: no alert has this id.
    """
    return "\n\n".join(
        f"{title.upper()}. {text}" for title, text in narrative_sections(run, alert_id, catalog)
    )


def narrative_sections(
    run: Run, alert_id: str, catalog: Catalog | None = None
) -> list[tuple[str, str]]:
    """The draft as (section title, paragraph) pairs: Summary, Who, What, When, Where,
    Why, How (titles in :data:`SECTION_TITLES`)."""
    facts = _gather(run, alert_id, catalog or shipped_catalog())
    return [
        ("Summary", _summary(facts)),
        ("Who", _who(facts)),
        ("What", _what(facts)),
        ("When", _when(facts)),
        ("Where", _where(facts)),
        ("Why", _why(facts)),
        ("How", _how(facts)),
    ]


# --------------------------------------------------------------------------- facts


@cache
def shipped_catalog() -> Catalog:
    """The shipped typology catalog, loaded once per process (parsing it takes a second)."""
    from engine.catalog import load_catalog

    return load_catalog()


def _gather(run: Run, alert_id: str, catalog: Catalog) -> _Facts:
    alert = run.alert(alert_id)
    hits = run.alert_hits(alert_id)
    evidence = run.alert_evidence(alert_id)
    subject = str(alert["subject_id"])
    evidence_tx = subject_tx = None
    account = None
    has_accounts_file = False
    problem = None
    try:
        # one read of the inputs for the subject's rows and the evidence rows
        evidence_ids = sorted(set(evidence["tx_id"].to_list()))
        rows = run.transactions(subject, tx_ids=evidence_ids)
        evidence_tx = rows.filter(pl.col("tx_id").is_in(evidence_ids))
        subject_tx = rows.filter(
            (pl.col("src_account") == subject) | (pl.col("dst_account") == subject)
        )
        accounts = run.accounts([subject])
        has_accounts_file = accounts is not None
        if accounts is not None and accounts.height:
            account = accounts.row(0, named=True)
    except InputError as exc:
        problem = exc.problem
    alerts_in_run = run.alerts.select(pl.len()).collect().item()
    return _Facts(
        alert=alert,
        hits=hits,
        evidence=evidence,
        evidence_tx=evidence_tx,
        subject_tx=subject_tx,
        account=account,
        has_accounts_file=has_accounts_file,
        inputs_problem=problem,
        currency=str(alert.get("reporting_currency") or run.reporting_currency),
        run_id=str(run.manifest.get("run_id", "")),
        alerts_in_run=int(alerts_in_run),
        catalog=catalog,
    )


# --------------------------------------------------------------------------- sections


def _summary(f: _Facts) -> str:
    a = f.alert
    typologies = ", ".join(a["typology_ids"])
    return (
        f"Alert {a['alert_id']} on account {a['subject_id']} ranks {a['rank']} of "
        f"{f.alerts_in_run} in run {f.run_id} with a risk score of {a['risk_score']:.1f} "
        f"out of 100. It rests on {_plural(a['hit_count'], 'typology hit')} ({typologies}) "
        f"citing {_plural(a['evidence_count'], 'evidence transaction')} for "
        f"{_money(a['amount_total'], f.currency)} between {_day(a['first_activity'])} and "
        f"{_day(a['last_activity'])}. This is a draft written from the engine's output; "
        "the analyst confirms each statement before filing."
    )


def _who(f: _Facts) -> str:
    a = f.alert
    subject = str(a["subject_id"])
    role = (
        f"its likely role is {a['likely_role']} (from its strongest rule hit)"
        if a["likely_role"] != "unknown"
        else "no rule hit names its role"
    )
    parts = [f"The subject is account {subject}; {role}."]
    if f.account is not None:
        acc = f.account
        details = [
            f"customer type {acc['customer_type']}" if acc.get("customer_type") else None,
            f"segment {acc['segment']}" if acc.get("segment") else None,
            f"country {acc['country']}" if acc.get("country") else None,
            f"bank {acc['bank']}" if acc.get("bank") else None,
            f"opened {_day(acc['opened_at'])}" if acc.get("opened_at") else None,
        ]
        known = [d for d in details if d]
        parts.append(
            "The accounts file lists it with " + ", ".join(known) + "."
            if known
            else "The accounts file lists it without customer details."
        )
    elif f.has_accounts_file:
        parts.append("The account is not in the accounts file the run used.")
    elif f.inputs_problem is None:
        parts.append("The run had no accounts file, so customer type and segment are unknown.")
    if f.subject_tx is not None and f.subject_tx.height:
        parts.append(_counterparties(f.subject_tx, subject, f.currency))
    elif f.inputs_problem is not None:
        parts.append(f"Its transactions could not be read back ({f.inputs_problem}).")
    return " ".join(parts)


def _counterparties(rows: pl.DataFrame, subject: str, currency: str) -> str:
    legs = rows.with_columns(
        pl.when(pl.col("src_account") == subject)
        .then(pl.col("dst_account"))
        .otherwise(pl.col("src_account"))
        .alias("counterparty"),
        (pl.col("src_account") == subject).alias("outgoing"),
    )
    top = (
        legs.group_by("counterparty")
        .agg(
            pl.len().alias("n"),
            pl.col("amount_rep").sum().alias("amount"),
            pl.col("outgoing").any().alias("pays"),
            (~pl.col("outgoing")).any().alias("receives"),
            pl.col("tx_id").sort().alias("tx_ids"),
        )
        .sort(["amount", "counterparty"], descending=[True, False])
        .head(TOP_COUNTERPARTIES)
    )
    items = []
    for row in top.iter_rows(named=True):
        direction = (
            "both ways"
            if row["pays"] and row["receives"]
            else ("paid by the subject" if row["pays"] else "paying the subject")
        )
        items.append(
            f"{_party(row['counterparty'])} ({direction}: {_plural(row['n'], 'transaction')}, "
            f"{_money(row['amount'], currency)} {_cite(row['tx_ids'])})"
        )
    total = legs["counterparty"].n_unique()
    return (
        f"Over the run it has {_plural(rows.height, 'transaction')} with "
        f"{_plural(total, 'counterparty', 'counterparties')}; the main ones by amount are "
        + "; ".join(items)
        + "."
    )


def _what(f: _Facts) -> str:
    parts = []
    for typology_id, group in _by_typology(f.hits):
        title, family, severity = _typology_label(f.catalog, typology_id)
        amount = sum((Decimal(str(v)) for v in group["amount_total"]), Decimal(0))
        parts.append(
            f"{typology_id} \u201c{title}\u201d ({family}, severity {severity}): "
            f"{_plural(group.height, 'hit')} covering "
            f"{_plural(int(group['tx_count'].sum()), 'transaction')} and "
            f"{_money(amount, f.currency)} [{_hit_refs(group['hit_id'].to_list())}]."
        )
    return (
        f"The alert combines {_plural(f.hits.height, 'hit')} of "
        f"{_plural(len(parts), 'typology', 'typologies')}. " + " ".join(parts)
    )


def _when(f: _Facts) -> str:
    a = f.alert
    parts = [f"Activity runs from {_moment(a['first_activity'])} to {_moment(a['last_activity'])}."]
    evidence_by_hit = _evidence_by_hit(f.evidence)
    for hit in f.hits.iter_rows(named=True):
        parts.append(
            f"{_moment(hit['window_start'])} to {_moment(hit['window_end'])}: "
            f"{hit['typology_id']}, {_plural(hit['tx_count'], 'transaction')}, "
            f"{_money(hit['amount_total'], f.currency)} [hit {hit['hit_id']}; "
            f"{_cite(evidence_by_hit.get(hit['hit_id'], []), bracket=False)}]."
        )
    return " ".join(parts)


def _where(f: _Facts) -> str:
    rows = f.evidence_tx
    if rows is None:
        return (
            "Channels and places are unknown: the input files could not be read back "
            f"({f.inputs_problem})."
        )
    if rows.height == 0:
        return _no_evidence(f)
    parts = []
    channels = _tally(rows, "channel")
    parts.append(
        "The evidence transactions used "
        + ", ".join(
            f"{name} ({_plural(len(ids), 'transaction')} {_cite(ids)})" for name, ids in channels
        )
        + "."
    )
    cities = _tally(rows, "merchant_city")
    if cities:
        parts.append(
            "Merchant or ATM cities: "
            + ", ".join(f"{name} {_cite(ids)}" for name, ids in cities)
            + "."
        )
    countries = _country_tally(rows)
    if countries:
        parts.append(
            "Countries of the parties: "
            + ", ".join(f"{name} {_cite(ids)}" for name, ids in countries)
            + "."
        )
    banks = _bank_tally(rows)
    if banks:
        parts.append(
            "Institutions: " + ", ".join(f"{name} {_cite(ids)}" for name, ids in banks) + "."
        )
    if not cities and not countries:
        parts.append("The evidence transactions carry no city or country.")
    return " ".join(parts)


def _why(f: _Facts) -> str:
    parts = []
    for typology_id, group in _by_typology(f.hits):
        reasons = "; ".join(
            f"{row['reason']} [hit {row['hit_id']}]" for row in group.iter_rows(named=True)
        )
        sentence = f"{typology_id}: {reasons}."
        references = _references(f.catalog, typology_id)
        if references:
            sentence += " Red-flag sources: " + " ".join(
                f"({i}) {ref}." for i, ref in enumerate(references, start=1)
            )
        parts.append(sentence)
    a = f.alert
    anomaly_hit = "ANOMALY" in f.hits["typology_id"].to_list()
    if a.get("anomaly_score") and a.get("anomaly_explanation") and not anomaly_hit:
        parts.append(
            f"The anomaly detectors also score the account {a['anomaly_score']:.2f}: "
            f"{a['anomaly_explanation']}."
        )
    return " ".join(parts)


def _how(f: _Facts) -> str:
    rows = f.evidence_tx
    if rows is None:
        return (
            "The flow of funds cannot be traced: the input files could not be read back "
            f"({f.inputs_problem})."
        )
    if rows.height == 0:
        return _no_evidence(f)
    subject = str(f.alert["subject_id"])
    incoming = rows.filter(pl.col("dst_account") == subject)
    outgoing = rows.filter(pl.col("src_account") == subject)
    others = rows.filter((pl.col("dst_account") != subject) & (pl.col("src_account") != subject))
    parts = []
    if incoming.height:
        parts.append(
            f"Money in: {_money(incoming['amount_rep'].sum(), f.currency)} in "
            f"{_plural(incoming.height, 'transaction')}: "
            + "; ".join(_flows(incoming, "src_account", "from", f.currency))
            + "."
        )
    else:
        parts.append("The evidence holds no money coming into the subject.")
    if outgoing.height:
        parts.append(
            f"Money out: {_money(outgoing['amount_rep'].sum(), f.currency)} in "
            f"{_plural(outgoing.height, 'transaction')}: "
            + "; ".join(_flows(outgoing, "dst_account", "to", f.currency))
            + "."
        )
    else:
        parts.append("The evidence holds no money leaving the subject.")
    if others.height:
        pairs = (
            others.group_by("src_account", "dst_account")
            .agg(
                pl.len().alias("n"),
                pl.col("amount_rep").sum().alias("amount"),
                pl.col("tx_id").sort().alias("tx_ids"),
                pl.col("timestamp").min().alias("first"),
            )
            .sort("first", "src_account", "dst_account")
        )
        parts.append(
            "Further along the chain: "
            + "; ".join(
                f"{_party(r['src_account'])} to {_party(r['dst_account'])}, "
                f"{_money(r['amount'], f.currency)} {_cite(r['tx_ids'])}"
                for r in pairs.iter_rows(named=True)
            )
            + "."
        )
    order = rows.sort("timestamp", "tx_id")
    first, last = order.row(0, named=True), order.row(-1, named=True)
    parts.append(
        f"In time order the evidence runs from {first['tx_id']} on {_moment(first['timestamp'])} "
        f"to {last['tx_id']} on {_moment(last['timestamp'])}."
    )
    return " ".join(parts)


# --------------------------------------------------------------------------- helpers


def _no_evidence(f: _Facts) -> str:
    if f.evidence.height == 0:
        return (
            "The alert cites no evidence transactions: it rests on the anomaly detectors, "
            "which score the account's behaviour as a whole (see Who for its counterparties)."
        )
    return "None of the evidence transactions could be read back from the input files."


def _flows(rows: pl.DataFrame, side: str, word: str, currency: str) -> list[str]:
    grouped = (
        rows.group_by(side, "channel")
        .agg(
            pl.len().alias("n"),
            pl.col("amount_rep").sum().alias("amount"),
            pl.col("tx_id").sort().alias("tx_ids"),
            pl.col("timestamp").min().alias("first"),
        )
        .sort("first", side, "channel")
    )
    return [
        f"{_money(r['amount'], currency)} {word} {_party(r[side])} by {r['channel']} "
        f"({_plural(r['n'], 'transaction')}) {_cite(r['tx_ids'])}"
        for r in grouped.iter_rows(named=True)
    ]


def _by_typology(hits: pl.DataFrame) -> list[tuple[str, pl.DataFrame]]:
    """Hits grouped by typology, typologies in the order of their first hit."""
    order: list[str] = list(dict.fromkeys(hits["typology_id"].to_list()))
    return [(t, hits.filter(pl.col("typology_id") == t)) for t in order]


def _typology_label(catalog: Catalog, typology_id: str) -> tuple[str, str, str]:
    if typology_id == "ANOMALY":
        return (
            "Unusual account behaviour for its peer group (anomaly detectors)",
            "ANOMALY",
            "medium",
        )
    if typology_id == LINK_ID:
        return (
            "Moves most of its money with an account that shows indicators (money-flow link)",
            LINK_ID,
            "by score",
        )
    try:
        t = catalog.get(typology_id)
    except InputError:
        return typology_id, "unknown family", "unknown"
    return t.title, t.family, t.severity


def _references(catalog: Catalog, typology_id: str) -> list[str]:
    try:
        t = catalog.get(typology_id)
    except InputError:
        return []
    return [
        f"{r.document}"
        + (f", {r.indicator}" if r.indicator else "")
        + ("" if r.verified else " (unverified)")
        for r in t.references
    ]


def _evidence_by_hit(evidence: pl.DataFrame) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for hit_id, tx_id in evidence.select("hit_id", "tx_id").iter_rows():
        grouped.setdefault(str(hit_id), []).append(str(tx_id))
    return {k: sorted(v) for k, v in grouped.items()}


def _tally(rows: pl.DataFrame, column: str) -> list[tuple[str, list[str]]]:
    """Distinct values of ``column`` with their tx ids, most frequent first."""
    present = rows.filter(pl.col(column).is_not_null())
    grouped = (
        present.group_by(column)
        .agg(pl.col("tx_id").sort().alias("tx_ids"), pl.len().alias("n"))
        .sort(["n", column], descending=[True, False])
    )
    return [(str(r[column]), list(r["tx_ids"])) for r in grouped.iter_rows(named=True)]


def _country_tally(rows: pl.DataFrame) -> list[tuple[str, list[str]]]:
    legs = pl.concat(
        [
            rows.select(pl.col("src_country").alias("country"), "tx_id"),
            rows.select(pl.col("dst_country").alias("country"), "tx_id"),
        ]
    ).unique()
    return _tally(legs, "country")


def _bank_tally(rows: pl.DataFrame) -> list[tuple[str, list[str]]]:
    legs = pl.concat(
        [
            rows.select(pl.col("src_bank").alias("bank"), "tx_id"),
            rows.select(pl.col("dst_bank").alias("bank"), "tx_id"),
        ]
    ).unique()
    return _tally(legs, "bank")


def _hit_refs(hit_ids: Sequence[str]) -> str:
    return ", ".join(f"hit {h}" for h in hit_ids)


def _cite(tx_ids: Iterable[Any], bracket: bool = True) -> str:
    ids = sorted(dict.fromkeys(str(t) for t in tx_ids))
    shown = ", ".join(ids[:CITED_TX])
    if len(ids) > CITED_TX:
        shown += f" and {len(ids) - CITED_TX} more"
    text = f"tx {shown}" if ids else "no tx"
    return f"[{text}]" if bracket else text


def _party(account: str) -> str:
    return "cash" if account == CASH else f"account {account}"


def _money(value: Any, currency: str) -> str:
    amount = Decimal(str(value)) if value is not None else Decimal(0)
    return f"{amount:,.2f} {currency}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value is not None else "an unknown date"


def _moment(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "an unknown time"
