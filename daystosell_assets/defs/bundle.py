"""The MLeap bundle: the fitted pipeline in MLeap's format, with golden rows beside it.

A bundle is only recorded as materialised once the Python runtime and MLeap's own JVM runtime
both reproduce Spark's prediction on every golden row, so the release sensor never sees one that
would score differently in production.
"""


import hashlib
import json
import math
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Config, Failure, MaterializeResult, MetadataValue, asset
from dagster_pyspark import PySparkResource
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from daystosell_assets.defs.owners import ML
from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.ml.pipeline import PREDICTION
from daystosell_assets.mleap.golden import edge_cases, sample_inputs, spark_golden_rows
from daystosell_assets.mleap.reference import score_with_mleap
from daystosell_assets.mleap.writer import write_bundle
from daystosell_assets.resources import LakeResource
from daystosell_service.golden import GOLDEN_FILE, GoldenReport, compare, write_golden
from daystosell_service.mleap import load_bundle

BUNDLE_FILE = "bundle.zip"
# Beside the bundle: what the service reports as its model version, and how the bundle was made.
MODEL_FILE = "model.json"
# fitted_model's holdout metrics, copied into model.json for the service's GET /v1/model.
SIDECAR_METRICS = ("holdout_mae", "holdout_rmse", "holdout_r2", "baseline_mae")


class BundleConfig(Config):
    golden_rows: int = 1000
    # Where Spark saves tree models for the writer to read back: empty for this machine's temporary folder,
    # which serves a local Spark and a Spark Connect server on this machine. With a remote cluster, a folder
    # that Spark's driver and executors can write and this process can read at the same path (a shared mount).
    tree_scratch_dir: str = ""


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


@asset(group_name="model", kinds={"mleap"}, owners=ML, code_version="2",
       description="The fitted pipeline as an MLeap bundle (zip), with golden rows: inputs and Spark's "
                   "prediction for each, checked against the Python and MLeap runtimes.")
def mleap_bundle(context: AssetExecutionContext, config: BundleConfig, fitted_model: PipelineModel,
                 training_set: DataFrame, pyspark: PySparkResource, lake: LakeResource) -> MaterializeResult:
    trained_at = datetime.now(UTC)
    version = f"{trained_at:%Y%m%dT%H%M%SZ}-{context.run.run_id[:8]}"
    with tempfile.TemporaryDirectory(prefix="daystosell-bundle-") as tmp:
        folder = Path(tmp)
        bundle_path = folder / BUNDLE_FILE
        written = write_bundle(fitted_model, training_set, bundle_path, name="daystosell",
                               meta={"model_version": version, "trained_at": trained_at.isoformat(),
                                     "spark_version": pyspark.spark_session.version},
                               scratch=Path(config.tree_scratch_dir) if config.tree_scratch_dir else None)
        context.log.info(f"wrote {BUNDLE_FILE} ({bundle_path.stat().st_size} bytes; ops {written.ops})")

        inputs = sample_inputs(training_set, config.golden_rows)
        inputs += edge_cases(inputs[0])
        golden = spark_golden_rows(pyspark.spark_session, fitted_model, inputs)
        write_golden(folder / GOLDEN_FILE, golden)

        runtime = load_bundle(bundle_path)
        python_report = compare(golden, [r[PREDICTION] for r in runtime.transform(
            [g.inputs for g in golden], select=[PREDICTION])])
        mleap_report = compare(golden, score_with_mleap(bundle_path, [g.inputs for g in golden],
                                                        runtime.input_schema))
        for who, report in (("Python MLeap runtime", python_report), ("MLeap's JVM runtime", mleap_report)):
            context.log.info(f"{who}: {report.summary()}")
            if not report.passed:
                raise Failure(f"{who} does not reproduce Spark's predictions: {report.summary()}",
                              metadata=_report_metadata(report))

        digest = file_digest(bundle_path)
        size = bundle_path.stat().st_size
        manifest = {"model_version": version, "bundle_digest": digest, "trained_at": trained_at.isoformat(),
                    "ops": written.ops, "golden_rows": len(golden), **training_metadata(context)}
        (folder / MODEL_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        # Only a bundle both runtimes reproduce reaches the lake, and with it everything that describes it.
        key = LakeLayout.bundle_key(version)
        lake.objects.put_dir(folder, key)
    bundle_dir = lake.objects.uri(key)
    context.log.info(f"bundle {version} stored at {bundle_dir}")
    return MaterializeResult(metadata={
        "model_version": version,
        "bundle_digest": digest,
        "bundle_dir": MetadataValue.path(bundle_dir),
        "bundle_path": MetadataValue.path(lake.objects.uri(f"{key}/{BUNDLE_FILE}")),
        "bundle_bytes": size,
        "ops": MetadataValue.json(written.ops),
        "golden_rows": len(golden),
        "python_runtime_max_rel_error": python_report.max_rel_error,
        "mleap_runtime_max_rel_error": mleap_report.max_rel_error,
    })


def training_metadata(context: AssetExecutionContext) -> dict[str, Any]:
    """``metrics`` and ``training_rows`` from fitted_model's latest materialisation, the one whose model this
    asset was given; nothing when there is none (a model supplied from elsewhere), so the sidecar stays valid.
    """
    event = context.instance.get_latest_materialization_event(AssetKey("fitted_model"))
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return {}

    def number(key: str) -> float | None:
        value = getattr(materialization.metadata.get(key), "value", None)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None
        return float(value)

    metrics = {key: value for key in SIDECAR_METRICS if (value := number(key)) is not None}
    rows = number("training_rows")
    return {"metrics": metrics, **({"training_rows": int(rows)} if rows is not None else {})}


def _report_metadata(report: GoldenReport) -> dict[str, Any]:
    return {"mismatches": len(report.mismatches), "max_rel_error": report.max_rel_error,
            "first_mismatches": MetadataValue.json([m.__dict__ for m in report.mismatches[:20]])}
