"""From a new bundle to a tested scoring-service image, with no hands.

The sensor watches ``mleap_bundle`` materialisations and requests one release run per bundle (the
run key is the bundle's content digest, so re-evaluations and restarts never build twice). The
release job builds the service image with the bundle as its last layer, starts it, and fails
unless every golden row comes back over HTTP with Spark's prediction.
"""

import os
import subprocess
import tempfile
from pathlib import Path

from dagster import (
    AssetKey,
    Config,
    ConfigurableResource,
    DefaultSensorStatus,
    EventLogEntry,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    RunRequest,
    SensorEvaluationContext,
    asset_sensor,
    job,
    op,
)

from daystosell_assets.release import ImageLabels, build_image, golden_test, prepare_build_context, run_container
from daystosell_assets.release.images import default_base_image
from daystosell_assets.resources import PROJECT_ROOT, LakeResource
from daystosell_service.golden import GOLDEN_FILE, read_golden

# Release steps pass image names, not Spark data: they keep them in the instance's own storage.
RELEASE_IO_MANAGER = "release_io_manager"


class ImageBuilderResource(ConfigurableResource):
    """Where service images come from and what they are called."""

    base_image: str = default_base_image()
    repository: str = "localhost/daystosell/service"

    def tag(self, model_version: str) -> str:
        return f"{self.repository}:{model_version}"


class ReleaseConfig(Config):
    bundle_dir: str
    model_version: str
    bundle_digest: str


def source_commit() -> str:
    if commit := os.environ.get("DAYSTOSELL_SOURCE_COMMIT"):
        return commit
    done = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


@op(out=Out(str, io_manager_key=RELEASE_IO_MANAGER), tags={"kind": "docker"})
def build_service_image(context: OpExecutionContext, config: ReleaseConfig,
                        image_builder: ImageBuilderResource, lake: LakeResource) -> Output[str]:
    """Builds the scoring-service image with the bundle and its golden rows as the last layer."""
    tag = image_builder.tag(config.model_version)
    with tempfile.TemporaryDirectory(prefix="daystosell-image-") as tmp:
        bundle_dir = lake.fetch(config.bundle_dir, Path(tmp) / "bundle")
        build_dir = prepare_build_context(bundle_dir, Path(tmp) / "context")
        labels = ImageLabels(model_version=config.model_version, bundle_digest=config.bundle_digest,
                             source_commit=source_commit())
        image = build_image(build_dir, tag, image_builder.base_image, labels, logger=context.log)
    return Output(image.tag, metadata={
        "image": image.tag, "image_id": image.image_id, "size_mb": round(image.size_bytes / 1e6, 1),
        "build_seconds": round(image.seconds, 1), "base_image": image_builder.base_image,
        "model_version": config.model_version, "bundle_digest": config.bundle_digest,
    })


@op(out=Out(str, io_manager_key=RELEASE_IO_MANAGER), tags={"kind": "docker"})
def golden_test_image(context: OpExecutionContext, config: ReleaseConfig, image: str,
                      lake: LakeResource) -> Output[str]:
    """Runs the image and sends it every golden row: each prediction must be Spark's."""
    with tempfile.TemporaryDirectory(prefix="daystosell-golden-") as tmp:
        golden = read_golden(lake.fetch(config.bundle_dir, Path(tmp)) / GOLDEN_FILE)
    with run_container(image, logger=context.log) as url:
        report = golden_test(url, golden)
    context.log.info(report.summary())
    metadata = {"golden_rows": report.rows, "max_rel_error": report.max_rel_error,
                "mismatches": len(report.mismatches)}
    if not report.passed:
        raise Failure(f"{image} does not reproduce Spark's predictions: {report.summary()}",
                      metadata={**metadata, "first_mismatches": MetadataValue.json(
                          [m.__dict__ for m in report.mismatches[:20]])})
    return Output(image, metadata=metadata)


@job(description="Build the scoring-service image for one bundle and test it against the golden rows.")
def release_bundle() -> None:
    golden_test_image(build_service_image())


@asset_sensor(asset_key=AssetKey("mleap_bundle"), job=release_bundle, minimum_interval_seconds=30,
              default_status=DefaultSensorStatus.RUNNING,
              description="One release run per new bundle, keyed on the bundle's content digest.")
def mleap_bundle_sensor(context: SensorEvaluationContext, asset_event: EventLogEntry) -> RunRequest:
    materialization = asset_event.asset_materialization
    assert materialization is not None
    metadata = materialization.metadata
    digest = str(metadata["bundle_digest"].value)
    config = {"bundle_dir": str(metadata["bundle_dir"].value),
              "model_version": str(metadata["model_version"].value), "bundle_digest": digest}
    return RunRequest(run_key=digest,
                      run_config={"ops": {"build_service_image": {"config": config},
                                          "golden_test_image": {"config": config}}},
                      tags={"daystosell/model_version": config["model_version"],
                            "daystosell/bundle_digest": digest})
