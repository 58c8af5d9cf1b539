"""Release: the scoring service as an OCI image, built with buildah, run with podman, and checked
against Spark's own predictions (the golden test) before it is released.

    context = prepare_build_context(bundle_dir, work / "context")
    image = build_image(context, "localhost/daystosell/service:v3", default_base_image(), labels)
    with run_container(image.tag) as url:
        report = golden_test(url, read_golden(bundle_dir / "golden.jsonl"))  # daystosell_service.golden
"""

from daystosell_assets.release.build_context import prepare_build_context, service_requirements
from daystosell_assets.release.containers import run_container, run_once
from daystosell_assets.release.errors import (
    BaseImageMissingError,
    BuildContextError,
    ContainerStartError,
    GoldenTestError,
    ImageBuildError,
    ReleaseError,
    ToolFailedError,
    ToolMissingError,
)
from daystosell_assets.release.golden import GoldenReport, golden_test
from daystosell_assets.release.images import (
    BuiltImage,
    ImageLabels,
    Layer,
    build_image,
    default_base_image,
    ensure_base_image,
    image_exists,
    image_labels,
    image_layers,
    image_size,
    last_layer_paths,
    push_image,
    remove_image,
)
from daystosell_assets.release.tools import ContainerTools

__all__ = [
    "BaseImageMissingError",
    "BuildContextError",
    "BuiltImage",
    "ContainerStartError",
    "ContainerTools",
    "GoldenReport",
    "GoldenTestError",
    "ImageBuildError",
    "ImageLabels",
    "Layer",
    "ReleaseError",
    "ToolFailedError",
    "ToolMissingError",
    "build_image",
    "default_base_image",
    "ensure_base_image",
    "golden_test",
    "image_exists",
    "image_labels",
    "image_layers",
    "image_size",
    "last_layer_paths",
    "prepare_build_context",
    "push_image",
    "remove_image",
    "run_container",
    "run_once",
    "service_requirements",
]
