"""Input -> expected-row tests of the SQL macros (``sql/macros``).

Each macro has a data file ``fixtures/macros/<macro>.yaml`` (the dbt ``unit_tests``
shape)::

    macro: merged_windows
    cases:
      - name: what the case shows
        given:                      # tables the query reads
          windows:
            columns: {subject_id: varchar, window_start: date, window_limit: date}
            rows:
              - [A, 2024-01-01, 2024-01-05]
        query: select * from merged_windows(windows)
        expect:                     # every result row, every column; order is free
          - {subject_id: A, episode: 1, episode_start: 2024-01-01, episode_limit: 2024-01-05}

Numbers compare by value (``9500`` equals a DECIMAL ``9500.0000``), dates and timestamps
as YAML writes them, lists in order. ``expect: []`` means no row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import schema
from engine.config import RunConfig
from engine.db import MACROS, connect
from engine.resources import sql_dir

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "macros"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class MacroCase:
    macro: str
    name: str
    given: Mapping[str, Mapping[str, Any]]
    query: str
    expect: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return f"{self.macro}: {self.name}"


def _load_cases() -> Iterator[MacroCase]:
    for path in sorted(FIXTURES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["macro"] == path.stem, f"{path}: macro must equal the file stem"
        for case in data["cases"]:
            yield MacroCase(
                macro=data["macro"],
                name=case["name"],
                given=case.get("given") or {},
                query=case["query"],
                expect=case["expect"],
            )


CASES = tuple(_load_cases())


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(RunConfig(threads=2))
    yield connection
    connection.close()


def _create_table(con: duckdb.DuckDBPyConnection, name: str, spec: Mapping[str, Any]) -> None:
    """Create a given table; names and types come from the fixture file, values are bound."""
    columns: Mapping[str, str] = spec["columns"]
    for identifier in (name, *columns):
        assert IDENTIFIER.match(identifier), f"not a plain identifier: {identifier!r}"
    ddl = ", ".join(f'"{c}" {t}' for c, t in columns.items())
    con.execute(f'create or replace temp table "{name}" ({ddl})')
    rows = spec.get("rows") or []
    if rows:
        marks = ", ".join("?" for _ in columns)
        for row in rows:
            assert len(row) == len(columns), f"{name}: row {row} does not match {list(columns)}"
        con.executemany(f'insert into "{name}" values ({marks})', [list(r) for r in rows])


def _canonical(value: Any) -> Any:
    """One comparable form for a value from DuckDB or from YAML."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)).normalize()
        return ("number", format(number, "f"))
    if isinstance(value, datetime):
        return ("timestamp", value.isoformat(sep=" "))
    if isinstance(value, date):
        return ("date", value.isoformat())
    if isinstance(value, list | tuple):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _canonical(v)) for k, v in value.items()))
    raise TypeError(f"no canonical form for {value!r} ({type(value).__name__})")


def _run(con: duckdb.DuckDBPyConnection, case: MacroCase) -> tuple[list[str], list[tuple]]:
    for name, spec in case.given.items():
        _create_table(con, name, spec)
    try:
        cursor = con.execute(case.query)
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    finally:
        for name in case.given:
            con.execute(f'drop table if exists "{name}"')


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_macro_case(con: duckdb.DuckDBPyConnection, case: MacroCase) -> None:
    columns, rows = _run(con, case)
    for expected in case.expect:
        assert sorted(expected) == sorted(columns), f"expect rows must list every column {columns}"
    got = sorted((_canonical(dict(zip(columns, r, strict=True))) for r in rows), key=repr)
    want = sorted((_canonical(e) for e in case.expect), key=repr)
    assert got == want


def test_every_macro_file_is_declared_and_tested() -> None:
    files = {p.stem for p in (sql_dir() / "macros").glob("*.sql")}
    tested = {c.macro for c in CASES}
    assert tested <= set(MACROS), f"cases of unknown macros: {sorted(tested - set(MACROS))}"
    # a macro may also be tested by a Python test of tests/test_*macros.py that calls it
    python_tests = "\n".join(
        p.read_text(encoding="utf-8")
        for p in Path(__file__).parent.glob("test_*macros.py")
        if p.name != Path(__file__).name
    )
    called = {m for m in MACROS if re.search(rf"\b{m}\(", python_tests)}
    assert len(set(MACROS)) == len(MACROS)
    assert files == set(MACROS), "sql/macros files and engine.db.MACROS differ"
    untested = set(MACROS) - tested - called
    assert not untested, f"macros without a case: {sorted(untested)}"


def test_each_macro_file_creates_the_macro_it_is_named_after() -> None:
    for name in MACROS:
        text = (sql_dir() / "macros" / f"{name}.sql").read_text(encoding="utf-8")
        assert re.search(rf"create or replace macro {name}\(", text), name


def test_cash_account_is_the_schema_cash_account(con: duckdb.DuckDBPyConnection) -> None:
    assert con.execute("select cash_account()").fetchone() == (schema.CASH_ACCOUNT,)


# pattern_matches joins the texts into blocks and runs each pattern once per block; the
# result must be exactly that of testing every text against every pattern.

_ATOMS = st.sampled_from(
    [
        "a",
        "b",
        "ab",
        "é",
        " ",
        ".",
        "[ab]",
        "[^a]",
        r"\s",
        r"\d",
        r"\b",
        "^",
        "$",
        r"\A",
        r"\z",
        "1",
    ]
)
_QUANTIFIABLE = st.sampled_from(["a", "b", "ab", ".", "[ab]", "[^a]", r"\s", r"\d", "1"])


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            parts.append(draw(_ATOMS))
        else:
            parts.append("(?:" + draw(_QUANTIFIABLE) + ")" + draw(st.sampled_from("*+?")))
    pattern = "".join(parts)
    if draw(st.booleans()):
        other = draw(st.sampled_from(["b", "^a", r"\bab\b", "x$"]))
        pattern = f"{pattern}|{other}"
    flags = draw(st.sampled_from(["", "", "(?s)", "(?m)", "(?-i)", "(?i-s)", "(?U)"]))
    return flags + pattern


_TEXTS = st.lists(st.text(alphabet="aAbB 1é.x\n", max_size=8), min_size=0, max_size=12)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=_TEXTS,
    patterns=st.lists(
        st.tuples(
            _patterns(), st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(["", "L: x", "M"])
        ),
        min_size=1,
        max_size=5,
    ),
    categories=st.one_of(st.none(), st.lists(st.sampled_from(["c1", "c2", "c3"]), max_size=2)),
)
def test_pattern_matches_equals_a_cross_join_of_texts_and_patterns(
    con: duckdb.DuckDBPyConnection,
    texts: list[str],
    patterns: list[tuple[str, str, str]],
    categories: list[str] | None,
) -> None:
    con.execute("create or replace temp table texts (text varchar)")
    if texts:
        con.executemany("insert into texts values (?)", [(t,) for t in texts])
    con.execute(
        "create or replace temp table ref_merchant_patterns "
        "(pattern varchar, category varchar, note varchar)"
    )
    con.executemany("insert into ref_merchant_patterns values (?, ?, ?)", patterns)
    try:
        blocked = con.execute(
            "select text, category, label from pattern_matches(texts, $categories)",
            {"categories": categories},
        ).fetchall()
        naive = con.execute(
            """
            select t.text, p.category,
                   min(case when strpos(p.note, ':') > 1 then trim(split_part(p.note, ':', 1))
                            else p.pattern end) as label
            from (select distinct text from texts where text is not null) t
            cross join ref_merchant_patterns p
            where ($categories is null or list_contains($categories, p.category))
              and regexp_matches(t.text, p.pattern, 'i')
            group by t.text, p.category
            """,
            {"categories": categories},
        ).fetchall()
    finally:
        con.execute("drop table texts")
        con.execute("drop table ref_merchant_patterns")
    assert sorted(blocked) == sorted(naive)
