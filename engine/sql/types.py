"""Spark SQL data types, and how each maps onto an Arrow type.

Ember keeps every value in Arrow buffers. A Spark type names the logical type a user sees;
``to_arrow`` gives the physical Arrow type the engine stores it as. Decimals are stored as
float64 (Spark keeps exact precision; Ember trades that for compiled arithmetic).
"""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class DataType:
    """Base of every type; equal when the class (and parameters) are equal."""

    def simpleString(self) -> str:  # noqa: N802 - PySpark's name
        return type(self).__name__.removesuffix("Type").lower()

    def typeName(self) -> str:  # noqa: N802 - PySpark's name
        return self.simpleString()

    def to_arrow(self) -> pa.DataType:
        raise NotImplementedError(type(self).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(frozen=True, slots=True, repr=False)
class NullType(DataType):
    def simpleString(self) -> str:  # noqa: N802
        return "void"

    def to_arrow(self) -> pa.DataType:
        return pa.null()


@dataclass(frozen=True, slots=True, repr=False)
class BooleanType(DataType):
    def to_arrow(self) -> pa.DataType:
        return pa.bool_()


@dataclass(frozen=True, slots=True, repr=False)
class IntegerType(DataType):
    def simpleString(self) -> str:  # noqa: N802
        return "int"

    def to_arrow(self) -> pa.DataType:
        return pa.int32()


@dataclass(frozen=True, slots=True, repr=False)
class LongType(DataType):
    def simpleString(self) -> str:  # noqa: N802
        return "bigint"

    def to_arrow(self) -> pa.DataType:
        return pa.int64()


@dataclass(frozen=True, slots=True, repr=False)
class DoubleType(DataType):
    def to_arrow(self) -> pa.DataType:
        return pa.float64()


@dataclass(frozen=True, slots=True, repr=False)
class StringType(DataType):
    def to_arrow(self) -> pa.DataType:
        return pa.string()


@dataclass(frozen=True, slots=True, repr=False)
class DateType(DataType):
    def to_arrow(self) -> pa.DataType:
        return pa.date32()


@dataclass(frozen=True, slots=True, repr=False)
class TimestampType(DataType):
    def to_arrow(self) -> pa.DataType:
        return pa.timestamp("us")


@dataclass(frozen=True, slots=True)
class DecimalType(DataType):
    """Spark's decimal; stored as float64 by Ember (see the module docstring)."""

    precision: int = 10
    scale: int = 0

    def simpleString(self) -> str:  # noqa: N802
        return f"decimal({self.precision},{self.scale})"

    def to_arrow(self) -> pa.DataType:
        return pa.float64()

    def __repr__(self) -> str:
        return f"DecimalType({self.precision},{self.scale})"


@dataclass(frozen=True, slots=True)
class StructField:
    name: str
    dataType: DataType  # noqa: N815 - PySpark's name
    nullable: bool = True

    def simpleString(self) -> str:  # noqa: N802
        return f"{self.name}:{self.dataType.simpleString()}"


@dataclass(frozen=True, slots=True)
class StructType(DataType):
    fields: tuple[StructField, ...] = ()

    def __init__(self, fields=()):
        object.__setattr__(self, "fields", tuple(fields))

    def add(self, name: str, data_type: DataType, nullable: bool = True) -> StructType:
        return StructType(self.fields + (StructField(name, data_type, nullable),))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def fieldNames(self) -> list[str]:  # noqa: N802
        return self.names

    def __iter__(self):
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    def __getitem__(self, key):
        if isinstance(key, str):
            for f in self.fields:
                if f.name == key:
                    return f
            raise KeyError(key)
        return self.fields[key]

    def simpleString(self) -> str:  # noqa: N802
        return "struct<" + ",".join(f.simpleString() for f in self.fields) + ">"

    def to_arrow(self) -> pa.Schema:
        return pa.schema([pa.field(f.name, f.dataType.to_arrow(), f.nullable) for f in self.fields])

    def treeString(self) -> str:  # noqa: N802
        lines = ["root"]
        for f in self.fields:
            lines.append(f" |-- {f.name}: {f.dataType.simpleString()} (nullable = {str(f.nullable).lower()})")
        return "\n".join(lines) + "\n"

    def __repr__(self) -> str:
        return f"StructType({list(self.fields)!r})"


NUMERIC_TYPES = (IntegerType, LongType, DoubleType, DecimalType)


def is_numeric(t: DataType) -> bool:
    return isinstance(t, NUMERIC_TYPES)


def is_integral(t: DataType) -> bool:
    return isinstance(t, (IntegerType, LongType))


def wider_numeric(a: DataType, b: DataType) -> DataType:
    """The type both sides of a numeric operator are cast to (Spark's type coercion, simplified)."""
    if a == b:
        return a
    if isinstance(a, NullType):
        return b
    if isinstance(b, NullType):
        return a
    if isinstance(a, (DoubleType, DecimalType)) or isinstance(b, (DoubleType, DecimalType)):
        return DoubleType()
    return LongType()


def from_arrow(t: pa.DataType) -> DataType:
    """The Spark type of an Arrow type, for data read from Parquet, CSV, pandas or Arrow."""
    if pa.types.is_boolean(t):
        return BooleanType()
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_int32(t) or pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return IntegerType()
    if pa.types.is_integer(t):
        return LongType()
    if pa.types.is_floating(t):
        return DoubleType()
    if pa.types.is_decimal(t):
        return DecimalType(t.precision, t.scale)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return StringType()
    if pa.types.is_date(t):
        return DateType()
    if pa.types.is_timestamp(t):
        return TimestampType()
    if pa.types.is_null(t):
        return NullType()
    if pa.types.is_dictionary(t):
        return from_arrow(t.value_type)
    raise TypeError(f"unsupported Arrow type {t}")


_NAMES = {
    "boolean": BooleanType, "bool": BooleanType, "int": IntegerType, "integer": IntegerType,
    "bigint": LongType, "long": LongType, "double": DoubleType, "float": DoubleType,
    "string": StringType, "date": DateType, "timestamp": TimestampType, "void": NullType,
    "tinyint": IntegerType, "smallint": IntegerType, "short": IntegerType, "byte": IntegerType,
}


def parse_type(name: str | DataType) -> DataType:
    """A type from its DDL name (``"bigint"``, ``"decimal(12,2)"``) or the type itself."""
    if isinstance(name, DataType):
        return name
    key = name.strip().lower()
    if key in _NAMES:
        return _NAMES[key]()
    if key.startswith("decimal"):
        inner = key[len("decimal"):].strip("() ")
        if not inner:
            return DecimalType()
        precision, _, scale = inner.partition(",")
        return DecimalType(int(precision), int(scale or 0))
    raise ValueError(f"unknown data type {name!r}")


def parse_schema(ddl: str) -> StructType:
    """A schema from a DDL string, e.g. ``"id bigint, name string"``."""
    fields = []
    depth, start = 0, 0
    parts = []
    for i, ch in enumerate(ddl):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(ddl[start:i])
            start = i + 1
    parts.append(ddl[start:])
    for part in parts:
        name, _, type_name = part.strip().partition(" ")
        fields.append(StructField(name.strip("`"), parse_type(type_name.strip().lstrip(":").strip())))
    return StructType(fields)


class Row(tuple):
    """A result row: a tuple whose fields can also be read by name, as in PySpark.

    >>> r = Row(id=1, name="a")
    >>> r.id, r["name"], r[0]
    (1, 'a', 1)
    """

    __fields__: tuple[str, ...]

    def __new__(cls, *args, **kwargs):
        if kwargs:
            row = super().__new__(cls, kwargs.values())
            row.__fields__ = tuple(kwargs)
            return row
        row = super().__new__(cls, args)
        row.__fields__ = ()
        return row

    @classmethod
    def from_pairs(cls, names, values) -> Row:
        row = tuple.__new__(cls, values)
        row.__fields__ = tuple(names)
        return row

    @staticmethod
    def factory(names):
        """A Row class for one schema: its rows share the field names (fast for large collects)."""
        schema_row = type("Row", (Row,), {"__slots__": (), "__fields__": tuple(names)})
        return lambda values: tuple.__new__(schema_row, values)

    def asDict(self) -> dict:  # noqa: N802
        return dict(zip(self.__fields__, self))

    def __getattr__(self, name):
        try:
            return self[self.__fields__.index(name)]
        except ValueError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self.__fields__.index(key))
            except ValueError:
                raise KeyError(key) from None
        return tuple.__getitem__(self, key)

    def __repr__(self) -> str:
        if self.__fields__:
            return "Row(" + ", ".join(f"{k}={v!r}" for k, v in zip(self.__fields__, self)) + ")"
        return "<Row(" + ", ".join(repr(v) for v in self) + ")>"

    def __reduce__(self):
        return (Row.from_pairs, (self.__fields__, tuple(self)))
