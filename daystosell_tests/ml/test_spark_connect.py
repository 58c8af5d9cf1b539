"""The training assets on a remote Spark, by configuration alone: a Spark Connect server started from pyspark's
own launcher (scripts/spark_connect.py), and the unchanged assets driven through ``PySparkResource`` with a
``spark.remote`` URL.

A process that holds a classic (py4j) Spark session cannot open a Connect one, and a Connect session switches
the whole process into Connect mode, so the Connect client is a child process (this module run with ``-m``).
This process seeds the lake and then writes the MLeap bundle from the model the server saved, as the bundle
writer reads the fitted trees through the JVM, which a Connect client does not have.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daystosell_tests.conftest import TRAINING_RUN_CONFIG, load_script, seed_lake

ROOT = Path(__file__).resolve().parents[2]
TRAINING_ASSETS = ("adverts", "taxonomy", "valuations", "geography", "training_set", "fitted_model")
SCORED_ROWS = 50
CLIENT_TIMEOUT_S = 600

pytestmark = pytest.mark.spark


spark_connect = load_script("spark_connect")


def train_over_connect(remote: str, lake_root: str) -> dict[str, Any]:
    """Materialises the source assets, their checks, training_set and fitted_model through Spark Connect, then
    scores a sample of the training set with the saved model, loaded over Connect too."""
    from dagster import AssetSelection, DagsterInstance, materialize
    from pyspark.core.context import SparkContext
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession
    from pyspark.sql.utils import is_remote

    from daystosell_assets.definitions import defs
    from daystosell_assets.ml.pipeline import INPUT_COLUMNS, PREDICTION
    from daystosell_assets.resources import lake_resources

    # Configuration alone: the same resources as any run, told where the Connect server is.
    os.environ["DAYSTOSELL_SPARK_REMOTE"] = remote
    resources = lake_resources(lake_root)
    lake = resources["lake"]
    graph: list[Any] = [*(defs.assets or []), *(defs.asset_checks or [])]
    started = time.monotonic()
    with DagsterInstance.ephemeral() as instance:
        result = materialize(graph, selection=AssetSelection.assets(*TRAINING_ASSETS), resources=resources,
                             instance=instance, run_config=TRAINING_RUN_CONFIG, raise_on_error=False)
    graph_s = time.monotonic() - started
    failures = [{"step": e.step_key, "error": str(e.step_failure_data.error and e.step_failure_data.error.message)}
                for e in result.all_events if e.is_step_failure]
    checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    materialized = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
                           if e.asset_key is not None})
    fitted: dict[str, Any] = {}
    if "fitted_model" in materialized:
        [event] = result.asset_materializations_for_node("fitted_model")
        fitted = {k: v.value for k, v in event.metadata.items() if k in ("training_rows", "holdout_mae",
                                                                          "baseline_mae", "holdout_r2")}

    spark = SparkSession.builder.remote(remote).getOrCreate()
    scored: list[dict[str, Any]] = []
    if not failures:
        started = time.monotonic()
        model = PipelineModel.load(lake.layout.model("fitted_model"))
        sample = spark.read.parquet(lake.layout.curated("training_set")).orderBy("advert_id").limit(SCORED_ROWS)
        scored = [row.asDict() for row in model.transform(sample).select(*INPUT_COLUMNS, PREDICTION).collect()]
        fitted["remote_scoring_s"] = time.monotonic() - started
    return {
        "session_class": f"{type(spark).__module__}.{type(spark).__name__}",
        "is_remote": is_remote(),
        # No SparkContext in this process: every job ran in the server's JVM.
        "local_spark_context": SparkContext._active_spark_context is not None,
        "success": result.success,
        "failures": failures,
        "materialized": materialized,
        "checks": checks,
        "fitted_model": fitted,
        "scored": scored,
        "graph_s": graph_s,
    }


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # A small driver: the suite's own local session shares the machine with it.
    with spark_connect.running_connect_server(master="local[2]", driver_memory="2g",
                                              state_dir=tmp_path_factory.mktemp("spark-connect")) as server:
        yield server


def test_connect_server_serves_and_stops(connect_server: Any) -> None:
    assert connect_server.remote == f"sc://127.0.0.1:{connect_server.port}"
    assert spark_connect._is_our_server(connect_server.pid, connect_server.port)
    assert spark_connect.read_server(connect_server.state_dir) == connect_server


def test_training_assets_run_over_spark_connect(connect_server: Any, spark: Any,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    from dagster import DagsterInstance, materialize

    from daystosell_assets.definitions import defs
    from daystosell_assets.ml.pipeline import INPUT_COLUMNS, PREDICTION
    from daystosell_assets.resources import lake_resources
    from daystosell_service.mleap import load_bundle

    lake_root = seed_lake(spark, tmp_path_factory.mktemp("connect-lake"))
    out = tmp_path_factory.mktemp("connect-client") / "result.json"
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    client = subprocess.run([sys.executable, "-m", "daystosell_tests.ml.test_spark_connect", connect_server.remote,
                             str(lake_root), str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=CLIENT_TIMEOUT_S)
    assert client.returncode == 0, f"the Connect client failed:\n{client.stderr[-5000:]}"
    run = json.loads(out.read_text())

    assert run["session_class"] == "pyspark.sql.connect.session.SparkSession"
    assert run["is_remote"] and not run["local_spark_context"]
    assert run["failures"] == [] and run["success"], run["failures"]
    assert set(run["materialized"]) == set(TRAINING_ASSETS)
    assert run["checks"] and all(run["checks"].values()), run["checks"]
    assert run["fitted_model"]["holdout_mae"] < run["fitted_model"]["baseline_mae"]
    assert len(run["scored"]) == SCORED_ROWS

    # The bundle from the model the server saved, written here with a classic session: the writer reads the
    # trees through py4j, which a Connect client has not got.
    with DagsterInstance.ephemeral() as instance:
        assets: list[Any] = list(defs.assets or [])
        bundled = materialize(assets, selection=["mleap_bundle"],
                              resources=lake_resources(str(lake_root)), instance=instance, raise_on_error=False)
    assert bundled.success, "mleap_bundle failed on the model trained over Spark Connect: see the Dagster log"
    [materialization] = bundled.asset_materializations_for_node("mleap_bundle")
    runtime = load_bundle(Path(str(materialization.metadata["bundle_path"].value)))

    # What the remote Spark predicted is what the bundle predicts.
    local = runtime.transform([{c: row[c] for c in INPUT_COLUMNS} for row in run["scored"]], select=[PREDICTION])
    for remote_row, local_row in zip(run["scored"], local, strict=True):
        assert math.isclose(remote_row[PREDICTION], local_row[PREDICTION], rel_tol=1e-9, abs_tol=1e-9)


def main(argv: list[str]) -> int:
    remote, lake_root, out = argv
    Path(out).write_text(json.dumps(train_over_connect(remote, lake_root), indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
