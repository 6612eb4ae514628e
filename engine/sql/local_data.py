"""``createDataFrame`` inputs (rows, pandas, Arrow) as a ``LocalRelation`` with Spark's types.

Schema inference follows PySpark: Python ``int`` is bigint, ``float`` double, ``str`` string,
``bool`` boolean, ``date`` date, ``datetime`` timestamp, ``Decimal`` decimal(38,18).
"""
from __future__ import annotations

import datetime as _dt
import decimal

import pyarrow as pa

from engine.catalyst.expressions import AttributeReference
from engine.catalyst.logical import DataHandle, LocalRelation
from engine.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    LongType,
    Row,
    StringType,
    StructField,
    StructType,
    TimestampType,
    from_arrow,
    parse_schema,
    parse_type,
)


def _infer_type(values, position: str) -> DataType:
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            return BooleanType()
        if isinstance(v, int):
            return LongType()
        if isinstance(v, float):
            return DoubleType()
        if isinstance(v, str):
            return StringType()
        if isinstance(v, _dt.datetime):
            return TimestampType()
        if isinstance(v, _dt.date):
            return DateType()
        if isinstance(v, decimal.Decimal):
            return DecimalType(38, 18)
        raise TypeError(f"[CANNOT_INFER_TYPE_FOR_FIELD] Unable to infer the type of the field `{position}`: "
                        f"{type(v).__name__} is not supported.")
    raise ValueError(f"[CANNOT_DETERMINE_TYPE] Some of types cannot be determined after inferring: "
                     f"every value of `{position}` is None; give a schema.")


def _rows_to_columns(data) -> tuple[list[str] | None, list[list]]:
    rows = list(data)
    if not rows:
        return None, []
    first = rows[0]
    if isinstance(first, dict):
        names = list(first)
        return names, [[r.get(n) for r in rows] for n in names]
    names = list(first.__fields__) if isinstance(first, Row) and first.__fields__ else None
    if not isinstance(first, (tuple, list)):
        rows = [(r,) for r in rows]
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ValueError(f"[LENGTH_SHOULD_BE_THE_SAME] row {i} has {len(r)} fields, row 0 has {width}.")
    return names, [[r[i] for r in rows] for i in range(width)]


def _schema(schema) -> StructType | list[str] | None:
    if isinstance(schema, str):
        if ":" not in schema and " " not in schema.strip():
            return StructType([StructField("value", parse_type(schema))])
        return parse_schema(schema)
    if isinstance(schema, DataType) and not isinstance(schema, StructType):
        return StructType([StructField("value", schema)])
    return schema


def _arrow_column(values, data_type: DataType, name: str) -> pa.Array:
    if isinstance(data_type, DecimalType):
        values = [None if v is None else float(v) for v in values]
    try:
        return pa.array(values, type=data_type.to_arrow())
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as e:
        raise TypeError(f"[FIELD_DATA_TYPE_UNACCEPTABLE] field `{name}` of type {data_type.simpleString()} "
                        f"cannot hold these values: {e}") from None


def to_local_relation(data, schema=None) -> LocalRelation:
    schema = _schema(schema)
    if isinstance(data, pa.Table):
        return _from_arrow(data, schema)
    if type(data).__module__.startswith("pandas"):
        return _from_arrow(pa.Table.from_pandas(data, preserve_index=False), schema)
    names, columns = _rows_to_columns(data)
    if isinstance(schema, StructType):
        if columns and len(columns) != len(schema.fields):
            raise ValueError(f"[LENGTH_SHOULD_BE_THE_SAME] schema has {len(schema.fields)} fields, rows have {len(columns)}.")
        fields = list(schema.fields)
        if not columns:
            columns = [[] for _ in fields]
    else:
        if isinstance(schema, (list, tuple)):
            names = list(schema)
        if not columns:
            raise ValueError("[CANNOT_INFER_EMPTY_SCHEMA] Can not infer schema from an empty dataset.")
        names = names or [f"_{i + 1}" for i in range(len(columns))]
        if len(names) != len(columns):
            raise ValueError(f"[LENGTH_SHOULD_BE_THE_SAME] {len(names)} column names for {len(columns)} fields.")
        fields = [StructField(n, _infer_type(c, n)) for n, c in zip(names, columns)]
    attrs = tuple(AttributeReference(f.name, f.dataType, f.nullable) for f in fields)
    table = pa.table({a.column_key: _arrow_column(c, a.data_type, a.name) for a, c in zip(attrs, columns)})
    return LocalRelation(attrs, DataHandle(table))


def _from_arrow(table: pa.Table, schema) -> LocalRelation:
    names = table.column_names
    if isinstance(schema, (list, tuple)):
        names = list(schema)
    if isinstance(schema, StructType):
        types = [f.dataType for f in schema.fields]
        names = schema.names
    else:
        types = [from_arrow(f.type) for f in table.schema]
    attrs = tuple(AttributeReference(n, t, True) for n, t in zip(names, types))
    columns = []
    for column, attr in zip(table.columns, attrs):
        target = attr.data_type.to_arrow()
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns.append(column if column.type == target else column.cast(target))
    return LocalRelation(attrs, DataHandle(pa.table(dict(zip([a.column_key for a in attrs], columns)))))
