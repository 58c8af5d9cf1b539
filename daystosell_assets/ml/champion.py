"""The deployed model (the champion) and its score on a challenger's holdout.

The champion is scored from its bundle by the same Python runtime the service uses, so the comparison is with
what production answers, not with a Spark model that may no longer exist.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter

from daystosell_service.mleap import load_bundle

RELEASE_JOB = "release_bundle"


@dataclass(frozen=True)
class Champion:
    model_version: str
    bundle_dir: str
    # How it was found: "released" (the newest successful release run) or "latest bundle".
    source: str


def find_champion(instance: DagsterInstance) -> Champion | None:
    """The bundle of the newest successful release run; before any release, the newest ``mleap_bundle``."""
    runs = instance.get_runs(RunsFilter(job_name=RELEASE_JOB, statuses=[DagsterRunStatus.SUCCESS]), limit=1)
    for run in runs:
        ops = cast(dict[str, Any], dict(run.run_config).get("ops", {}))
        config = ops.get("build_service_image", {}).get("config", {})
        if config.get("bundle_dir") and config.get("model_version"):
            return Champion(str(config["model_version"]), str(config["bundle_dir"]), "released")
    event = instance.get_latest_materialization_event(AssetKey("mleap_bundle"))
    materialization = event.asset_materialization if event is not None else None
    if materialization is None:
        return None
    metadata = materialization.metadata
    return Champion(str(metadata["model_version"].value), str(metadata["bundle_dir"].value), "latest bundle")


def champion_predictions(champion: Champion, columns: dict[str, np.ndarray],
                         fetch: Callable[[str, Path], Path], prediction: str = "prediction") -> np.ndarray:
    """The champion's predictions for the rows given as columns (one array per input column)."""
    with tempfile.TemporaryDirectory(prefix="daystosell-champion-") as tmp:
        bundle = load_bundle(fetch(champion.bundle_dir, Path(tmp)) / "bundle.zip")
    wanted: dict[str, Any] = {name: columns[name] for name in bundle.input_schema}
    scored = bundle.transform_columns(wanted, select=[prediction])
    if len(scored) != len(next(iter(columns.values()))):
        raise ValueError(f"champion {champion.model_version} dropped rows of the holdout: cannot compare")
    return scored.columns[prediction]
