"""The deployed model (the champion) and its score on a challenger's holdout.

The champion is scored from its bundle by the same Python runtime the service uses, so the comparison is with
what production answers, not with a Spark model that may no longer exist.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from dagster import AssetKey, DagsterInstance

from daystosell_service.mleap import load_bundle

# The release chain's last asset: its newest materialisation is what production serves.
PRODUCTION = AssetKey("prod_deployment")


@dataclass(frozen=True)
class Champion:
    model_version: str
    bundle_dir: str
    # How it was found: "in production" (the newest prod_deployment) or "latest bundle".
    source: str


def find_champion(instance: DagsterInstance) -> Champion | None:
    """The bundle production serves (the newest ``prod_deployment``, rollbacks included); before any
    release, the newest ``mleap_bundle``."""
    for key, source in ((PRODUCTION, "in production"), (AssetKey("mleap_bundle"), "latest bundle")):
        event = instance.get_latest_materialization_event(key)
        materialization = event.asset_materialization if event is not None else None
        if materialization is not None and "bundle_dir" in materialization.metadata:
            metadata = materialization.metadata
            return Champion(str(metadata["model_version"].value), str(metadata["bundle_dir"].value), source)
    return None


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
