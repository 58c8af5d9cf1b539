"""Retraining with no hands: new data in the raw zone (or, failing that, a weekly schedule) requests a
retrain of the whole graph, checks included; a bundle that passes everything is then picked up by the
release sensor (``release.py``).

The raw zone is watched, not each dataset: a delivery lands several datasets at once, and one retrain should
see all of them.
"""

import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from daystosell_assets.lake.layout import RAW_DATASETS, LakeLayout
from daystosell_assets.resources import LakeResource

# DAYSTOSELL_AUTOMATION=off starts the sensors and the schedule stopped (switch them on in the UI): for a
# UI session on a lake that should not retrain and release by itself the moment the daemon starts.
AUTOMATION_ON = os.environ.get("DAYSTOSELL_AUTOMATION", "on") != "off"
SENSOR_STATUS = DefaultSensorStatus.RUNNING if AUTOMATION_ON else DefaultSensorStatus.STOPPED
SCHEDULE_STATUS = DefaultScheduleStatus.RUNNING if AUTOMATION_ON else DefaultScheduleStatus.STOPPED

TRAINING_ASSETS = (*RAW_DATASETS, "training_set", "fitted_model", "mleap_bundle", "live_advert_predictions")

# Spark runs its driver and executors in the run's own process (local[*] or a Connect client): on
# Kubernetes the run's pod needs the cores and memory (scale benchmark: 4g driver, 6.6 GB peak at 3M
# adverts). The queued coordinator lets one run with this tag at a time (deploy/dagster/dagster.yaml).
SPARK_HEAVY = {"daystosell/spark": "heavy"}
SPARK_RUN_K8S_CONFIG = {
    "container_config": {"resources": {"requests": {"cpu": "2", "memory": "6Gi"},
                                       "limits": {"cpu": "4", "memory": "8Gi"}}},
}

retrain = define_asset_job(
    "retrain", selection=AssetSelection.assets(*TRAINING_ASSETS),
    tags={**SPARK_HEAVY, "dagster-k8s/config": SPARK_RUN_K8S_CONFIG},
    description="Curate the lake, rebuild the training set, fit, gate and bundle a model, score the live adverts "
                "with it: every check blocking.")


def raw_fingerprint(lake: LakeResource) -> str:
    """Changes whenever a file of the raw zone lands, goes or is rewritten."""
    objects = lake.objects
    return ":".join(objects.fingerprint(LakeLayout.raw_key(name)) for name in RAW_DATASETS)


@sensor(job=retrain, minimum_interval_seconds=300, default_status=SENSOR_STATUS,
        description="Requests a retrain when the raw zone changes; one run per state of the raw zone.")
def raw_lake_sensor(context: SensorEvaluationContext, lake: LakeResource) -> RunRequest | SkipReason:
    fingerprint = raw_fingerprint(lake)
    if fingerprint == context.cursor:
        return SkipReason(f"no new data in {lake.layout.spark_uri('raw')}")
    context.update_cursor(fingerprint)
    return RunRequest(run_key=f"raw-{fingerprint}", tags={"daystosell/trigger": "new data"})


weekly_retrain = ScheduleDefinition(
    name="weekly_retrain", job=retrain, cron_schedule="0 4 * * 1", execution_timezone="UTC",
    default_status=SCHEDULE_STATUS,
    description="Retrains every Monday at 04:00 UTC even when no delivery was noticed, so the model keeps up "
                "with a market that moves while the feed is quiet.")
