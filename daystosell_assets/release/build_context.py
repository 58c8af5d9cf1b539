"""Lays out the folder buildah builds the service image from: only what the image needs, so the
context is small and the layer caches key on exactly the files that matter.

    dest/
      Containerfile        deploy/containers/service.Containerfile
      requirements.txt     pyproject.toml's [project].dependencies: the service's pinned deps
      daystosell_service/  the service package, without __pycache__, with its C kernels built
      model/               bundle.zip, golden.jsonl, model.json [, manifest.json]: the last layer
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

from daystosell_assets.release.errors import BuildContextError
from daystosell_service.mleap.build_kernels import BuildError
from daystosell_service.mleap.build_kernels import build as build_kernels
from daystosell_service.mleap.kernels import LIBRARY as KERNELS

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE_CONTAINERFILE = Path("deploy/containers/service.Containerfile")
# bundle.zip is what the service loads; model.json beside it gives its model version
# (daystosell_service.api.scorer.SIDECAR_NAME); golden.jsonl lets anyone re-check the image.
BUNDLE_FILES = ("bundle.zip", "golden.jsonl", "model.json")
OPTIONAL_BUNDLE_FILES = ("manifest.json",)
# Fixed mtime for generated and copied files: whatever buildah hashes for its COPY cache, a rebuilt
# context with the same contents must hit the cache (the dependency layer is the slow one).
_EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can carry


def service_requirements(pyproject: Path) -> list[str]:
    """The serving image installs ``[project].dependencies`` only; Spark, Dagster and the rest are
    optional extras of the pipeline."""
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
        deps = project["dependencies"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as e:
        raise BuildContextError(f"cannot read [project].dependencies from {pyproject}: {e}") from e
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps) or not deps:
        raise BuildContextError(f"{pyproject}: [project].dependencies must be a non-empty list of strings")
    return deps


def prepare_build_context(bundle_dir: Path, dest: Path, *, repo_root: Path = REPO_ROOT) -> Path:
    """Fills ``dest`` (emptied first) with the service image's build context and returns it."""
    missing = [name for name in BUNDLE_FILES if not (bundle_dir / name).is_file()]
    if missing:
        hint = ""
        if "model.json" in missing and (bundle_dir / "manifest.json").is_file():
            hint = (" (there is a manifest.json, but the service reads its model version from a model.json "
                    "beside bundle.zip; without it the image would report the bundle's uid as its version)")
        raise BuildContextError(
            f"bundle folder {bundle_dir} lacks {', '.join(missing)}{hint}: it must hold "
            f"{', '.join(BUNDLE_FILES)}, as the pipeline's mleap_bundle asset writes them"
        )
    service = repo_root / "daystosell_service"
    if not (service / "__main__.py").is_file():
        raise BuildContextError(
            f"{service}/__main__.py not found: the image runs `python -m daystosell_service`"
        )
    containerfile = repo_root / SERVICE_CONTAINERFILE
    if not containerfile.is_file():
        raise BuildContextError(f"{containerfile} not found")

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(containerfile, dest / "Containerfile")
    requirements = dest / "requirements.txt"
    requirements.write_text(
        "# Generated from pyproject.toml [project].dependencies by daystosell_assets.release\n"
        + "".join(f"{dep}\n" for dep in service_requirements(repo_root / "pyproject.toml"))
    )
    copy_service(service, dest / "daystosell_service")
    model = dest / "model"
    model.mkdir()
    for name in (*BUNDLE_FILES, *OPTIONAL_BUNDLE_FILES):
        if (bundle_dir / name).is_file():
            shutil.copyfile(bundle_dir / name, model / name)
    normalise(dest)
    return dest


# Caches, compiled files, hidden files and this machine's build of the kernels stay out of an image.
SOURCE_ONLY = shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*.so", "*.partial")


def copy_service(service: Path, dest: Path) -> None:
    """``daystosell_service`` into a build context, with the runtime's C kernels built there for the image:
    it carries the library, not a compiler."""
    shutil.copytree(service, dest, ignore=SOURCE_ONLY)
    try:
        build_kernels(dest / "mleap" / KERNELS.name, source=dest / "mleap" / "kernels.c")
    except BuildError as e:
        raise BuildContextError(f"cannot build the runtime's kernels for the image: {e}") from e


def normalise(root: Path) -> None:
    """World-readable, root-owned-looking files with a fixed mtime: the image runs as a non-root
    user that must read them, and the caches must not depend on when the context was made."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
        os.utime(path, (_EPOCH, _EPOCH), follow_symlinks=False)
