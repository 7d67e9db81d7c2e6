"""Case report: a static, self-contained HTML folder for one scan run.

``index.html`` shows the run (inputs, rejects, typologies, identity), charts of the alerts
and the whole alert queue as an inline JSON array that a small script sorts, filters and
pages. ``alerts/<alert_id>.html`` is one page per top-N alert: summary, narrative draft,
reasons, a timeline of the subject's transactions, the network of its counterparties,
the evidence, the anomaly against the peer median, the typologies' runbooks and the
alerts it shares evidence or counterparties with.

Charts are Vega-Lite specs rendered offline to inline SVG by vl-convert (no chart script
in the pages); the network layout is networkx's spring layout with a fixed seed. Nothing
in a page requests anything from outside it, so the folder opens from a file:// URL.
The same run gives the same bytes: no timestamps other than the run's own.

Example:
    >>> from pathlib import Path
    >>> write_report(Path("out"), Path("out/report"), top=200)  # doctest: +SKIP
    PosixPath('out/report/index.html')
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import polars as pl

from engine.catalog import Catalog, Typology, load_catalog
from engine.errors import CatalogError
from engine.score import LINK_ID

if TYPE_CHECKING:
    from engine.api import Run

DEFAULT_TOP: Final = 200
"""Alert pages written by default (the rest of the queue is in the index table only)."""

ROLE_COLOURS: Final[Mapping[str, str]] = {
    "controller": "#b2182b",
    "collector": "#e08214",
    "mule": "#8073ac",
    "victim": "#1b7837",
    "business": "#2166ac",
    "unknown": "#5e5e5e",
    "not alerted": "#c7c7c7",
}
"""Node colour per likely role; accounts without an alert are grey."""

FAMILY_TITLES: Final[Mapping[str, str]] = {
    "SEX": "Sexual exploitation",
    "CTRL": "Control of accounts",
    "LAB": "Labour exploitation",
    "PROP": "Property and lodging",
    "XB": "Cross-border",
    "PAY": "Payments to exploiters",
    "LIFE": "Victim's life pattern",
    "BIZ": "Front businesses",
    "STR": "Structuring",
    "FLOW": "Pass-through flows",
    "GRAPH": "Network shapes",
    "ANOMALY": "Anomaly against peers",
    LINK_ID: "Linked by money flows",
}

FAMILY_COLOURS: Final[Mapping[str, str]] = {
    "SEX": "#4e79a7",
    "CTRL": "#f28e2b",
    "LAB": "#e15759",
    "PROP": "#76b7b2",
    "XB": "#59a14f",
    "PAY": "#edc948",
    "LIFE": "#b07aa1",
    "BIZ": "#ff9da7",
    "STR": "#9c755f",
    "FLOW": "#17becf",
    "GRAPH": "#3d5a80",
    "ANOMALY": "#8c8c8c",
    LINK_ID: "#6b4c9a",
}
"""Bar colour per family on the index charts (other families: grey)."""

ANOMALY_TYPOLOGY: Final = "ANOMALY"
"""Typology id of the detectors' hits (not in the catalog)."""

PSEUDO_TYPOLOGIES: Final[Mapping[str, tuple[str, str]]] = {
    ANOMALY_TYPOLOGY: (
        "Anomaly against the peer group (detectors)",
        "Compare the features named in the anomaly explanation with the account's declared "
        "activity and its peer group; an anomaly alone is a lead, not an indicator.",
    ),
    LINK_ID: (
        "Linked by money flows to another account's evidence (score stage)",
        "Open the linked account named in the reason: review its indicators and the "
        "transfers between the two accounts (the evidence below), and ask who controls the "
        "money. A link is evidence about the account's company, not its own behaviour.",
    ),
}
"""Title and runbook of the hit kinds the score stage and detectors raise (no YAML)."""

MAX_NETWORK_EDGES: Final = 120
"""Edges drawn per network picture (see ``trim_edges``)."""

MAX_EDGES_PER_COUNTERPARTY: Final = 6
"""Flows off the evidence drawn per counterparty at the second hop."""

MAX_EVIDENCE_ROWS: Final = 400
"""Evidence rows listed per alert page (the count of the rest is shown)."""

MAX_TIMELINE_POINTS: Final = 2000
"""Transactions drawn per timeline: every evidence one, then the largest by amount."""

_QUEUE_COLUMNS: Final = (
    "rank",
    "alert_id",
    "subject_id",
    "risk_score",
    "likely_role",
    "families",
    "typology_ids",
    "hit_count",
    "amount_total",
    "evidence_count",
    "first_activity",
    "last_activity",
    "page",
)

_SECTION_HEAD = re.compile(r"^(?P<head>[A-Z][A-Z ]{1,30})\.\s+")
_EXPLANATION_PART = re.compile(r"^(?P<label>.*) (?P<value>\S+) vs peer median (?P<median>\S+)$")
_MARK_ARIA = re.compile(r' aria-label="[^"]*" role="graphics-symbol" aria-roledescription="[^"]*"')
_GEOMETRY = re.compile(r'\b(?:transform|d|x|y|x2|y2|width|height|stroke-width)="[^"]*"')
_LONG_DECIMAL = re.compile(r"(\d\.\d\d)\d+")
_VEGA_BASE_HREF = re.compile(r'xlink:href="https?://[^"]*?/(?P<page>[0-9A-Za-z_.-]+\.html)"')


def write_report(run_dir: Path, out_dir: Path | None = None, top: int = DEFAULT_TOP) -> Path:
    """Write the HTML report of the run in ``run_dir`` to ``out_dir`` (default
    ``run_dir/report``); returns the path of ``index.html``.

    Pages are written for the ``top`` alerts by rank; every alert is in the index table.
    """
    from engine.api import open_run

    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "report"
    # the run keeps a DuckDB connection over its inputs while the pages' data is read
    with open_run(run_dir) as run:
        data = gather(run, max(top, 0))
    env = _environment()
    pages = out / "alerts"
    if pages.exists():
        shutil.rmtree(pages)
    pages.mkdir(parents=True)
    for position, case in enumerate(data.cases):
        previous = data.cases[position - 1].alert_id if position else None
        following = data.cases[position + 1].alert_id if position + 1 < len(data.cases) else None
        html = env.get_template("alert.html.j2").render(
            run=data.run_summary,
            case=case,
            previous=previous,
            following=following,
            role_colours=ROLE_COLOURS,
        )
        (pages / f"{case.alert_id}.html").write_text(html, encoding="utf-8")
    index = out / "index.html"
    index.write_text(
        env.get_template("index.html.j2").render(
            run=data.run_summary,
            charts=data.charts,
            queue_json=_script_json({"columns": _QUEUE_COLUMNS, "rows": data.queue}),
            filters=data.filters,
            top=len(data.cases),
            total=len(data.queue),
        ),
        encoding="utf-8",
    )
    return index


@dataclass
class Case:
    """Everything one alert page shows."""

    alert_id: str
    rank: int
    subject_id: str
    risk_score: float
    likely_role: str
    families: list[str]
    typology_ids: list[str]
    hit_count: int
    amount_total: float
    currency: str
    evidence_count: int
    first_activity: str
    last_activity: str
    anomaly_score: float
    reasons: list[str]
    narrative: list[tuple[str, str]]
    anomaly: list[dict[str, str]]
    anomaly_text: str
    typologies: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    evidence_hidden: int
    timeline_svg: str
    timeline_note: str
    network_svg: str
    network_note: str
    network_nodes: list[dict[str, Any]]
    related: list[dict[str, Any]] = field(default_factory=list)


class PrefetchedRun:
    """A run whose per-alert look-ups (those the narrative draft makes) are answered from
    frames read once for all the report's alerts; anything else goes to the run itself.

    The answers are the run's own: the same rows, columns and order as ``Run.alert``,
    ``alert_hits``, ``alert_evidence``, ``evidence_transactions``, ``transactions`` (of one
    prefetched subject, with evidence rows by id) and ``accounts``, so the draft does not
    read the inputs again for each of the top-N alerts. A call it cannot answer from
    those frames goes to the run.
    """

    def __init__(
        self,
        run: Any,
        alerts: pl.DataFrame,
        hits: pl.DataFrame,
        evidence: pl.DataFrame,
        subject_tx: Mapping[str, pl.DataFrame],
        evidence_tx: pl.DataFrame,
        accounts: pl.DataFrame | None,
    ) -> None:
        self._run = run
        self._alerts = alerts
        self._alert_rows = {row["alert_id"]: row for row in alerts.iter_rows(named=True)}
        self._hits = _split(hits.sort("window_start", "typology_id", "hit_id"), "alert_id")
        self._hits_schema = hits.clear()
        self._evidence = _split(evidence.sort("typology_id", "hit_id", "tx_id"), "alert_id")
        self._evidence_schema = evidence.clear()
        self._subject_tx = subject_tx
        self._evidence_tx = evidence_tx
        self._accounts = accounts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    @property
    def alerts(self) -> pl.LazyFrame:
        return self._alerts.lazy()

    def alert(self, alert_id: str) -> dict[str, Any]:
        row = self._alert_rows.get(alert_id)
        return dict(row) if row is not None else cast(dict[str, Any], self._run.alert(alert_id))

    def alert_hits(self, alert_id: str) -> pl.DataFrame:
        self.alert(alert_id)
        return self._hits.get(alert_id, self._hits_schema)

    def alert_evidence(self, alert_id: str) -> pl.DataFrame:
        self.alert(alert_id)
        return self._evidence.get(alert_id, self._evidence_schema)

    def evidence_transactions(self, alert_id: str) -> pl.DataFrame:
        tx_ids = self.alert_evidence(alert_id)["tx_id"].unique().sort()
        return self._evidence_tx.filter(pl.col("tx_id").is_in(tx_ids.implode()))

    def transactions(self, account_id: str | Sequence[str], **options: Any) -> pl.DataFrame:
        wanted = set(options.pop("tx_ids", ()))
        own = self._subject_tx.get(account_id) if isinstance(account_id, str) else None
        known = set(self._evidence_tx["tx_id"].to_list())
        if own is None or options or not wanted <= known | set(own["tx_id"].to_list()):
            if wanted:
                options["tx_ids"] = sorted(wanted)
            return cast(pl.DataFrame, self._run.transactions(account_id, **options))
        if not wanted:
            return own
        extra = self._evidence_tx.filter(pl.col("tx_id").is_in(sorted(wanted)))
        return (
            pl.concat([own, extra.select(own.columns)])
            .unique("tx_id", keep="first", maintain_order=True)
            .sort("timestamp", "tx_id")
        )

    def accounts(self, account_ids: Sequence[str] | None = None) -> pl.DataFrame | None:
        if self._accounts is None or account_ids is None:
            return cast("pl.DataFrame | None", self._run.accounts(account_ids))
        return self._accounts.filter(pl.col("account_id").is_in(list(account_ids)))


@dataclass
class ReportData:
    run_summary: dict[str, Any]
    charts: dict[str, str]
    queue: list[list[Any]]
    filters: dict[str, list[str]]
    cases: list[Case]


def gather(run: Any, top: int) -> ReportData:
    """Read the run once and build every page's content.

    Each table is read in one query for all top-N alerts (alerts, hits, evidence, the
    subjects' transactions); the per-alert work is in memory.
    """
    from engine.narrative import draft_narrative

    catalog = _catalog()
    alerts = run.alerts.sort("rank").collect()
    top_alerts = alerts.head(top)
    top_ids = top_alerts["alert_id"].to_list()
    paged = set(top_ids)
    by_alert = _alert_refs(alerts, paged)
    by_subject: dict[str, AlertRef] = {}
    for account, ref in by_alert.values():
        # alerts come in rank order: an account's best alert wins
        by_subject.setdefault(account, ref)

    hits = run.hits.filter(pl.col("alert_id").is_in(top_ids)).collect()
    evidence_all = run.evidence.collect()
    evidence = evidence_all.filter(pl.col("alert_id").is_in(top_ids))
    edges = run.networks(top_ids, hops=2) if top_ids else pl.DataFrame()
    networks = _split(edges, "alert_id", drop=True) if not edges.is_empty() else {}
    subjects = top_alerts["subject_id"].unique().sort().to_list()
    subject_tx = _transactions_by_account(
        run.transactions(subjects) if subjects else _empty_tx(), set(subjects)
    )
    evidence_ids = evidence["tx_id"].unique().sort().to_list()
    evidence_tx = run.transactions_by_id(evidence_ids) if evidence_ids else _empty_tx()
    tx_by_id = {row["tx_id"]: row for row in evidence_tx.iter_rows(named=True)}
    shared = _shared_evidence(evidence_all, top_ids)
    prefetched = PrefetchedRun(
        run,
        alerts,
        hits,
        evidence,
        subject_tx,
        evidence_tx,
        run.accounts(subjects) if subjects else None,
    )

    hits_by_alert: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in hits.sort("alert_id", "typology_id", "window_start", "hit_id").iter_rows(named=True):
        hits_by_alert[row["alert_id"]].append(row)
    evidence_by_alert: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in evidence.sort("alert_id", "tx_id", "typology_id").iter_rows(named=True):
        evidence_by_alert[row["alert_id"]].append(row)

    cases = []
    for alert in top_alerts.iter_rows(named=True):
        alert_id = alert["alert_id"]
        subject = alert["subject_id"]
        ev_rows = evidence_by_alert.get(alert_id, [])
        ev_ids = {r["tx_id"] for r in ev_rows}
        own_tx = subject_tx.get(subject, _empty_tx())
        timeline_svg, timeline_note = timeline_chart(
            own_tx,
            subject,
            ev_ids,
            (_iso(alert["first_activity"]), _iso(alert["last_activity"])),
            alert["reporting_currency"],
        )
        network_svg, network_note, nodes = network_chart(
            networks.get(alert_id, _EMPTY_EDGES), subject, by_subject
        )
        evidence_rows = _evidence_rows(ev_rows, tx_by_id, subject)
        cases.append(
            Case(
                alert_id=alert_id,
                rank=int(alert["rank"]),
                subject_id=subject,
                risk_score=float(alert["risk_score"]),
                likely_role=alert["likely_role"],
                families=list(alert["families"]),
                typology_ids=list(alert["typology_ids"]),
                hit_count=int(alert["hit_count"]),
                amount_total=float(alert["amount_total"]),
                currency=alert["reporting_currency"],
                evidence_count=int(alert["evidence_count"]),
                first_activity=_ts(alert["first_activity"]),
                last_activity=_ts(alert["last_activity"]),
                anomaly_score=float(alert["anomaly_score"]),
                reasons=list(alert["reasons"]),
                narrative=_paragraphs(draft_narrative(cast("Run", prefetched), alert_id)),
                anomaly=parse_explanation(alert["anomaly_explanation"]),
                anomaly_text=alert["anomaly_explanation"],
                typologies=_typology_sections(
                    alert["typology_ids"], hits_by_alert.get(alert_id, []), catalog
                ),
                evidence=evidence_rows[:MAX_EVIDENCE_ROWS],
                evidence_hidden=max(len(evidence_rows) - MAX_EVIDENCE_ROWS, 0),
                timeline_svg=timeline_svg,
                timeline_note=timeline_note,
                network_svg=network_svg,
                network_note=network_note,
                network_nodes=nodes,
                related=_related(
                    alert_id, subject, shared.get(alert_id, {}), nodes, by_subject, by_alert
                ),
            )
        )
    return ReportData(
        run_summary=run_summary(run.manifest, catalog),
        charts=index_charts(alerts),
        queue=queue_rows(alerts, paged),
        filters=_filters(alerts),
        cases=cases,
    )


# --- index -----------------------------------------------------------------------------


def run_summary(manifest: Mapping[str, Any], catalog: Catalog | None) -> dict[str, Any]:
    """The run's identity, inputs, row accounting, rejects and typologies, for display."""
    titles = {t.id: t.title for t in catalog.typologies} if catalog else {}
    accounting = manifest.get("row_accounting", {})
    rejects = sorted(
        accounting.get("rejects_by_reason", {}).items(), key=lambda kv: (-int(kv[1]), kv[0])
    )
    typologies = sorted(
        (
            {
                "id": t["id"],
                "title": titles.get(t["id"], ""),
                "version": t.get("version"),
                "hits": int(t.get("hits", 0)),
                "seconds": float(t.get("seconds", 0.0)),
            }
            for t in manifest.get("typologies", [])
        ),
        key=lambda t: (-t["hits"], t["id"]),
    )
    engine = manifest.get("engine", {})
    return {
        "run_id": manifest.get("run_id", ""),
        "engine": f"{engine.get('name', 'iff-engine')} {engine.get('version', '')}".strip(),
        "input_format": manifest.get("input_format", ""),
        "mapping": manifest.get("mapping", ""),
        "latest_allowed_timestamp": manifest.get("latest_allowed_timestamp", ""),
        "inputs": [
            {
                "name": Path(str(i.get("path", ""))).name,
                "path": str(i.get("path", "")),
                "content": i.get("content", ""),
                "rows_read": int(i.get("rows_read", 0)),
                "rows_accepted": int(i.get("rows_accepted", 0)),
                "rows_rejected": int(i.get("rows_rejected", 0)),
                "sha256": str(i.get("sha256", "")),
            }
            for i in manifest.get("inputs", [])
        ],
        "accounting": {
            "rows_read": int(accounting.get("rows_read", 0)),
            "rows_accepted": int(accounting.get("rows_accepted", 0)),
            "rows_rejected": int(accounting.get("rows_rejected", 0)),
            "balanced": bool(accounting.get("balanced", False)),
        },
        "rejects": rejects,
        "typologies": typologies,
        "accounts": manifest.get("accounts"),
        "alerts": manifest.get("alerts"),
        "anomaly": manifest.get("anomaly"),
        "timings": sorted((manifest.get("timings_seconds") or {}).items()),
        "config_json": json.dumps(manifest.get("config", {}), indent=2, sort_keys=True),
    }


def queue_rows(alerts: pl.DataFrame, paged: set[str]) -> list[list[Any]]:
    """One compact row per alert, in ``_QUEUE_COLUMNS`` order, for the index table."""
    frame = alerts.select(
        pl.col("rank"),
        pl.col("alert_id"),
        pl.col("subject_id"),
        pl.col("risk_score").round(2),
        pl.col("likely_role"),
        pl.col("families").list.join(" "),
        pl.col("typology_ids").list.join(" "),
        pl.col("hit_count"),
        pl.col("amount_total").cast(pl.Float64).round(2),
        pl.col("evidence_count"),
        pl.col("first_activity").dt.strftime("%Y-%m-%d"),
        pl.col("last_activity").dt.strftime("%Y-%m-%d"),
        pl.col("alert_id").is_in(sorted(paged)).cast(pl.Int8).alias("page"),
    )
    return [list(row) for row in frame.iter_rows()]


def _filters(alerts: pl.DataFrame) -> dict[str, list[str]]:
    def values(column: str) -> list[str]:
        return sorted(alerts.select(pl.col(column).explode().unique().drop_nulls())[column])

    roles = sorted(alerts["likely_role"].unique().to_list())
    return {
        "families": values("families"),
        "typologies": values("typology_ids"),
        "roles": roles,
    }


def index_charts(alerts: pl.DataFrame) -> dict[str, str]:
    """Alerts by typology and by family, risk-score distribution, alerts over time (SVG)."""
    if alerts.is_empty():
        return {}
    by_typology = (
        alerts.select(pl.col("typology_ids").explode().alias("typology"))
        .group_by("typology")
        .len("alerts")
        .with_columns(pl.col("typology").str.split("-").list.first().alias("family"))
        .sort(["alerts", "typology"], descending=[True, False])
    )
    by_family = (
        alerts.select(pl.col("families").explode().alias("family"))
        .group_by("family")
        .len("alerts")
        .sort(["alerts", "family"], descending=[True, False])
    )
    scores = (
        alerts.select((pl.col("risk_score") // 2 * 2).clip(0, 98).alias("bin_start"))
        .group_by("bin_start")
        .len("alerts")
        .with_columns((pl.col("bin_start") + 2).alias("bin_end"))
        .sort("bin_start")
    )
    over_time = (
        alerts.select(pl.col("first_activity").dt.truncate("1w").alias("week"), "likely_role")
        .group_by("week", "likely_role")
        .len("alerts")
        .sort("week", "likely_role")
    )
    # a week before the first and after the last, so one busy week is not the whole axis
    first_week = cast(datetime, over_time["week"].min())
    last_week = cast(datetime, over_time["week"].max())
    weeks = (
        (first_week - timedelta(days=7)).strftime("%Y-%m-%d"),
        (last_week + timedelta(days=14)).strftime("%Y-%m-%d"),
    )
    over_time = over_time.with_columns(
        (pl.col("week") + pl.duration(days=7)).dt.strftime("%Y-%m-%d").alias("week_end"),
        pl.col("week").dt.strftime("%Y-%m-%d"),
    )
    counts = {"tickMinStep": 1, "format": "d"}
    family_domain = sorted(by_family["family"].to_list())
    family_scale = {
        "domain": family_domain,
        "range": [FAMILY_COLOURS.get(f, "#bab0ac") for f in family_domain],
    }
    bar_height = max(len(by_typology) * 16, 60)
    return {
        "by_typology": _count_bars(
            by_typology.to_dicts(),
            "typology",
            {"type": "bar", "tooltip": True},
            (380, bar_height),
            "Alerts by typology",
            family_scale,
            counts,
        ),
        "by_family": _count_bars(
            by_family.to_dicts(),
            "family",
            "bar",
            (320, max(len(by_family) * 22, 60)),
            "Alerts by family",
            family_scale,
            counts,
        ),
        "scores": render_svg(
            {
                "data": {"values": scores.to_dicts()},
                "mark": "bar",
                "width": 320,
                "height": 180,
                "encoding": {
                    "x": {
                        "field": "bin_start",
                        "type": "quantitative",
                        "bin": {"binned": True, "step": 2},
                        "scale": {"domain": [0, 100]},
                        "title": "risk score",
                    },
                    "x2": {"field": "bin_end"},
                    "y": {
                        "field": "alerts",
                        "type": "quantitative",
                        "title": "alerts",
                        "axis": counts,
                    },
                    "color": {"value": "#4c78a8"},
                },
                "title": "Risk-score distribution",
            }
        ),
        "over_time": render_svg(
            {
                "data": {"values": over_time.to_dicts()},
                "mark": "bar",
                "width": 700,
                "height": 180,
                "encoding": {
                    "x": {
                        "field": "week",
                        "type": "temporal",
                        "bin": "binned",
                        "scale": {"domain": list(weeks)},
                        "title": "week of first activity",
                    },
                    "x2": {"field": "week_end"},
                    "y": {
                        "field": "alerts",
                        "type": "quantitative",
                        "stack": True,
                        "axis": counts,
                    },
                    "color": {
                        "field": "likely_role",
                        "type": "nominal",
                        "title": "likely role",
                        "scale": _role_scale(over_time["likely_role"].unique().to_list()),
                    },
                },
                "title": "Alerts over time (by first activity)",
            }
        ),
    }


# --- alert pages -----------------------------------------------------------------------


def timeline_chart(
    tx: pl.DataFrame,
    subject: str,
    evidence_ids: set[str],
    window: tuple[str, str],
    currency: str,
) -> tuple[str, str]:
    """The subject's transactions across the scan, evidence marked and the alert's
    activity window shaded; (svg, note)."""
    if tx.is_empty():
        return "", "No transactions of this account were found in the run's inputs."
    frame = tx.select(
        pl.col("tx_id"),
        pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S").alias("time"),
        pl.col("amount_rep").cast(pl.Float64).alias("amount"),
        pl.when(pl.col("dst_account") == subject)
        .then(pl.lit("money in"))
        .otherwise(pl.lit("money out"))
        .alias("direction"),
        pl.col("tx_id").is_in(sorted(evidence_ids)).alias("is_evidence"),
    ).with_columns(
        pl.when(pl.col("is_evidence"))
        .then(pl.lit("evidence"))
        .otherwise(pl.lit("other"))
        .alias("kind")
    )
    total = frame.height
    if total > MAX_TIMELINE_POINTS:
        frame = frame.sort(["is_evidence", "amount", "tx_id"], descending=[True, True, False]).head(
            MAX_TIMELINE_POINTS
        )
    # evidence last so its marks are drawn on top
    frame = frame.sort("is_evidence", "time", "tx_id")
    n_evidence = int(frame["is_evidence"].sum())
    note = f"{total:,} transactions of {subject}, {n_evidence:,} of them evidence of this alert."
    if total > MAX_TIMELINE_POINTS:
        note += f" The {MAX_TIMELINE_POINTS:,} drawn are the evidence and the largest others."
    points = {
        "data": {"values": frame.drop("is_evidence", "tx_id").to_dicts()},
        "mark": {"type": "point", "filled": True},
        "encoding": {
            "x": {
                "field": "time",
                "type": "temporal",
                "title": None,
                "axis": {"format": "%Y-%m-%d", "labelAngle": 0, "tickCount": 8},
            },
            "y": {
                "field": "amount",
                "type": "quantitative",
                "scale": {"type": "log"},
                "axis": {"format": "~s", "tickCount": 6, "grid": False},
                "title": f"amount, {currency} (log scale)",
            },
            "color": {
                "field": "direction",
                "type": "nominal",
                "title": None,
                "scale": {"domain": ["money in", "money out"], "range": ["#1a9850", "#d73027"]},
            },
            "shape": {
                "field": "kind",
                "type": "nominal",
                "title": None,
                "scale": {"domain": ["evidence", "other"], "range": ["diamond", "circle"]},
            },
            "size": {
                "field": "kind",
                "type": "nominal",
                "title": None,
                "scale": {"domain": ["evidence", "other"], "range": [110, 14]},
            },
            "opacity": {
                "field": "kind",
                "type": "nominal",
                "title": None,
                "scale": {"domain": ["evidence", "other"], "range": [0.95, 0.35]},
            },
            "stroke": {
                "condition": {"test": "datum.kind === 'evidence'", "value": "#111111"},
                "value": None,
            },
            "strokeWidth": {"value": 0.8},
        },
    }
    band = {
        "data": {"values": [{"start": window[0], "end": window[1]}]},
        "mark": {"type": "rect", "color": "#fff2c2", "opacity": 0.8},
        "encoding": {
            "x": {"field": "start", "type": "temporal"},
            "x2": {"field": "end"},
        },
    }
    spec = {"width": 860, "height": 230, "layer": [band, points]}
    return render_svg(spec), note


@dataclass(frozen=True)
class AlertRef:
    """The alert of one account, for marking and linking it in other pages."""

    alert_id: str
    rank: int
    role: str
    score: float
    has_page: bool


def network_chart(
    edges: pl.DataFrame, subject: str, by_subject: Mapping[str, AlertRef]
) -> tuple[str, str, list[dict[str, Any]]]:
    """Counterparties up to two hops along the evidence; (svg, note, nodes).

    Arrows point the way the money went, line width grows with the amount, node colour is
    the account's likely role (grey when it has no alert); alerted accounts are outlined
    and link to their pages.
    """
    import networkx as nx

    if edges.is_empty():
        return "", "No counterparties of this alert were found.", []
    total = edges.height
    kept = trim_edges(edges, subject).sort("src_account", "dst_account")
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_node(subject)
    for row in kept.iter_rows(named=True):
        graph.add_edge(row["src_account"], row["dst_account"])
    names = sorted(graph.nodes)
    ordered: nx.DiGraph[str] = nx.DiGraph()
    ordered.add_nodes_from(names)
    ordered.add_edges_from(sorted(graph.edges))
    k = 2.0 / math.sqrt(max(len(names), 1))
    layout = nx.spring_layout(
        ordered.to_undirected(as_view=False), seed=7, k=k, iterations=60, center=(0, 0)
    )
    pos = {n: (float(layout[n][0]), float(layout[n][1])) for n in names}
    pos = _normalise(pos)
    node_radius = 0.07

    edge_rows = []
    arrow_rows = []
    for row in kept.iter_rows(named=True):
        src, dst = row["src_account"], row["dst_account"]
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        reverse = graph.has_edge(dst, src)
        # two-way pairs: shift each direction sideways so both lines show
        off = 0.018 if reverse else 0.0
        ox, oy = -dy / length * off, dx / length * off
        amount = round(float(row["amount_total"]), 2)
        edge_rows.append(
            {
                "x": round(x1 + ox, 4),
                "y": round(y1 + oy, 4),
                "x2": round(x2 + ox, 4),
                "y2": round(y2 + oy, 4),
                "amount": amount,
                "evidence": bool(row["on_evidence"]),
            }
        )
        # the arrowhead sits past the middle of the line, clear of both nodes
        t = min(0.62, max(0.0, 1.0 - 2 * node_radius / length))
        arrow_rows.append(
            {
                "x": round(x1 + dx * t + ox, 4),
                "y": round(y1 + dy * t + oy, 4),
                "angle": round(math.degrees(math.atan2(dx, dy)) % 360, 1),
                "amount": amount,
                "evidence": bool(row["on_evidence"]),
            }
        )
    degree = dict(graph.degree())
    label_all = len(names) <= 40
    node_rows: list[dict[str, Any]] = []
    for name in names:
        ref = by_subject.get(name)
        kind = "subject" if name == subject else ("alerted" if ref else "counterparty")
        node_rows.append(
            {
                "account": name,
                "x": round(pos[name][0], 4),
                "y": round(pos[name][1], 4),
                "role": ref.role if ref else "not alerted",
                "kind": kind,
                "label": name if (label_all or kind != "counterparty") else "",
                "href": f"{ref.alert_id}.html"
                if ref and ref.has_page and kind != "subject"
                else "",
                "alert_id": ref.alert_id if ref else "",
                "rank": ref.rank if ref else None,
                "has_page": bool(ref and ref.has_page),
                "degree": degree.get(name, 0),
            }
        )
    roles = [str(r["role"]) for r in node_rows]
    domain = [-1.12, 1.12]
    xy = {
        "x": {"field": "x", "type": "quantitative", "scale": {"domain": domain}, "axis": None},
        "y": {"field": "y", "type": "quantitative", "scale": {"domain": domain}, "axis": None},
    }
    edge_colour = {
        "condition": {"test": "datum.evidence", "value": "#4a4a4a"},
        "value": "#b8b8b8",
    }
    spec = {
        "width": 640,
        "height": 640,
        "config": {"view": {"stroke": None}},
        "resolve": {"scale": {"color": "independent", "size": "independent"}},
        "layer": [
            {
                "data": {"values": edge_rows},
                "mark": {"type": "rule", "strokeCap": "round"},
                "encoding": {
                    **xy,
                    "x2": {"field": "x2"},
                    "y2": {"field": "y2"},
                    "color": edge_colour,
                    "strokeWidth": {
                        "field": "amount",
                        "type": "quantitative",
                        "title": "amount",
                        "scale": {"type": "sqrt", "range": [0.6, 9], "zero": False},
                    },
                },
            },
            {
                "data": {"values": arrow_rows},
                "mark": {"type": "point", "shape": "triangle-up", "filled": True},
                "encoding": {
                    **xy,
                    "angle": {"field": "angle", "type": "quantitative", "scale": None},
                    "color": edge_colour,
                    "opacity": {"value": 1},
                    "size": {
                        "field": "amount",
                        "type": "quantitative",
                        "legend": None,
                        "scale": {"type": "sqrt", "range": [70, 520], "zero": False},
                    },
                },
            },
            {
                "data": {"values": node_rows},
                "mark": {"type": "point", "filled": True, "opacity": 1, "cursor": "pointer"},
                "encoding": {
                    **xy,
                    "color": {
                        "field": "role",
                        "type": "nominal",
                        "title": "likely role",
                        "scale": _role_scale(roles),
                    },
                    "shape": {
                        "field": "kind",
                        "type": "nominal",
                        "title": None,
                        "scale": {
                            "domain": ["subject", "alerted", "counterparty"],
                            "range": ["diamond", "circle", "circle"],
                        },
                        "legend": None,
                    },
                    "size": {
                        "field": "kind",
                        "type": "nominal",
                        "legend": None,
                        "scale": {
                            "domain": ["subject", "alerted", "counterparty"],
                            "range": [620, 300, 130],
                        },
                    },
                    "stroke": {
                        "condition": {
                            "test": "datum.kind !== 'counterparty'",
                            "value": "#111111",
                        },
                        "value": "#ffffff",
                    },
                    "strokeWidth": {
                        "condition": {"test": "datum.kind !== 'counterparty'", "value": 2},
                        "value": 1,
                    },
                    "href": {"field": "href"},
                },
            },
            # labels twice: a white outline first keeps them readable over the lines
            *(
                {
                    "data": {"values": [r for r in node_rows if r["label"]]},
                    "mark": {
                        "type": "text",
                        "dy": -17,
                        "fontSize": 11,
                        "fontWeight": "bold",
                        **halo,
                    },
                    "encoding": {
                        **xy,
                        "text": {"field": "label"},
                        "color": {"value": colour},
                        "href": {"field": "href"},
                    },
                }
                for colour, halo in (
                    ("#ffffff", {"stroke": "#ffffff", "strokeWidth": 4, "strokeJoin": "round"}),
                    ("#1d2327", {}),
                )
            ),
        ],
    }
    note = (
        f"{len(names):,} accounts and {kept.height:,} money flows"
        f" (dark lines carry evidence of this alert)."
    )
    if total > kept.height:
        note += f" {total - kept.height:,} smaller flows off the evidence are not drawn."
    kinds = ("subject", "alerted", "counterparty")
    nodes = sorted(node_rows, key=lambda r: (kinds.index(r["kind"]), -r["degree"], r["account"]))
    return render_svg(spec), note, nodes


def trim_edges(edges: pl.DataFrame, subject: str) -> pl.DataFrame:
    """The edges worth drawing: every evidence edge, the subject's own flows, and at most
    ``MAX_EDGES_PER_COUNTERPARTY`` further flows (the largest) of each counterparty, so
    that one busy shop or employer does not fill the picture; ``MAX_NETWORK_EDGES`` in all.
    """
    frame = edges.with_columns(pl.col("amount_total").cast(pl.Float64)).sort(
        ["amount_total", "src_account", "dst_account"], descending=[True, False, False]
    )
    near = (
        set(frame.filter(pl.col("hop") == 1)["src_account"].to_list())
        | set(frame.filter(pl.col("hop") == 1)["dst_account"].to_list())
        | {subject}
    )
    ranked = frame.with_columns(
        pl.when(pl.col("src_account").is_in(sorted(near)))
        .then(pl.col("src_account"))
        .otherwise(pl.col("dst_account"))
        .alias("_anchor")
    ).with_columns(pl.int_range(pl.len()).over("_anchor").alias("_order"))
    priority = (
        pl.when(pl.col("on_evidence"))
        .then(0)
        .when(pl.col("hop") == 1)
        .then(1)
        .when(pl.col("_order") < MAX_EDGES_PER_COUNTERPARTY)
        .then(2)
        .otherwise(None)
        .alias("_priority")
    )
    return (
        ranked.with_columns(priority)
        .filter(pl.col("_priority").is_not_null())
        .sort(
            ["_priority", "amount_total", "src_account", "dst_account"],
            descending=[False, True, False, False],
        )
        .head(MAX_NETWORK_EDGES)
        .drop("_anchor", "_order", "_priority")
    )


def parse_explanation(text: str) -> list[dict[str, str]]:
    """Split the detectors' explanation ("<label> <value> vs peer median <median>; ...")
    into rows; parts that do not follow that shape are kept whole as the label."""
    rows = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        match = _EXPLANATION_PART.match(part)
        if match:
            rows.append(match.groupdict())
        else:
            rows.append({"label": part, "value": "", "median": ""})
    return rows


def _typology_sections(
    typology_ids: Sequence[str], hits: Sequence[Mapping[str, Any]], catalog: Catalog | None
) -> list[dict[str, Any]]:
    known = {t.id: t for t in catalog.typologies} if catalog else {}
    sections = []
    for typology_id in typology_ids:
        typology: Typology | None = known.get(typology_id)
        own_hits = [
            {
                "window_start": _ts(h["window_start"]),
                "window_end": _ts(h["window_end"]),
                "tx_count": int(h["tx_count"]),
                "amount_total": float(h["amount_total"]),
                "severity": h["severity"],
                "risk_score": float(h["risk_score"]),
                "reason": h["reason"],
                "likely_role": h["likely_role"],
            }
            for h in hits
            if h["typology_id"] == typology_id
        ]
        if typology is None:
            title, runbook = PSEUDO_TYPOLOGIES.get(
                typology_id, ("(not in the installed catalog)", "")
            )
            sections.append(
                {
                    "id": typology_id,
                    "title": title,
                    "family": typology_id.split("-")[0],
                    "severity": own_hits[0]["severity"] if own_hits else "",
                    "description": "",
                    "runbook": runbook,
                    "references": [],
                    "falsepositives": [],
                    "hits": own_hits,
                }
            )
            continue
        sections.append(
            {
                "id": typology.id,
                "title": typology.title,
                "family": typology.family,
                "severity": typology.severity,
                "description": typology.description.strip(),
                "runbook": typology.runbook.strip(),
                "references": [
                    {
                        "document": r.document,
                        "indicator": r.indicator or "",
                        "verified": r.verified,
                        "notes": r.notes or "",
                    }
                    for r in typology.references
                ],
                "falsepositives": list(typology.falsepositives),
                "hits": own_hits,
            }
        )
    return sections


def _evidence_rows(
    rows: Sequence[Mapping[str, Any]], tx_by_id: Mapping[str, Mapping[str, Any]], subject: str
) -> list[dict[str, Any]]:
    """Evidence of one alert with the transaction's details, one row per transaction (the
    typologies that cite it listed together), in time order."""
    cited: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in rows:
        cited[r["tx_id"]].append((r["typology_id"], r["why"]))
    out = []
    for tx_id, why in cited.items():
        tx = tx_by_id.get(tx_id)
        direction = ""
        if tx:
            if tx["dst_account"] == subject:
                direction = "in"
            elif tx["src_account"] == subject:
                direction = "out"
        out.append(
            {
                "tx_id": tx_id,
                "timestamp": _ts(tx["timestamp"]) if tx else "",
                "src_account": tx["src_account"] if tx else "",
                "dst_account": tx["dst_account"] if tx else "",
                "amount": float(tx["amount"]) if tx else None,
                "currency": tx["currency"] if tx else "",
                "channel": tx["channel"] if tx else "",
                "direction": direction,
                "why": sorted(why),
            }
        )
    out.sort(key=lambda r: (r["timestamp"], r["tx_id"]))
    return out


def _related(
    alert_id: str,
    subject: str,
    shared: Mapping[str, int],
    nodes: Sequence[Mapping[str, Any]],
    by_subject: Mapping[str, AlertRef],
    by_alert: Mapping[str, tuple[str, AlertRef]],
) -> list[dict[str, Any]]:
    """Other alerts that cite the same transactions or whose subject is in the network."""
    related: dict[str, dict[str, Any]] = {}
    for other, count in shared.items():
        account, ref = by_alert[other]
        related[other] = {
            "alert_id": other,
            "subject_id": account,
            "rank": ref.rank,
            "score": ref.score,
            "role": ref.role,
            "has_page": ref.has_page,
            "shared_evidence": count,
            "counterparty": False,
        }
    for node in nodes:
        near = by_subject.get(node["account"])
        if near is None or node["account"] == subject or near.alert_id == alert_id:
            continue
        entry = related.setdefault(
            near.alert_id,
            {
                "alert_id": near.alert_id,
                "subject_id": node["account"],
                "rank": near.rank,
                "score": near.score,
                "role": near.role,
                "has_page": near.has_page,
                "shared_evidence": 0,
                "counterparty": False,
            },
        )
        entry["counterparty"] = True
    return sorted(related.values(), key=lambda r: (r["rank"], r["alert_id"]))


def _shared_evidence(evidence: pl.DataFrame, alert_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """For each of ``alert_ids``: other alerts citing any of its transactions, and how many."""
    pairs = evidence.select("alert_id", "tx_id").unique()
    mine = pairs.filter(pl.col("alert_id").is_in(list(alert_ids)))
    joined = (
        mine.join(pairs, on="tx_id", suffix="_other")
        .filter(pl.col("alert_id") != pl.col("alert_id_other"))
        .group_by("alert_id", "alert_id_other")
        .len("shared")
        .sort("alert_id", "alert_id_other")
    )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for alert_id, other, count in joined.iter_rows():
        out[alert_id][other] = int(count)
    return out


def _alert_refs(alerts: pl.DataFrame, paged: set[str]) -> dict[str, tuple[str, AlertRef]]:
    """Each alert's subject and reference, in rank order."""
    return {
        alert_id: (subject, AlertRef(alert_id, int(rank), role, float(score), alert_id in paged))
        for alert_id, rank, subject, role, score in alerts.select(
            "alert_id", "rank", "subject_id", "likely_role", "risk_score"
        ).iter_rows()
    }


def _transactions_by_account(tx: pl.DataFrame, accounts: set[str]) -> dict[str, pl.DataFrame]:
    """Each account's transactions (either side, by timestamp and tx_id), from one frame of
    many accounts."""
    wanted = sorted(accounts)
    long = (
        pl.concat(
            [
                tx.filter(pl.col("src_account").is_in(wanted)).with_columns(
                    pl.col("src_account").alias("_account")
                ),
                tx.filter(pl.col("dst_account").is_in(wanted)).with_columns(
                    pl.col("dst_account").alias("_account")
                ),
            ]
        )
        .unique(["_account", "tx_id"], keep="first", maintain_order=True)
        .sort("_account", "timestamp", "tx_id")
    )
    return _split(long, "_account", drop=True)


def _split(frame: pl.DataFrame, column: str, drop: bool = False) -> dict[str, pl.DataFrame]:
    """``frame`` partitioned by one string column, rows in their order; ``drop`` leaves the
    column out of the parts."""
    return {
        str(key[0]): part.drop(column) if drop else part
        for key, part in frame.partition_by(column, as_dict=True, maintain_order=True).items()
    }


_EMPTY_EDGES: Final = pl.DataFrame(
    schema={
        "src_account": pl.String,
        "dst_account": pl.String,
        "tx_count": pl.Int64,
        "amount_total": pl.Float64,
        "on_evidence": pl.Boolean,
        "hop": pl.Int64,
    }
)


def _empty_tx() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "tx_id": pl.String,
            "timestamp": pl.Datetime("us"),
            "src_account": pl.String,
            "dst_account": pl.String,
            "amount": pl.Decimal(18, 4),
            "amount_rep": pl.Decimal(18, 4),
            "currency": pl.String,
            "channel": pl.String,
        }
    )


def _normalise(pos: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Stretch the layout to fill [-1, 1] on each axis (the picture is square, so the
    arrow angles computed afterwards stay true)."""

    def scaler(values: list[float]) -> tuple[float, float]:
        low, high = min(values), max(values)
        span = (high - low) / 2 or 1.0
        return (low + high) / 2, span

    (cx, sx), (cy, sy) = (scaler([p[i] for p in pos.values()]) for i in (0, 1))
    return {n: ((x - cx) / sx, (y - cy) / sy) for n, (x, y) in pos.items()}


# --- rendering -------------------------------------------------------------------------


def _count_bars(
    values: list[dict[str, Any]],
    category: str,
    mark: str | dict[str, Any],
    size: tuple[int, int],
    title: str,
    family_scale: Mapping[str, Any],
    counts_axis: Mapping[str, Any],
) -> str:
    """Horizontal bars of alerts per ``category``, longest first, coloured by family."""
    return render_svg(
        {
            "data": {"values": values},
            "mark": mark,
            "width": size[0],
            "height": size[1],
            "encoding": {
                "y": {"field": category, "type": "nominal", "sort": "-x", "title": None},
                "x": {
                    "field": "alerts",
                    "type": "quantitative",
                    "title": "alerts",
                    "axis": counts_axis,
                },
                "color": {
                    "field": "family",
                    "type": "nominal",
                    "scale": family_scale,
                    "legend": None,
                },
            },
            "title": title,
        }
    )


def render_svg(spec: Mapping[str, Any]) -> str:
    """Render a Vega-Lite spec to an SVG string offline (no data or font is fetched).

    Links (``href`` encodings) are written relative to the page: Vega resolves them
    against its default base URL, which is stripped again here.
    """
    import vl_convert

    full = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "background": "white",
        "config": {
            "font": "sans-serif",
            "axis": {"labelFontSize": 11, "titleFontSize": 11},
            "legend": {"labelFontSize": 11, "titleFontSize": 11},
            "title": {"fontSize": 13, "anchor": "start"},
        },
        **spec,
    }
    if "config" in spec:
        full["config"] = {**full["config"], **spec["config"]}
    svg: str = vl_convert.vegalite_to_svg(full, allowed_base_urls=[])
    svg = _VEGA_BASE_HREF.sub(r'xlink:href="\g<page>"', svg)
    # no ARIA label per mark (they would double the size of the pages; the tables beside
    # the charts carry the same facts)
    svg = _MARK_ARIA.sub("", svg)
    # geometry to a hundredth of a pixel: a third of the bytes, the same picture
    svg = _GEOMETRY.sub(lambda m: _LONG_DECIMAL.sub(r"\1", m[0]), svg)
    # the root element is given a class so the page's style can scale it down
    return svg.replace("<svg ", '<svg class="chart" ', 1)


def _role_scale(roles: Sequence[str]) -> dict[str, list[str]]:
    domain = sorted(
        set(roles), key=lambda r: list(ROLE_COLOURS).index(r) if r in ROLE_COLOURS else 99
    )
    return {
        "domain": domain,
        "range": [ROLE_COLOURS.get(r, "#7f7f7f") for r in domain],
    }


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["money"] = _money
    env.filters["num"] = lambda v: f"{int(v):,}" if v is not None else ""
    return env


def _money(value: float | Decimal | None) -> str:
    if value is None:
        return ""
    return f"{float(value):,.2f}"


def _script_json(value: Any) -> str:
    """JSON safe to place inside a <script> element."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _ts(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def _paragraphs(text: str) -> list[tuple[str, str]]:
    """The draft's paragraphs as (heading, text); a paragraph opening with an upper-case
    word and a full stop ("WHO. ...") has that word as its heading."""
    out = []
    for part in re.split(r"\n\s*\n", text or ""):
        part = part.strip()
        if not part:
            continue
        match = _SECTION_HEAD.match(part)
        if match:
            out.append((match["head"].capitalize(), part[match.end() :]))
        else:
            out.append(("", part))
    return out


def _catalog() -> Catalog | None:
    try:
        return load_catalog()
    except CatalogError:
        return None
