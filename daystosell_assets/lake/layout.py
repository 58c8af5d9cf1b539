"""Where each dataset lives in the lake: one place that knows the folder structure.

The lake root is a local folder or an S3 location (``s3://bucket/prefix``). Spark reaches S3 through
Hadoop's S3A connector, so every path handed to Spark uses the ``s3a://`` scheme; objects that are not
DataFrames (bundles, golden rows, model metadata) go through :mod:`daystosell_assets.lake.objects`,
which takes the same keys relative to the root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RAW_DATASETS = ("adverts", "taxonomy", "valuations", "geography")
S3_SCHEMES = ("s3://", "s3a://")


def is_s3(root: str) -> bool:
    return root.startswith(S3_SCHEMES)


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    rest = uri.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ValueError(f"S3 location {uri!r} names no bucket: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


@dataclass(frozen=True)
class LakeLayout:
    """The lake's zones under one root: ``raw/`` (as delivered), ``curated/`` (asset outputs),
    ``models/`` (fitted Spark pipelines) and ``bundles/`` (MLeap bundles with their golden rows).

    ``raw``, ``curated`` and ``model`` give locations Spark can read and write; ``key`` gives the same
    place relative to the root, for the object store."""

    root: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", str(self.root).rstrip("/"))

    @property
    def on_s3(self) -> bool:
        return is_s3(self.root)

    def spark_uri(self, key: str) -> str:
        """The location Spark uses for ``key`` (``s3a://`` on S3, a plain path on local disk)."""
        if self.on_s3:
            bucket, prefix = split_s3(self.root)
            return f"s3a://{bucket}/{prefix + '/' if prefix else ''}{key}"
        return str(Path(self.root) / key)

    def raw(self, dataset: str) -> str:
        return self.spark_uri(self.raw_key(dataset))

    def curated(self, asset: str) -> str:
        return self.spark_uri(self.curated_key(asset))

    def model(self, name: str) -> str:
        return self.spark_uri(self.model_key(name))

    @staticmethod
    def raw_key(dataset: str) -> str:
        return f"raw/{dataset}"

    @staticmethod
    def curated_key(asset: str) -> str:
        return f"curated/{asset}"

    @staticmethod
    def model_key(name: str) -> str:
        return f"models/{name}"

    @staticmethod
    def bundle_key(version: str) -> str:
        return f"bundles/{version}"
