"""The pipeline image: the Dagster code location that the Helm chart's ``dagster-user-deployments`` runs
as ``dagster api grpc`` and that every K8sRunLauncher run pod runs as ``dagster api execute_run``.

Unlike the service image it carries a JVM: Spark runs in the run's own process, and the ``mleap_bundle``
asset scores every bundle with MLeap's JVM runtime too. Its build context, laid out by
:func:`prepare_pipeline_context`:

    dest/
      Containerfile      deploy/containers/pipeline.Containerfile
      requirements.txt   [project].dependencies + the ``pipeline`` extra
      app/               pyproject.toml, workspace.yaml, daystosell_assets/, daystosell_service/ (C kernels
                         built), deploy/dagster/
      jvm/lib, jvm/classes  MLeap's runtime jars and the compiled harness (scripts/setup.sh install_mleap_jvm)
      s3a/lib            hadoop-aws and the AWS SDK modules (scripts/setup.sh install_s3a_jars)

It is built like the service image (:func:`daystosell_assets.release.images.build_image`) and on the same
base (:func:`daystosell_assets.release.images.ensure_base_image`): the Containerfile adds the JRE as its first
layer, so the service base keeps its recipe.
"""

from __future__ import annotations

import logging
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from daystosell_assets.release.build_context import (
    REPO_ROOT,
    SOURCE_ONLY,
    copy_service,
    normalise,
    service_requirements,
)
from daystosell_assets.release.errors import BuildContextError
from daystosell_assets.release.images import BuiltImage, build_image, default_base_image, now_rfc3339
from daystosell_assets.release.tools import ContainerTools, LineLog

log = logging.getLogger(__name__)

PIPELINE_CONTAINERFILE = Path("deploy/containers/pipeline.Containerfile")
# The name deploy/helm/values.yaml deploys (behind a registry host); locally under localhost/.
PIPELINE_IMAGE_REPOSITORY = "daystosell/pipeline"
# Where the image keeps the jars; pipeline.Containerfile points DAYSTOSELL_MLEAP_JVM_DIR and
# DAYSTOSELL_S3A_JARS here, the variables daystosell_assets.mleap.reference and .lake.s3 read.
IMAGE_MLEAP_JVM_DIR = "/opt/daystosell/jvm"
IMAGE_S3A_JARS_DIR = "/opt/daystosell/s3a/lib"
_APP_FILES = ("pyproject.toml", "workspace.yaml")
_APP_DIRS = ("daystosell_assets", "deploy/dagster")  # and daystosell_service, by copy_service


def pipeline_image_tag(source_commit: str, registry: str = "localhost") -> str:
    """``<registry>/daystosell/pipeline:<commit[:12]>``: one immutable tag per commit."""
    return f"{registry}/{PIPELINE_IMAGE_REPOSITORY}:{source_commit[:12]}"


def pipeline_requirements(pyproject: Path) -> list[str]:
    """What the image pip-installs: the service's dependencies (the pipeline imports its MLeap runtime) and
    the ``pipeline`` extra (Dagster with dagster-k8s and dagster-postgres, which every run pod of a
    deployment needs to load its instance; pyspark; MLeap)."""
    try:
        extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["pipeline"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as e:
        raise BuildContextError(f"cannot read the `pipeline` extra from {pyproject}: {e}") from e
    if not isinstance(extra, list) or not all(isinstance(d, str) for d in extra) or not extra:
        raise BuildContextError(f"{pyproject}: the `pipeline` extra must be a non-empty list of strings")
    return [*service_requirements(pyproject), *extra]


def prepare_pipeline_context(dest: Path, *, repo_root: Path = REPO_ROOT, state_dir: Path | None = None) -> Path:
    """Fills ``dest`` (emptied first) with the pipeline image's build context and returns it. The jars
    come from ``state_dir`` (default ``<repo>/.state``), where scripts/setup.sh installs them."""
    state = state_dir or repo_root / ".state"
    jars = {"jvm/lib": state / "jvm" / "lib", "jvm/classes": state / "jvm" / "classes",
            "s3a/lib": state / "s3a" / "lib"}
    _check_inputs(repo_root, jars)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(repo_root / PIPELINE_CONTAINERFILE, dest / "Containerfile")
    (dest / "requirements.txt").write_text(
        "# Generated from pyproject.toml by daystosell_assets.release.pipeline_image\n"
        + "".join(f"{dep}\n" for dep in pipeline_requirements(repo_root / "pyproject.toml"))
    )
    _copy_app(repo_root, dest / "app")
    for target, source in jars.items():
        shutil.copytree(source, dest / target)
    normalise(dest)
    return dest


def _check_inputs(repo_root: Path, jars: dict[str, Path]) -> None:
    missing = [f"{p}" for p in (PIPELINE_CONTAINERFILE, *_APP_FILES, *_APP_DIRS) if not (repo_root / p).exists()]
    if missing:
        raise BuildContextError(f"{repo_root} lacks {', '.join(missing)}: the pipeline image needs them")
    # Empty folders would build an image whose first retrain fails: say so now, with the fix.
    empty = [str(folder) for folder in jars.values() if not folder.is_dir() or not any(folder.iterdir())]
    if empty:
        raise BuildContextError(f"no jars in {', '.join(empty)}: run scripts/setup.sh (install_mleap_jvm, "
                                "install_s3a_jars) before building the pipeline image")


def _copy_app(repo_root: Path, app: Path) -> None:
    app.mkdir()
    for name in _APP_FILES:
        shutil.copy2(repo_root / name, app / name)
    for name in _APP_DIRS:
        shutil.copytree(repo_root / name, app / name, ignore=SOURCE_ONLY)
    copy_service(repo_root / "daystosell_service", app / "daystosell_service")


@dataclass(frozen=True)
class PipelineLabels:
    """The pipeline image's OCI labels: it holds no model, so no model version or bundle digest."""

    source_commit: str
    version: str = "0.1.0"
    created: str = field(default_factory=now_rfc3339)

    def as_labels(self, base_image: str) -> dict[str, str]:
        return {
            "org.opencontainers.image.title": "daystosell-pipeline",
            "org.opencontainers.image.description": "Days-to-sell Dagster code location (Spark, MLeap JVM, S3A)",
            "org.opencontainers.image.version": self.version,
            "org.opencontainers.image.revision": self.source_commit,
            "org.opencontainers.image.created": self.created,
            "org.opencontainers.image.base.name": base_image,
        }


def build_pipeline_image(context_dir: Path, tag: str, source_commit: str, *, base_image: str | None = None,
                         tools: ContainerTools | None = None, logger: LineLog = log,
                         no_cache: bool = False) -> BuiltImage:
    """``build_image`` on the service's base (``ensure_base_image`` makes it): the JRE and dependency
    layers (pyspark alone is ~400 MB) stay cached until the base or requirements.txt change; the jars and
    the project come after them."""
    return build_image(context_dir, tag, base_image or default_base_image(),
                       PipelineLabels(source_commit), tools=tools, logger=logger, no_cache=no_cache)
