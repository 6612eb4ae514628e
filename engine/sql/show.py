"""``df.show()``'s table, drawn exactly as Spark draws it."""
from __future__ import annotations

import datetime as _dt
import decimal

import pyarrow as pa


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` writes it, as Spark shows it: ``1.0``, ``2.6075943E7``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    digits = decimal.Decimal(repr(value))
    exponent = digits.adjusted()
    mantissa = format(digits.scaleb(-exponent).normalize(), "f")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}E{exponent}"


def show_string(table: pa.Table, n: int, truncate: bool | int, vertical: bool) -> str:
    names = table.column_names
    rows = [[_cell(v) for v in row] for row in zip(*[c.to_pylist() for c in table.columns])] if names else []
    has_more = len(rows) > n
    rows = rows[:n]
    width = 20 if truncate is True else int(truncate or 0)
    if width > 0:
        rows = [[c if len(c) <= width else (c[: width - 3] + "..." if width > 3 else c[:width]) for c in r] for r in rows]
    if vertical:
        out = []
        for i, r in enumerate(rows):
            out.append(f"-RECORD {i}" + "-" * 20)
            pad = max((len(x) for x in names), default=0)
            out.extend(f" {k.ljust(pad)} | {v}" for k, v in zip(names, r))
        if not rows:
            out.append("(0 rows)")
        return "\n".join(out) + "\n"
    widths = [max([3, len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(names)]
    sep = "+" + "+".join("-" * w for w in widths) + "+"
    align = (lambda s, w: s.rjust(w)) if width > 0 else (lambda s, w: s.ljust(w))
    lines = [sep, "|" + "|".join(align(h, w) for h, w in zip(names, widths)) + "|", sep]
    lines += ["|" + "|".join(align(c, w) for c, w in zip(r, widths)) + "|" for r in rows]
    lines.append(sep)
    if has_more:
        lines.append(f"only showing top {n} row{'s' if n != 1 else ''}")
    return "\n".join(lines) + "\n"
