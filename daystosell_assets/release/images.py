"""Builds and inspects the service image with buildah (no Docker engine)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from daystosell_assets.release.build_context import REPO_ROOT
from daystosell_assets.release.errors import (
    SETUP_HINT,
    BaseImageMissingError,
    ImageBuildError,
    ToolFailedError,
)
from daystosell_assets.release.tools import ContainerTools, LineLog

log = logging.getLogger(__name__)

LOCAL_BASE_IMAGE = "localhost/daystosell/python-base:bookworm"
BASE_IMAGE_SCRIPT = Path("deploy/containers/base-image.sh")


def default_base_image() -> str:
    return os.environ.get("DAYSTOSELL_BASE_IMAGE", LOCAL_BASE_IMAGE)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LabelSet(Protocol):
    """What ``build_image`` stamps on an image: OCI labels, given the base it was built on."""

    def as_labels(self, base_image: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class ImageLabels:
    """Per-build facts stamped on the image as OCI labels (``buildah bud --label``; see the
    Containerfile's header for why not ARG + LABEL)."""

    model_version: str
    bundle_digest: str
    source_commit: str
    created: str = field(default_factory=now_rfc3339)

    def as_labels(self, base_image: str) -> dict[str, str]:
        return {
            "org.opencontainers.image.title": "daystosell-service",
            "org.opencontainers.image.description": "Days-to-sell scoring service (MLeap bundle, Litestar)",
            "org.opencontainers.image.version": self.model_version,
            "org.opencontainers.image.revision": self.source_commit,
            "org.opencontainers.image.created": self.created,
            "org.opencontainers.image.base.name": base_image,
            "io.daystosell.model.version": self.model_version,
            "io.daystosell.model.bundle-digest": self.bundle_digest,
        }


@dataclass(frozen=True)
class BuiltImage:
    image_id: str
    tag: str
    size_bytes: int
    seconds: float


def image_exists(image: str, tools: ContainerTools | None = None) -> bool:
    tools = tools or ContainerTools.from_env()
    cmd = tools.buildah("inspect", "--type", "image", "--format", "{{.FromImageID}}", image)
    return bool(tools.run(cmd, check=False).strip())


def ensure_base_image(tools: ContainerTools | None = None, *, repo_root: Path = REPO_ROOT,
                      logger: LineLog = log) -> str:
    """Builds the local base image if it is missing or stale (the script decides, and is a no-op
    when the image is current) and returns its tag."""
    tools = tools or ContainerTools.from_env()
    image = default_base_image()
    rc, tail = tools.stream(
        ["bash", str(repo_root / BASE_IMAGE_SCRIPT)], logger, prefix="base-image | "
    )
    if rc != 0 or not image_exists(image, tools):
        raise BaseImageMissingError(
            f"{BASE_IMAGE_SCRIPT} failed (exit {rc}), {image} is not available:\n" + "\n".join(tail)
        )
    return image


def build_image(context_dir: Path, tag: str, base_image: str, labels: LabelSet, *,
                tools: ContainerTools | None = None, logger: LineLog = log, no_cache: bool = False) -> BuiltImage:
    """``buildah bud --layers`` so the venv and dependency layers are reused across builds and a new
    model only adds its last layer (``no_cache`` rebuilds every layer, e.g. to pick up a fixed
    dependency of the same version). Streams buildah's output to ``logger`` line by line."""
    tools = tools or ContainerTools.from_env()
    tools.require("buildah")
    if base_image.startswith("localhost/") and not image_exists(base_image, tools):
        # buildah would otherwise try to pull it from a registry called "localhost".
        raise BaseImageMissingError(f"base image {base_image} not found in local storage: {SETUP_HINT}")

    label_flags = [f for k, v in labels.as_labels(base_image).items() for f in ("--label", f"{k}={v}")]
    with tempfile.TemporaryDirectory() as tmp:
        iidfile = Path(tmp) / "iid"
        cmd = tools.buildah_bud(
            # Docker's format, not OCI's: only it carries the HEALTHCHECK.
            "--format", "docker", "--layers", "--force-rm", "--iidfile", str(iidfile),
            *(["--no-cache"] if no_cache else []),
            "-f", str(context_dir / "Containerfile"), "-t", tag,
            "--build-arg", f"BASE_IMAGE={base_image}", *label_flags, str(context_dir),
        )
        logger.info(f"building {tag} from {base_image} (context {context_dir})")
        started = time.monotonic()
        rc, tail = tools.stream(cmd, logger, prefix="buildah | ")
        seconds = time.monotonic() - started
        if rc != 0 or not iidfile.exists():
            raise ImageBuildError(
                f"buildah bud of {tag} failed (exit {rc}); last lines:\n" + "\n".join(tail)
                + "\nIf pip failed, check PyPI is reachable and every pinned dependency has a wheel for "
                "CPython 3.11 on linux x86_64."
            )
        image_id = iidfile.read_text().strip().removeprefix("sha256:")
    size = image_size(tag, tools)
    logger.info(f"built {tag} ({image_id[:12]}, {size / 1e6:.0f} MB) in {seconds:.1f} s")
    return BuiltImage(image_id=image_id, tag=tag, size_bytes=size, seconds=seconds)


def image_size(image: str, tools: ContainerTools | None = None) -> int:
    tools = tools or ContainerTools.from_env()
    return int(tools.run(tools.podman("image", "inspect", "--format", "{{.Size}}", image)).strip())


def image_labels(image: str, tools: ContainerTools | None = None) -> dict[str, str]:
    tools = tools or ContainerTools.from_env()
    out = tools.run(tools.podman("image", "inspect", "--format", "{{json .Labels}}", image))
    labels = json.loads(out) or {}
    return {str(k): str(v) for k, v in labels.items()}


@dataclass(frozen=True)
class Layer:
    digest: str
    size_bytes: int
    created_by: str


def image_layers(image: str, tools: ContainerTools | None = None) -> list[Layer]:
    """The image's filesystem layers, bottom first, each with the instruction that made it (from the
    manifest as skopeo reads it from local storage, and the config's history). The base image's layers
    are named after it: buildah 1.28 records the history of a FROM-scratch ADD out of step with its layers."""
    tools = tools or ContainerTools.from_env()
    manifest, config = _manifest_and_config(image, tools)
    layers = manifest["layers"]
    history = config.get("history", [])
    base = config.get("config", {}).get("Labels", {}).get("org.opencontainers.image.base.name")
    base_layers = base_history = 0
    if base and image_exists(base, tools):
        base_manifest, base_config = _manifest_and_config(base, tools)
        base_layers, base_history = len(base_manifest["layers"]), len(base_config.get("history", []))
    own = [h for h in history[base_history:] if not h.get("empty_layer")]
    if len(own) != len(layers) - base_layers:
        own = [{}] * (len(layers) - base_layers)  # a squashed image has no per-layer history; say nothing then
    made_by = [f"base image {base}"] * base_layers + [_instruction(h.get("created_by", "")) for h in own]
    return [Layer(layer["digest"], int(layer.get("size", 0)), what)
            for layer, what in zip(layers, made_by, strict=True)]


def _manifest_and_config(image: str, tools: ContainerTools) -> tuple[dict[str, Any], dict[str, Any]]:
    ref = tools.storage_ref(image)
    return (json.loads(tools.run(tools.skopeo("inspect", "--raw", ref))),
            json.loads(tools.run(tools.skopeo("inspect", "--config", "--raw", ref))))


def _instruction(created_by: str) -> str:
    """As written in the Containerfile: ``/bin/sh -c #(nop) COPY dir:<sha> in /app/`` -> ``COPY dir in
    /app/`` (the destination says what the layer is, the content hash is noise), ``/bin/sh -c python3 -m
    venv ...`` -> ``RUN python3 -m venv ...``."""
    if created_by.startswith("/bin/sh -c #(nop) "):
        text = created_by.removeprefix("/bin/sh -c #(nop) ").strip()
    elif created_by.startswith("/bin/sh -c "):
        text = "RUN " + created_by.removeprefix("/bin/sh -c ").strip()
    else:
        text = created_by.strip()
    return " ".join(w.split(":", 1)[0] if w.startswith(("dir:", "file:")) else w for w in text.split())


def layer_table(image: str, tools: ContainerTools | None = None, width: int = 100) -> str:
    """The layers as a Markdown table, for an asset's metadata."""
    rows = [f"| {i} | {layer.size_bytes / 1e6:,.1f} MB | `{_clip(layer.created_by, width)}` |"
            for i, layer in enumerate(image_layers(image, tools))]
    return "\n".join(["| layer | compressed size | made by |", "| --- | --- | --- |", *rows])


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def last_layer_paths(image: str, tools: ContainerTools | None = None) -> list[str]:
    """Paths added or changed by the image's top layer, relative to the layer below it."""
    tools = tools or ContainerTools.from_env()
    out = tools.run(tools.podman("image", "diff", "--format", "json", image))
    changes = json.loads(out) or {}
    return sorted(p for kind in ("added", "changed") for p in changes.get(kind) or [])


def remove_image(image: str, tools: ContainerTools | None = None) -> None:
    """Removes ``image`` but not its untagged parents: those are ``--layers``' cache, and pruning
    them would make the next build reinstall every dependency."""
    tools = tools or ContainerTools.from_env()
    tools.run(tools.podman("rmi", "--no-prune", image))


def push_image(image: str, destination: str, *, tls_verify: bool = True,
               tools: ContainerTools | None = None, logger: LineLog = log) -> str:
    """Pushes to ``destination`` (``docker://host:port/name:tag``) and returns the pushed manifest
    digest. ``tls_verify=False`` only for a registry on this machine's loopback."""
    tools = tools or ContainerTools.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        digestfile = Path(tmp) / "digest"
        cmd = tools.buildah("push", f"--tls-verify={str(tls_verify).lower()}", "--digestfile",
                            str(digestfile), image, destination)
        rc, tail = tools.stream(cmd, logger, prefix="push | ")
        if rc != 0 or not digestfile.exists():
            raise ToolFailedError(
                f"buildah push {image} -> {destination} failed (exit {rc}):\n" + "\n".join(tail)
            )
        return digestfile.read_text().strip()
