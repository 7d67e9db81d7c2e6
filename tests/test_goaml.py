"""goAML export: XSD validity, the expected elements of a hand-made alert, header errors,
mappings and the ``iff export goaml`` command."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from lxml import etree
from run_data import AS_OF, a1_alert, small_run_fixture  # noqa: F401

from engine.api import Run
from engine.config import load_config
from engine.errors import InputError
from engine.goaml import (
    REASON_MAX,
    build_report,
    export_goaml,
    goaml_config_from_mapping,
    load_goaml_config,
    load_indicators,
    load_transmodes,
    validation_errors,
)
from engine.resources import reference_dir
from engine.schema import CHANNELS

GOAML = """
[goaml]
rentity_id = 1001
rentity_branch = "Head office"
submission_code = "E"
report_code = "STR"
currency_code_local = "USD"
bank_id = "B001"
institution_name = "Example Savings Bank"
[goaml.reporting_person]
first_name = "Ana"
last_name = "Silva"
title = "MLRO"
email = "mlro@example.org"
[goaml.reporting_person.phone]
tph_contact_type = "B"
tph_communication_type = "L"
tph_number = "5550100"
[goaml.location]
address_type = "B"
address = "1 Main Street"
city = "Springfield"
country_code = "US"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "goaml.toml"
    path.write_text(f'as_of = "{AS_OF}"\n' + GOAML, encoding="utf-8")
    return path


def _text(node: etree._Element, path: str) -> str | None:
    found = node.find(path)
    return None if found is None else found.text


def test_scan_config_accepts_the_goaml_table(config_file: Path) -> None:
    assert load_config(config_file).as_of is not None


def test_alert_gives_the_expected_report(small_run: Run, config_file: Path) -> None:
    alert_id = a1_alert(small_run)
    config = load_goaml_config(config_file)
    report = build_report(small_run, alert_id, config)
    assert validation_errors(report) == []
    assert [child.tag for child in report][:10] == [
        "rentity_id",
        "rentity_branch",
        "submission_code",
        "report_code",
        "entity_reference",
        "submission_date",
        "currency_code_local",
        "reporting_person",
        "location",
        "reason",
    ]
    assert _text(report, "rentity_id") == "1001"
    assert _text(report, "entity_reference") == alert_id
    assert _text(report, "submission_date") == f"{AS_OF}T00:00:00"
    assert _text(report, "reporting_person/last_name") == "Silva"
    assert _text(report, "reporting_person/phones/phone/tph_number") == "5550100"
    reason = _text(report, "reason") or ""
    assert reason.startswith("SUMMARY. Alert " + alert_id) and len(reason) <= REASON_MAX

    transactions = report.findall("transaction")
    evidence = small_run.evidence_transactions(alert_id)
    assert [_text(t, "transactionnumber") for t in transactions] == evidence["tx_id"].to_list()
    by_id = {_text(t, "transactionnumber"): t for t in transactions}

    # a cash deposit into the reporting bank's client A1
    t2 = by_id["t2"]
    assert _text(t2, "date_transaction") == "2024-03-01T15:00:00"
    assert _text(t2, "amount_local") == "9100.50"
    assert _text(t2, "transmode_code") == load_transmodes()["cash_deposit"][0]
    assert _text(t2, "internal_ref_number") == "transactions.csv:2"
    assert _text(t2, "transaction_location") == "Springfield"
    assert "STR-01: cash deposit of 9,100.50 USD" in (_text(t2, "transaction_description") or "")
    assert t2.find("t_from_my_client") is None and t2.find("t_to") is None
    assert (_text(t2, "t_from/from_entity/name") or "").startswith("Cash")
    assert _text(t2, "t_to_my_client/to_account/institution_name") == "Example Savings Bank"
    assert _text(t2, "t_to_my_client/to_account/institution_code") == "B001"
    assert _text(t2, "t_to_my_client/to_account/branch") == "Head office"
    assert _text(t2, "t_to_my_client/to_account/account") == "A1"
    assert _text(t2, "t_to_my_client/to_account/opened") == "2023-01-15T00:00:00"
    assert _text(t2, "t_to_my_client/to_country") == "US"
    # the client's wire to B1 at another bank
    t4 = by_id["t4"]
    assert _text(t4, "t_from_my_client/from_account/account") == "A1"
    assert _text(t4, "t_from_my_client/from_country") == "US"
    assert _text(t4, "t_to/to_account/institution_name") == "B777"
    assert _text(t4, "t_to/to_account/account") == "B1"
    assert _text(t4, "t_to/to_country") == "PH"
    assert _text(t4, "t_to/to_funds_code") == load_transmodes()["wire"][1]

    codes = load_indicators()
    expected = sorted({c for t in small_run.alert(alert_id)["typology_ids"] for c in codes[t]})
    assert [i.text for i in report.findall("report_indicators/indicator")] == expected


def test_local_currency_other_than_the_reporting_one(small_run: Run) -> None:
    config = goaml_config_from_mapping(
        {
            "rentity_id": 7,
            "submission_code": "M",
            "report_code": "STR",
            "currency_code_local": "EUR",
            "default_country": "US",
            "reporting_person": {"first_name": "A", "last_name": "B"},
        }
    )
    with (reference_dir() / "fx_rates.csv").open(encoding="utf-8") as handle:
        units = {r["currency"]: float(r["units_per_usd"]) for r in csv.DictReader(handle)}
    report = build_report(small_run, a1_alert(small_run), config)
    assert validation_errors(report) == []
    t4 = next(t for t in report.findall("transaction") if _text(t, "transactionnumber") == "t4")
    assert float(_text(t4, "amount_local") or 0) == pytest.approx(25000 * units["EUR"], abs=0.01)
    assert _text(t4, "t_from/from_foreign_currency/foreign_currency_code") == "USD"
    assert _text(t4, "t_from/from_foreign_currency/foreign_amount") == "25000.00"
    # without an accounts-file bank equal to rentity_id, no side is the institution's client
    assert report.find("transaction/t_from_my_client") is None


def test_missing_country_without_a_default_is_refused(small_run: Run) -> None:
    config = goaml_config_from_mapping(
        {
            "rentity_id": 7,
            "submission_code": "E",
            "report_code": "STR",
            "currency_code_local": "USD",
            "reporting_person": {"first_name": "A", "last_name": "B"},
        }
    )
    with pytest.raises(InputError, match="default_country"):
        build_report(small_run, a1_alert(small_run), config)


def test_indicator_mapping_can_be_replaced(
    small_run: Run, config_file: Path, tmp_path: Path
) -> None:
    custom = tmp_path / "indicators.csv"
    custom.write_text(
        "typology_id,indicator_code,note\nSTR-01,FIU-17,structuring\nSTR-01,FIU-02,cash\n",
        encoding="utf-8",
    )
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace(
            "[goaml]\n", '[goaml]\nindicators = "indicators.csv"\n'
        ),
        encoding="utf-8",
    )
    report = build_report(small_run, a1_alert(small_run), load_goaml_config(config_file))
    assert [i.text for i in report.findall("report_indicators/indicator")] == ["FIU-02", "FIU-17"]


def test_shipped_mappings_cover_the_catalog_and_channels() -> None:
    from engine.catalog import load_catalog
    from engine.score import ANOMALY_ID, LINK_ID

    indicators = load_indicators()
    assert set(load_catalog().ids()) | {ANOMALY_ID, LINK_ID} == set(indicators)
    assert set(load_transmodes()) == set(CHANNELS)


def test_missing_header_fields_are_all_listed(
    small_run: Run, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    config = tmp_path / "partial.toml"
    config.write_text(
        '[goaml]\nrentity_id = 5\nreport_code = "STR"\n[goaml.reporting_person]\ntitle = "Dr"\n',
        encoding="utf-8",
    )
    result = run_cli(
        "export", "goaml", str(small_run.dir), "--top", "1", "--out", str(tmp_path / "x"),
        "--config", str(config),
    )  # fmt: skip
    assert result.exit_code == 2
    for field in (
        "[goaml] submission_code",
        "[goaml] currency_code_local",
        "[goaml.reporting_person] first_name",
        "[goaml.reporting_person] last_name",
    ):
        assert field in result.output, field
    assert "[goaml] rentity_id" not in result.output
    assert not (tmp_path / "x").exists()


def test_cli_writes_valid_deterministic_files(
    small_run: Run, config_file: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    alert_ids = small_run.alerts.sort("rank").collect()["alert_id"].to_list()
    outputs = []
    for name in ("one", "two"):
        out = tmp_path / name
        result = run_cli(
            "export", "goaml", str(small_run.dir), "--top", "10", "--out", str(out),
            "--config", str(config_file),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert result.output.split() == [str(out / f"{a}.xml") for a in alert_ids]
        outputs.append(out)
    for alert_id in alert_ids:
        first = (outputs[0] / f"{alert_id}.xml").read_bytes()
        assert first == (outputs[1] / f"{alert_id}.xml").read_bytes()
        assert validation_errors(outputs[0] / f"{alert_id}.xml") == []

    one = a1_alert(small_run)
    result = run_cli(
        "export", "goaml", str(small_run.dir), "--alert", one, "--out", str(tmp_path / "a"),
        "--config", str(config_file),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"{one}.xml"]


def test_cli_usage_errors(
    small_run: Run, config_file: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    base = ["export", "goaml", str(small_run.dir), "--out", str(tmp_path / "o")]
    both = run_cli(*base, "--top", "1", "--alert", "x", "--config", str(config_file))
    assert both.exit_code == 2 and "either --alert" in both.output
    neither = run_cli(*base, "--config", str(config_file))
    assert neither.exit_code == 2
    unknown = run_cli(*base, "--alert", "nope", "--config", str(config_file))
    assert unknown.exit_code == 2 and "unknown alert id 'nope'" in unknown.output
    not_a_run = run_cli(
        "export", "goaml", str(tmp_path), "--top", "1", "--out", str(tmp_path / "o"),
        "--config", str(config_file),
    )  # fmt: skip
    assert not_a_run.exit_code == 2 and "manifest.json" in not_a_run.output


def test_export_function_checks_every_file(
    small_run: Run, config_file: Path, tmp_path: Path
) -> None:
    paths = export_goaml(
        small_run, [a1_alert(small_run)], tmp_path / "xml", load_goaml_config(config_file)
    )
    assert len(paths) == 1
    tree = etree.parse(str(paths[0]))
    assert tree.getroot().tag == "report"
    assert paths[0].read_bytes().startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_top_leaves_out_alerts_without_evidence(
    small_run: Run, config_file: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    import shutil

    import polars as pl

    copy = Path(shutil.copytree(small_run.dir, tmp_path / "run"))
    alerts = pl.read_parquet(copy / "alerts.parquet")
    # as an alert of the anomaly detectors alone: no evidence transaction
    alerts.with_columns(pl.lit(0, dtype=pl.Int64).alias("evidence_count")).write_parquet(
        copy / "alerts.parquet"
    )
    result = run_cli(
        "export", "goaml", str(copy), "--top", "3", "--out", str(tmp_path / "o"),
        "--config", str(config_file),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "skipped alert" in result.stderr and not result.stdout.strip()


def test_header_values_the_schema_refuses_give_exit_2(
    small_run: Run, config_file: Path, tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    long_branch = "B" * 300
    config_file.write_text(
        config_file.read_text(encoding="utf-8").replace("Head office", long_branch),
        encoding="utf-8",
    )
    result = run_cli(
        "export", "goaml", str(small_run.dir), "--top", "1", "--out", str(tmp_path / "o"),
        "--config", str(config_file),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "does not validate" in result.output and "rentity_branch" in result.output
