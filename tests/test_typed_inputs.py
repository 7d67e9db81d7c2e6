"""A Parquet file whose columns are already typed is staged exactly as the same values
given as text: same accepted values, same rejects with the same reasons and raw values."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import stage_files

# doubles whose shortest text is not their nearest DECIMAL(18,4) (0.00015, 2.00005) or
# out of range, non-finite or not positive, next to plain ones
AMOUNTS = [
    12.35,
    0.00015,
    2.00005,
    0.0001,
    1e-05,
    123456789.12345,
    99999999999.9999,
    1e14,
    1e20,
    math.nan,
    math.inf,
    -5.0,
    0.0,
    None,
    9500.0,
]
TIMESTAMPS = [
    datetime(2024, 1, 1, 10, 0, 0),
    datetime(2024, 1, 2, 9, 30, 15, 123456),
    None,
    datetime(2031, 5, 1, 0, 0, 0),  # after --as-of: FUTURE_TIMESTAMP
    datetime(1999, 12, 31, 23, 59, 59),
]


def _rows(n: int) -> dict[str, list[object]]:
    return {
        "tx_id": [f"t{i}" for i in range(n)],
        "timestamp": [TIMESTAMPS[i % len(TIMESTAMPS)] for i in range(n)],
        "src_account": [" A " if i % 7 == 0 else "A" for i in range(n)],
        "dst_account": ["B" for _ in range(n)],
        "amount": [AMOUNTS[i % len(AMOUNTS)] for i in range(n)],
        "currency": ["USD" for _ in range(n)],
        "channel": ["wire" for _ in range(n)],
        "is_laundering": [[0, 1, 2, None][i % 4] for i in range(n)],
    }


def _staged(paths: list[Path]) -> list[tuple[object, ...]]:
    con = stage_files(paths, datetime(2030, 1, 1).date())
    rows = con.execute("select * exclude (file_index, source_file) from staged order by source_row")
    return rows.fetchall()


def _text_copy(typed: Path, target: Path) -> None:
    """The same rows as a CSV file of DuckDB's text of each typed value."""
    con = duckdb.connect()
    columns = con.execute(
        "select column_name from (describe select * from read_parquet($p))", {"p": str(typed)}
    ).fetchall()
    select = ", ".join(f'cast("{c}" as varchar) as "{c}"' for (c,) in columns)
    con.execute(
        f"copy (select {select} from read_parquet('{typed}')) "
        f"to '{target}' (format csv, header true)"
    )


def test_typed_double_amounts_and_timestamps_stage_like_their_text(tmp_path: Path) -> None:
    rows = _rows(3 * len(AMOUNTS) * len(TIMESTAMPS))
    typed = tmp_path / "typed.parquet"
    pq.write_table(
        pa.table(
            {
                **rows,
                "amount": pa.array(rows["amount"], pa.float64()),
                "is_laundering": pa.array(rows["is_laundering"], pa.int8()),
            }
        ),
        typed,
    )
    text = tmp_path / "text.csv"
    _text_copy(typed, text)
    staged_typed = _staged([typed])
    assert staged_typed == _staged([text])
    reasons = {r[-3] for r in staged_typed}
    assert {None, "BAD_AMOUNT", "NON_POSITIVE_AMOUNT", "FUTURE_TIMESTAMP"} <= reasons
    assert {"REQUIRED_MISSING", "BAD_FLAG"} <= reasons


def test_typed_decimal_and_integer_amounts_stage_like_their_text(tmp_path: Path) -> None:
    rows = _rows(20)
    decimals = [Decimal(i) / 100 - Decimal("0.05") for i in range(20)]
    for name, array in {
        "decimal": pa.array(decimals, pa.decimal128(12, 2)),
        "integer": pa.array([i - 3 for i in range(20)], pa.int64()),
    }.items():
        typed = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({**rows, "amount": array}), typed)
        text = tmp_path / f"{name}-text.csv"
        _text_copy(typed, text)
        assert _staged([typed]) == _staged([text])
