"""The application's own metrics, for Prometheus: requests by endpoint and status, and their latency.

Under gunicorn every worker is a process of its own, so the counts go through files that the
prometheus_client library sums (its multiprocess mode, in PROMETHEUS_MULTIPROC_DIR, a folder systemd
makes afresh at every start). Only counters and histograms: they need no clean-up when a worker dies.

`/metrics` is answered on the metrics port only (FOOBAR_METRICS_PORT, which only the monitoring
server may reach), and nothing else is answered there; on the site's port it does not exist.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, abort, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

PATH = "/metrics"
REQUESTS = Counter("foobar_http_requests_total", "Requests the application answered.", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "foobar_http_request_duration_seconds",
    "Time the application took to answer.",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def instrument(app: Flask, metrics_port: int | None) -> None:
    """Count and time every request; answer /metrics on the metrics port only."""

    def on_metrics_port() -> bool:
        return metrics_port is not None and request.environ.get("SERVER_PORT") == str(metrics_port)

    @app.before_request
    def start_timer() -> Response | None:
        if on_metrics_port() != (request.path == PATH):
            abort(404)  # the metrics port serves the metrics alone, and the site's port never does
        g.metrics_started = time.perf_counter()
        return None

    @app.after_request
    def record(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "(no route)"  # a bounded set of label values
        started = g.get("metrics_started")
        if endpoint != PATH and started is not None:
            REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response

    @app.get(PATH)
    def metrics() -> Response:
        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
