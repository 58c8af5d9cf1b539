"""What the service knows about the request being handled, for the code that logs and counts below the handlers.

A context variable rather than a parameter: log lines written anywhere during a request (the error handler, the
scorer, a library) carry its id, and the scorer counts predictions without every endpoint passing a counter down.
"""

from __future__ import annotations

import logging
import os
import re
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "x-request-id"
# Enough for a UUID, a W3C trace id or a load balancer's id; nothing that could forge a log field or a header.
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")


@dataclass
class RequestContext:
    request_id: str
    # Adverts scored during the request, whichever endpoint scored them.
    predictions: int = 0


current_request: ContextVar[RequestContext | None] = ContextVar("daystosell_request", default=None)


def request_id_from(header: bytes | None) -> str:
    """The caller's ``X-Request-ID`` when it is a plausible id, else a new random one."""
    if header is not None and _VALID_REQUEST_ID.fullmatch(header):
        return header.decode("ascii")
    return os.urandom(16).hex()


def current_request_id() -> str | None:
    context = current_request.get()
    return context.request_id if context is not None else None


def count_predictions(n: int) -> None:
    """Record ``n`` predictions made for the current request; outside a request (the warm-up) they are not counted."""
    context = current_request.get()
    if context is not None:
        context.predictions += n


class RequestIdLogFilter(logging.Filter):
    """Puts the current request's id on every log record written while it is handled, as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True
