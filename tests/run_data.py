"""A small hand-made run shared by the API, narrative and goAML tests.

Account A1 structures three cash deposits and wires most of the cash to B1 (STR-01 and
GRAPH-09 fire on it). Around it: B1 pays C1 (in EUR) and is paid by X1; A1 pays E1,
which pays F1; C1 pays D1 (three hops out); Z1 gets a cash deposit (cash is a node that is
never expanded). Two rows touching A1 are rejected: a negative amount and a repeated
tx_id. The accounts file places A1 and E1 at bank B001 (the reporting bank) and B1 at B777.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.api import Run, scan

HEADER = (
    "tx_id",
    "timestamp",
    "src_account",
    "dst_account",
    "amount",
    "currency",
    "channel",
    "src_bank",
    "dst_bank",
    "merchant_city",
    "src_country",
    "dst_country",
)

DATA = """\
t1,2024-03-01 10:00:00,CASH,A1,9500,USD,cash_deposit,,B001,Springfield,,US
t2,2024-03-01 15:00:00,CASH,A1,9100.50,USD,cash_deposit,,B001,Springfield,,US
t3,2024-03-02 09:00:00,CASH,A1,9900,USD,cash_deposit,,B001,Shelbyville,,US
t4,2024-03-02 11:00:00,A1,B1,25000,USD,wire,B001,B777,,US,PH
t5,2024-03-03 11:00:00,B1,C1,120.25,EUR,p2p,B777,,,PH,
t6,2024-03-04 12:00:00,C1,D1,50,USD,wire,,,,,
t7,2024-03-04 13:00:00,X1,B1,70,USD,wire,,B777,,,PH
t8,2024-03-05 10:00:00,A1,E1,10,USD,card,B001,B001,,US,US
t9,2024-03-05 11:00:00,E1,F1,5,USD,ach,B001,,,US,
t10,2024-03-06 10:00:00,CASH,Z1,300,USD,cash_deposit,,,,,
t11,2024-03-06 11:00:00,A1,G1,-5,USD,wire,,,,,
t4,2024-03-07 11:00:00,A1,H1,1,USD,wire,,,,,
"""
ROWS: tuple[tuple[str, ...], ...] = tuple(tuple(r) for r in csv.reader(DATA.splitlines()))

REJECTED_ROWS = (11, 12)
"""1-based data rows of ROWS that the scan rejects (a negative amount, a repeated tx_id)."""

ACCOUNTS = (
    ("account_id", "customer_type", "opened_at", "country", "segment", "bank"),
    ("A1", "individual", "2023-01-15", "US", "retail", "B001"),
    ("B1", "business", "2020-01-01", "PH", "import-export", "B777"),
    ("E1", "business", "", "US", "merchant", "B001"),
)

AS_OF = "2024-12-31"


def write_inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    tx = folder / "transactions.csv"
    with tx.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    accounts = folder / "accounts.csv"
    with accounts.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(ACCOUNTS)
    return tx, accounts


def config_text(goaml: str = "") -> str:
    return f'as_of = "{AS_OF}"\n[detectors]\nenabled = false\n' + goaml


def make_run(folder: Path, goaml: str = "") -> Run:
    tx, accounts = write_inputs(folder / "data")
    config = folder / "iff.toml"
    config.write_text(config_text(goaml), encoding="utf-8")
    return scan(tx, out=folder / "run", accounts=accounts, config=config)


def a1_alert(run: Run) -> str:
    alerts = run.alerts.collect()
    return str(alerts.filter(alerts["subject_id"] == "A1")["alert_id"][0])


@pytest.fixture(scope="session", name="small_run")
def small_run_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    run = make_run(tmp_path_factory.mktemp("small_run"))
    yield run
    run.close()
