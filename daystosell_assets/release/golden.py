"""The golden test of a running image: over HTTP, every golden row must come back with Spark's
prediction.

Golden rows (``golden.jsonl`` beside the bundle, one ``{"inputs": {...}, "prediction": float}`` a
line) are read and compared by ``daystosell_service.golden``, the one place that does so for every
scorer; this module only gets the predictions from ``POST /v1/predictions`` in batches.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from daystosell_assets.release.errors import GoldenTestError
from daystosell_service.api.schemas import MAX_ADVERTS_PER_REQUEST
from daystosell_service.golden import REL_TOLERANCE, GoldenRow, Mismatch, compare

PREDICTIONS_PATH = "/v1/predictions"


@dataclass(frozen=True)
class GoldenReport:
    rows: int
    max_rel_error: float
    mismatches: list[Mismatch] = field(default_factory=list)  # index = line of golden.jsonl, from 0
    model_version: str | None = None  # as the service reported it
    bundle_digest: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.rows > 0 and not self.mismatches

    def summary(self, show: int = 10) -> str:
        head = (f"golden test over HTTP: {self.rows} rows, {len(self.mismatches)} failures, max relative "
                f"error {self.max_rel_error:.3g} (model {self.model_version}, bundle {self.bundle_digest})")
        lines = [f"  row {f.index}: expected {f.expected!r}, got {f.actual!r} (relative error {f.rel_error:.3g})"
                 for f in self.mismatches[:show]]
        if len(self.mismatches) > show:
            lines.append(f"  ... and {len(self.mismatches) - show} more")
        return "\n".join([head, *lines])


def golden_test(base_url: str, golden_rows: Sequence[GoldenRow], rel_tol: float = REL_TOLERANCE, *,
                batch_size: int = 500, timeout: float = 30.0) -> GoldenReport:
    """Posts every golden row to the service at ``base_url`` and reports each prediction further
    than ``rel_tol`` from Spark's. Raises ``GoldenTestError`` only when it cannot compare at all
    (no rows, the service unreachable or answering an error)."""
    if not golden_rows:
        raise GoldenTestError("no golden rows to test with: the bundle asset writes them to golden.jsonl")
    batch_size = max(1, min(batch_size, MAX_ADVERTS_PER_REQUEST))
    started = time.monotonic()
    actual: list[float | None] = []
    model_version = bundle_digest = None
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        for start in range(0, len(golden_rows), batch_size):
            batch = golden_rows[start:start + batch_size]
            body = _post(client, [dict(r.inputs) for r in batch], start)
            model_version = body.get("model_version", model_version)
            bundle_digest = body.get("bundle_digest", bundle_digest)
            predictions = body.get("predictions")
            if not isinstance(predictions, list):
                raise GoldenTestError(f"{PREDICTIONS_PATH} answered with no predictions list: {str(body)[:300]}")
            for offset, row in enumerate(batch):
                got = predictions[offset] if offset < len(predictions) else None
                actual.append(_days_to_sell(got, row.inputs.get("advert_id")))
    report = compare(golden_rows, actual, rel_tol)
    return GoldenReport(rows=report.rows, max_rel_error=report.max_rel_error, mismatches=report.mismatches,
                        model_version=model_version, bundle_digest=bundle_digest,
                        seconds=time.monotonic() - started)


def _post(client: httpx.Client, adverts: list[dict[str, Any]], start: int) -> dict[str, Any]:
    try:
        response = client.post(PREDICTIONS_PATH, json={"adverts": adverts})
    except httpx.TransportError as e:
        raise GoldenTestError(f"POST {client.base_url}{PREDICTIONS_PATH} failed: {e!r}; is the container up?") from e
    if response.status_code != 200:
        raise GoldenTestError(
            f"POST {PREDICTIONS_PATH} with golden rows {start}..{start + len(adverts) - 1} answered "
            f"HTTP {response.status_code}: {response.text[:500]}"
        )
    body = response.json()
    if not isinstance(body, dict):
        raise GoldenTestError(f"{PREDICTIONS_PATH} answered a {type(body).__name__}, not an object")
    return body


def _days_to_sell(got: Any, advert_id: Any) -> float | None:
    """The prediction in one answer, or None (a failure) when it is missing or for another advert."""
    if not isinstance(got, Mapping):
        return None
    if advert_id is not None and got.get("advert_id") != advert_id:
        return None
    value = got.get("days_to_sell")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
