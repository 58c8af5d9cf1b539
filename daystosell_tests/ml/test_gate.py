"""The quality gate on fitted_model: a crippled model never becomes a bundle; a good one does."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context, materialize

from daystosell_assets.definitions import training_graph
from daystosell_assets.defs.release import mleap_bundle_sensor
from daystosell_assets.resources import lake_resources
from daystosell_tests.conftest import GraphRun

pytestmark = pytest.mark.spark

# One stump: far worse than the deployed model and than the make/model baseline.
CRIPPLED = {"ops": {"fitted_model": {"config": {"candidates": ["gbt"], "tuning_folds": 0, "gbt_max_iter": 1,
                                                "gbt_max_depth": 1}}}}


def _gate(result: Any) -> Any:
    [gate] = [e for e in result.get_asset_check_evaluations() if e.check_name == "fitted_model_gate"]
    return gate


def _materialized(result: Any) -> set[str]:
    return {e.event_specific_data.materialization.asset_key.to_user_string()
            for e in result.get_asset_materialization_events()}


def _crippled_run(graph_run: GraphRun, instance: DagsterInstance, tmp_path: Path) -> Any:
    # On a copy of the raw zone: the crippled model must not replace the session's in its lake.
    shutil.copytree(graph_run.lake_root / "raw", tmp_path / "raw")
    graph = training_graph()
    return materialize(graph, resources=lake_resources(str(tmp_path)), instance=instance,
                       run_config=CRIPPLED, raise_on_error=False)


def test_a_good_model_passes_the_gate(graph_run: GraphRun) -> None:
    gate = _gate(graph_run.result)
    assert gate.passed
    assert gate.metadata["holdout_mae"].value <= gate.metadata["required_mae"].value
    assert "mleap_bundle" in _materialized(graph_run.result)


def test_a_model_worse_than_the_deployed_one_is_stopped(graph_run: GraphRun, tmp_path: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        # The graph run's bundle is the one deployed.
        instance.report_runless_asset_event(AssetMaterialization(
            AssetKey("mleap_bundle"), metadata={"model_version": graph_run.metadata["model_version"],
                                                "bundle_dir": str(graph_run.bundle_dir),
                                                "bundle_digest": graph_run.metadata["bundle_digest"]}))
        cursor_context = build_sensor_context(instance=instance)
        mleap_bundle_sensor.evaluate_tick(cursor_context)
        result = _crippled_run(graph_run, instance, tmp_path)

        gate = _gate(result)
        assert not result.success
        assert not gate.passed
        assert gate.metadata["champion"].value == graph_run.metadata["model_version"]
        assert gate.metadata["challenger_mae"].value > gate.metadata["champion_mae"].value
        assert "worse than the deployed model" in gate.metadata["problems"].value
        assert "fitted_model" in _materialized(result)
        assert "mleap_bundle" not in _materialized(result)
        # Nothing new to build.
        after = mleap_bundle_sensor.evaluate_tick(build_sensor_context(instance=instance,
                                                                       cursor=cursor_context.cursor))
        assert not after.run_requests


def test_a_model_no_better_than_the_baseline_is_stopped_with_nothing_deployed(graph_run: GraphRun,
                                                                              tmp_path: Path) -> None:
    with DagsterInstance.ephemeral() as instance:
        result = _crippled_run(graph_run, instance, tmp_path)
        gate = _gate(result)
        assert not gate.passed
        assert gate.metadata["champion"].value == "none: no model deployed yet"
        assert gate.metadata["holdout_mae"].value > gate.metadata["required_mae"].value
        assert "does not beat the make/model baseline" in gate.metadata["problems"].value
        assert "mleap_bundle" not in _materialized(result)
        assert not mleap_bundle_sensor.evaluate_tick(build_sensor_context(instance=instance)).run_requests
