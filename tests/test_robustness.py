"""Real-world export shapes and resource faults: each ends in accepted rows, row rejects
with the right row number, or one exit-2 message; never a lost row, a partial output
folder or an out-of-memory kill."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from engine import schema
from engine.cli import cli
from engine.config import RunConfig
from engine.db import connect
from engine.errors import InputError
from engine.load import ReadLimits, describe_file
from engine.resources import data_root
from tests.conftest import CANONICAL_HEADER, CLEAN_ROWS, write_csv

EXPORTS = data_root() / "fixtures" / "exports" / "canonical"
OUTPUTS = {
    "alerts.parquet": schema.ALERTS_SCHEMA,
    "hits.parquet": schema.HITS_SCHEMA,
    "evidence.parquet": schema.EVIDENCE_SCHEMA,
    "rejects.parquet": schema.REJECTS_SCHEMA,
}
AS_OF = "2024-12-31"


def _validate(*paths: Path) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["validate", *map(str, paths), "--json", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def _scan(run_cli: Callable[..., Result], out: Path, *paths: Path) -> Result:
    return run_cli("scan", *map(str, paths), "--out", str(out), "--json", "--as-of", AS_OF)


def _rejects(out: Path) -> list[tuple[int, str]]:
    frame = pl.read_parquet(out / "rejects.parquet")
    return list(zip(frame["source_row"].to_list(), frame["reason_code"].to_list(), strict=True))


# --------------------------------------------------------------------------- shapes


def test_a_repeated_canonical_column_stops_the_run_naming_both_positions() -> None:
    result = CliRunner().invoke(cli, ["validate", str(EXPORTS / "duplicate_amount_column.csv")])
    assert result.exit_code == 2, result.output
    assert "duplicate_amount_column.csv" in result.output
    assert "column 'amount' appears 2 times (columns 15 and 16)" in result.output
    assert "Traceback" not in result.output


def test_a_repeated_column_in_parquet_is_refused_too(tmp_path: Path) -> None:
    names = [*CANONICAL_HEADER, "amount"]
    values = [[v] for v in CLEAN_ROWS[0]]
    table = pa.Table.from_arrays(
        [pa.array(v) for v in values[:4]]
        + [pa.array([9500.0])]
        + [pa.array(v) for v in values[5:]]
        + [pa.array([1.0])],
        names=names,
    )
    path = tmp_path / "export.parquet"
    pq.write_table(table, path)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "column 'amount' appears 2 times (columns 5 and 8)" in result.output


def test_a_mapping_that_reads_a_repeated_column_without_a_position_is_refused(
    tmp_path: Path,
) -> None:
    mapping = tmp_path / "bank.toml"
    mapping.write_text(
        '[columns]\ntx_id = "Ref"\ntimestamp = "Booked"\nsrc_account = "From"\n'
        'dst_account = "To"\namount = "Betrag"\nchannel = "Art"\n'
        '[constants]\ncurrency = "EUR"\n',
        encoding="utf-8",
    )
    export_file = tmp_path / "bank.csv"
    export_file.write_text(
        "Ref,Booked,From,To,Betrag,Art,Betrag\nR1,2024-02-01 10:00,K,DE01,9500,wire,12\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", str(export_file), "--mapping", str(mapping)])
    assert result.exit_code == 2, result.output
    assert "column 'Betrag' appears 2 times (columns 5 and 7)" in result.output


def test_a_mapping_may_pick_the_second_of_a_repeated_column(tmp_path: Path) -> None:
    """AMLworld repeats ``Account``; its mapping reads ``Account`` and ``Account_1``."""
    path = tmp_path / "HI-Tiny_Trans.csv"
    path.write_text(
        "Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,"
        "Amount Paid,Payment Currency,Payment Format,Is Laundering\r\n"
        "2022/09/01 00:21,3208,8000F4580,001,8000F5340,0.01,US Dollar,0.01,US Dollar,Cheque,0\n"
        "2022/09/01 00:22,3209,8000F4581,001,8000F5341,14.61,Euro,14.61,Euro,Credit Card,1\r\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["validate", str(path), "--format", "amlworld", "--json", "--as-of", AS_OF]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_accepted"] == 2


def test_mixed_line_endings_are_read_with_every_row_accepted() -> None:
    summary = _validate(EXPORTS / "mixed_line_endings.csv")
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_rejected"]) == (6, 6, 0)


def test_mixed_line_endings_keep_row_numbers_of_rejects(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    lines = [",".join(CANONICAL_HEADER), *(",".join(r) for r in CLEAN_ROWS)]
    lines.insert(3, "bad,2024-01-01,CASH")  # data row 3: too few fields
    lines.insert(5, "t9,yesterday,A1,B1,10,USD,wire")  # data row 5: bad timestamp
    path = tmp_path / "mixed.csv.gz"
    text = "".join(line + ("\r\n" if i % 2 else "\n") for i, line in enumerate(lines))
    path.write_bytes(gzip.compress(text.encode()))
    out = tmp_path / "out"
    result = _scan(run_cli, out, path)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_read"] == 7
    assert _rejects(out) == [(3, "MALFORMED_ROW"), (5, "BAD_TIMESTAMP")]
    # the raw line is kept without the line end
    assert pl.read_parquet(out / "rejects.parquet")["raw_value"][0] == "bad,2024-01-01,CASH"


def test_trailing_blank_lines_are_not_rows() -> None:
    summary = _validate(EXPORTS / "trailing_blank_lines.csv")
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_rejected"]) == (6, 6, 0)


def test_blank_lines_between_rows_are_skipped_and_row_numbers_stay_right(
    tmp_path: Path, run_cli: Callable[..., Result]
) -> None:
    out = tmp_path / "out"
    result = _scan(run_cli, out, EXPORTS / "blank_lines_between_rows.csv")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_rejected"]) == (5, 3, 2)
    assert _rejects(out) == [(3, "MALFORMED_ROW"), (5, "BAD_AMOUNT")]
    assert pl.read_parquet(out / "rejects.parquet")["raw_value"][0] == "t9,2024-03-02,CASH"


def test_a_header_only_file_is_zero_rows_beside_other_files(
    tmp_path: Path, run_cli: Callable[..., Result], clean_csv: Path
) -> None:
    out = tmp_path / "out"
    result = _scan(run_cli, out, EXPORTS / "header_only.csv", clean_csv)
    assert result.exit_code == 0, result.output
    files = {Path(f["path"]).name: f for f in json.loads(result.stdout)["files"]}
    assert files["header_only.csv"]["rows_read"] == 0
    assert files["clean.csv"]["rows_accepted"] == len(CLEAN_ROWS)
    manifest = json.loads((out / "manifest.json").read_text())
    by_name = {Path(f["path"]).name: f for f in manifest["inputs"]}
    assert by_name["header_only.csv"]["rows_read"] == 0
    assert manifest["row_accounting"]["balanced"]


def test_a_scan_without_any_row_writes_empty_outputs_and_warns(tmp_path: Path) -> None:
    second = write_csv(tmp_path / "quiet.csv", [])
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["scan", str(EXPORTS / "header_only.csv"), str(second), "--out", str(out), "--quiet"],
    )
    assert result.exit_code == 0, result.output
    assert "warning: the 2 input file(s) hold no data rows" in result.stderr
    for name, expected in OUTPUTS.items():
        table = pq.read_table(out / name)
        assert table.num_rows == 0
        assert table.schema.remove_metadata() == expected, name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["row_accounting"]["rows_read"] == 0
    assert [f["rows_read"] for f in manifest["inputs"]] == [0, 0]


def test_the_header_is_read_without_sniffing(tmp_path: Path) -> None:
    """A byte-order mark, CRLF, quoted names and spaces around names are all fine."""
    path = tmp_path / "excel.csv"
    header = '"tx_id", timestamp ,src_account,dst_account,amount,currency,"channel"'
    path.write_bytes(("\ufeff" + header + "\r\n" + ",".join(CLEAN_ROWS[0]) + "\r\n").encode())
    assert _validate(path)["rows_accepted"] == 1


# --------------------------------------------------------------------------- full disk


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from benchmarks.generate import generate

    folder = tmp_path_factory.mktemp("data")
    return list(generate(150_000, seed=11, out_dir=folder).transaction_files)


def _only_previous_output(parent: Path) -> None:
    """The folder holds the untouched previous output and nothing else."""
    assert sorted(p.name for p in parent.iterdir()) == ["out"]
    assert (parent / "out" / "previous.txt").read_text() == "earlier run"
    assert sorted(p.name for p in (parent / "out").iterdir()) == ["previous.txt"]


def _previous_output(parent: Path) -> Path:
    out = parent / "out"
    out.mkdir(parents=True)
    (out / "previous.txt").write_text("earlier run")
    return out


def test_spill_past_its_limit_is_a_clear_error(
    dataset: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def small_spill(
        config: RunConfig, scratch_dir: Path | None = None
    ) -> duckdb.DuckDBPyConnection:
        con = connect(config, scratch_dir)
        # DuckDB alone this small (--memory-limit bounds the whole process and would
        # stop the run before it spills)
        con.execute("set memory_limit = '32MB'")
        con.execute("set max_temp_directory_size = '1MB'")
        return con

    monkeypatch.setattr("engine.pipeline.connect", small_spill)
    parent = tmp_path / "runs"
    out = _previous_output(parent)
    result = CliRunner().invoke(
        cli,
        [
            *("scan", *map(str, dataset), "--out", str(out), "--force", "--quiet"),
            *("--threads", "1"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert f"not enough disk space in {parent}/.out.partial/.scratch/spill" in result.stderr
    assert "spill files needed more than the 976.5 KiB allowed there" in result.stderr
    _only_previous_output(parent)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs: the manifest alone does not fit."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_output_disk_is_a_clear_error(tiny_disk: Path, clean_csv: Path) -> None:
    out = _previous_output(tiny_disk)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "scan",
            str(clean_csv),
            "--out",
            str(out),
            "--force",
            "--quiet",
            "--as-of",
            AS_OF,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"not enough disk space in {out}: the disk filled after" in done.stderr
    assert "Traceback" not in done.stderr
    _only_previous_output(tiny_disk)


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_scan_and_leaves_no_output(
    dataset: list[Path], tmp_path: Path, signum: int, code: int
) -> None:
    out = _previous_output(tmp_path / "runs")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "engine", "scan", *map(str, dataset), "--out", str(out)),
            *("--force", "--threads", "1", "--as-of", AS_OF),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    # wait until the run is inside DuckDB (the staging folder exists), then signal it
    for line in process.stderr:
        if line.startswith("iff: validate started"):
            break
    time.sleep(0.3)
    assert process.poll() is None, "the scan ended before the signal"
    sent = time.perf_counter()
    process.send_signal(signum)
    rest = process.stderr.read()
    assert process.wait(timeout=30) == code, rest
    assert time.perf_counter() - sent < 10
    assert "no output was published" in rest
    _only_previous_output(tmp_path / "runs")


def test_a_swallowed_signal_still_stops_the_run_at_the_next_check() -> None:
    from engine.errors import RunInterrupted
    from engine.runguard import interruptible, raise_if_interrupted

    with pytest.raises(RunInterrupted), interruptible():
        try:  # a library that catches everything around the moment the signal lands
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        except BaseException:
            pass
        raise_if_interrupted()
    raise_if_interrupted()  # outside the guarded run nothing is pending


# --------------------------------------------------------------------------- hostile sizes

_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": done.returncode, "stderr": done.stderr, "stdout": done.stdout,
                  "peak_kib": peak}))
"""


def _measured(*args: str) -> dict[str, object]:
    """Run ``python -m engine ARGS`` in a fresh parent whose only child it is, so that
    RUSAGE_CHILDREN is the engine's own peak resident set."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "engine", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def baseline_kib(tmp_path_factory: pytest.TempPathFactory) -> int:
    """Peak resident set of a validation that stops at its first file (imports only)."""
    missing = tmp_path_factory.mktemp("none") / "missing.csv"
    run = _measured("validate", str(missing))
    assert run["code"] == 2
    return int(str(run["peak_kib"]))


def _bomb(path: Path, decompressed: int) -> None:
    """A canonical CSV whose description fields are runs of zeros: about 1000-fold."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    row = b"t%d,2024-01-01 10:00:00,CASH,A1,9500,USD,cash_deposit,"
    field = b"0" * (1 << 20)
    with path.open("wb") as handle:
        handle.write(deflate.compress(",".join([*CANONICAL_HEADER, "description"]).encode()))
        for i in range(decompressed >> 20):
            handle.write(deflate.compress(b"\n" + row % i + field))
        handle.write(deflate.flush())


def test_a_decompression_bomb_is_refused_in_bounded_memory(
    tmp_path: Path, baseline_kib: int
) -> None:
    bomb = tmp_path / "export.csv.gz"
    _bomb(bomb, 100 << 20)
    assert bomb.stat().st_size < 200_000  # about 100 KB expanding to 100 MB
    run = _measured("validate", str(bomb))
    assert run["code"] == 2, run["stderr"]
    stderr = str(run["stderr"])
    assert f"{bomb}: gzip data expands to more than 67,108,864 bytes" in stderr
    assert "likely decompression bomb" in stderr
    # inflated in 4 MiB steps: beyond the start-up baseline (which stops before the engine
    # opens DuckDB and its reference tables) well below the 100 MB it expands to
    assert int(str(run["peak_kib"])) - baseline_kib < 64 * 1024, run


def test_the_bomb_limit_is_a_ratio_beyond_a_floor(tmp_path: Path) -> None:
    bomb = tmp_path / "small.csv.gz"
    _bomb(bomb, 8 << 20)
    limits = ReadLimits(max_expansion=100, expansion_floor_bytes=4 << 20)
    with pytest.raises(InputError, match="decompression bomb"):
        describe_file(bomb, limits)
    # the same file passes under the default floor of 64 MiB
    assert describe_file(bomb).size_bytes == bomb.stat().st_size


def test_a_50_mb_field_stops_the_run_in_bounded_memory(tmp_path: Path) -> None:
    def field_file(name: str, size: int) -> Path:
        path = tmp_path / name
        with path.open("w", encoding="utf-8") as handle:
            handle.write(",".join([*CANONICAL_HEADER, "description"]) + "\n")
            handle.write(",".join(CLEAN_ROWS[0]) + ",ok\n")
            handle.write(",".join(CLEAN_ROWS[1]) + "," + "x" * size + "\n")
        return path

    path = field_file("field.csv", 50 << 20)
    run = _measured("validate", str(path))
    assert run["code"] == 2, run["stderr"]
    assert f"{path}: line 3 is longer than 16 MiB" in str(run["stderr"])
    # the same stop with a field just over the limit: had the reader held the line, the
    # 50 MB field would cost about 33 MB more than the 17 MiB one
    just_over = _measured("validate", str(field_file("just_over.csv", 17 << 20)))
    assert just_over["code"] == 2, just_over["stderr"]
    extra_kib = int(str(run["peak_kib"])) - int(str(just_over["peak_kib"]))
    assert extra_kib < 16 * 1024, (run, just_over)


def test_a_2_mb_field_is_a_row_reject(tmp_path: Path, run_cli: Callable[..., Result]) -> None:
    path = tmp_path / "field.csv"
    rows = [(*r, "ok") for r in CLEAN_ROWS]
    rows[2] = (*CLEAN_ROWS[2], "y" * (2 << 20))
    write_csv(path, rows, (*CANONICAL_HEADER, "description"))
    out = tmp_path / "out"
    result = _scan(run_cli, out, path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_rejected"]) == (5, 4, 1)
    rejects = pl.read_parquet(out / "rejects.parquet")
    assert _rejects(out) == [(3, "MALFORMED_ROW")]
    assert "LINE SIZE OVER MAXIMUM" in rejects["detail"][0]
