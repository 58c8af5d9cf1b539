"""Blocking Dagster asset checks: a dataset's contract, its row count, and what it refers to.

Every check is blocking: when one fails, nothing downstream of its asset runs, deployment included. A failing
check says what broke, on how many rows, and shows a sample of them (keys and offending values) in its
metadata, so the person reading it in the UI knows what to fix.
"""


import time
from collections.abc import Sequence
from typing import Any, cast

import pandera.pyspark as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)
from pyspark.sql import DataFrame

from daystosell_assets.profiling import markdown_table
from daystosell_assets.quality.diagnose import Diagnosis, Finding, diagnose
from daystosell_assets.quality.rules import contract

# A materialisation with fewer than this share of the previous one's rows is taken for a broken delivery.
MIN_ROW_RATIO = 0.5


def pandera_errors(model: type[pa.DataFrameModel], df: DataFrame) -> list[dict[str, str]]:
    """Every schema and data error Pandera finds, one dict per error (kind, reason, column, check, error)."""
    # Pandera's pyspark backend does not raise: it attaches what failed to the returned frame.
    validated: Any = model.validate(check_obj=cast(Any, df))
    errors: list[dict[str, str]] = []
    for kind, by_reason in dict(validated.pandera.errors).items():
        for reason, items in by_reason.items():
            for item in items:
                errors.append({"kind": kind, "reason": reason, "column": str(item.get("column", "")),
                               "check": str(item.get("check", "")), "error": str(item.get("error", ""))})
    return errors


def findings_metadata(findings: Sequence[Finding]) -> dict[str, Any]:
    """The part of a failed check's metadata a person reads first: what broke, where, on how many rows."""
    if not findings:
        return {"findings": MetadataValue.text("none")}
    table = [{"check": f.check, "column": f.column, "problem": f.problem,
              "failing rows": "" if f.rows is None else f"{f.rows:,}",
              "example": ", ".join(f"{k}={v}" for k, v in f.sample[0].items()) if f.sample else ""}
             for f in findings]
    return {
        "findings": MetadataValue.md(markdown_table(table)),
        "failed_checks": sorted({f.check for f in findings}),
        "failed_columns": sorted({f.column for f in findings}),
        "offending_rows": MetadataValue.json([{"check": f.check, "column": f.column, "rows": f.rows,
                                               "sample": f.sample} for f in findings]),
    }


def schema_check(asset: str, model: type[pa.DataFrameModel], keys: Sequence[str]) -> AssetChecksDefinition:
    """``asset`` must conform to the Pandera ``model``; a failure also reports the offending rows by ``keys``."""

    @asset_check(asset=AssetKey(asset), name=f"{asset}_schema", blocking=True,
                 description=f"`{asset}` conforms to the Pandera model `{model.__name__}`: columns and types, "
                             "nulls, ranges, allowed values, unique keys.")
    def _check(context: AssetCheckExecutionContext, df: DataFrame) -> AssetCheckResult:
        started = time.perf_counter()
        # Pandera runs a Spark job per check, each reading one or two columns of the Parquet files; persisting
        # the frame first costs more than it saves (benchmarks/results/check_cost.md).
        errors = pandera_errors(model, df)
        # Pandera says whether; the diagnosis says which rows. Skip it when there is nothing to explain.
        diagnosis = diagnose(df, contract(model), keys) if errors else Diagnosis(df.count(), 0, [])
        passed = not errors and diagnosis.passed
        if not passed:
            context.log.error(f"{asset} breaks its contract on {diagnosis.failing_rows:,} of "
                              f"{diagnosis.rows:,} rows: " + "; ".join(f.problem for f in diagnosis.findings))
        return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.ERROR, metadata={
            "rows": diagnosis.rows,
            "failing_rows": diagnosis.failing_rows,
            "pandera_checks_failed": len(errors),
            **findings_metadata(diagnosis.findings),
            **({"pandera_errors": MetadataValue.md(markdown_table(errors, ["kind", "column", "check", "error"]))}
               if errors else {}),
            "seconds": round(time.perf_counter() - started, 2),
        })

    return _check


def previous_row_count(context: AssetCheckExecutionContext, key: AssetKey) -> int | None:
    """The ``rows`` recorded by the latest materialisation of ``key`` in an earlier run."""
    records = context.instance.fetch_materializations(key, limit=10).records
    for record in records:
        if record.run_id == context.run.run_id:
            continue
        materialization = record.asset_materialization
        value = materialization.metadata.get("rows") if materialization else None
        rows = getattr(value, "value", None)
        return int(rows) if isinstance(rows, int) else None
    return None


def row_count_check(asset: str, min_ratio: float = MIN_ROW_RATIO) -> AssetChecksDefinition:
    """``asset`` is not empty and has not shrunk below ``min_ratio`` of its previous materialisation."""
    key = AssetKey(asset)

    @asset_check(asset=key, name=f"{asset}_row_count", blocking=True,
                 description=f"`{asset}` has rows, and at least {min_ratio:.0%} as many as its previous "
                             "materialisation: a half-delivered feed must not train a model.")
    def _check(context: AssetCheckExecutionContext, df: DataFrame) -> AssetCheckResult:
        rows = df.count()
        previous = previous_row_count(context, key)
        metadata: dict[str, Any] = {"rows": rows, "previous_rows": previous if previous is not None else "none",
                                    "min_ratio": min_ratio}
        if rows == 0:
            problem = f"`{asset}` is empty: the delivery holds no rows"
        elif previous and rows < min_ratio * previous:
            problem = (f"`{asset}` dropped from {previous:,} to {rows:,} rows ({rows / previous:.0%} of the "
                       f"previous materialisation; at least {min_ratio:.0%} expected)")
        else:
            return AssetCheckResult(passed=True, metadata=metadata)
        context.log.error(problem)
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR,
                                metadata={**metadata, "problem": problem})

    return _check
