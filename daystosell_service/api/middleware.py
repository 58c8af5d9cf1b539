"""One ASGI wrapper around the whole app, for what every request needs whichever route it reaches (or none):
a request id, an access log line and the request metrics.

It wraps Litestar's own handler rather than sitting in Litestar's middleware stack, which runs only once a route
matched: a 404 or 405 would otherwise go uncounted, unlogged and without an id.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from daystosell_service.api.metrics import UNMATCHED_ROUTE, ServiceMetrics
from daystosell_service.api.request_context import REQUEST_ID_HEADER, RequestContext, current_request, request_id_from

access_log = logging.getLogger("daystosell_service.access")

_REQUEST_ID_HEADER = REQUEST_ID_HEADER.encode()
# Any other method is counted as "other": a label value per method a client invents would be unbounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = cast("HTTPScope", scope)["method"]
        incoming = next((value for name, value in scope["headers"] if name == _REQUEST_ID_HEADER), None)
        context = RequestContext(request_id_from(incoming))
        token = current_request.set(context)
        id_header = (_REQUEST_ID_HEADER, context.request_id.encode("ascii"))
        # What the client was told; 500 if the app failed before it said anything.
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route: str = scope.get("path_template") or UNMATCHED_ROUTE  # set by Litestar's router on a match
            self.metrics.observe_request(method if method in _METHODS else "other", route, status, seconds,
                                         context.predictions)
            if access_log.isEnabledFor(logging.INFO):
                fields: dict[str, Any] = {
                    "method": method,
                    "route": route,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                }
                if context.predictions:
                    fields["predictions"] = context.predictions
                access_log.info("request", extra=fields)
            current_request.reset(token)
