"""A Pandera model read as row-level rules: for each column check, the Spark condition a row breaks.

Pandera's pyspark backend answers pass or fail per check, without the rows. These rules come from the same
model (one contract, two readings), so the rows that broke a check can be counted and shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandera.pyspark as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

# Pandera check name -> (what it requires, the condition a row breaks). Nulls never break a value check:
# nullability is a rule of its own, as in Pandera.
_VIOLATIONS: Mapping[str, Callable[[Column, dict[str, Any]], tuple[str, Column]]] = {
    "greater_than": lambda c, s: (f"> {s['min_value']}", c <= s["min_value"]),
    "greater_than_or_equal_to": lambda c, s: (f">= {s['min_value']}", c < s["min_value"]),
    "less_than": lambda c, s: (f"< {s['max_value']}", c >= s["max_value"]),
    "less_than_or_equal_to": lambda c, s: (f"<= {s['max_value']}", c > s["max_value"]),
    "in_range": lambda c, s: (
        f"in [{s['min_value']}, {s['max_value']}]", (c < s["min_value"]) | (c > s["max_value"])),
    "equal_to": lambda c, s: (f"== {s['value']}", c != s["value"]),
    "not_equal_to": lambda c, s: (f"!= {s['value']}", c == s["value"]),
    "isin": lambda c, s: (f"one of {sorted(s['allowed_values'])}", ~c.isin(list(s["allowed_values"]))),
    "notin": lambda c, s: (f"none of {sorted(s['forbidden_values'])}", c.isin(list(s["forbidden_values"]))),
    "str_matches": lambda c, s: (f"matches /{s['pattern']}/", ~c.rlike(s["pattern"])),
    "str_startswith": lambda c, s: (f"starts with {s['string']!r}", ~c.startswith(s["string"])),
}

# Casts that lose nothing: a feed may deliver a narrower type than the contract's.
_WIDENINGS: Mapping[type[T.DataType], tuple[type[T.DataType], ...]] = {
    T.LongType: (T.ByteType, T.ShortType, T.IntegerType),
    T.IntegerType: (T.ByteType, T.ShortType),
    T.DoubleType: (T.FloatType, T.ByteType, T.ShortType, T.IntegerType, T.LongType),
}


@dataclass(frozen=True)
class Rule:
    """One requirement on one column; ``violated`` is true for a row that breaks it."""

    column: str
    check: str
    requirement: str
    violated: Column


@dataclass(frozen=True)
class Contract:
    """What a Pandera model asks of a frame, in terms Spark can evaluate."""

    name: str
    types: dict[str, T.DataType]
    nullable: dict[str, bool]
    unique: tuple[str, ...]
    rules: tuple[Rule, ...]


def contract(model: type[pa.DataFrameModel]) -> Contract:
    """The model's requirements as Spark conditions (built with a Spark session active, as columns are)."""
    schema = model.to_schema()
    types: dict[str, T.DataType] = {}
    nullable: dict[str, bool] = {}
    rules: list[Rule] = []
    for name, column in schema.columns.items():
        types[name] = column.dtype.type
        nullable[name] = column.nullable
        c = F.col(f"`{name}`")
        if not column.nullable:
            rules.append(Rule(name, "not_nullable", "not null", c.isNull()))
        for check in column.checks:
            to_violation = _VIOLATIONS.get(check.name)
            if to_violation is None:
                raise ValueError(f"{model.__name__}.{name}: no row rule for Pandera check {check.name!r}; "
                                 f"add one to daystosell_assets.quality.rules")
            requirement, violated = to_violation(c, dict(check.statistics))
            rules.append(Rule(name, check.name, requirement, F.coalesce(violated, F.lit(False))))
    unique = schema.unique
    keys = (unique,) if isinstance(unique, str) else tuple(unique or ())
    return Contract(model.__name__, types, nullable, keys, tuple(rules))


def conform_types(df: DataFrame, model: type[pa.DataFrameModel]) -> DataFrame:
    """Casts columns to the contract's types where the cast loses nothing (an int feed for a long column);
    anything else is left as delivered, so the schema check reports the changed type instead of a cast
    quietly turning values into nulls."""
    wanted = contract(model).types
    delivered = {f.name: f.dataType for f in df.schema.fields}
    casts = {
        name: F.col(f"`{name}`").cast(wanted[name])
        for name, have in delivered.items()
        if name in wanted and have != wanted[name]
        and isinstance(have, _WIDENINGS.get(type(wanted[name]), ()))
    }
    return df.withColumns(casts) if casts else df
