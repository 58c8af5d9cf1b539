"""What exactly is wrong with a frame: every broken rule with how many rows break it and a sample of them."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from daystosell_assets.quality.rules import Contract, Rule


@dataclass(frozen=True)
class Finding:
    """One broken requirement. ``rows`` is how many rows break it (None for a fault of the frame's shape,
    such as a missing column); ``sample`` holds a few of them: their keys and the offending values."""

    check: str
    column: str
    problem: str
    rows: int | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Diagnosis:
    rows: int
    failing_rows: int
    findings: list[Finding]

    @property
    def passed(self) -> bool:
        return not self.findings


def diagnose(df: DataFrame, contract: Contract, keys: Sequence[str], sample: int = 5) -> Diagnosis:
    """Checks ``df`` against ``contract`` in one pass over the data (plus one small query per broken rule,
    for its sample, and one grouping for key uniqueness)."""
    delivered = {f.name: f.dataType for f in df.schema.fields}
    findings: list[Finding] = []
    for name, wanted in contract.types.items():
        if name not in delivered:
            findings.append(Finding("column_present", name,
                                    f"column `{name}` is missing (expected {wanted.simpleString()})"))
        elif delivered[name] != wanted:
            findings.append(Finding("dtype", name, f"column `{name}` is {delivered[name].simpleString()}, "
                                                   f"expected {wanted.simpleString()}"))
    # Rules on a missing or mistyped column would only repeat the finding above, or fail to run.
    sound = {name for name, wanted in contract.types.items() if delivered.get(name) == wanted}
    rules = [r for r in contract.rules if r.column in sound]
    shown = [k for k in keys if k in delivered]

    counts = df.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(functools.reduce(operator.or_, [r.violated for r in rules]), 1).otherwise(0))
        .alias("failing") if rules else F.lit(0).alias("failing"),
        *[F.sum(r.violated.cast("long")).alias(f"rule_{i}") for i, r in enumerate(rules)],
    ).first()
    assert counts is not None
    for i, rule in enumerate(rules):
        broken = int(counts[f"rule_{i}"] or 0)
        if broken:
            findings.append(_rule_finding(df, rule, broken, shown, sample))

    failing = int(counts["failing"] or 0)
    for key in [contract.unique] if contract.unique and set(contract.unique) <= sound else []:
        finding = _duplicates(df, list(key), sample)
        if finding is not None:
            findings.append(finding)
            failing += finding.rows or 0
    return Diagnosis(rows=int(counts["rows"]), failing_rows=failing, findings=findings)


def _rule_finding(df: DataFrame, rule: Rule, broken: int, keys: Sequence[str], sample: int) -> Finding:
    columns = [*keys, *([rule.column] if rule.column not in keys else [])]
    rows = df.where(rule.violated).select(*[F.col(f"`{c}`") for c in columns]).limit(sample).collect()
    return Finding(rule.check, rule.column, f"`{rule.column}` must be {rule.requirement}", broken,
                   [_plain(r.asDict()) for r in rows])


def _duplicates(df: DataFrame, key: list[str], sample: int) -> Finding | None:
    # A null key is the nullability rule's finding, not a duplicate.
    keyed = df.where(functools.reduce(operator.and_, [F.col(c).isNotNull() for c in key]))
    groups = keyed.groupBy(*key).agg(F.count(F.lit(1)).alias("rows")).where(F.col("rows") > 1).cache()
    try:
        totals = groups.agg(F.count(F.lit(1)).alias("keys"), F.sum("rows").alias("rows")).first()
        assert totals is not None
        if not totals["keys"]:
            return None
        examples = [_plain(r.asDict()) for r in groups.orderBy(F.desc("rows"), *key).limit(sample).collect()]
    finally:
        groups.unpersist()
    label = ", ".join(key)
    return Finding("unique", label, f"({label}) must be unique: {totals['keys']} values appear more than "
                                    f"once, on {totals['rows']} rows", int(totals["rows"]), examples)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-friendly values for metadata."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


def orphans(df: DataFrame, reference: DataFrame, columns: Sequence[str], keys: Sequence[str], *,
            reference_name: str, sample: int = 5) -> Finding | None:
    """Rows of ``df`` whose ``columns`` match no row of ``reference`` (referential integrity). Rows with a
    null in ``columns`` are left to the nullability rule."""
    on = list(columns)
    present = df.where(functools.reduce(operator.and_, [F.col(c).isNotNull() for c in on]))
    missing = present.join(reference.select(*on).distinct(), on, "left_anti").cache()
    try:
        rows = missing.count()
        if not rows:
            return None
        distinct = missing.select(*on).distinct().count()
        shown = [*[k for k in keys if k not in on], *on]
        examples = [_plain(r.asDict()) for r in missing.select(*shown).orderBy(*on, *shown).limit(sample).collect()]
    finally:
        missing.unpersist()
    label = ", ".join(on)
    return Finding("references", label, f"({label}) must exist in `{reference_name}`: {distinct} unknown "
                                        f"values on {rows} rows", rows, examples)
