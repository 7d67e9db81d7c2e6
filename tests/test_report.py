"""The HTML case report: pages, self-containment, the queue data, links, the network."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import polars as pl
import pytest

from benchmarks.generate import generate
from engine.api import Run, open_run, scan
from engine.report import (
    MAX_EDGES_PER_COUNTERPARTY,
    parse_explanation,
    trim_edges,
    write_report,
)

TOP = 12

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


@dataclass
class Page:
    """What a strict reading of one page found."""

    problems: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    external: list[str] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)
    svg_text: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    """Checks that every element closes in order and collects links, ids and scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self.script_id = ""
        self.in_svg_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "script":
            self.script_id = dict(attrs).get("id") or "(inline)"
        self.in_svg_text = tag == "text" and "svg" in self.stack

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.page.problems.append(f"</{tag}> closes <{self.stack[-1:]}> at {self.getpos()}")
            return
        self.stack.pop()
        self.in_svg_text = False

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "script":
            self.page.scripts[self.script_id] = self.page.scripts.get(self.script_id, "") + data
        if self.stack and self.stack[-1] == "style":
            self.page.external += re.findall(r"url\(([^)]*)\)|@import", data)
        if self.in_svg_text and data.strip():
            self.page.svg_text.append(data.strip())

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            value = value or ""
            if name == "id":
                self.page.ids.add(value)
            if name in {"src", "href", "xlink:href", "action", "srcset", "poster", "data"}:
                # any script or stylesheet file, and any address with a scheme or host
                loads = tag == "link" or (tag == "script" and name == "src")
                if loads or urlsplit(value).scheme or value.startswith("//"):
                    self.page.external.append(f"<{tag} {name}={value}>")
                else:
                    self.page.links.append(value)
            if name == "style" and "url(" in value:
                self.page.external.append(f"<{tag} style={value}>")


def read_page(path: Path) -> Page:
    reader = _Reader()
    reader.feed(path.read_text(encoding="utf-8"))
    reader.close()
    if reader.stack:
        reader.page.problems.append(f"unclosed elements {reader.stack}")
    return reader.page


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A real scan of a small generated dataset (every typology planted: many alerts)."""
    root = tmp_path_factory.mktemp("report_run")
    generate(10_000, seed=11, out_dir=root / "data")
    run = scan(
        sorted(str(p) for p in (root / "data").glob("transactions-*.parquet")),
        out=root / "run",
        accounts=root / "data" / "accounts.parquet",
    )
    yield run
    run.close()


@pytest.fixture(scope="module")
def report(synth_run: Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    index = write_report(synth_run.dir, out, TOP)
    assert index == out / "index.html"
    return out


def test_index_and_one_page_per_top_alert(synth_run: Run, report: Path) -> None:
    alerts = synth_run.alerts.collect()
    assert alerts.height > TOP, "the generated run should have more alerts than pages"
    pages = sorted(p.stem for p in (report / "alerts").glob("*.html"))
    assert pages == sorted(alerts.head(TOP)["alert_id"].to_list())
    assert (report / "index.html").is_file()


def test_every_page_parses(report: Path) -> None:
    problems = {
        path.name: page.problems
        for path in [report / "index.html", *sorted((report / "alerts").glob("*.html"))]
        if (page := read_page(path)).problems
    }
    assert not problems


def test_nothing_is_requested_from_outside(report: Path) -> None:
    external = {}
    for path in [report / "index.html", *sorted((report / "alerts").glob("*.html"))]:
        page = read_page(path)
        text = path.read_text(encoding="utf-8")
        found = page.external + re.findall(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", text)
        if found:
            external[path.name] = found
    assert not external


def test_index_data_has_every_alert(synth_run: Run, report: Path) -> None:
    page = read_page(report / "index.html")
    data = json.loads(page.scripts["queue-data"])
    rows = [dict(zip(data["columns"], row, strict=True)) for row in data["rows"]]
    alerts = synth_run.alerts.collect()
    assert [r["alert_id"] for r in rows] == alerts["alert_id"].to_list()
    assert [r["rank"] for r in rows] == alerts["rank"].to_list()
    assert {r["alert_id"] for r in rows if r["page"]} == set(alerts.head(TOP)["alert_id"])
    first = rows[0]
    assert first["subject_id"] == alerts["subject_id"][0]
    assert first["typology_ids"].split() == alerts["typology_ids"][0].to_list()


def test_links_between_pages_resolve(report: Path) -> None:
    broken = []
    followed = 0
    for path in [report / "index.html", *sorted((report / "alerts").glob("*.html"))]:
        page = read_page(path)
        for link in page.links:
            target, _, fragment = link.partition("#")
            if not target:
                if fragment not in page.ids:
                    broken.append(f"{path.name}: #{fragment}")
                continue
            followed += 1
            if not (path.parent / unquote(target)).resolve().is_file():
                broken.append(f"{path.name}: {link}")
    assert not broken
    assert followed > TOP  # each page links back to the queue, and pages link each other


def test_queue_script_builds_links_to_existing_pages(report: Path) -> None:
    page = read_page(report / "index.html")
    assert '"alerts/" + r[at.alert_id] + ".html"' in page.scripts["(inline)"]
    data = json.loads(page.scripts["queue-data"])
    at = data["columns"].index("alert_id")
    flag = data["columns"].index("page")
    for row in data["rows"]:
        assert (report / "alerts" / f"{row[at]}.html").is_file() == bool(row[flag])


def test_network_shows_the_subject_and_its_counterparties(synth_run: Run, report: Path) -> None:
    alerts = synth_run.alerts.collect().head(TOP)
    checked = 0
    for alert_id, subject in alerts.select("alert_id", "subject_id").iter_rows():
        edges = synth_run.network(alert_id, hops=2)
        kept = trim_edges(edges, subject)
        hop1 = kept.filter(pl.col("hop") == 1)
        counterparties = (set(hop1["src_account"]) | set(hop1["dst_account"])) - {subject}
        page = read_page(report / "alerts" / f"{alert_id}.html")
        labels = set(page.svg_text)
        assert subject in labels, alert_id
        if len(set(kept["src_account"]) | set(kept["dst_account"])) <= 40:
            assert counterparties <= labels, (alert_id, counterparties - labels)
            checked += 1
    assert checked


def test_alerted_accounts_in_a_network_link_to_their_pages(report: Path) -> None:
    linked = 0
    for path in sorted((report / "alerts").glob("*.html")):
        text = path.read_text(encoding="utf-8")
        svg_links = re.findall(r'<a xlink:href="([^"]+)"', text)
        for link in svg_links:
            assert (path.parent / link).is_file(), (path.name, link)
        linked += len(svg_links)
    assert linked, "planted groups put alerted accounts in each other's networks"


def test_same_run_same_bytes(synth_run: Run, report: Path, tmp_path: Path) -> None:
    again = write_report(synth_run.dir, tmp_path / "again", TOP).parent
    first = sorted(p.relative_to(report) for p in report.rglob("*.html"))
    second = sorted(p.relative_to(again) for p in again.rglob("*.html"))
    assert first == second
    different = [p for p in first if (report / p).read_bytes() != (again / p).read_bytes()]
    assert not different


def test_default_folder_and_stale_pages_removed(synth_run: Run, tmp_path: Path) -> None:
    run_dir = Path(shutil.copytree(synth_run.dir, tmp_path / "run"))
    stale = run_dir / "report" / "alerts" / "gone.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("old", encoding="utf-8")
    index = write_report(run_dir, None, 2)
    assert index == run_dir / "report" / "index.html"
    assert not stale.exists()
    assert len(list((run_dir / "report" / "alerts").glob("*.html"))) == 2


def test_a_run_without_alerts(synth_run: Run, tmp_path: Path) -> None:
    run_dir = Path(shutil.copytree(synth_run.dir, tmp_path / "run"))
    for name in ("alerts", "hits", "evidence"):
        frame = pl.read_parquet(run_dir / f"{name}.parquet")
        frame.clear().write_parquet(run_dir / f"{name}.parquet")
    index = write_report(open_run(run_dir).dir, tmp_path / "report", 5)
    page = read_page(index)
    assert not page.problems
    assert json.loads(page.scripts["queue-data"])["rows"] == []
    assert not list((tmp_path / "report" / "alerts").glob("*.html"))


def test_alert_page_sections(synth_run: Run, report: Path) -> None:
    alert = synth_run.alerts.collect().row(0, named=True)
    text = (report / "alerts" / f"{alert['alert_id']}.html").read_text(encoding="utf-8")
    for heading in (
        "Reasons",
        "Narrative draft",
        "Timeline",
        "Network",
        "Evidence",
        "Anomaly against the peer median",
        "Typologies",
        "Related alerts",
    ):
        assert f">{heading}</h2>" in text, heading
    for typology_id in alert["typology_ids"]:
        assert f'id="t-{typology_id}"' in text
    evidence = synth_run.alert_evidence(alert["alert_id"])
    for tx_id in evidence["tx_id"].unique().to_list():
        assert f">{tx_id}</td>" in text, tx_id
    assert text.count('<svg class="chart"') == 2


def test_parse_explanation() -> None:
    text = (
        "money out vs in (1 = all passed on) 0.94 vs peer median 0.00; "
        "average amount sent 4,213 vs peer median 0.00; something else"
    )
    assert parse_explanation(text) == [
        {"label": "money out vs in (1 = all passed on)", "value": "0.94", "median": "0.00"},
        {"label": "average amount sent", "value": "4,213", "median": "0.00"},
        {"label": "something else", "value": "", "median": ""},
    ]
    assert parse_explanation("") == []


def test_trim_edges_keeps_evidence_and_caps_a_busy_counterparty() -> None:
    rows = [("S", "SHOP", 1, 50.0, False, 1), ("A", "S", 1, 900.0, True, 1)]
    rows += [(f"C{i:03d}", "SHOP", 1, float(i), False, 2) for i in range(40)]
    rows += [("C999", "A", 1, 1.0, True, 2)]
    edges = pl.DataFrame(
        rows,
        schema=["src_account", "dst_account", "tx_count", "amount_total", "on_evidence", "hop"],
        orient="row",
    )
    kept = trim_edges(edges, "S")
    pairs = set(zip(kept["src_account"], kept["dst_account"], strict=True))
    assert {("S", "SHOP"), ("A", "S"), ("C999", "A")} <= pairs
    shop_customers = kept.filter((pl.col("dst_account") == "SHOP") & (pl.col("hop") == 2))
    assert shop_customers["src_account"].to_list() == [
        f"C{i:03d}" for i in range(39, 39 - MAX_EDGES_PER_COUNTERPARTY, -1)
    ]


def test_narrative_from_prefetched_frames_equals_the_runs_own(synth_run: Run) -> None:
    from engine.narrative import draft_narrative
    from engine.report import gather

    alerts = synth_run.alerts.collect().head(4)
    data = gather(synth_run, 4)
    for case, alert_id in zip(data.cases, alerts["alert_id"], strict=True):
        own = draft_narrative(synth_run, alert_id)
        shown = "\n\n".join(
            f"{head.upper()}. {text}" if head else text for head, text in case.narrative
        )
        assert shown == own, alert_id
