"""Load stage: find the input files, check them as files, and expose their rows to DuckDB.

Each input file becomes one *raw table* ``raw_<n>`` with the canonical column names,
every value as text (``NULL`` when the file has no such column), plus ``source_row``,
the 1-based data row in the file. Rows DuckDB cannot split into fields (wrong field
count, broken UTF-8) are kept in ``raw_structural_rejects`` with their row number.
Row-level checks and typing happen in the validate stage.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import hashlib
import io
import re
import shutil
import tempfile
import tomllib
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engine import schema
from engine.db import scalar
from engine.errors import InputError
from engine.resources import mappings_dir

FileKind = Literal["csv", "parquet"]
InputFormat = Literal["canonical", "amlworld"]

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")

ROW_FROM_FILE = "@row"
"""Mapping value for ``tx_id`` when the export has no id: ``<file name>:<row>``."""


@dataclass(frozen=True)
class ExportMapping:
    """How a non-canonical export maps onto the canonical contract.

    Attributes:
        name: shown in messages and in the manifest.
        columns: canonical column -> source column (or ``@row`` for ``tx_id``).
        constants: canonical column -> one value for every row.
        values: canonical column -> {source value (lower case) -> canonical value}.
        timestamp_format: strptime format; ``None`` means ISO 8601.
        delimiter: CSV field separator.
        decimal_separator: ``.`` or ``,``.
    """

    name: str
    columns: Mapping[str, str]
    constants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    values: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    timestamp_format: str | None = None
    delimiter: str = ","
    decimal_separator: str = "."
    contract: tuple[schema.Column, ...] = schema.TRANSACTION_COLUMNS

    def column(self, name: str) -> schema.Column:
        return next(c for c in self.contract if c.name == name)


CANONICAL_MAPPING = ExportMapping(
    name="canonical",
    columns=MappingProxyType({c.name: c.name for c in schema.TRANSACTION_COLUMNS}),
)
ACCOUNTS_MAPPING = ExportMapping(
    name="accounts",
    columns=MappingProxyType({c.name: c.name for c in schema.ACCOUNT_COLUMNS}),
    contract=schema.ACCOUNT_COLUMNS,
)


@dataclass(frozen=True)
class ReadLimits:
    """Bounds that keep hostile or broken files from exhausting memory or disk.

    Attributes:
        max_line_bytes: a CSV row longer than this is rejected as ``MALFORMED_ROW``
            (DuckDB's ``max_line_size``); a longer header stops the run.
        max_scan_line_bytes: a line longer than this stops the run naming its line
            number: DuckDB skips rows longer than its read buffer without recording
            them, so such a row could not even be counted.
        max_expansion: a gzip file may decompress to at most this many times its size...
        expansion_floor_bytes: ...once past this many decompressed bytes; beyond both it
            is treated as a decompression bomb and the run stops naming the file.
    """

    max_line_bytes: int = 1 << 20
    max_scan_line_bytes: int = 16 << 20
    max_expansion: int = 250
    expansion_floor_bytes: int = 64 << 20

    def max_decompressed_bytes(self, compressed_bytes: int) -> int:
        return max(self.expansion_floor_bytes, self.max_expansion * compressed_bytes)


READ_LIMITS = ReadLimits()
"""Defaults: a 1 MiB row is rejected, a 16 MiB line stops the run, and gzip may not
expand more than 250-fold beyond 64 MiB. Real transaction exports compress 5-20-fold and
even a file of one row repeated stays near 150-fold; runs of one byte reach 1000-fold."""

_CHUNK = 4 << 20


@dataclass(frozen=True)
class InputFile:
    """One input file as read: identity for the manifest and its row accounting."""

    path: Path
    kind: FileKind
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class LoadedFile:
    """An input file exposed as a raw table."""

    file: InputFile
    index: int
    raw_table: str
    rows_read: int
    structural_rejects: int


# --------------------------------------------------------------------------- inputs


def resolve_inputs(patterns: Sequence[str]) -> tuple[Path, ...]:
    """Expand files, globs and folders into a sorted, de-duplicated tuple of files.

    Raises:
        InputError: a pattern matches nothing, or a file has an unsupported suffix.
    """
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and _kind_of(p) is not None)
            if not matches:
                raise InputError("folder holds no .csv, .csv.gz or .parquet file", pattern)
            found.extend(matches)
        elif any(ch in pattern for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
            if not matches:
                raise InputError("no file matches this pattern", pattern)
            found.extend(p for p in matches if p.is_file())
        else:
            if not path.exists():
                raise InputError("file not found", pattern)
            found.append(path)
    unique = tuple(dict.fromkeys(p.resolve() for p in found))
    for p in unique:
        if _kind_of(p) is None:
            raise InputError(
                "unsupported file type; expected .csv, .csv.gz, .tsv or .parquet", str(p)
            )
    return unique


def _kind_of(path: Path) -> FileKind | None:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    return None


def describe_file(path: Path, limits: ReadLimits = READ_LIMITS) -> InputFile:
    """Hash and size one input file in one streamed pass (constant memory).

    A CSV file's text is checked in the same pass: a gzip file is inflated in bounded
    steps and stops the run once it outgrows ``limits`` (a decompression bomb), and a
    line longer than ``limits.max_scan_line_bytes`` stops it too.
    """
    kind = _kind_of(path)
    if kind is None:
        raise InputError("unsupported file type", str(path))
    digest = hashlib.sha256()
    lines = _LineLengths(limits.max_scan_line_bytes)
    try:
        size = path.stat().st_size
        inflate = _Inflater(path, size, limits) if path.name.lower().endswith(".gz") else None
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                if kind != "csv":
                    continue
                for part in [chunk] if inflate is None else inflate.feed(chunk):
                    lines.feed(part)
                    if lines.long_line_at is not None:
                        raise InputError(
                            f"line {_line_number_at(path, lines.long_line_at):,} is longer than "
                            f"{limits.max_scan_line_bytes >> 20} MiB; a transaction row is "
                            "never that long (a broken quote, or not a CSV file?)",
                            str(path),
                        )
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror})", str(path)) from exc
    if size == 0:
        raise InputError("file is empty", str(path))
    return InputFile(path=path, kind=kind, sha256=digest.hexdigest(), size_bytes=size)


class _Inflater:
    """Inflates gzip members in steps of at most ``_CHUNK`` bytes, counting the output."""

    def __init__(self, path: Path, size: int, limits: ReadLimits) -> None:
        self._path = path
        self._size = size
        self._limit = limits.max_decompressed_bytes(size)
        self._limits = limits
        self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        self.total = 0

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        data = chunk
        while data:
            try:
                part = self._inflate.decompress(data, _CHUNK)
            except zlib.error as exc:
                raise InputError(
                    f"cannot read file (not valid gzip: {exc})", str(self._path)
                ) from exc
            self.total += len(part)
            if self.total > self._limit:
                raise InputError(
                    f"gzip data expands to more than {self._limit:,} bytes "
                    f"({self.total // max(1, self._size):,} times its {self._size:,} bytes): "
                    "refused as a likely decompression bomb (limit: "
                    f"{self._limits.max_expansion}-fold beyond "
                    f"{self._limits.expansion_floor_bytes >> 20} MiB); decompress it yourself "
                    "if it is genuine",
                    str(self._path),
                )
            if part:
                yield part
            if self._inflate.unconsumed_tail:
                data = self._inflate.unconsumed_tail
            elif self._inflate.eof and self._inflate.unused_data:
                # the next gzip member of a concatenated file
                data = self._inflate.unused_data
                self._inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                data = b""


class _LineLengths:
    """Streams over CSV text and notes where the first line longer than ``max_line``
    bytes starts (``long_line_at``, a byte offset). Costs two ``find`` calls per chunk
    when lines are short."""

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.offset = 0  # bytes seen so far
        self.line_start = 0  # offset where the current line starts
        self.long_line_at: int | None = None

    def feed(self, data: bytes) -> None:
        first = data.find(b"\n")
        if first < 0:
            if self.offset + len(data) - self.line_start > self.max_line:
                self.long_line_at = self.line_start
        elif self.offset + first - self.line_start > self.max_line:
            self.long_line_at = self.line_start
        else:
            last = data.rfind(b"\n")
            if last - first > self.max_line:  # only when a chunk outsizes the limit
                pattern = b"[^\n]{%d,}" % (self.max_line + 1)
                if match := re.search(pattern, data[first + 1 : last]):
                    self.long_line_at = self.offset + first + 1 + match.start()
            self.line_start = self.offset + last + 1
        self.offset += len(data)


def _open_text_bytes(path: Path) -> gzip.GzipFile | io.BufferedReader:
    """The file's (decompressed, for a .gz name) bytes as a binary stream."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def _line_number_at(path: Path, offset: int) -> int:
    """The 1-based line that starts at byte ``offset`` of the (decompressed) text."""
    newlines = 0
    with _open_text_bytes(path) as handle:
        while offset > 0 and (data := handle.read(min(_CHUNK, offset))):
            newlines += data.count(b"\n")
            offset -= len(data)
    return newlines + 1


_ROW_BREAK_OR_QUOTE = re.compile(rb'["\n]')
# the line feed ending a blank line (empty or a lone carriage return) after another one
_BLANK_LINE_END = re.compile(rb"(?<=\n)\r?\n")


def _ends_blank_line(data: bytes, at: int, previous: bytes, offset: int, line_start: int) -> bool:
    """Whether the line feed at ``data[at]`` (``offset`` + ``at`` in the text) ends a blank
    line (empty, or a lone carriage return) that started at ``line_start``; ``previous`` is
    the byte before ``data``."""
    end = offset + at
    before = data[at - 1 : at] if at else previous
    return end == line_start or (end == line_start + 1 and before == b"\r")


def _data_rows_at(path: Path, starts: Sequence[int], delimiter: str) -> list[int]:
    """Data-row number (header = 0) of each skipped row given by DuckDB's line start.

    DuckDB's line number cannot be used as it is: it counts blank lines, which are not
    rows, and in a file whose lines end partly in LF and partly in CRLF it can count a
    CRLF twice. Its line start is taken instead and placed by one streamed pass over the
    (decompressed) text: rows end at a line feed outside double quotes (a quoted field may
    hold line breaks; a quote opens a field only at the field's start, so a stray quote
    inside a value, a row DuckDB rejects, does not swallow the rows after it), blank lines
    (empty, or a lone carriage return) are not rows, and a start is given to the row that
    contains it, or to the next row when it points into a blank line (DuckDB may point at
    the blank lines before the row it skipped).
    """
    order = sorted(range(len(starts)), key=lambda i: starts[i])
    rows = [0] * len(starts)
    placed = 0
    row = 0
    line_start = 0
    previous = b""
    in_quotes = False
    closed_at = -2
    field_break = delimiter.encode()
    offset = 0
    with _open_text_bytes(path) as handle:
        while placed < len(order) and (data := handle.read(_CHUNK)):
            last = data.rfind(b"\n")
            if not in_quotes and b'"' not in data and starts[order[placed]] > offset + last:
                # no quote and no start to place: count the chunk's rows in bulk
                if last >= 0:
                    first_blank = _ends_blank_line(
                        data, data.find(b"\n"), previous, offset, line_start
                    )
                    blanks = first_blank + (
                        len(_BLANK_LINE_END.findall(data))
                        if b"\n\n" in data or b"\n\r\n" in data
                        else 0
                    )
                    row += data.count(b"\n") - blanks
                    line_start = offset + last + 1
                previous = data[-1:]
                offset += len(data)
                continue
            for match in _ROW_BREAK_OR_QUOTE.finditer(data):
                if match.group() == b'"':
                    at = offset + match.start()
                    before = data[match.start() - 1 : match.start()] if match.start() else previous
                    if in_quotes:
                        in_quotes, closed_at = False, at
                    elif at == line_start or before == field_break or at == closed_at + 1:
                        in_quotes = True  # a field's opening quote, or the second of ""
                    continue
                if in_quotes:
                    continue
                end = offset + match.start()
                if not _ends_blank_line(data, match.start(), previous, offset, line_start):
                    while placed < len(order) and starts[order[placed]] <= end:
                        rows[order[placed]] = row
                        placed += 1
                    row += 1
                line_start = end + 1
                if placed == len(order):
                    break
            previous = data[-1:]
            offset += len(data)
    for i in order[placed:]:  # a last row without a line break
        rows[i] = row
    return rows


# --------------------------------------------------------------------------- mappings


def mapping_for(fmt: InputFormat, mapping_file: Path | None) -> ExportMapping:
    """The mapping a scan uses: the canonical layout, a built-in format or a user file."""
    if mapping_file is not None:
        return load_mapping(mapping_file)
    if fmt == "amlworld":
        return load_mapping(mappings_dir() / "amlworld.toml")
    return CANONICAL_MAPPING


_MAPPING_KEYS = {"name", "csv", "columns", "constants", "values", "timestamp"}


def load_mapping(path: Path) -> ExportMapping:
    """Read a TOML mapping file (format in README, "Reading other exports").

    Raises:
        InputError: unreadable, bad TOML, unknown keys or canonical columns, a required
            column neither mapped nor given as a constant, or an unknown channel value.
    """
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read mapping file ({exc.strerror})", where) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"mapping file is not valid TOML ({exc})", where) from exc

    problems: list[str] = []
    if unknown := sorted(set(raw) - _MAPPING_KEYS):
        problems.append(f"unknown sections {unknown}; allowed: {sorted(_MAPPING_KEYS)}")
    columns = {str(k): str(v) for k, v in raw.get("columns", {}).items()}
    constants = {str(k): str(v) for k, v in raw.get("constants", {}).items()}
    values = {
        str(col): {str(k).strip().lower(): str(v) for k, v in table.items()}
        for col, table in raw.get("values", {}).items()
    }
    for section, names in (("columns", columns), ("constants", constants), ("values", values)):
        if bad := sorted(set(names) - set(schema.COLUMNS_BY_NAME)):
            problems.append(f"[{section}] names unknown canonical columns {bad}")
    if missing := [c for c in schema.REQUIRED_COLUMNS if c not in columns and c not in constants]:
        problems.append(f"required columns not mapped: {missing}")
    for source, target in values.get("channel", {}).items():
        if target not in schema.CHANNELS:
            problems.append(f"[values.channel] {source!r} maps to unknown channel {target!r}")
    csv_opts = raw.get("csv", {})
    delimiter = str(csv_opts.get("delimiter", ","))
    decimal = str(csv_opts.get("decimal_separator", "."))
    if decimal not in {".", ","}:
        problems.append("[csv] decimal_separator must be '.' or ','")
    if problems:
        raise InputError("invalid mapping: " + "; ".join(problems), where)
    return ExportMapping(
        name=str(raw.get("name", path.stem)),
        columns=MappingProxyType(columns),
        constants=MappingProxyType(constants),
        values=MappingProxyType({k: MappingProxyType(v) for k, v in values.items()}),
        timestamp_format=raw.get("timestamp", {}).get("format"),
        delimiter=delimiter,
        decimal_separator=decimal,
    )


# --------------------------------------------------------------------------- raw tables


def quote_ident(name: str) -> str:
    """Quote a column name from a user's file for use as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def load_files(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[InputFile],
    mapping: ExportMapping,
    on_file: Callable[[], None] | None = None,
    limits: ReadLimits = READ_LIMITS,
) -> tuple[LoadedFile, ...]:
    """Expose every file as a raw table; file-level problems raise ``InputError``."""
    _create_structural_rejects(con)
    _create_value_maps(con, mapping)
    loaded = []
    for i, f in enumerate(files):
        loaded.append(_load_one(con, f, i, mapping, limits=limits))
        if on_file is not None:
            on_file()
    return tuple(loaded)


def load_arrow_rows(
    con: duckdb.DuckDBPyConnection,
    rows: pa.Table,
    source_name: str,
    mapping: ExportMapping = CANONICAL_MAPPING,
    index: int = 0,
) -> LoadedFile:
    """Expose an in-memory table of text columns (fixture cases, tests) as a raw table.

    ``mapping`` says which contract the columns follow (transactions or accounts);
    columns left out are ``NULL``; ``source_row`` is the 1-based position.
    """
    if index == 0:
        _create_structural_rejects(con)
        _create_value_maps(con, CANONICAL_MAPPING)
    table = "raw_accounts" if mapping is ACCOUNTS_MAPPING else f"raw_{index}"
    con.register("arrow_rows", rows)
    present = set(rows.column_names)
    select = ", ".join(
        f"cast({quote_ident(c.name)} as varchar) as {c.name}"
        if c.name in present
        else f"cast(null as varchar) as {c.name}"
        for c in mapping.contract
    )
    if mapping.contract is schema.TRANSACTION_COLUMNS:
        select += ", " + _typed_values({}, mapping)
    con.execute(
        f"create or replace table {table} as select {select}, "
        "row_number() over () as source_row from arrow_rows"
    )
    con.unregister("arrow_rows")
    file = InputFile(path=Path(source_name), kind="csv", sha256="", size_bytes=0)
    return LoadedFile(
        file=file, index=index, raw_table=table, rows_read=rows.num_rows, structural_rejects=0
    )


def drop_raw(con: duckdb.DuckDBPyConnection, loaded: LoadedFile) -> None:
    """Drop a raw table (CSV) or view (Parquet) once its rows are staged."""
    kind = "view" if loaded.file.kind == "parquet" else "table"
    con.execute(f"drop {kind} if exists {loaded.raw_table}")


def _create_structural_rejects(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create or replace table raw_structural_rejects ("
        "file_index integer, source_row bigint, reason_code varchar, detail varchar, "
        "raw_value varchar)"
    )


def _create_value_maps(con: duckdb.DuckDBPyConnection, mapping: ExportMapping) -> None:
    con.execute(
        "create or replace table value_map "
        "(column_name varchar, source_value varchar, canonical_value varchar)"
    )
    rows = [(col, src, dst) for col, table in mapping.values.items() for src, dst in table.items()]
    if rows:
        con.executemany("insert into value_map values (?, ?, ?)", rows)


def load_accounts_file(con: duckdb.DuckDBPyConnection, file: InputFile, index: int) -> LoadedFile:
    """Expose the optional accounts file as the raw table ``raw_accounts``."""
    return _load_one(con, file, index, ACCOUNTS_MAPPING, table="raw_accounts")


def _load_one(
    con: duckdb.DuckDBPyConnection,
    file: InputFile,
    index: int,
    mapping: ExportMapping,
    table: str | None = None,
    limits: ReadLimits = READ_LIMITS,
) -> LoadedFile:
    where = str(file.path)
    structural = 0
    table = table or f"raw_{index}"
    if file.kind == "parquet":
        parquet_types = _parquet_columns(con, file.path, mapping)
        _check_parquet_types(parquet_types, mapping, where)
        source_columns = list(parquet_types)
        source = ""
        row_expr = "file_row_number + 1"
        params: dict[str, object] = {}
    else:
        parquet_types = {}
        source_columns = _csv_columns(file.path, mapping, limits)
        source = (
            "read_csv($path, header = true, all_varchar = true, delim = $delim, quote = '\"', "
            "escape = '\"', store_rejects = true, rejects_table = $rej_table, "
            "rejects_scan = $rej_scan, auto_detect = false, columns = $columns, "
            "max_line_size = $max_line)"
        )
        # Position among the rows DuckDB could split; renumbered below when rows were
        # skipped. A streaming window keeps file order (preserve_insertion_order).
        row_expr = "row_number() over ()"
        params = {
            "path": where,
            "delim": mapping.delimiter,
            "rej_table": f"rejects_{index}",
            "rej_scan": f"rejects_scan_{index}",
            "columns": {name: "VARCHAR" for name in source_columns},
            "max_line": limits.max_line_bytes,
        }
    _check_required(source_columns, mapping, where)
    select = _projection(source_columns, mapping, file.path.name, parquet_types)
    typed = mapping.contract is schema.TRANSACTION_COLUMNS
    if typed and file.kind != "parquet":
        select += ", " + _typed_values({}, mapping)
    try:
        if file.kind == "parquet":
            # Parquet keeps its row numbers, so a view suffices (built through the
            # relation API: a view cannot hold a bound parameter such as the path). The
            # typed values are taken beside the row number, below the text projection:
            # there they leave a filter on source_row free to pass under the projection
            # (the Great Expectations sample then types only the rows it reads).
            inner = f"select *, {row_expr} as __row"
            if typed:
                inner += ", " + _typed_values(parquet_types, mapping, prefix="__")
                select += ", " + ", ".join(
                    f"__{name} as {name}" for name in TYPED_VALUE_COLUMNS.values()
                )
            relation = con.read_parquet(where, file_row_number=True)
            projected = relation.query(
                "parquet_file",
                f"select {select}, __row as source_row from ({inner} from parquet_file)",
            )
            assert projected is not None
            projected.to_view(table)
        else:
            # CSV rows are numbered while they are read, which needs a table.
            create = (
                f"create or replace table {table} as select {select}, "
                f"__row as source_row from (select *, {row_expr} as __row from {source})"
            )
            # a file whose lines end in both LF and CRLF is read through a copy with one
            # ending, whether DuckDB fails on it or rejects valid rows of it
            try:
                con.execute(create, params)
                mixed_newlines = _mixed_newlines_misread(con, index, file.path)
            except duckdb.InvalidInputException as exc:
                if _MIXED_NEWLINES not in str(exc):
                    raise
                mixed_newlines = True
            if not mixed_newlines:
                structural = _renumber_csv_rows(con, table, index, file.path, mapping.delimiter)
            else:
                for name in (f"rejects_{index}", f"rejects_scan_{index}"):
                    con.execute(f"drop table if exists {name}")
                with _normalised_copy(file.path) as copy:
                    con.execute(create, {**params, "path": str(copy)})
                    structural = _renumber_csv_rows(con, table, index, copy, mapping.delimiter)
    except duckdb.Error as exc:
        raise InputError(f"cannot read file: {_first_line(exc)}", where) from exc

    accepted = _count(con, f"select count(*) from {table}")
    # a header without rows (a quiet day) is a file of 0 rows, not an error
    return LoadedFile(
        file=file,
        index=index,
        raw_table=table,
        rows_read=accepted + structural,
        structural_rejects=structural,
    )


# DuckDB's strict mode (kept: it rejects rows with too many fields or stray quotes)
# fails a file whose lines end in both LF and CRLF with this message.
_MIXED_NEWLINES = "state machine reached an invalid state"


def _mixed_newlines_misread(con: duckdb.DuckDBPyConnection, index: int, path: Path) -> bool:
    """Whether DuckDB rejected a row only because the file's lines end in both LF and CRLF.

    DuckDB takes the line ending of the first line for the whole file; a quoted last
    field followed by the other ending is then a stray character after a quote
    ("UNQUOTED VALUE") although the row is valid. Checked (a pass over the file) only when
    DuckDB reported such a row.
    """
    stray = _count(con, f"select count(*) from rejects_{index} where error_type = 'UNQUOTED VALUE'")
    if not stray:
        return False
    crlf = lf = False
    held = b""
    with _open_text_bytes(path) as handle:
        while (chunk := handle.read(_CHUNK)) and not (crlf and lf):
            data = held + chunk
            crlf = crlf or b"\r\n" in data
            lf = lf or data.count(b"\n") > data.count(b"\r\n")
            held = b"\r" if data.endswith(b"\r") else b""
    return crlf and lf


@contextmanager
def _normalised_copy(path: Path) -> Iterator[Path]:
    """A temporary plain copy of a CSV file with every CRLF turned into LF, for a file
    whose line endings are mixed; removed when the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="iff-newlines-"))
    try:
        copy = folder / "normalised.csv"
        try:
            with _open_text_bytes(path) as source, copy.open("wb") as target:
                held = b""
                while chunk := source.read(_CHUNK):
                    data = held + chunk
                    held = b"\r" if data.endswith(b"\r") else b""
                    target.write((data[:-1] if held else data).replace(b"\r\n", b"\n"))
                target.write(held)
        except OSError as exc:
            problem = f"cannot normalise its mixed line endings ({exc.strerror})"
            raise InputError(problem, str(path)) from exc
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _csv_columns(path: Path, mapping: ExportMapping, limits: ReadLimits) -> list[str]:
    """Header of a CSV file, read here rather than by DuckDB's sniffer (which gives up on
    mixed line endings). A repeated name becomes ``name_1``, ``name_2`` as DuckDB names
    it; a repeat of a column the mapping reads without choosing a position is an error.
    """
    where = str(path)
    try:
        with _open_text_bytes(path) as handle:
            raw = handle.readline(limits.max_line_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"cannot read file ({exc})", where) from exc
    if len(raw) > limits.max_line_bytes:
        raise InputError(
            f"header line is longer than {limits.max_line_bytes:,} bytes; is this a CSV file?",
            where,
        )
    try:
        line = codecs.decode(raw, "utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InputError("header row is not valid UTF-8", where) from exc
    if not line.strip():
        raise InputError("file has no header row with column names", where)
    fields = next(csv.reader([line], delimiter=mapping.delimiter, quotechar='"'))
    names = [name.strip() or f"column{i}" for i, name in enumerate(fields)]
    _check_repeated(names, mapping, where)
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        unique.append(name if count == 0 else f"{name}_{count}")
    return unique


def _check_repeated(names: Sequence[str], mapping: ExportMapping, where: str) -> None:
    """A column the mapping reads must appear once, unless the mapping also reads its
    second occurrence (``name_1``, as AMLworld's ``Account``): otherwise which value is
    meant is ambiguous. Positions in the message are 1-based."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i + 1)
    read = set(mapping.columns.values())
    problems = [
        f"column {name!r} appears {len(at)} times (columns "
        + ", ".join(str(p) for p in at[:-1])
        + f" and {at[-1]})"
        for name, at in positions.items()
        if len(at) > 1 and name in read and f"{name}_1" not in read
    ]
    if problems:
        raise InputError(
            "a column name appears more than once, so which value to use is ambiguous: "
            + "; ".join(problems)
            + "; rename or drop the extra column",
            where,
        )


def _parquet_columns(
    con: duckdb.DuckDBPyConnection, path: Path, mapping: ExportMapping
) -> dict[str, str]:
    """Column -> DuckDB type of a Parquet file (repeated names as ``name_1``, ...)."""
    try:
        described = con.execute(
            "describe select * from read_parquet($path)", {"path": str(path)}
        ).fetchall()
        # the names as written: DuckDB renames a repeated one
        _check_repeated(pq.read_schema(path).names, mapping, str(path))
    except (duckdb.Error, pa.ArrowException) as exc:
        raise InputError(f"not a readable Parquet file: {_first_line(exc)}", str(path)) from exc
    return {str(r[0]): str(r[1]).upper() for r in described}


_PARQUET_TYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "string": ("VARCHAR", "BIGINT", "INTEGER", "HUGEINT", "UBIGINT", "UINTEGER"),
        "timestamp": (
            "TIMESTAMP",
            "TIMESTAMP_NS",
            "TIMESTAMP_MS",
            "TIMESTAMP_S",
            "DATE",
            "VARCHAR",
            "TIMESTAMP WITH TIME ZONE",
        ),
        "decimal": ("DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT"),
        "code": ("VARCHAR", "SMALLINT", "INTEGER", "BIGINT"),
        "flag": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "BOOLEAN", "UTINYINT"),
    }
)


def _check_parquet_types(columns: Mapping[str, str], mapping: ExportMapping, where: str) -> None:
    problems = []
    for canonical, source in mapping.columns.items():
        if source not in columns:
            continue
        kind = mapping.column(canonical).kind
        actual = columns[source]
        if not actual.startswith(_PARQUET_TYPES[kind]):
            problems.append(
                f"column {source!r} has type {actual}, expected one of "
                f"{', '.join(_PARQUET_TYPES[kind])}"
            )
    if problems:
        raise InputError("wrong column types: " + "; ".join(problems), where)


def _check_required(source_columns: Iterable[str], mapping: ExportMapping, where: str) -> None:
    present = set(source_columns)
    missing = [
        f"{c} (expected column {mapping.columns[c]!r})" if c in mapping.columns else c
        for c in (col.name for col in mapping.contract if col.required)
        if c not in mapping.constants
        and mapping.columns.get(c) != ROW_FROM_FILE
        and mapping.columns.get(c) not in present
    ]
    if missing:
        found = ", ".join(sorted(present))
        raise InputError(f"missing required column(s): {', '.join(missing)}; found: {found}", where)


def _projection(
    source_columns: Iterable[str],
    mapping: ExportMapping,
    file_name: str,
    types: Mapping[str, str] | None = None,
) -> str:
    """SELECT list turning source columns into canonical text columns.

    Text is trimmed and an empty text is NULL. A column of a typed file (``types``: column
    -> DuckDB type, Parquet) that is not text is only cast: the text of a number, a
    timestamp or a flag has no blanks to trim and is never empty, and trimming a copy of
    every such value cost about a tenth of the staging of a Parquet file.

    Only column names (quoted identifiers) and shipped constants reach the SQL text;
    constants from a mapping file are bound via ``value_map``-style literals escaped below.
    """
    present = set(source_columns)
    types = types or {}
    parts = []
    for col in mapping.contract:
        source = mapping.columns.get(col.name)
        if source == ROW_FROM_FILE:
            expr = f"{_literal(file_name + ':')} || cast(__row as varchar)"
        elif source is not None and source in present:
            text = f"cast({quote_ident(source)} as varchar)"
            typed = types.get(source, "VARCHAR") != "VARCHAR"
            expr = text if typed else f"nullif(trim({text}), '')"
            if col.name == "amount" and mapping.decimal_separator == ",":
                expr = f"replace(replace({expr}, '.', ''), ',', '.')"
            if col.name in mapping.values:
                expr = (
                    f"coalesce((select canonical_value from value_map m where m.column_name = "
                    f"{_literal(col.name)} and m.source_value = lower({expr})), {expr})"
                )
        elif col.name in mapping.constants:
            expr = _literal(mapping.constants[col.name])
        else:
            expr = "cast(null as varchar)"
        parts.append(f"{expr} as {col.name}")
    return ", ".join(parts)


TYPED_VALUE_COLUMNS: Mapping[str, str] = MappingProxyType(
    {"timestamp": "timestamp_value", "amount": "amount_value"}
)
"""Canonical column -> raw column holding its typed value when the file already carries
one (see ``_typed_values``)."""

_EXACT_AMOUNT_TYPES = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT")


def _typed_values(types: Mapping[str, str], mapping: ExportMapping, prefix: str = "") -> str:
    """SELECT list of the typed raw columns ``timestamp_value`` and ``amount_value``.

    A Parquet column already typed as the canonical type needs no text parsing: the
    staging query takes the typed value where there is one and parses the text column
    otherwise. A typed value is given only where it equals what parsing the column's text
    gives (the text columns stay, for the checks and the raw values of rejects):

    - ``timestamp``: a TIMESTAMP column, read without a strptime format (its text is ISO
      8601 without a zone, which parses back to the same instant);
    - ``amount``: an integer column, a DECIMAL of scale <= 4, or a DOUBLE whose value is
      exactly a DECIMAL(18,4) below 1e11 in magnitude (there the shortest text of the
      double is that decimal; other doubles, e.g. 0.00015, are parsed from their text),
      with ``.`` as decimal separator.

    Columns remapped through ``values`` and every column of a text file get NULL. The
    columns are named with ``prefix`` before their names.
    """
    timestamp = amount = None
    source = mapping.columns.get("timestamp", "")
    if (
        source in types
        and types[source] == "TIMESTAMP"
        and mapping.timestamp_format is None
        and "timestamp" not in mapping.values
    ):
        timestamp = quote_ident(source)
    source = mapping.columns.get("amount", "")
    if source in types and mapping.decimal_separator == "." and "amount" not in mapping.values:
        kind = types[source]
        column = quote_ident(source)
        scale = re.fullmatch(r"DECIMAL\(\d+,\s*(\d+)\)", kind)
        if kind in _EXACT_AMOUNT_TYPES or (scale is not None and int(scale.group(1)) <= 4):
            amount = f"try_cast({column} as {schema.AMOUNT_SQL_TYPE})"
        elif kind == "DOUBLE":
            exact = f"try_cast({column} as {schema.AMOUNT_SQL_TYPE})"
            amount = (
                f"case when abs({column}) < 1e11 and {exact}::double = {column} then {exact} end"
            )
    return (
        f"{timestamp or 'cast(null as timestamp)'} as "
        f"{prefix}{TYPED_VALUE_COLUMNS['timestamp']}, "
        f"{amount or f'cast(null as {schema.AMOUNT_SQL_TYPE})'} as "
        f"{prefix}{TYPED_VALUE_COLUMNS['amount']}"
    )


def _literal(value: str) -> str:
    """A SQL string literal for mapping constants (escaped; never user row data)."""
    return "'" + value.replace("'", "''") + "'"


def _renumber_csv_rows(
    con: duckdb.DuckDBPyConnection, table: str, index: int, path: Path, delimiter: str
) -> int:
    """Turn insertion positions into data-row numbers and record rows DuckDB skipped.

    DuckDB reports a skipped row by its line and line start; its data row comes from the
    line start (see ``_data_rows_at``). Accepted row k (0-based insertion
    position) is the k-th data row that was not skipped.
    """
    rejects = f"rejects_{index}"
    con.execute(
        f"""
        create or replace temp table skipped_{index} as
        select line, line - 1 as data_row, min(line_byte_position) as line_start,
               case when bool_or(error_type = 'INVALID ENCODING') then 'BROKEN_ENCODING'
                    else 'MALFORMED_ROW' end as reason_code,
               string_agg(distinct error_type::varchar, ', ' order by error_type::varchar)
                 || ': ' || min(error_message) as detail,
               ltrim(min(csv_line), chr(13) || chr(10)) as raw_value
        from {rejects}
        group by line
        """
    )
    lines = con.execute(f"select line, line_start from skipped_{index}").fetchall()
    if lines:
        con.execute(
            f"update skipped_{index} s set data_row = n.data_row from "
            "(select unnest($lines) as line, unnest($rows) as data_row) n where s.line = n.line",
            {
                "lines": [line for line, _ in lines],
                "rows": _data_rows_at(path, [start for _, start in lines], delimiter),
            },
        )
    con.execute(
        f"insert into raw_structural_rejects select {index}, data_row, reason_code, detail, "
        f"raw_value from skipped_{index}"
    )
    skipped = _count(con, f"select count(*) from skipped_{index}")
    if skipped:
        # Skipped row j (1-based, in file order) sits on data row d_j; d_j - j accepted
        # rows come before it. Accepted row k (1-based) is data row k + (number of
        # skipped rows whose accepted_before < k).
        con.execute(
            f"""
            create or replace table {table} as
            with skipped as (
                select data_row - row_number() over (order by data_row) as accepted_before,
                       row_number() over (order by data_row) as skipped_so_far
                from skipped_{index}
            ),
            steps as (
                select accepted_before, max(skipped_so_far) as skipped_so_far
                from skipped group by accepted_before
            )
            select r.* exclude (source_row),
                   r.source_row + coalesce(s.skipped_so_far, 0) as source_row
            from {table} r
            asof left join steps s on r.source_row > s.accepted_before
            order by r.source_row
            """
        )
    for name in (rejects, f"rejects_scan_{index}", f"skipped_{index}"):
        con.execute(f"drop table if exists {name}")
    return skipped


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(scalar(con, sql))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
