"""Data source options: ``spark.read.option(...)`` pairs, looked up case-insensitively like Spark."""
from __future__ import annotations

from typing import Iterable, Mapping

OptionsLike = Mapping[str, object] | Iterable[tuple[str, object]] | None


def normalize_options(options: OptionsLike) -> dict[str, str]:
    """Options as a dict with lower-cased keys and string values (Spark's ``CaseInsensitiveMap``).

    >>> normalize_options([("inferSchema", True), ("SEP", ";")])
    {'inferschema': 'true', 'sep': ';'}
    """
    if options is None:
        return {}
    items = options.items() if isinstance(options, Mapping) else options
    out: dict[str, str] = {}
    for k, v in items:
        if v is None:
            continue
        out[str(k).lower()] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def option_bool(opts: Mapping[str, str], key: str, default: bool) -> bool:
    """A boolean option; Spark accepts ``true``/``false`` in any case and rejects anything else."""
    value = opts.get(key.lower())
    if value is None:
        return default
    low = value.strip().lower()
    if low not in ("true", "false"):
        raise ValueError(f"{key} flag can be true or false, got {value!r}")
    return low == "true"
