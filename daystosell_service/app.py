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
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from daystosell_service.api import HealthController, PredictionController
from daystosell_service.api.errors import internal_error_handler, validation_error_handler
from daystosell_service.api.scorer import Scorer, StartupError
from daystosell_service.api.state import ServiceState

log = logging.getLogger("daystosell_service")

# 1000 adverts whose every text is 64 \u-escaped characters take under 6 MiB; larger bodies get a 413.
MAX_BODY_BYTES = 8 * 1024 * 1024
STATE_KEY = "service"


def create_app(bundle_path: Path, *, golden_path: Path | None = None) -> Litestar:
    """An app that serves ``bundle_path``; it is ready once its lifespan has loaded the bundle.

    With ``golden_path``, startup also scores the golden rows recorded with the bundle and fails unless the
    predictions match, so a runtime that disagrees with Spark never becomes ready.
    """
    service = ServiceState()

    @asynccontextmanager
    async def load_model(_: Litestar) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            scorer = Scorer.load(bundle_path)
            golden = scorer.check_golden(golden_path).summary() if golden_path is not None else "not checked"
        except StartupError as exc:
            # One plain line before the server's long traceback; then refuse to start rather than serve a
            # bundle that cannot be trusted.
            log.error("cannot serve the bundle: %s", exc, extra={"bundle": str(bundle_path)})
            raise
        service.scorer = scorer
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

    def provide_service() -> ServiceState:
        return service

    return Litestar(
        route_handlers=[HealthController, PredictionController],
        lifespan=[load_model],
        dependencies={
            "service": Provide(provide_service, sync_to_thread=False),
            "scorer": Provide(service.require_scorer, sync_to_thread=False),
        },
        exception_handlers={
            ValidationException: validation_error_handler,
            HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
        },
        state=State({STATE_KEY: service}),
        request_max_body_size=MAX_BODY_BYTES,
        # Logging is the entry point's to configure; the app only writes to its loggers.
        logging_config=None,
    )


def service_state(app: Litestar) -> ServiceState:
    """The state the app's handlers share: for the entry point's ready line and for tests."""
    service = app.state[STATE_KEY]
    assert isinstance(service, ServiceState)
    return service
