"""The whole lifecycle on real parts: seeded lake -> Dagster assets -> Spark model -> MLeap bundle ->
Python runtime and MLeap's JVM runtime -> HTTP service -> bundle sensor -> image built, matched against
Spark's golden predictions, pushed to a registry and rolled out to pre-production and production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyspark.ml import PipelineModel

from daystosell_assets.defs.features import advert_inputs
from daystosell_assets.lake.layout import LakeLayout
from daystosell_assets.mleap.reference import score_with_mleap
from daystosell_assets.release import ContainerTools, ensure_base_image
from daystosell_service.golden import GOLDEN_FILE, compare, read_golden
from daystosell_service.launcher import running_service
from daystosell_service.mleap import load_bundle
from daystosell_tests.conftest import GraphRun
from daystosell_tests.release.chain import check_results, open_chain

pytestmark = pytest.mark.spark

ASSETS = ("adverts", "taxonomy", "valuations", "geography", "training_set", "fitted_model", "mleap_bundle",
          "live_advert_predictions")


def test_every_asset_materialises_and_every_check_passes(graph_run: GraphRun) -> None:
    materialized = {e.asset_key.to_user_string() for e in graph_run.result.get_asset_materialization_events()
                    for e in [e.event_specific_data.materialization]}
    assert materialized == set(ASSETS)
    checks = graph_run.result.get_asset_check_evaluations()
    datasets = ASSETS[:5]
    assert {c.check_name for c in checks} == {
        *(f"{a}_schema" for a in datasets), *(f"{a}_row_count" for a in datasets), "adverts_references",
        "fitted_model_gate"}
    assert all(c.passed for c in checks)
    assert graph_run.metadata["golden_rows"] >= 1000
    assert graph_run.metadata["bundle_digest"].startswith("sha256:")


def test_live_adverts_are_scored_in_the_lake_as_spark_scores_them(graph_run: GraphRun, spark: Any) -> None:
    layout = LakeLayout(str(graph_run.lake_root))
    live = spark.read.parquet(layout.curated("live_advert_predictions"))
    curated = {name: spark.read.parquet(layout.curated(name))
               for name in ("adverts", "taxonomy", "valuations", "geography")}
    unsold = curated["adverts"].where("sold_date IS NULL")
    assert live.count() == unsold.count() > 0
    assert live.select("advert_id").distinct().count() == live.count()
    assert {r["model_version"] for r in live.select("model_version").distinct().collect()} == {
        graph_run.metadata["model_version"]}

    sample = live.orderBy("advert_id").limit(300)
    inputs = advert_inputs(**curated).join(sample.select("advert_id"), "advert_id")
    sparks = PipelineModel.load(layout.model("fitted_model")).transform(inputs).select("advert_id", "prediction")
    pairs = sample.join(sparks, "advert_id").select("predicted_days_to_sell", "prediction").collect()
    assert len(pairs) == sample.count()
    worst = max(abs(a - b) / max(abs(b), 1e-12) for a, b in pairs)
    assert worst <= 1e-9, f"lake and Spark disagree by {worst:.2e}"


def test_python_runtime_reproduces_spark_on_every_golden_row(graph_run: GraphRun) -> None:
    golden = read_golden(graph_run.bundle_dir / GOLDEN_FILE)
    model = load_bundle(graph_run.bundle_path)
    scored = model.transform([g.inputs for g in golden])
    report = compare(golden, [row["prediction"] for row in scored])
    assert report.passed, report.summary()
    assert report.max_rel_error <= 1e-9
    # Unseen makes, models and areas are among them, and still get a prediction.
    assert any(g.inputs["make"] == "Trabant" for g in golden)


def test_mleaps_own_runtime_reproduces_spark_on_every_golden_row(graph_run: GraphRun) -> None:
    golden = read_golden(graph_run.bundle_dir / GOLDEN_FILE)
    schema = load_bundle(graph_run.bundle_path).input_schema
    report = compare(golden, score_with_mleap(graph_run.bundle_path, [g.inputs for g in golden], schema))
    assert report.passed, report.summary()


@pytest.fixture
def service_url(graph_run: GraphRun) -> Iterator[str]:
    with running_service(graph_run.bundle_path) as service:
        yield service.url


def test_service_answers_golden_rows_over_http_with_sparks_predictions(graph_run: GraphRun,
                                                                       service_url: str) -> None:
    golden = read_golden(graph_run.bundle_dir / GOLDEN_FILE)
    predictions: list[float] = []
    for start in range(0, len(golden), 250):
        batch = golden[start:start + 250]
        response = httpx.post(f"{service_url}/v1/predictions", json={"adverts": [g.inputs for g in batch]},
                              timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_version"] == graph_run.metadata["model_version"]
        assert body["bundle_digest"] == graph_run.metadata["bundle_digest"]
        predictions += [p["days_to_sell"] for p in body["predictions"]]
    report = compare(golden, predictions)
    assert report.passed, report.summary()


@pytest.mark.container
def test_the_bundle_sensor_takes_sparks_bundle_to_production(graph_run: GraphRun, tmp_path: Path) -> None:
    tools = ContainerTools.from_env()
    with open_chain(tmp_path, ensure_base_image(tools), tools) as chain:
        version = str(graph_run.metadata["model_version"])
        chain.record(graph_run.bundle_dir, version)
        [request] = chain.tick()
        assert request.run_key == graph_run.metadata["bundle_digest"]
        assert chain.tick() == []  # evaluated again: the same materialisation asks for nothing

        result = chain.release(request)

        assert result.success
        assert check_results(result) == {"golden_test": True, "preprod_smoke_test": True, "prod_smoke_test": True}
        [golden] = [e for e in result.get_asset_check_evaluations() if e.check_name == "golden_test"]
        assert golden.metadata["golden_rows"].value == graph_run.metadata["golden_rows"]
        assert golden.metadata["max_rel_error"].value <= 1e-9
        assert chain.serving("prod") == version
        published = result.asset_value("published_image")
        assert chain.registry_digest(version) == published.release.image.rsplit("@", 1)[1]


def test_every_lake_asset_links_to_its_files_in_the_lake(graph_run: GraphRun) -> None:
    for asset in ("adverts", "taxonomy", "valuations", "geography", "training_set", "fitted_model",
                  "live_advert_predictions"):
        [materialization] = graph_run.result.asset_materializations_for_node(asset)
        path = Path(str(materialization.metadata["path"].value))
        assert path.is_relative_to(graph_run.lake_root) and any(path.iterdir()), asset
    assert graph_run.bundle_dir.is_relative_to(graph_run.lake_root)
    assert (graph_run.bundle_dir / "bundle.zip").is_file()
