"""Prometheus metrics: requests and their latency by route template and status, predictions by endpoint, and which
model is served. ``GET /metrics`` exposes them in the text format.

Each app has its own registry (tests build many apps in one process), and the labelled series are looked up in
a dict kept here rather than through ``labels()`` on every request: that lookup costs more than the update.
"""

from __future__ import annotations

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector

# Requests take ~0.1-0.2 ms for one advert and tens of ms for a thousand; probes and scrapes less than one.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The route label of a request no route matched (404, 405): a raw path would give one series per path.
UNMATCHED_ROUTE = "unmatched"


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._requests = Counter(
            "daystosell_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "daystosell_http_request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._predictions = Counter(
            "daystosell_predictions",
            "Adverts scored, by the route template of the endpoint that scored them and the model version.",
            ["route", "model_version"],
            registry=self.registry,
        )
        self._model = Info("daystosell_model", "The model being served.", registry=self.registry)
        self._ready = Gauge(
            "daystosell_ready",
            "1 once the bundle is loaded and has reproduced its golden rows, 0 before and after.",
            registry=self.registry,
        )
        self._model_version = ""
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._prediction_series: dict[str, Counter] = {}

    def model_loaded(self, model_version: str, bundle_digest: str) -> None:
        self._model_version = model_version
        self._prediction_series.clear()
        self._model.info({"model_version": model_version, "bundle_digest": bundle_digest})
        self._ready.set(1)

    def model_unloaded(self) -> None:
        self._ready.set(0)

    def observe_request(self, method: str, route: str, status: int, seconds: float, predictions: int) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            labels = {"method": method, "route": route, "status": str(status)}
            series = self._series[key] = (self._requests.labels(**labels), self._latency.labels(**labels))
        series[0].inc()
        series[1].observe(seconds)
        if predictions:
            counter = self._prediction_series.get(route)
            if counter is None:
                counter = self._predictions.labels(route=route, model_version=self._model_version)
                self._prediction_series[route] = counter
            counter.inc(predictions)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_route(metrics: ServiceMetrics) -> HTTPRouteHandler:
    """``GET /metrics`` for this app's registry."""

    @get(
        "/metrics",
        media_type="text/plain",
        tags=["operations"],
        summary="Prometheus metrics",
        description="Request counts and latency by route template and status, predictions by endpoint, and the "
        "model served (``daystosell_model_info``), in Prometheus' text exposition format.",
        sync_to_thread=False,
    )
    def scrape() -> Response[bytes]:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return scrape
