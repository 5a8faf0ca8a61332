"""The JSON API: /api/messages and /api/health."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from foobar_app import __version__
from foobar_app.app import WROTE_COOKIE, create_app, injected_delay
from foobar_app.storage import Replication

from .conftest import PRIMARY, REPLICA, FakeStorage

DOWN = "write database 192.168.56.11:3306: Can't connect to MySQL server (error 2003)"


def post(client: FlaskClient, body: object):
    return client.post("/api/messages", json={"body": body})


def test_post_stores_the_message_and_answers_201(client: FlaskClient, storage: FakeStorage) -> None:
    response = post(client, "  hello  ")
    assert response.status_code == 201
    assert response.get_json() == {"id": 1, "node": "web-01"}
    assert [(m.body, m.node) for m in storage.messages] == [("hello", "web-01")]


def test_post_accepts_exactly_500_characters(client: FlaskClient) -> None:
    assert post(client, "x" * 500).status_code == 201


@pytest.mark.parametrize(
    ("data", "content_type", "status", "error"),
    [
        ("body=hello", "application/x-www-form-urlencoded", 415, "Content-Type must be application/json"),
        ('{"body": "hello"}', "text/plain", 415, "Content-Type must be application/json"),
        ('{"body": "hel', "application/json", 400, "request body is not valid JSON"),
        ('["hello"]', "application/json", 400, "request body must be a JSON object"),
        ("{}", "application/json", 400, "body is required"),
        ('{"body": ""}', "application/json", 400, "body is empty"),
        ('{"body": " \\n\\t "}', "application/json", 400, "body is empty"),
        ('{"body": 42}', "application/json", 400, "body must be a string"),
        ('{"body": "' + "x" * 501 + '"}', "application/json", 413, "body is longer than 500 characters"),
    ],
)
def test_post_refuses_bad_requests(
    client: FlaskClient, storage: FakeStorage, data: str, content_type: str, status: int, error: str
) -> None:
    response = client.post("/api/messages", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json() == {"error": error}
    assert response.headers["X-App-Node"] == "web-01"
    assert storage.messages == []


def test_post_with_the_primary_down_answers_503_with_the_reason(
    replica_client: FlaskClient, storage: FakeStorage
) -> None:
    storage.write_error = DOWN
    response = post(replica_client, "hello")
    assert response.status_code == 503
    assert response.get_json() == {"error": DOWN}


def test_list_shows_messages_newest_first_with_iso_times(client: FlaskClient, storage: FakeStorage) -> None:
    post(client, "first")
    post(client, "second")
    response = client.get("/api/messages")
    assert response.status_code == 200
    assert response.headers["X-App-Node"] == "web-01"
    assert response.get_json() == {
        "node": "web-01",
        "messages": [
            {"id": 2, "body": "second", "node": "web-01", "created_at": "2024-05-01T12:00:00.123456+00:00"},
            {"id": 1, "body": "first", "node": "web-01", "created_at": "2024-05-01T12:00:00.123456+00:00"},
        ],
    }


def test_list_with_the_read_database_down_answers_503(client: FlaskClient, storage: FakeStorage) -> None:
    storage.read_error = "read database 127.0.0.1:3306: Lost connection (error 2013)"
    response = client.get("/api/messages")
    assert response.status_code == 503
    assert response.get_json() == {"error": "read database 127.0.0.1:3306: Lost connection (error 2013)"}


def test_unknown_api_paths_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/api/nothing")
    assert missing.status_code == 404
    assert "error" in missing.get_json()
    assert missing.headers["X-App-Node"] == "web-01"
    wrong_method = client.delete("/api/messages")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.get_json()


def test_health_of_a_healthy_primary(client: FlaskClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.headers["X-App-Node"] == "web-01"
    assert response.get_json() == {
        "node": "web-01",
        "role": "primary",
        "version": __version__,
        "database": {"readable": True, "writable": True, "error": None},
        "replication": None,
    }


def test_health_of_a_healthy_replica_reports_replication(replica_client: FlaskClient) -> None:
    response = replica_client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["node"], body["role"]) == ("web-02", "replica")
    assert body["database"] == {"readable": True, "writable": True, "error": None}
    assert body["replication"] == {
        "io_running": True,
        "sql_running": True,
        "seconds_behind": 0,
        "last_error": None,
        "gtid_io_pos": "0-1-42",
    }


def test_a_dead_primary_keeps_the_replica_in_service(replica_client: FlaskClient, storage: FakeStorage) -> None:
    storage.write_error = DOWN
    storage.replication = Replication(
        io_running=False, sql_running=True, seconds_behind=None, last_error="IO thread: cannot connect (error 2003)"
    )
    response = replica_client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == {"readable": True, "writable": False, "error": DOWN}
    assert body["replication"]["io_running"] is False
    assert body["replication"]["last_error"] == "IO thread: cannot connect (error 2003)"


def test_an_unreadable_database_takes_the_node_out(client: FlaskClient, storage: FakeStorage) -> None:
    storage.read_error = "read database 127.0.0.1:3306: Access denied (error 1045)"
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == {
        "readable": False,
        "writable": True,
        "error": "read database 127.0.0.1:3306: Access denied (error 1045)",
    }


def test_replica_health_when_replication_status_cannot_be_read(
    replica_client: FlaskClient, storage: FakeStorage
) -> None:
    storage.replication_error = "SHOW REPLICA STATUS: access denied (error 1227)"
    response = replica_client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["replication"] == {
        "io_running": False,
        "sql_running": False,
        "seconds_behind": None,
        "last_error": "SHOW REPLICA STATUS: access denied (error 1227)",
        "gtid_io_pos": None,
    }
    assert "SHOW REPLICA STATUS: access denied" in body["database"]["error"]


def test_auto_role_follows_the_read_database(storage: FakeStorage) -> None:
    """With FOOBAR_DB_ROLE=auto, a node says replica while its database replicates, primary once promoted."""
    from dataclasses import replace

    from foobar_app.app import create_app
    from foobar_app.storage import NOT_REPLICATING

    from .conftest import REPLICA

    app = create_app(replace(REPLICA, db_role="auto"), storage).test_client()
    assert app.get("/api/health").get_json()["role"] == "replica"
    storage.replication = Replication.unknown(NOT_REPLICATING)
    body = app.get("/api/health").get_json()
    assert (body["role"], body["replication"]) == ("primary", None)


def test_the_slow_server_drills_file_delays_every_answer(storage: FakeStorage, tmp_path: Path) -> None:
    delay = tmp_path / "delay-ms"
    client = create_app(PRIMARY, storage, delay_file=delay).test_client()
    started = time.monotonic()
    client.get("/api/health")
    assert time.monotonic() - started < 0.1  # no file, no wait
    delay.write_text("150\n")
    started = time.monotonic()
    assert client.get("/api/health").status_code == 200
    assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize(("content", "seconds"), [("200", 0.2), ("0", 0.0), ("-5", 0.0), ("slow", 0.0), ("", 0.0)])
def test_only_a_whole_number_of_milliseconds_delays(tmp_path: Path, content: str, seconds: float) -> None:
    (tmp_path / "delay-ms").write_text(content)
    assert injected_delay(tmp_path / "delay-ms") == seconds
    assert injected_delay(tmp_path / "missing") == 0.0


def test_a_client_that_wrote_reads_from_the_primary_for_a_while_when_the_design_says_so(storage: FakeStorage) -> None:
    """FOOBAR_READ_OWN_WRITES_S: a lagging replica would not show a client its own message yet."""
    writer, other = (create_app(replace(REPLICA, read_own_writes=5), storage).test_client() for _ in range(2))
    other.get("/api/messages")
    response = post(writer, "mine")
    assert f"{WROTE_COOKIE}=1" in response.headers["Set-Cookie"] and "Max-Age=5" in response.headers["Set-Cookie"]
    writer.get("/api/messages")
    writer.get("/")
    assert storage.sides == ["read", "write", "write"]  # the other client still reads its replica


def test_without_the_setting_a_write_changes_nothing_about_reads(replica_client: FlaskClient, storage: FakeStorage) -> None:
    response = post(replica_client, "mine")
    assert "Set-Cookie" not in response.headers
    replica_client.get("/api/messages")
    assert storage.sides == ["read"]
