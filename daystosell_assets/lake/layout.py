"""Where each dataset lives in the lake: one place that knows the folder structure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RAW_DATASETS = ("adverts", "taxonomy", "valuations", "geography")


@dataclass(frozen=True)
class LakeLayout:
    """The lake's zones under one root: ``raw/`` (as delivered), ``curated/`` (asset outputs),
    ``models/`` (fitted Spark pipelines) and ``bundles/`` (MLeap bundles with their golden rows)."""

    root: Path

    def raw(self, dataset: str) -> Path:
        return self.root / "raw" / dataset

    def curated(self, asset: str) -> Path:
        return self.root / "curated" / asset

    def model(self, name: str) -> Path:
        return self.root / "models" / name

    def bundles(self) -> Path:
        return self.root / "bundles"

    def bundle(self, version: str) -> Path:
        return self.bundles() / version
