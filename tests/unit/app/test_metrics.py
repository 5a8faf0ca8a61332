"""The application's metrics: requests counted by endpoint and status, served on the metrics port only."""

from __future__ import annotations

from dataclasses import replace

from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from foobar_app.app import create_app

from .conftest import PRIMARY, FakeStorage

METRICS_PORT = 9180
SITE = "http://localhost:80"
METRICS = f"http://localhost:{METRICS_PORT}"


def client(storage: FakeStorage) -> FlaskClient:
    return create_app(replace(PRIMARY, metrics_port=METRICS_PORT), storage).test_client()


def count(endpoint: str, method: str, status: str) -> float:
    labels = {"endpoint": endpoint, "method": method, "status": status}
    return REGISTRY.get_sample_value("foobar_http_requests_total", labels) or 0.0


def test_requests_are_counted_by_endpoint_and_status(storage: FakeStorage) -> None:
    app = client(storage)
    before_ok, before_refused = count("/api/messages", "POST", "201"), count("/api/messages", "POST", "400")
    app.post("/api/messages", json={"body": "hello"}, base_url=SITE)
    app.post("/api/messages", json={"body": "  "}, base_url=SITE)
    assert count("/api/messages", "POST", "201") == before_ok + 1
    assert count("/api/messages", "POST", "400") == before_refused + 1


def test_metrics_are_served_on_the_metrics_port_only(storage: FakeStorage) -> None:
    app = client(storage)
    answer = app.get("/metrics", base_url=METRICS)
    assert answer.status_code == 200 and b"foobar_http_requests_total" in answer.data
    assert app.get("/metrics", base_url=SITE).status_code == 404
    assert app.get("/api/messages", base_url=METRICS).status_code == 404  # nothing else there
    assert app.get("/api/messages", base_url=SITE).status_code == 200


def test_without_a_metrics_port_there_are_no_metrics(storage: FakeStorage) -> None:
    app = create_app(PRIMARY, storage).test_client()
    assert app.get("/metrics", base_url=METRICS).status_code == 404
