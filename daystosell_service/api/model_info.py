"""GET /v1/model: what the service is serving, for callers and dashboards.

Version, training time and metrics come from the model.json sidecar the pipeline writes beside the bundle;
old sidecars (or none) lack some of them, which are then null rather than an error. The rest is read from the
bundle itself.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from daystosell_service.api.predictions import MAX_ADVERTS_WITH_CONTRIBUTIONS, baseline_body
from daystosell_service.api.schemas import ContributionBaseline, ErrorResponse
from daystosell_service.api.scorer import Scorer


class BundleDescription(msgspec.Struct, frozen=True):
    """The MLeap bundle's own bundle.json, and the ops of its stages."""

    uid: str
    name: str
    format: str
    mleap_version: str
    timestamp: str
    ops: list[str]


class ContributionsInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    available: bool
    max_adverts: int
    baseline: ContributionBaseline | None = None
    # Why contributions are not available.
    reason: str | None = None


class ModelInfo(msgspec.Struct, frozen=True):
    model_version: str
    bundle_digest: str
    trained_at: str | None
    # Holdout metrics recorded at training, e.g. holdout_mae (days); null when the sidecar has none.
    metrics: dict[str, float] | None
    # Model input -> "string" | "double": every one is an advert field of the same name.
    input_schema: dict[str, str]
    output_columns: list[str]
    bundle: BundleDescription
    contributions: ContributionsInfo
    # The sidecar as written, for anything not lifted out above (training rows, golden rows, ...).
    sidecar: dict[str, Any]


def sidecar_metrics(sidecar: dict[str, Any]) -> dict[str, float] | None:
    """The sidecar's numeric metrics; anything else under "metrics" is ignored, not an error."""
    metrics = sidecar.get("metrics")
    if not isinstance(metrics, dict):
        return None
    return {
        str(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def describe(scorer: Scorer) -> ModelInfo:
    info = scorer.model.info
    sidecar = dict(scorer.sidecar)
    trained_at = sidecar.get("trained_at")
    baseline = scorer.baseline
    return ModelInfo(
        model_version=scorer.model_version,
        bundle_digest=scorer.bundle_digest,
        trained_at=trained_at if isinstance(trained_at, str) else None,
        metrics=sidecar_metrics(sidecar),
        input_schema=dict(scorer.input_schema),
        output_columns=list(scorer.model.output_columns),
        bundle=BundleDescription(
            uid=info.uid,
            name=info.name,
            format=info.format,
            mleap_version=info.version,
            timestamp=info.timestamp,
            ops=list(scorer.model.ops),
        ),
        contributions=ContributionsInfo(
            available=baseline is not None,
            max_adverts=MAX_ADVERTS_WITH_CONTRIBUTIONS,
            baseline=None if baseline is None else baseline_body(baseline),
            reason=None if baseline is not None else scorer.no_baseline,
        ),
        sidecar=sidecar,
    )


class ModelInfoController(Controller):
    path = "/v1/model"
    tags = ("model",)

    @get(
        "/",
        summary="The model being served",
        description="Version, training time and metrics (from the sidecar written with the bundle, null when it "
        "lacks them), input schema, bundle digest, the MLeap bundle's own description, and the baseline advert "
        "that prediction contributions are measured against.",
        responses={503: ResponseSpec(ErrorResponse, description="The model is not loaded yet")},
    )
    async def model_info(self, scorer: NamedDependency[Scorer]) -> ModelInfo:
        return describe(scorer)
