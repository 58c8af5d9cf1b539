"""The whole graph on a lake in a real S3-compatible server (S3Proxy, started by scripts/s3_server.py on
loopback): Spark reads and writes through S3A, the bundle and its files go through dagster-aws's S3Resource,
and everything lands in the bucket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, materialize
from dagster_aws.s3 import S3Resource

from daystosell_assets.definitions import training_graph
from daystosell_assets.lake.layout import RAW_DATASETS, LakeLayout
from daystosell_assets.lake.s3 import configure_s3a, s3_client
from daystosell_assets.lake.simulator import MarketSpec, write_raw_lake
from daystosell_assets.resources import lake_resources
from daystosell_service.golden import GOLDEN_FILE, compare, read_golden
from daystosell_service.mleap import load_bundle
from daystosell_tests.conftest import TEST_ADVERTS, TRAINING_RUN_CONFIG, load_script

pytestmark = pytest.mark.spark

BUCKET = "daystosell-lake"
ROOT = f"s3://{BUCKET}/e2e"
CURATED = ("adverts", "taxonomy", "valuations", "geography", "training_set")


def test_the_whole_graph_runs_on_a_lake_in_a_real_s3_server(spark: Any, tmp_path: Path) -> None:
    with load_script("s3_server").running_s3_server(tmp_path / "s3") as server:
        client = s3_client(server.endpoint_url, server.access_key, server.secret_key, server.region)
        client.create_bucket(Bucket=BUCKET)
        configure_s3a(spark, server.endpoint_url, server.access_key, server.secret_key, server.region)
        counts = write_raw_lake(spark, LakeLayout(ROOT), MarketSpec(adverts=TEST_ADVERTS, seed=5))

        s3 = S3Resource(endpoint_url=server.endpoint_url, aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret_key, region_name=server.region)
        resources = lake_resources(ROOT, s3=s3)
        graph = training_graph()
        with DagsterInstance.ephemeral() as instance:
            result = materialize(graph, resources=resources, instance=instance, run_config=TRAINING_RUN_CONFIG,
                                 raise_on_error=False)
        assert result.success
        assert all(c.passed for c in result.get_asset_check_evaluations())

        keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="e2e/")
                for o in page.get("Contents", [])]
        for dataset in RAW_DATASETS:
            assert any(k.startswith(f"e2e/raw/{dataset}/") and k.endswith(".parquet") for k in keys), dataset
        for asset in CURATED:
            assert any(k.startswith(f"e2e/curated/{asset}/") and k.endswith(".parquet") for k in keys), asset
        assert any(k.startswith("e2e/models/fitted_model/metadata/") for k in keys)
        [bundle] = result.asset_materializations_for_node("mleap_bundle")
        version = bundle.metadata["model_version"].value
        bundle_dir = str(bundle.metadata["bundle_dir"].value)
        assert bundle_dir == f"{ROOT}/bundles/{version}"
        for name in ("bundle.zip", GOLDEN_FILE, "model.json"):
            assert f"e2e/bundles/{version}/{name}" in keys

        [adverts] = result.asset_materializations_for_node("adverts")
        assert adverts.metadata["raw_rows"].value == counts["adverts"]

        # What the release job does with a bundle on S3: fetch it, then it scores as Spark did.
        local = resources["lake"].fetch(bundle_dir, tmp_path / "bundle")
        golden = read_golden(local / GOLDEN_FILE)
        scored = load_bundle(local / "bundle.zip").transform([g.inputs for g in golden], select=["prediction"])
        assert compare(golden, [r["prediction"] for r in scored]).passed
        assert json.loads((local / "model.json").read_text())["model_version"] == version
