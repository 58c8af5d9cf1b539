"""How good the chosen model is, against the two yardsticks that bracket it, on the same holdout in one run: the
naive make/model median baseline (what the gate asks it to beat) and the simulation's own ground truth (the
noiseless median days for each advert, the best any model could do), plus the estimator comparison and the
tuning that chose it.

    .venv/bin/python benchmarks/model_quality.py [--adverts 200000] [--seed 2026]

Runs the source assets, their checks, ``training_set`` and ``fitted_model`` with the production defaults.
Writes ``benchmarks/results/model_quality.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

from dagster import AssetSelection, DagsterInstance, materialize  # noqa: E402
from pyspark.ml import PipelineModel  # noqa: E402

from benchmarks.report import write_results  # noqa: E402
from daystosell_assets.definitions import training_graph  # noqa: E402
from daystosell_assets.lake.layout import LakeLayout  # noqa: E402
from daystosell_assets.lake.simulator import MarketSpec, simulate_market, with_ground_truth, write_raw_lake  # noqa: E402
from daystosell_assets.ml.evaluation import (  # noqa: E402
    baseline_predictions,
    comparison_table,
    mae_by_band,
    regression_metrics,
    time_split,
)
from daystosell_assets.ml.pipeline import LABEL, PREDICTION  # noqa: E402
from daystosell_assets.resources import lake_resources, spark_session  # noqa: E402

TRAINING = ("adverts", "taxonomy", "valuations", "geography", "training_set", "fitted_model")
SCORERS = {"model": PREDICTION, "baseline": "baseline", "ground truth": "expected_days"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adverts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=MarketSpec.seed)
    args = parser.parse_args()
    spec = MarketSpec(adverts=args.adverts, seed=args.seed)

    with tempfile.TemporaryDirectory(prefix="daystosell-quality-") as tmp:
        layout = LakeLayout(tmp)
        spark = spark_session()
        spark.sparkContext.setLogLevel("ERROR")
        print(f"seeding {args.adverts:,} adverts (seed {args.seed})", flush=True)
        write_raw_lake(spark, layout, spec)

        started = time.perf_counter()
        graph = training_graph()
        with DagsterInstance.ephemeral() as instance:
            result = materialize(graph, selection=AssetSelection.assets(*TRAINING), resources=lake_resources(tmp),
                                 instance=instance)
        training_s = time.perf_counter() - started
        [event] = result.asset_materializations_for_node("fitted_model")
        metadata: dict[str, Any] = {k: v.value for k, v in event.metadata.items()}

        training_set = spark.read.parquet(layout.curated("training_set"))
        train, holdout = time_split(training_set, float(metadata["holdout_fraction"]))
        model = PipelineModel.load(layout.model("fitted_model"))
        truth = with_ground_truth(simulate_market(spark, spec), spec).select("advert_id", "expected_days")
        scored = (baseline_predictions(train, model.transform(holdout), prediction="baseline")
                  .join(truth, "advert_id")
                  .select(LABEL, "make", "model", "asking_price", "valuation", *SCORERS.values())
                  .cache())
        metrics = {name: regression_metrics(scored, prediction=column) for name, column in SCORERS.items()}
        by_band = {name: mae_by_band(scored, prediction=column) for name, column in SCORERS.items()}

    headline = {name: m.__dict__ for name, m in metrics.items()}
    data = {"adverts": args.adverts, "seed": args.seed, "training_s": training_s,
            "estimator": metadata["estimator"], "hyperparameters": metadata["hyperparameters"],
            "training_rows": metadata["training_rows"], "holdout_rows": metadata["holdout_rows"],
            "metrics": headline, "mae_by_band": {n: [b.__dict__ for b in bands] for n, bands in by_band.items()}}
    model_mae, baseline_mae, truth_mae = (metrics[n].mae for n in SCORERS)
    lines = [
        f"# Model quality: {args.adverts:,} simulated adverts (seed {args.seed})",
        "",
        f"`.venv/bin/python benchmarks/model_quality.py --adverts {args.adverts}`: sources, checks, training_set and "
        f"fitted_model with the production defaults in {training_s:.0f} s; chosen estimator "
        f"**{metadata['estimator']}** ({metadata['hyperparameters']}), {metadata['training_rows']:,} training and "
        f"{metadata['holdout_rows']:,} holdout adverts (the newest listings).",
        "",
        f"The model's holdout MAE is {model_mae / baseline_mae:.2f}x the baseline's and {model_mae / truth_mae:.2f}x "
        "the ground truth's (the simulation's noiseless median days: no model can do better on average).",
        "",
        comparison_table(metrics, by_band),
        "",
        "## The estimators compared (each with its default setting, on the same holdout)",
        "",
        str(metadata["candidates"]),
    ]
    if "tuning" in metadata:
        lines += ["", "## Tuning the winner", "", str(metadata["tuning"])]
    write_results("model_quality", data, lines)
    spark.stop()


if __name__ == "__main__":
    main()
