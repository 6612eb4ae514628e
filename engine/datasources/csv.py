"""CSV: options, schema inference, reading, writing (Spark's ``CSVFileFormat`` / ``CSVOptions``).

Options (case-insensitive keys, Spark's names and defaults):

============================  ==========  ==================================================
``header``                    false       first line holds column names (else ``_c0, _c1...``)
``inferSchema``               false       infer int / bigint / decimal(p,0) / double / date /
                                          timestamp / boolean / string; else all strings
``sep`` / ``delimiter``       ``,``       one character (``\\t`` accepted)
``nullValue``                 ``""``      this text (and an unquoted empty field) reads as null
``quote``                     ``"``       empty string: no quoting
``escape``                    ``\\``      escapes a quote inside a quoted value
``encoding`` / ``charset``    UTF-8
``multiLine``                 false       quoted values may span lines
``mode``                      PERMISSIVE  PERMISSIVE pads short rows with nulls and drops extra
                                          fields; DROPMALFORMED skips such rows; FAILFAST raises
============================  ==========  ==================================================

A doubled quote inside a quoted value also reads as one quote (RFC 4180: ``"a""b"`` is ``a"b``).
Values that do not parse as the column's type read as null (PERMISSIVE). Columns are matched to
the schema by position, as Spark does with ``enforceSchema=true``; with ``header`` every file's
first line is skipped. Timestamps without a zone are taken as UTC; with a zone (``Z``,
``+01:00``) they are converted to UTC. ``dateFormat`` / ``timestampFormat`` patterns, ``comment``
and ``samplingRatio`` are not supported: the ISO forms Spark parses by default are.

Not split within a file: each CSV file is read by one task (see ``splits``).
"""
from __future__ import annotations

import csv as _stdcsv
import datetime as _dt
import os
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from engine.catalyst.expressions import Expression
from engine.datasources.options import OptionsLike, normalize_options, option_bool
from engine.datasources.partitioning import INT_MAX, INT_MIN, LONG_MAX, LONG_MIN, java_double_string
from engine.datasources.pruning import partition_may_match
from engine.datasources.scan import (
    PartitionColumn,
    ScanColumn,
    ScanMetrics,
    as_partition_columns,
    as_scan_columns,
    constant_column,
    empty_table,
)
from engine.datasources.splits import FileSplit
from engine.sql.errors import AnalysisException, SparkException
from engine.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    NullType,
    StringType,
    TimestampType,
)


@dataclass(frozen=True, slots=True)
class CSVOptions:
    """Parsed CSV options; build with ``CSVOptions.parse(options)``."""

    header: bool = False
    infer_schema: bool = False
    sep: str = ","
    null_value: str = ""
    quote: str | None = '"'
    escape: str | None = "\\"
    encoding: str = "utf-8"
    multi_line: bool = False
    mode: str = "PERMISSIVE"

    @staticmethod
    def parse(options: OptionsLike) -> CSVOptions:
        o = normalize_options(options)
        sep = _to_char(o.get("sep", o.get("delimiter", ",")), "sep")
        quote = o.get("quote", '"')
        escape = o.get("escape", "\\")
        mode = o.get("mode", "PERMISSIVE").upper()
        if mode not in ("PERMISSIVE", "DROPMALFORMED", "FAILFAST"):
            mode = "PERMISSIVE"  # Spark falls back to PERMISSIVE for an unknown mode
        return CSVOptions(
            header=option_bool(o, "header", False),
            infer_schema=option_bool(o, "inferSchema", False),
            sep=sep,
            null_value=o.get("nullvalue", ""),
            quote=_to_char(quote, "quote") if quote else None,
            escape=_to_char(escape, "escape") if escape else None,
            encoding=o.get("encoding", o.get("charset", "utf-8")),
            multi_line=option_bool(o, "multiLine", False),
            mode=mode,
        )

    def _python_encoding(self) -> str:
        return "utf-8-sig" if self.encoding.lower().replace("-", "") == "utf8" else self.encoding


def _to_char(value: str, name: str) -> str:
    """Spark's ``CSVExprUtils.toChar``: one character, or an escape such as ``\\t``."""
    escapes = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\", "\\'": "'", '\\"': '"', "\\u0000": "\0"}
    value = escapes.get(value, value)
    if len(value) != 1:
        raise AnalysisException(f"Unsupported special character for {name}: {value!r} (Ember takes one character)")
    return value


# ---------------------------------------------------------------------------------------------
# reading strings


def _first_record(path: str, opts: CSVOptions) -> list[str] | None:
    with open(path, newline="", encoding=opts._python_encoding()) as f:
        for record in _stdcsv.reader(f, **_stdcsv_dialect(opts)):
            return record
    return None


def _stdcsv_dialect(opts: CSVOptions) -> dict:
    return dict(delimiter=opts.sep, quotechar=opts.quote or None, escapechar=opts.escape if opts.escape != opts.quote else None,
                doublequote=True, quoting=_stdcsv.QUOTE_MINIMAL if opts.quote else _stdcsv.QUOTE_NONE, strict=False)


def _read_strings(path: str, opts: CSVOptions, positions: Sequence[int]) -> pa.Table:
    """Columns ``f{i}`` for ``i`` in ``positions``, as strings with Spark's nulls; missing -> nulls."""
    first = _first_record(path, opts)
    if first is None:
        return pa.table({f"f{i}": pa.array([], pa.string()) for i in positions})
    width = len(first)
    names = [f"f{i}" for i in range(width)]
    wanted = [f"f{i}" for i in positions] or names[:1]
    malformed: list[str] = []

    def on_invalid(row) -> str:
        malformed.append(row.text)
        return "error" if opts.mode == "FAILFAST" else "skip"

    quote_escapes = opts.escape is not None and opts.escape != opts.quote
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if opts.header else 0,
                                           encoding=opts.encoding, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=opts.sep, quote_char=opts.quote or False, double_quote=True,
                                             escape_char=opts.escape if quote_escapes else False,
                                             newlines_in_values=opts.multi_line, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in wanted}, include_columns=wanted,
                                                 include_missing_columns=True,
                                                 null_values=list(dict.fromkeys(["", opts.null_value])),
                                                 strings_can_be_null=True,
                                                 quoted_strings_can_be_null=opts.null_value == ""),
        )
    except pa.ArrowInvalid as e:
        if "Empty CSV file" in str(e):
            return pa.table({f"f{i}": pa.array([], pa.string()) for i in positions})
        if malformed and opts.mode == "FAILFAST":
            raise SparkException(f"[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected "
                                 f"in record parsing: {malformed[-1]!r}. Parse Mode: FAILFAST. To process malformed "
                                 f"records as null result, try setting the option 'mode' as 'PERMISSIVE'.") from None
        raise
    if malformed and opts.mode == "PERMISSIVE":
        return _read_strings_slowly(path, opts, positions)
    if not positions:
        return table.select([])
    return table.select([f"f{i}" for i in positions])


def _read_strings_slowly(path: str, opts: CSVOptions, positions: Sequence[int]) -> pa.Table:
    """PERMISSIVE reading of rows of the wrong width: pad with nulls, drop extra fields."""
    rows: list[list[str]] = []
    with open(path, newline="", encoding=opts._python_encoding()) as f:
        reader = _stdcsv.reader(f, **_stdcsv_dialect(opts))
        if opts.header:
            next(reader, None)
        rows = [r for r in reader if r]
    cols = {}
    for i in positions:
        values = [(r[i] if i < len(r) else None) for r in rows]
        cols[f"f{i}"] = pa.array([None if v is None or v == "" or v == opts.null_value else v for v in values],
                                 pa.string())
    if not positions:
        return pa.table({"_": pa.nulls(len(rows))}).select([])
    return pa.table(cols)


# ---------------------------------------------------------------------------------------------
# strings -> values

_INT_PATTERN = r"^[+-]?\d+$"
_DOUBLE_PATTERN = r"^\s*[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?))\s*$"
_DATE_STRICT_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_DATE_RE = re.compile(r"\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ].*)?\s*")
_TS_RE = re.compile(r"\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
                    r"(?:[ T](\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?)?"
                    r"\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?\s*")


def _via_python(arr: pa.Array, fn: Callable[[str], object], out_type: pa.DataType) -> pa.Array:
    """Convert each distinct string once in Python (the slow path for unusual spellings)."""
    encoded = pc.dictionary_encode(arr)
    converted = pa.array([fn(v) for v in encoded.dictionary.to_pylist()], out_type)
    return converted.take(encoded.indices)


def _int_or_none(lo: int, hi: int) -> Callable[[str], int | None]:
    def parse(s: str) -> int | None:
        if re.fullmatch(r"[+-]?\d+", s):
            v = int(s)
            return v if lo <= v <= hi else None
        return None
    return parse


def _double_or_none(s: str) -> float | None:
    if s == "Inf":
        return float("inf")
    if s == "-Inf":
        return float("-inf")
    if not re.fullmatch(_DOUBLE_PATTERN[1:-1], s):
        return None
    return float(s.strip().rstrip("fFdD"))


def _bool_or_none(s: str) -> bool | None:
    low = s.lower()
    return True if low == "true" else False if low == "false" else None


def _date_or_none(s: str) -> _dt.date | None:
    m = _DATE_RE.fullmatch(s)
    if not m:
        return None
    try:
        return _dt.date(int(m[1]), int(m[2] or 1), int(m[3] or 1))
    except ValueError:
        return None


def _timestamp_or_none(s: str) -> _dt.datetime | None:
    m = _TS_RE.fullmatch(s)
    if not m:
        return None
    try:
        t = _dt.datetime(int(m[1]), int(m[2] or 1), int(m[3] or 1), int(m[4] or 0), int(m[5] or 0), int(m[6] or 0),
                         int((m[7] or "0")[:6].ljust(6, "0")))
    except ValueError:
        return None
    zone = m[8]
    if zone and zone not in ("Z", "UTC"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
        t -= sign * _dt.timedelta(hours=hours, minutes=minutes)
    return t


def parse_strings(arr: pa.Array | pa.ChunkedArray, data_type: DataType) -> pa.Array:
    """A column of CSV strings as Ember's Arrow type for ``data_type``; unparseable -> null."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    target = data_type.to_arrow()
    if isinstance(data_type, StringType):
        return arr
    if isinstance(data_type, NullType):
        return pa.nulls(len(arr))
    if len(arr) == arr.null_count:
        return pa.nulls(len(arr), target)
    if isinstance(data_type, (IntegerType, LongType)):
        lo, hi = (INT_MIN, INT_MAX) if isinstance(data_type, IntegerType) else (LONG_MIN, LONG_MAX)
        try:
            return pc.cast(arr, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _via_python(arr, _int_or_none(lo, hi), target)
    if isinstance(data_type, (DoubleType, DecimalType)):
        if pc.all(pc.match_substring_regex(arr, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")).as_py() is not False:
            return pc.cast(arr, pa.float64())
        return _via_python(arr, _double_or_none, pa.float64())
    if isinstance(data_type, BooleanType):
        return _via_python(arr, _bool_or_none, pa.bool_())
    if isinstance(data_type, DateType):
        try:
            return pc.cast(arr, pa.date32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _via_python(arr, _date_or_none, pa.date32())
    if isinstance(data_type, TimestampType):
        try:
            return pc.cast(arr, pa.timestamp("us"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _via_python(arr, _timestamp_or_none, pa.timestamp("us"))
    raise AnalysisException(f"[UNSUPPORTED_DATA_TYPE_FOR_DATASOURCE] The CSV datasource doesn't support "
                            f"the type \"{data_type.simpleString()}\".")


def _all(mask: pa.Array) -> bool:
    return pc.all(mask).as_py() is not False


def infer_column_type(arr: pa.Array | pa.ChunkedArray) -> DataType:
    """The type Spark's ``CSVInferSchema`` gives a column of strings (nulls and "" ignored).

    Each value is typed on its own (int, bigint, decimal(p,0) beyond bigint, double, date in
    ``yyyy-MM-dd``, timestamp, boolean, else string) and the types are merged: int+bigint ->
    bigint, numbers with double -> double, date+timestamp -> timestamp, anything else mixed ->
    string. A column with no values at all is a string column.
    """
    values = pc.unique(pc.drop_null(arr))
    values = values.filter(pc.not_equal(values, ""))
    if len(values) == 0:
        return StringType()
    if _all(pc.match_substring_regex(values, _INT_PATTERN)):
        try:
            bounds = pc.min_max(pc.cast(pc.utf8_ltrim(values, "+"), pa.int64()))
            lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        except pa.ArrowInvalid:  # beyond bigint
            ints = [int(v) for v in values.to_pylist()]
            lo, hi = min(ints), max(ints)
        if INT_MIN <= lo and hi <= INT_MAX:
            return IntegerType()
        if LONG_MIN <= lo and hi <= LONG_MAX:
            return LongType()
        digits = max(len(str(abs(lo))), len(str(abs(hi))))
        return DecimalType(digits, 0) if digits <= 38 else DoubleType()
    doubles = pc.or_(pc.match_substring_regex(values, _DOUBLE_PATTERN), pc.is_in(values, pa.array(["Inf", "-Inf"])))
    if _all(doubles):
        return DoubleType()
    if _all(pc.match_substring_regex(values, _DATE_STRICT_PATTERN)):
        if parse_strings(values, DateType()).null_count == 0:
            return DateType()
    if parse_strings(values, TimestampType()).null_count == 0:
        return TimestampType()
    if _all(pc.is_in(pc.utf8_lower(values), pa.array(["true", "false"]))):
        return BooleanType()
    return StringType()


def header_names(record: Sequence[str]) -> list[str]:
    """Spark's ``makeSafeHeader``: empty names become ``_c{i}``, duplicates get their position.

    >>> header_names(["a", "", "a", "b"])
    ['a0', '_c1', 'a2', 'b']
    """
    lowered = [n.lower() for n in record]
    dups = {n for n in lowered if n and lowered.count(n) > 1}
    out = []
    for i, name in enumerate(record):
        if not name:
            out.append(f"_c{i}")
        elif name.lower() in dups:
            out.append(f"{name}{i}")
        else:
            out.append(name)
    return out


def infer_csv_schema(paths: Sequence[str], options: OptionsLike) -> list[tuple[str, DataType]]:
    """The data columns of CSV files: names from the header (or ``_c{i}``), types if ``inferSchema``."""
    opts = CSVOptions.parse(options)
    if not paths:
        raise AnalysisException("[UNABLE_TO_INFER_SCHEMA] Unable to infer schema for CSV. It must be specified manually.")
    first = None
    for p in paths:
        first = _first_record(p, opts)
        if first is not None:
            break
    if first is None:
        return []
    names = header_names(first) if opts.header else [f"_c{i}" for i in range(len(first))]
    if not opts.infer_schema:
        return [(n, StringType()) for n in names]
    positions = list(range(len(names)))
    columns: list[list[pa.Array]] = [[] for _ in names]
    for p in paths:
        t = _read_strings(p, opts, positions)
        for i in positions:
            columns[i].append(t.column(i).combine_chunks())
    return [(n, infer_column_type(pa.chunked_array(columns[i], pa.string()))) for i, n in enumerate(names)]


# ---------------------------------------------------------------------------------------------
# reading a task's files


def read_csv_split(splits: Sequence[FileSplit], columns: Sequence[ScanColumn | tuple],
                   data_schema: Sequence[tuple[str, DataType]], options: OptionsLike = None,
                   partition_columns: Sequence[PartitionColumn | tuple] = (),
                   pushed_filters: Sequence[Expression] = ()) -> tuple[pa.Table, ScanMetrics]:
    """Read whole CSV files (one split per file) into Ember's Arrow columns.

    ``data_schema`` is the relation's full list of data columns, in file order: it is what maps a
    requested column to its position in each line. Filters on partition columns skip files whose
    partition values cannot match; other pushed filters are left to the Filter above the scan.
    """
    opts = CSVOptions.parse(options)
    data_cols = as_scan_columns(columns)
    part_cols = as_partition_columns(partition_columns)
    position = {}
    for i, (name, _) in enumerate(data_schema):
        position.setdefault(name, i)
        position.setdefault(name.lower(), i)
    types = {i: t for i, (_, t) in enumerate(data_schema)}
    metrics = ScanMetrics()
    pieces: list[pa.Table] = []
    rows_without_columns = 0
    for split in splits:
        if split.start != 0 or split.length != split.file.size:
            raise ValueError(f"CSV files are read whole; got the range {split}")
        values = split.file.partition_values
        if pushed_filters and part_cols and not partition_may_match(pushed_filters, part_cols, values):
            metrics.files_pruned += 1
            continue
        positions = [position.get(c.name, position.get(c.name.lower())) for c in data_cols]
        strings = _read_strings(split.file.path, opts, [p for p in positions if p is not None])
        n = strings.num_rows
        metrics.files_read += 1
        metrics.bytes_read += split.file.size
        metrics.records_read += n
        if not data_cols and not part_cols:
            rows_without_columns += n
            continue
        arrays, k = [], 0
        for c, p in zip(data_cols, positions):
            if p is None:
                arrays.append(pa.nulls(n, c.arrow_type))
                continue
            parsed = parse_strings(strings.column(k), types[p])
            k += 1
            arrays.append(parsed if parsed.type == c.arrow_type else pc.cast(parsed, c.arrow_type))
        for c in part_cols:
            arrays.append(constant_column(values[c.index] if c.index < len(values) else None, c.arrow_type, n))
        pieces.append(pa.table(arrays, names=[c.column_key for c in (*data_cols, *part_cols)]))
    if not data_cols and not part_cols:
        return pa.table({"_": pa.nulls(rows_without_columns)}).select([]), metrics
    if not pieces:
        return empty_table([*data_cols, *part_cols]), metrics
    return (pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)), metrics


# ---------------------------------------------------------------------------------------------
# writing


def _cells(column: pa.ChunkedArray | pa.Array, opts: CSVOptions, data_type: DataType | None = None) -> pa.Array:
    """One column rendered as Spark's CSV writer renders it; nulls stay null."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    t = column.type
    if isinstance(data_type, DecimalType) and pa.types.is_floating(t):
        try:  # Spark prints a decimal with its scale: -3.10
            decimals = pc.cast(pc.round(column, data_type.scale), pa.decimal128(data_type.precision, data_type.scale))
            return pc.cast(decimals, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if pa.types.is_floating(t):
        # java.lang.Double.toString: 2.0, 1.0E20, NaN, Infinity
        s = pc.cast(column, pa.string())
        plain = pc.match_substring_regex(s, r"^-?\d+$")
        s = pc.if_else(plain, pc.binary_join_element_wise(s, ".0", ""), s)
        unusual = pc.match_substring_regex(s, r"[a-z]")
        if pc.any(unusual).as_py():
            java = pa.array([java_double_string(v) if v is not None else None for v in column.to_pylist()], pa.string())
            s = pc.if_else(unusual, java, s)
        return s
    if pa.types.is_timestamp(t):
        # Spark's default timestampFormat for writing: yyyy-MM-dd'T'HH:mm:ss.SSSXXX, here in UTC
        seconds = pc.cast(pc.floor_temporal(column, unit="second"), pa.timestamp("s"))
        return pc.binary_join_element_wise(pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%S"), ".",
                                           pc.utf8_lpad(pc.cast(pc.millisecond(column), pa.string()), 3, "0"),
                                           "Z", "")
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        s = pc.cast(column, pa.string())
        if opts.quote:
            specials = re.escape(opts.sep + opts.quote + (opts.escape or "")) + r"\r\n"
            needs = pc.or_(pc.match_substring_regex(s, f"[{specials}]|^\\s|\\s$"), pc.equal(s, ""))
            escaped = pc.replace_substring(s, opts.quote, (opts.escape or opts.quote) + opts.quote)
            quoted = pc.binary_join_element_wise(opts.quote, escaped, opts.quote, "")
            s = pc.if_else(needs, quoted, s)
        return s
    return pc.cast(column, pa.string())


def write_csv_file(table: pa.Table, path: str, options: OptionsLike = None,
                   types: Sequence[DataType | None] | None = None) -> int:
    """Write ``table`` (real column names) as CSV the way Spark does; returns the bytes written.

    Nulls are written as ``nullValue`` (empty by default) and empty strings as ``""``; values
    holding the separator, a quote, a line break or edge whitespace are quoted, with quotes
    escaped by ``escape`` (a backslash by default, as Spark writes them).
    """
    opts = CSVOptions.parse(options)
    lines: list[str] = []
    if opts.header:
        lines.append(opts.sep.join(table.column_names))
    if table.num_rows and table.num_columns:
        types = list(types or [None] * table.num_columns)
        cells = [_cells(table.column(i), opts, types[i]) for i in range(table.num_columns)]
        rows = pc.binary_join_element_wise(*cells, opts.sep, null_handling="replace",
                                           null_replacement=opts.null_value)
        lines.extend(rows.to_pylist())
    with open(path, "w", encoding=opts.encoding, newline="") as f:
        f.write("\n".join(lines) + ("\n" if lines else ""))
    return os.path.getsize(path)


__all__ = ["CSVOptions", "infer_csv_schema", "infer_column_type", "parse_strings", "read_csv_split",
           "write_csv_file", "header_names"]
