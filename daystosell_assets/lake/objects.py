"""The lake's objects that are not DataFrames (bundles, golden rows, model metadata), on local disk or S3.

Keys are relative to the lake root, as in :class:`~daystosell_assets.lake.layout.LakeLayout`; ``uri`` gives
the full location a person (or the release job) can fetch from.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from daystosell_assets.lake.layout import split_s3


class LakeObjects(Protocol):
    def uri(self, key: str) -> str: ...

    def put_dir(self, local: Path, key: str) -> list[str]:
        """Copies every file under ``local`` to ``key``; returns the keys written."""
        ...

    def get_dir(self, key: str, local: Path) -> Path:
        """Copies every object under ``key`` into ``local``; returns ``local``."""
        ...

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str) -> list[str]: ...

    def fingerprint(self, prefix: str) -> str:
        """A digest of every object under ``prefix`` with its size and version: it changes when any lands,
        goes or is rewritten."""
        ...


def _digest(entries: list[tuple[str, object, object]]) -> str:
    h = hashlib.sha256()
    for entry in sorted(entries):
        h.update(repr(entry).encode())
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class LocalObjects:
    root: Path

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def put_dir(self, local: Path, key: str) -> list[str]:
        target = self.root / key
        if target.resolve() != local.resolve():
            shutil.copytree(local, target, dirs_exist_ok=True)
        return [f"{key}/{p.relative_to(local).as_posix()}" for p in sorted(local.rglob("*")) if p.is_file()]

    def get_dir(self, key: str, local: Path) -> Path:
        source = self.root / key
        if not source.is_dir():
            raise FileNotFoundError(f"nothing in the lake at {source}")
        shutil.copytree(source, local, dirs_exist_ok=True)
        return local

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def keys(self, prefix: str) -> list[str]:
        base = self.root / prefix
        return sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())

    def fingerprint(self, prefix: str) -> str:
        files = [p for p in (self.root / prefix).rglob("*") if p.is_file()]
        return _digest([(p.relative_to(self.root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
                        for p in files])


@dataclass(frozen=True)
class S3Objects:
    """Objects under ``s3://bucket/prefix`` through a boto3 client (dagster-aws's ``S3Resource`` makes it)."""

    client: Any
    bucket: str
    prefix: str = ""

    @classmethod
    def at(cls, client: Any, root: str) -> S3Objects:
        bucket, prefix = split_s3(root)
        return cls(client, bucket, prefix)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put_dir(self, local: Path, key: str) -> list[str]:
        written = []
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            name = f"{key}/{path.relative_to(local).as_posix()}"
            self.client.upload_file(str(path), self.bucket, self._key(name))
            written.append(name)
        return written

    def get_dir(self, key: str, local: Path) -> Path:
        names = self.keys(key)
        if not names:
            raise FileNotFoundError(f"nothing in the lake at {self.uri(key)}")
        for name in names:
            target = local / Path(name).relative_to(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.client.download_file(self.bucket, self._key(name), str(target))
        return local

    def exists(self, key: str) -> bool:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(key), MaxKeys=1)
        return bool(listed.get("KeyCount"))

    def keys(self, prefix: str) -> list[str]:
        names: list[str] = []
        start = self._key(prefix).rstrip("/") + "/"
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            names += [obj["Key"][len(self.prefix) + 1 if self.prefix else 0:] for obj in page.get("Contents", [])]
        return sorted(names)

    def fingerprint(self, prefix: str) -> str:
        start = self._key(prefix).rstrip("/") + "/"
        return _digest([(obj["Key"], obj["Size"], obj["ETag"])
                        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                                           Prefix=start)
                        for obj in page.get("Contents", [])])


def fetch_dir(location: str, local: Path, client: Any | None = None) -> Path:
    """A local copy of the folder at ``location`` (a path, or ``s3://`` with ``client``): the path itself
    when it is already local."""
    if not location.startswith(("s3://", "s3a://")):
        path = Path(location)
        if not path.is_dir():
            raise FileNotFoundError(f"no folder at {location}")
        return path
    if client is None:
        raise ValueError(f"{location} is on S3: an S3 client is needed to fetch it")
    bucket, key = split_s3(location)
    return S3Objects(client, bucket).get_dir(key, local)
