"""The narrative draft: sections, figures traceable to hits and evidence, determinism."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import polars as pl
from run_data import a1_alert, small_run_fixture  # noqa: F401

from engine.api import Run, open_run
from engine.catalog import load_catalog
from engine.narrative import SECTION_TITLES, draft_narrative, narrative_sections


def _money(value: object) -> str:
    return f"{Decimal(str(value)):,.2f} USD"


def test_sections_answer_who_what_when_where_why_how(small_run: Run) -> None:
    sections = narrative_sections(small_run, a1_alert(small_run))
    assert tuple(title for title, _ in sections) == SECTION_TITLES
    assert all(text.strip() for _, text in sections)
    text = draft_narrative(small_run, a1_alert(small_run))
    assert text.split("\n\n")[0].startswith("SUMMARY. ")
    assert [p.split(".")[0] for p in text.split("\n\n")] == [t.upper() for t in SECTION_TITLES]


def test_every_hit_is_cited_with_its_figures(small_run: Run) -> None:
    alert_id = a1_alert(small_run)
    sections = dict(narrative_sections(small_run, alert_id))
    hits = small_run.alert_hits(alert_id)
    catalog = load_catalog()
    for hit in hits.iter_rows(named=True):
        assert f"hit {hit['hit_id']}" in sections["When"]
        assert f"hit {hit['hit_id']}" in sections["Why"]
        assert _money(hit["amount_total"]) in sections["When"]
        assert hit["reason"] in sections["Why"]
        typology = catalog.get(hit["typology_id"])
        assert typology.title in sections["What"]
        assert typology.references[0].document in sections["Why"]
    # the hits appear in date order
    positions = [sections["When"].index(h) for h in hits["hit_id"].to_list()]
    starts = hits["window_start"].to_list()
    assert [s for _, s in sorted(zip(positions, starts, strict=True))] == sorted(starts)


def test_who_uses_the_accounts_file_and_counterparties(small_run: Run) -> None:
    who = dict(narrative_sections(small_run, a1_alert(small_run)))["Who"]
    assert "customer type individual" in who and "segment retail" in who
    assert "bank B001" in who and "opened 2023-01-15" in who
    # A1's accepted transactions: t1-t3 (cash), t4 (B1), t8 (E1)
    assert "5 transactions with 3 counterparties" in who
    assert "cash (paying the subject: 3 transactions, 28,500.50 USD [tx t1, t2, t3])" in who
    assert "account B1 (paid by the subject: 1 transaction, 25,000.00 USD [tx t4])" in who


def test_flow_and_places_match_the_evidence(small_run: Run) -> None:
    alert_id = a1_alert(small_run)
    sections = dict(narrative_sections(small_run, alert_id))
    rows = small_run.evidence_transactions(alert_id)
    into = rows.filter(pl.col("dst_account") == "A1")
    out = rows.filter(pl.col("src_account") == "A1")
    assert (
        f"Money in: {_money(into['amount_rep'].sum())} in {into.height} transactions"
        in (sections["How"])
    )
    assert f"Money out: {_money(out['amount_rep'].sum())}" in sections["How"]
    assert "to account B1 by wire" in sections["How"] and "[tx t4]" in sections["How"]
    assert "cash_deposit (3 transactions [tx t1, t2, t3])" in sections["Where"]
    assert "Springfield [tx t1, t2]" in sections["Where"]
    assert "Shelbyville [tx t3]" in sections["Where"]
    assert "PH [tx t4]" in sections["Where"]


def test_draft_is_deterministic(small_run: Run) -> None:
    alert_id = a1_alert(small_run)
    first = draft_narrative(small_run, alert_id)
    with open_run(small_run.dir) as again:
        assert draft_narrative(again, alert_id) == first


def test_draft_without_readable_inputs(small_run: Run, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(small_run.dir, tmp_path / "run"))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["inputs"]:
        entry["path"] = str(tmp_path / "moved" / Path(entry["path"]).name)
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    alert_id = a1_alert(small_run)
    sections = dict(narrative_sections(open_run(copy), alert_id))
    assert "could not be read back" in sections["How"]
    assert "could not be read back" in sections["Where"]
    for hit_id in small_run.alert_hits(alert_id)["hit_id"].to_list():
        assert hit_id in sections["Why"]


def test_draft_of_an_alert_without_evidence(small_run: Run, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from engine.schema import EVIDENCE_SCHEMA

    copy = Path(shutil.copytree(small_run.dir, tmp_path / "run"))
    pq.write_table(EVIDENCE_SCHEMA.empty_table(), copy / "evidence.parquet")
    sections = dict(narrative_sections(open_run(copy), a1_alert(small_run)))
    assert "cites no evidence transactions" in sections["Where"]
    assert "cites no evidence transactions" in sections["How"]
    assert "5 transactions with 3 counterparties" in sections["Who"]
