"""The training assets on a remote Spark, by configuration alone: a Spark Connect server started from pyspark's
own launcher (scripts/spark_connect.py), and the unchanged assets driven through ``PySparkResource`` with a
``spark.remote`` URL.

A process that holds a classic (py4j) Spark session cannot open a Connect one, and a Connect session switches
the whole process into Connect mode, so the Connect client is a child process (this module run with ``-m``).
This process seeds the lake; the client materialises everything from the raw lake to the MLeap bundle, and
writes bundles of small tree models it fits over Connect too, so the writer's tree reading is exercised whichever
regressor the graph chose. This process then scores what the client left with the service's Python runtime.
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
TRAINING_ASSETS = ("adverts", "taxonomy", "valuations", "geography", "training_set", "fitted_model",
                   "mleap_bundle")
SCORED_ROWS = 50
# Tree models fitted over Connect, splitting on a categorical feature too: a single tree and both ensembles,
# regression and classification.
TREE_MODELS = ("random_forest_classifier", "gbt_regression", "decision_tree_regression")
TREE_SCHEMA = {"make": "string", "x": "double", "y": "double"}
TREE_OUTPUTS = {"random_forest_classifier": ["prediction", "probability"], "gbt_regression": ["prediction"],
                "decision_tree_regression": ["prediction"]}
CLIENT_TIMEOUT_S = 600

pytestmark = pytest.mark.spark


spark_connect = load_script("spark_connect")


def train_over_connect(remote: str, lake_root: str, bundles_dir: Path) -> dict[str, Any]:
    """Materialises the source assets, their checks, training_set, fitted_model and mleap_bundle through Spark
    Connect, scores a sample of the training set with the saved model, loaded over Connect too, and writes a
    bundle of each of ``TREE_MODELS`` into ``bundles_dir``."""
    from dagster import AssetSelection, DagsterInstance, materialize
    from pyspark.core.context import SparkContext
    from pyspark.ml import PipelineModel
    from pyspark.sql import SparkSession
    from pyspark.sql.utils import is_remote

    from daystosell_assets.definitions import training_graph
    from daystosell_assets.ml.pipeline import INPUT_COLUMNS, PREDICTION
    from daystosell_assets.resources import lake_resources

    # Configuration alone: the same resources as any run, told where the Connect server is.
    os.environ["DAYSTOSELL_SPARK_REMOTE"] = remote
    resources = lake_resources(lake_root)
    lake = resources["lake"]
    graph = training_graph()
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
    bundle: dict[str, Any] = {}
    if "mleap_bundle" in materialized:
        [event] = result.asset_materializations_for_node("mleap_bundle")
        bundle = {k: v.value for k, v in event.metadata.items() if k in ("bundle_dir", "bundle_path", "ops",
                                                                          "golden_rows")}

    spark = SparkSession.builder.remote(remote).getOrCreate()
    scored: list[dict[str, Any]] = []
    if not failures:
        started = time.monotonic()
        model = PipelineModel.load(lake.layout.model("fitted_model"))
        sample = spark.read.parquet(lake.layout.curated("training_set")).orderBy("advert_id").limit(SCORED_ROWS)
        scored = [row.asDict() for row in model.transform(sample).select(*INPUT_COLUMNS, PREDICTION).collect()]
        fitted["remote_scoring_s"] = time.monotonic() - started
    started = time.monotonic()
    trees = tree_bundles(spark, bundles_dir)
    tree_bundles_s = time.monotonic() - started
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
        "bundle": bundle,
        "scored": scored,
        "trees": trees,
        "graph_s": graph_s,
        "tree_bundles_s": tree_bundles_s,
    }


def tree_rows(seed: int, n: int) -> list[dict[str, Any]]:
    from daystosell_tests.conformance.harness import categories, rng

    gen = rng(seed)
    makes = categories(gen, n, ("audi", "bmw", "ford", "kia", "seat", "skoda", "fiat"))
    x, y = gen.normal(2.0, 1.0, n), gen.uniform(0.0, 3.0, n)
    return [{"make": m, "x": float(a), "y": float(b)} for m, a, b in zip(makes, x, y, strict=True)]


def tree_bundles(spark: Any, folder: Path) -> dict[str, Any]:
    """Each of ``TREE_MODELS`` fitted over Connect on a make index (a categorical feature) and two numbers, and
    written as a bundle by this Connect client: its path, the scoring rows and Spark's outputs for them."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import RandomForestClassifier
    from pyspark.ml.feature import StringIndexer, VectorAssembler
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.regression import DecisionTreeRegressor, GBTRegressor
    from pyspark.sql import functions as F

    from daystosell_assets.mleap.writer import write_bundle
    from daystosell_tests.conformance.harness import ROW, frame

    fit = tree_rows(3, 400)
    for row in fit:
        signal = 0.8 * row["x"] - 0.5 * row["y"] + (0.7 if row["make"] in ("bmw", "kia", "fiat") else 0.0)
        row["label"] = signal
        row["klass"] = float(0 if signal < 0.5 else 1 if signal < 1.5 else 2)
    # Unseen makes and extreme numbers among the rows scored.
    score = [*tree_rows(4, 60), {"make": "trabant", "x": 1e6, "y": -1e6}, {"make": "audi", "x": 0.0, "y": 0.0}]
    estimators = {
        "random_forest_classifier": RandomForestClassifier(labelCol="klass", numTrees=4, maxDepth=4, seed=7),
        "gbt_regression": GBTRegressor(maxIter=4, maxDepth=3, seed=7),
        "decision_tree_regression": DecisionTreeRegressor(maxDepth=4),
    }
    train = spark.createDataFrame(fit)
    scoring = frame(spark, score, TREE_SCHEMA)
    out: dict[str, Any] = {}
    for name, estimator in estimators.items():
        model = Pipeline(stages=[StringIndexer(inputCol="make", outputCol="make_idx", handleInvalid="keep"),
                                 VectorAssembler(inputCols=["x", "y", "make_idx"], outputCol="features"),
                                 estimator]).fit(train)
        written = write_bundle(model, scoring, folder / f"{name}.zip", name=name)
        outputs = TREE_OUTPUTS[name]
        columns = [vector_to_array(F.col(c)).alias(c) if c == "probability" else F.col(c) for c in outputs]
        spark_rows = model.transform(scoring).select(ROW, *columns).orderBy(ROW).collect()
        out[name] = {"bundle": str(written.path), "ops": written.ops, "rows": score,
                     "spark": [{c: r[c] for c in outputs} for r in spark_rows]}
    return out


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
    from daystosell_assets.ml.pipeline import INPUT_COLUMNS, PREDICTION
    from daystosell_service.golden import GOLDEN_FILE, compare, read_golden
    from daystosell_service.mleap import load_bundle

    lake_root = seed_lake(spark, tmp_path_factory.mktemp("connect-lake"))
    client_dir = tmp_path_factory.mktemp("connect-client")
    out = client_dir / "result.json"
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    client = subprocess.run([sys.executable, "-m", "daystosell_tests.ml.test_spark_connect", connect_server.remote,
                             str(lake_root), str(out), str(client_dir)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=CLIENT_TIMEOUT_S)
    assert client.returncode == 0, f"the Connect client failed:\n{client.stderr[-5000:]}"
    run = json.loads(out.read_text())

    assert run["session_class"] == "pyspark.sql.connect.session.SparkSession"
    assert run["is_remote"] and not run["local_spark_context"]
    assert run["failures"] == [] and run["success"], run["failures"]
    assert set(run["materialized"]) == set(TRAINING_ASSETS)
    assert run["checks"] and all(run["checks"].values()), run["checks"]
    assert run["fitted_model"]["holdout_mae"] < run["fitted_model"]["baseline_mae"]
    assert len(run["scored"]) == SCORED_ROWS

    # The bundle the Connect client wrote reproduces the golden rows written beside it (Spark's predictions,
    # made over Connect), with the service's own runtime.
    bundle_dir = Path(run["bundle"]["bundle_dir"])
    assert Path(run["bundle"]["bundle_path"]).parent == bundle_dir
    runtime = load_bundle(Path(run["bundle"]["bundle_path"]))
    golden = read_golden(bundle_dir / GOLDEN_FILE)
    assert len(golden) == run["bundle"]["golden_rows"] > 0
    report = compare(golden, [r[PREDICTION] for r in runtime.transform([g.inputs for g in golden],
                                                                       select=[PREDICTION])])
    assert report.passed, report.summary()

    # What the remote Spark predicted for the saved model is what the bundle predicts.
    local = runtime.transform([{c: row[c] for c in INPUT_COLUMNS} for row in run["scored"]], select=[PREDICTION])
    for remote_row, local_row in zip(run["scored"], local, strict=True):
        assert math.isclose(remote_row[PREDICTION], local_row[PREDICTION], rel_tol=1e-9, abs_tol=1e-9)

    # Tree models of each kind, whatever the graph's regressor: their trees read over Connect score as Spark does.
    assert set(run["trees"]) == set(TREE_MODELS)
    for name, written in run["trees"].items():
        assert written["ops"][-1] == name
        outputs = TREE_OUTPUTS[name]
        scored = load_bundle(Path(written["bundle"])).transform(written["rows"], select=outputs)
        assert len(scored) == len(written["spark"]) == len(written["rows"])
        for i, (want, got) in enumerate(zip(written["spark"], scored, strict=True)):
            for column in outputs:
                # A probability is a list, a prediction a number.
                expected, actual = want[column], got[column]
                if not isinstance(expected, list):
                    expected, actual = [expected], [actual]
                where = f"{name} row {i} {column}: Spark {expected}, bundle {actual}"
                assert len(actual) == len(expected), where
                assert all(math.isclose(e, a, rel_tol=1e-9, abs_tol=1e-12)
                           for e, a in zip(expected, actual, strict=True)), where


def main(argv: list[str]) -> int:
    remote, lake_root, out, bundles_dir = argv
    result = train_over_connect(remote, lake_root, Path(bundles_dir))
    Path(out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
