"""Hive-style partition directories (``year=2024/month=7``): parsing, type inference, naming.

Spark's ``PartitioningUtils``. Reading walks up from each leaf directory to its base path and
collects the ``name=value`` directories on the way; every partition value is then typed by
inference (Spark's order: int, long, decimal(p,0), double, timestamp, date, else string) and the
types of one column are widened across all directories with Spark's partition-column table::

    int + long -> long        int + double -> double      long + double -> string
    date + timestamp -> timestamp                         null + t -> t
    anything else that differs -> string                  a column of nulls only -> void (null type)

``__HIVE_DEFAULT_PARTITION__`` is the null value. Writing goes the other way: a value is rendered
as Spark casts it to a string, escaped for a path, and empty strings and nulls become the default
partition name.

The rules Spark applies to the directory layout are kept: every partitioned leaf directory must
name the same columns ("Conflicting partition column names detected"), all of them must meet at
one base path ("Conflicting directory structures detected"), and files that sit directly in the
base path next to partition directories are not part of the table (Spark ignores them too).
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import re
from decimal import Decimal

from engine.sql.errors import AnalysisException
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

DEFAULT_PARTITION_NAME = "__HIVE_DEFAULT_PARTITION__"

# Spark's ExternalCatalogUtils.charToEscape: control characters and these.
_CHARS_TO_ESCAPE = frozenset(chr(c) for c in range(1, 0x20)) | frozenset('"#%\'*/:=?\\\x7f{[]^')

_HEX2_RE = re.compile(r"[0-9a-fA-F]{2}")
_INT_RE = re.compile(r"[+-]?\d+")
# java.lang.Double.parseDouble, without hexadecimal floats
_BIG_DECIMAL_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_JAVA_DOUBLE_RE = re.compile(r"\s*[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[fFdD]?))\s*")
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_PARTITION_TS_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?")

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def escape_path_name(s: str) -> str:
    """Escape a partition column name or value for a directory name, as Spark does.

    >>> escape_path_name("10:00 a/b")
    '10%3A00 a%2Fb'
    """
    return "".join(f"%{ord(ch):02X}" if ch in _CHARS_TO_ESCAPE else ch for ch in s)


def unescape_path_name(s: str) -> str:
    """Undo ``escape_path_name``: ``%XX`` hexadecimal escapes become characters again."""
    if "%" not in s:
        return s
    out: list[str] = []
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "%" and _HEX2_RE.fullmatch(s[i + 1:i + 3]):
            out.append(chr(int(s[i + 1:i + 3], 16)))
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# reading: directory name -> typed value


def parse_partition_column(dir_name: str) -> tuple[str, str] | None:
    """``"k=v"`` -> ``("k", "v")`` (the name unescaped, the value still raw); None if not ``k=v``."""
    eq = dir_name.find("=")
    if eq == -1:
        return None
    name = unescape_path_name(dir_name[:eq])
    raw = dir_name[eq + 1:]
    if not name:
        raise AnalysisException(f"Empty partition column name in '{dir_name}'")
    if not raw:
        raise AnalysisException(f"Empty partition column value in '{dir_name}'")
    return name, raw


def _parse_date(raw: str) -> _dt.date | None:
    m = _DATE_RE.fullmatch(raw)
    if not m:
        return None
    try:
        return _dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _parse_partition_timestamp(raw: str) -> _dt.datetime | None:
    m = _PARTITION_TS_RE.fullmatch(raw)
    if not m:
        return None
    micros = int((m[7] or "0")[:6].ljust(6, "0"))
    try:
        return _dt.datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]), micros)
    except ValueError:
        return None


def infer_partition_value_type(raw: str, type_inference: bool = True) -> DataType:
    """The type Spark infers for one raw partition value (``inferPartitionColumnValue``).

    >>> [infer_partition_value_type(v).simpleString() for v in ("7", "3000000000", "1.5", "2024-01-31", "x")]
    ['int', 'bigint', 'double', 'date', 'string']
    """
    if raw == DEFAULT_PARTITION_NAME:
        return NullType()
    if not type_inference:
        return StringType()
    if _INT_RE.fullmatch(raw):
        v = int(raw)
        if INT_MIN <= v <= INT_MAX:
            return IntegerType()
        if LONG_MIN <= v <= LONG_MAX:
            return LongType()
    if _BIG_DECIMAL_RE.fullmatch(raw):
        # java.math.BigDecimal with no digits after the point (scale <= 0): "12345678901234567890", "1e3"
        d = Decimal(raw)
        if d.as_tuple().exponent >= 0:
            digits = len(str(abs(int(d))))
            if digits <= 38:
                return DecimalType(digits, 0)
    if _JAVA_DOUBLE_RE.fullmatch(raw):
        return DoubleType()
    if _parse_partition_timestamp(unescape_path_name(raw)) is not None:
        return TimestampType()
    if _parse_date(raw) is not None:
        return DateType()
    return StringType()


_NUMERIC_RANK = {IntegerType: 0, LongType: 1, DecimalType: 2, DoubleType: 3}


def wider_partition_type(a: DataType, b: DataType) -> DataType:
    """Spark's ``findWiderTypeForPartitionColumn``: the type two partition values share."""
    if a == b:
        return a
    if isinstance(a, NullType):
        return b
    if isinstance(b, NullType):
        return a
    ta, tb = type(a), type(b)
    if ta in _NUMERIC_RANK and tb in _NUMERIC_RANK:
        pair = {ta, tb}
        if DoubleType in pair and (LongType in pair or DecimalType in pair):
            return StringType()  # Spark refuses to lose precision here
        if DoubleType in pair:
            return DoubleType()
        if DecimalType in pair:
            precisions = [t.precision if isinstance(t, DecimalType) else (10 if t == IntegerType() else 20)
                          for t in (a, b)]
            return DecimalType(min(38, max(precisions)), 0)
        return LongType()
    if {ta, tb} == {DateType, TimestampType}:
        return TimestampType()
    return StringType()


def cast_partition_value(raw: str, data_type: DataType):
    """A raw directory value as a Python value of ``data_type`` (Spark's ``castPartValueToDesiredType``).

    Values that do not fit the type (possible with a user-given schema) become null, as Spark's
    cast does.
    """
    if raw == DEFAULT_PARTITION_NAME or isinstance(data_type, NullType):
        return None
    if isinstance(data_type, StringType):
        return unescape_path_name(raw)
    try:
        if isinstance(data_type, (IntegerType, LongType)):
            return int(raw)
        if isinstance(data_type, (DoubleType, DecimalType)):
            text = raw.strip().rstrip("fFdD")
            return float(text)
        if isinstance(data_type, BooleanType):
            low = raw.lower()
            return True if low == "true" else False if low == "false" else None
    except ValueError:
        return None
    if isinstance(data_type, DateType):
        return _parse_date(raw.strip()[:10])
    if isinstance(data_type, TimestampType):
        text = unescape_path_name(raw)
        ts = _parse_partition_timestamp(text)
        if ts is None:
            d = _parse_date(text)
            ts = _dt.datetime(d.year, d.month, d.day) if d else None
        return ts
    raise AnalysisException(f"Unsupported partition column type {data_type.simpleString()}")


def parse_partition_path(leaf_dir: str, base_paths: set[str], type_inference: bool = True,
                         user_types: dict[str, DataType] | None = None):
    """Walk from ``leaf_dir`` up to a base path, as Spark's ``parsePartition`` does.

    Returns ``(columns, discovered_base)`` where ``columns`` is a list of ``(name, raw, type)``
    from the outermost directory inward, or None when the directory is not partitioned (or is a
    ``_temporary`` directory, which is ignored).
    """
    columns: list[tuple[str, str, DataType]] = []
    current = leaf_dir
    while True:
        if os.path.basename(current).lower() == "_temporary":
            return None, None
        if current in base_paths:
            break
        parsed = parse_partition_column(os.path.basename(current))
        if parsed is not None:
            name, raw = parsed
            given = _lookup(user_types, name)
            columns.append((name, raw, given if given is not None else infer_partition_value_type(raw, type_inference)))
        parent = os.path.dirname(current)
        if (parsed is None and columns) or parent == current:
            break
        current = parent
    if not columns:
        return None, leaf_dir
    return list(reversed(columns)), current


def _lookup(types: dict[str, DataType] | None, name: str) -> DataType | None:
    if not types:
        return None
    if name in types:
        return types[name]
    low = name.lower()
    for k, v in types.items():
        if k.lower() == low:
            return v
    return None


def infer_partitioning(leaf_dirs: list[str], base_paths: set[str], type_inference: bool = True,
                       user_types: dict[str, DataType] | None = None):
    """Partition schema and per-directory typed values for a table's leaf directories.

    Returns ``(schema, values)``: ``schema`` a list of ``(name, DataType)`` (empty when the table
    is not partitioned) and ``values`` a dict from each partitioned leaf directory to its tuple of
    typed values. Leaf directories missing from ``values`` hold no rows of the table.
    """
    parsed: list[tuple[str, list[tuple[str, str, DataType]]]] = []
    discovered: list[str] = []
    for leaf in leaf_dirs:
        cols, base = parse_partition_path(leaf, base_paths, type_inference, user_types)
        if base is not None:
            discovered.append(base)
        if cols is not None:
            parsed.append((leaf, cols))
    if not parsed:
        return [], {}
    distinct: dict[str, str] = {}
    for base in discovered:  # compared case-insensitively, as Spark does
        distinct.setdefault(base.lower(), base)
    bases = list(distinct.values())
    if len(bases) != 1:
        raise AnalysisException(
            "[CONFLICTING_DIRECTORY_STRUCTURES] Conflicting directory structures detected.\nSuspicious paths:\n\n\t"
            + "\n\t".join("file:" + b for b in bases)
            + "\n\nIf provided paths are partition directories, please set \"basePath\" in the options of the "
            "data source to specify the root directory of the table.\nIf there are multiple root directories, "
            "please load them separately and then union them. SQLSTATE: KD009"
        )
    name_lists = list(dict.fromkeys(tuple(c[0].lower() for c in cols) for _, cols in parsed))
    if len(name_lists) != 1:
        listed = "\n\t".join(f"Partition column name list #{i}: {', '.join(n)}" for i, n in enumerate(name_lists))
        dirs = "\n\t".join("file:" + leaf for leaf, _ in parsed)
        raise AnalysisException(
            f"[CONFLICTING_PARTITION_COLUMN_NAMES] Conflicting partition column names detected:\n\n\t{listed}\n\n"
            "For partitioned table directories, data files should only live in leaf directories.\n"
            "And directories at the same level should have the same partition column name.\n"
            "Please check the following directories for unexpected files or inconsistent partition column "
            f"names:\n\n\t{dirs} SQLSTATE: KD009"
        )
    first = parsed[0][1]
    schema: list[tuple[str, DataType]] = []
    for i, (name, _, _) in enumerate(first):
        t: DataType = NullType()
        for _, cols in parsed:
            t = wider_partition_type(t, cols[i][2])
        schema.append((name, t))  # Spark 4 keeps a column of nulls only as void
    values = {
        leaf: tuple(cast_partition_value(raw, schema[i][1]) for i, (_, raw, _) in enumerate(cols))
        for leaf, cols in parsed
    }
    return schema, values


# ---------------------------------------------------------------------------------------------
# writing: typed value -> directory name


def java_double_string(x: float) -> str:
    """``java.lang.Double.toString``, which is what Spark's cast of a double to string prints.

    >>> java_double_string(1.5), java_double_string(1e7), java_double_string(0.0001)
    ('1.5', '1.0E7', '1.0E-4')
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        s = repr(float(x))
        return s if ("." in s or "e" in s) else s + ".0"
    sign, digits, exp = Decimal(repr(float(x))).normalize().as_tuple()
    ds = "".join(map(str, digits))
    exponent = exp + len(ds) - 1
    mantissa = ds[0] + "." + (ds[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{exponent}"


def partition_value_string(value, data_type: DataType) -> str | None:
    """A partition value as Spark renders it in a directory name before escaping; None for null."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(data_type, BooleanType):
        return "true" if value else "false"
    if isinstance(data_type, DecimalType):
        return f"{float(value):.{data_type.scale}f}"
    if isinstance(data_type, DoubleType) or isinstance(value, float):
        return java_double_string(float(value))
    if isinstance(value, _dt.datetime):
        s = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            s += ("." + f"{value.microsecond:06d}").rstrip("0")
        return s
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def partition_dir_name(name: str, value, data_type: DataType) -> str:
    """The ``k=v`` directory for one partition value, as Spark's ``getPartitionPathString`` names it.

    >>> partition_dir_name("d", None, StringType())
    'd=__HIVE_DEFAULT_PARTITION__'
    """
    text = partition_value_string(value, data_type)
    rendered = DEFAULT_PARTITION_NAME if not text else escape_path_name(text)
    return f"{escape_path_name(name)}={rendered}"
