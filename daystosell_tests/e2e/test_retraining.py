"""Retraining with no hands: new data in the raw zone requests a retrain, the retrain makes a bundle, the
bundle requests a build; the weekly schedule requests the same retrain when the feed is quiet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, build_schedule_context, build_sensor_context

from daystosell_assets.definitions import defs
from daystosell_assets.defs.automation import raw_lake_sensor, weekly_retrain
from daystosell_assets.defs.release import mleap_bundle_sensor
from daystosell_assets.resources import lake_resources
from daystosell_tests.conftest import TRAINING_RUN_CONFIG, seed_lake

pytestmark = pytest.mark.spark


def _tick(lake: Any, instance: DagsterInstance, cursor: str | None) -> tuple[list[Any], str | None]:
    with build_sensor_context(instance=instance, cursor=cursor, resources={"lake": lake}) as context:
        result = raw_lake_sensor.evaluate_tick(context)
    return list(result.run_requests or []), result.cursor


def test_new_adverts_request_a_retrain_and_its_bundle_a_build(spark: Any, tmp_path: Path) -> None:
    root = seed_lake(spark, tmp_path / "lake", seed=31)
    resources = lake_resources(str(root))
    with DagsterInstance.ephemeral() as instance:
        [request], cursor = _tick(resources["lake"], instance, None)
        assert raw_lake_sensor.job_name == "retrain"
        assert _tick(resources["lake"], instance, cursor)[0] == [], "the same raw zone asks for nothing more"

        # The run the daemon would launch for that request.
        run = defs.resolve_job_def("retrain").execute_in_process(
            instance=instance, run_config=TRAINING_RUN_CONFIG, resources=resources, raise_on_error=False,
            tags={**request.tags, "dagster/run_key": str(request.run_key)})
        assert run.success
        assert {c.check_name for c in run.get_asset_check_evaluations() if not c.passed} == set()
        [bundle] = run.asset_materializations_for_node("mleap_bundle")

        [build] = mleap_bundle_sensor.evaluate_tick(build_sensor_context(instance=instance)).run_requests
        assert mleap_bundle_sensor.job_name == "release"
        assert build.run_key == bundle.metadata["bundle_digest"].value

        # A new delivery lands: the sensor notices and asks again.
        seed_lake(spark, root, seed=32)
        [again], _ = _tick(resources["lake"], instance, cursor)
        assert again.run_key != request.run_key


def test_the_weekly_schedule_retrains_even_when_the_feed_is_quiet() -> None:
    monday = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    result = weekly_retrain.evaluate_tick(build_schedule_context(scheduled_execution_time=monday))
    assert len(result.run_requests or []) == 1
    assert weekly_retrain.job_name == "retrain"
    assert weekly_retrain.cron_schedule == "0 4 * * 1"
