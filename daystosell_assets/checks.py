"""Runs a Pandera model as a blocking Dagster asset check."""


from collections.abc import Sequence
from typing import Any, cast

import pandera.pyspark as pa
from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, AssetKey, MetadataValue, asset_check
from pyspark.sql import DataFrame


def pandera_errors(model: type[pa.DataFrameModel], df: DataFrame) -> list[dict[str, str]]:
    """Every schema and data error Pandera finds, one dict per error (kind, column, check, error)."""
    # Pandera's pyspark backend does not raise: it attaches what failed to the returned frame.
    validated: Any = model.validate(check_obj=cast(Any, df))
    errors: list[dict[str, str]] = []
    for kind, by_reason in dict(validated.pandera.errors).items():
        for reason, items in by_reason.items():
            for item in items:
                errors.append({"kind": kind, "reason": reason, "column": str(item.get("column", "")),
                               "check": str(item.get("check", "")), "error": str(item.get("error", ""))})
    return errors


def _markdown(errors: Sequence[dict[str, str]]) -> str:
    lines = ["| column | check | error |", "| --- | --- | --- |"]
    lines += [f"| {e['column']} | {e['check']} | {e['error'].replace('|', '/')} |" for e in errors]
    return "\n".join(lines)


def schema_check(asset: str, model: type[pa.DataFrameModel]) -> AssetChecksDefinition:
    """A blocking check that ``asset`` conforms to ``model``: a failure stops everything downstream."""

    @asset_check(asset=AssetKey(asset), name=f"{asset}_schema", blocking=True,
                 description=f"`{asset}` conforms to the Pandera model `{model.__name__}`.")
    def _check(df: DataFrame) -> AssetCheckResult:
        errors = pandera_errors(model, df)
        return AssetCheckResult(
            passed=not errors,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "failures": len(errors),
                "failed_columns": sorted({e["column"] for e in errors}),
                "errors": MetadataValue.md(_markdown(errors)) if errors else MetadataValue.text("none"),
            },
        )

    return _check
