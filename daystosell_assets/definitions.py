"""The one Definitions of the daystosell code location."""

from __future__ import annotations

from dagster import Definitions, FilesystemIOManager, in_process_executor, load_assets_from_modules

from daystosell_assets.defs import automation, bundle, features, model, predictions, release, sources
from daystosell_assets.resources import lake_resources

defs = Definitions(
    assets=load_assets_from_modules([sources, features, model, bundle, predictions]),
    asset_checks=[*sources.source_checks, *features.training_set_checks, model.fitted_model_gate],
    jobs=[automation.retrain, release.release_bundle],
    sensors=[automation.raw_lake_sensor, release.mleap_bundle_sensor],
    schedules=[automation.weekly_retrain],
    resources={**lake_resources(), "image_builder": release.ImageBuilderResource(),
               release.RELEASE_IO_MANAGER: FilesystemIOManager()},
    # Every step shares one Spark session: a process per step would start a JVM per step (~9 s each).
    executor=in_process_executor,
)
