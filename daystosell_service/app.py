"""The Litestar application: routes, error handling and a lifespan that loads the MLeap bundle."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.status_codes import HTTP_405_METHOD_NOT_ALLOWED, HTTP_500_INTERNAL_SERVER_ERROR

from daystosell_service.api import HealthController, ModelInfoController, PredictionController, SensitivityController
from daystosell_service.api.docs import docs_page
from daystosell_service.api.errors import internal_error_handler, validation_error_handler
from daystosell_service.api.metrics import ServiceMetrics, metrics_route
from daystosell_service.api.middleware import RequestObserver
from daystosell_service.api.protocols import (
    LeapFrameController,
    MlflowController,
    OipController,
    method_not_allowed_handler,
)
from daystosell_service.api.scorer import Scorer, StartupError
from daystosell_service.api.state import ServiceState
from daystosell_service.golden import GOLDEN_FILE

log = logging.getLogger("daystosell_service")

# 1000 adverts whose every text is 64 \u-escaped characters take under 6 MiB; larger bodies get a 413.
MAX_BODY_BYTES = 8 * 1024 * 1024
STATE_KEY = "service"
API_VERSION = "1"


def create_app(bundle_path: Path, *, golden_path: Path | None = None, golden_check: bool = True) -> Litestar:
    """An app that serves ``bundle_path``; it is ready once its lifespan has loaded the bundle and scored the
    golden rows recorded with it (``golden_path``, by default ``golden.jsonl`` beside the bundle) exactly as
    Spark did, so a runtime that disagrees with Spark never becomes ready.

    A bundle without golden rows is refused: nothing would show that it scores as it was trained to. Only
    ``golden_check=False`` (``--no-golden-check``), an explicit choice, serves a bundle unchecked.
    """
    service = ServiceState()
    metrics = ServiceMetrics()
    golden_file = golden_path or bundle_path.parent / GOLDEN_FILE

    @asynccontextmanager
    async def load_model(_: Litestar) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            scorer = Scorer.load(bundle_path, golden_path=golden_file)
            golden = check_golden_rows(scorer, golden_file) if golden_check else "not checked (--no-golden-check)"
        except StartupError as exc:
            # One plain line before the server's long traceback; then refuse to start rather than serve a
            # bundle that cannot be trusted.
            log.error("cannot serve the bundle: %s", exc, extra={"bundle": str(bundle_path)})
            raise
        service.scorer = scorer
        metrics.model_loaded(scorer.model_version, scorer.bundle_digest)
        log.info(
            "model loaded",
            extra={
                "bundle": str(bundle_path),
                "model_version": scorer.model_version,
                "bundle_digest": scorer.bundle_digest,
                "golden_rows": golden,
                "load_seconds": round(time.perf_counter() - started, 3),
            },
        )
        try:
            yield
        finally:
            service.scorer = None
            metrics.model_unloaded()

    def provide_service() -> ServiceState:
        return service

    app = Litestar(
        route_handlers=[
            HealthController, PredictionController, SensitivityController, ModelInfoController,
            metrics_route(metrics), docs_page,
            OipController, MlflowController, LeapFrameController,
        ],
        lifespan=[load_model],
        dependencies={
            "service": Provide(provide_service, sync_to_thread=False),
            "scorer": Provide(service.require_scorer, sync_to_thread=False),
        },
        exception_handlers={
            ValidationException: validation_error_handler,
            HTTP_405_METHOD_NOT_ALLOWED: method_not_allowed_handler,
            HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
        },
        state=State({STATE_KEY: service}),
        request_max_body_size=MAX_BODY_BYTES,
        # Logging is the entry point's to configure; the app only writes to its loggers.
        logging_config=None,
        # Only /schema/openapi.json: Litestar's documentation UIs load their scripts from a CDN. /docs is ours.
        openapi_config=OpenAPIConfig(title="Days to sell", version=API_VERSION, render_plugins=[JsonRenderPlugin()]),
    )
    # Around Litestar's whole handler, so requests no route matches get an id, a log line and a count too.
    app.asgi_handler = RequestObserver(app.asgi_handler, metrics)
    return app


def check_golden_rows(scorer: Scorer, golden_file: Path) -> str:
    """The readiness check: score the golden rows and fail unless every prediction is Spark's."""
    if not golden_file.is_file():
        raise StartupError(
            f"no golden rows at {golden_file}: the service becomes ready only once the bundle has reproduced "
            "them; give their path with --golden, or serve the bundle unchecked with --no-golden-check"
        )
    return scorer.check_golden(golden_file).summary()


def service_state(app: Litestar) -> ServiceState:
    """The state the app's handlers share: for the entry point's ready line and for tests."""
    service = app.state[STATE_KEY]
    assert isinstance(service, ServiceState)
    return service
