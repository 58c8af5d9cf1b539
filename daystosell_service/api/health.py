"""Probes: live as soon as the process serves HTTP, ready once the model is loaded."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec

from daystosell_service.api.schemas import ErrorResponse, Liveness, Readiness
from daystosell_service.api.state import ServiceState


class HealthController(Controller):
    path = "/health"
    tags = ("health",)

    @get("/live", summary="Liveness probe")
    async def live(self) -> Liveness:
        return Liveness(status="alive")

    @get(
        "/ready",
        summary="Readiness probe",
        responses={503: ResponseSpec(ErrorResponse, description="The model is not loaded yet")},
    )
    async def ready(self, service: NamedDependency[ServiceState]) -> Readiness:
        scorer = service.require_scorer()
        return Readiness(
            status="ready", model_version=scorer.model_version, bundle_digest=scorer.bundle_digest
        )
