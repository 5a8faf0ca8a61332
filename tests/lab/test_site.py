"""The seed design on the tests' lab: round robin through lb-01, writes on the primary, reads on the replica."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import time
import uuid

import requests

from foobar_fab import checks
from foobar_fab.settings import PROJECT_ROOT

from .conftest import FirstBuild, live_lab
from .test_lifecycle import INVOKE, on_node

LB = "http://10.181.57.10"
HOST = {"Host": "www.foobar.com"}


def served_by(count: int) -> list[str]:
    return [requests.get(f"{LB}/api/health", headers=HOST, timeout=3).headers["X-Served-By"] for _ in range(count)]


def replica_has(body: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = requests.get("http://10.181.57.12/api/messages", timeout=3).json()["messages"]
        if any(m["body"] == body for m in messages):
            return True
        time.sleep(0.2)
    return False


def test_round_robin_alternates_between_web_nodes(built_lab: FirstBuild) -> None:
    seen = served_by(6)
    assert sorted(set(seen)) == ["web-01", "web-02"]
    assert all(a != b for a, b in itertools.pairwise(seen)), seen


def test_message_written_through_lb_reaches_the_replica(built_lab: FirstBuild) -> None:
    body = f"lab test {uuid.uuid4().hex[:8]}"
    answer = requests.post(f"{LB}/api/messages", json={"body": body}, headers=HOST, timeout=5)
    assert answer.status_code == 201, answer.text
    assert replica_has(body)


def test_replica_threads_run_and_replica_is_read_only(built_lab: FirstBuild) -> None:
    status = on_node(built_lab.settings, "web-02", "mariadb -e 'SHOW REPLICA STATUS\\G'")
    assert "Slave_IO_Running: Yes" in status and "Slave_SQL_Running: Yes" in status
    assert on_node(built_lab.settings, "web-02", "mariadb -N -e 'SELECT @@read_only'") == "1"


def test_replica_catches_up_after_its_database_restarts(built_lab: FirstBuild) -> None:
    on_node(built_lab.settings, "web-02", "systemctl stop mariadb")
    bodies = [f"while replica down {uuid.uuid4().hex[:8]}" for _ in range(3)]
    for body in bodies:
        assert requests.post("http://10.181.57.11/api/messages", json={"body": body}, timeout=5).status_code == 201
    on_node(built_lab.settings, "web-02", "systemctl start mariadb")
    assert all(replica_has(body, timeout=20) for body in bodies)


def test_bad_input_gets_a_4xx_with_a_reason(built_lab: FirstBuild) -> None:
    empty = requests.post(f"{LB}/api/messages", json={"body": "  "}, headers=HOST, timeout=5)
    assert empty.status_code == 400 and empty.json()["error"]
    wrong_type = requests.post(f"{LB}/api/messages", data="body=x", headers=HOST, timeout=5)
    assert wrong_type.status_code == 415


def test_checks_of_the_design_all_pass_with_stable_ids(built_lab: FirstBuild) -> None:
    with live_lab(built_lab.settings) as (lab, output):
        results = checks.check(lab)
    assert results and all(r.ok for r in results), output.getvalue()
    ids = {(r.who, r.id) for r in results}
    expected = {
        ("lb-01", "lb.servers-up"), ("site", "site.round-robin"), ("site", "site.write"), ("web-02", "db.replica-threads"),
        ("web-01", "db.has-write"), ("web-02", "db.has-write"), ("web-01", "service.nginx"), ("lb-01", "service.haproxy"),
        ("web-01", "service.mariadb"), ("web-02", "service.foobar-app"), ("lb-01", "service.ssh"), ("web-02", "node.systemd"),
    }
    assert expected <= ids, sorted(ids)


def test_check_json_names_what_fails_by_id(built_lab: FirstBuild) -> None:
    """`invoke check --json` prints every result with its id; a stopped Nginx fails service.nginx on web-01 only."""
    settings = built_lab.settings
    on_node(settings, "web-01", "systemctl stop nginx")
    try:
        run = subprocess.run(
            [INVOKE, "check", "--json", "--lab-file", str(settings.lab_file)],
            cwd=PROJECT_ROOT, env={**os.environ, "INVOKE_LAB_STATE_DIR": str(settings.state_root)},
            capture_output=True, text=True, timeout=120,
        )
    finally:
        on_node(settings, "web-01", "systemctl start nginx")
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(run.stdout)
    failed = {(c["who"], c["id"]) for c in report["checks"] if not c["ok"]}
    assert ("web-01", "service.nginx") in failed and not report["ok"]
    assert all(who in ("web-01", "site", "lb-01") for who, _ in failed), failed
    seen = next(c["seen"] for c in report["checks"] if c["id"] == "service.nginx" and c["who"] == "web-01")
    assert seen == "nginx is not running"


def test_accounts_are_granted_to_the_nodes_that_use_them_only(built_lab: FirstBuild) -> None:
    for node in ("web-01", "web-02"):  # accounts replicate: the replica holds the same ones
        app = on_node(built_lab.settings, node, "mariadb -N -e \"SELECT host FROM mysql.user WHERE user='foobar_app' ORDER BY host\"")
        assert app.split() == ["10.181.57.11", "10.181.57.12"]
        repl = on_node(built_lab.settings, node, "mariadb -N -e \"SELECT host FROM mysql.user WHERE user='foobar_repl'\"")
        assert repl.split() == ["10.181.57.12"]


def test_replica_reconnects_within_seconds_when_the_primary_returns(built_lab: FirstBuild) -> None:
    on_node(built_lab.settings, "web-01", "systemctl stop mariadb && sleep 3 && systemctl start mariadb")
    returned = time.monotonic()
    status = ""
    while time.monotonic() - returned < 10:
        status = on_node(built_lab.settings, "web-02", "mariadb -e 'SHOW REPLICA STATUS\\G'")
        if "Slave_IO_Running: Yes" in status:
            break
        time.sleep(0.5)
    assert "Slave_IO_Running: Yes" in status, status
    body = f"after primary restart {uuid.uuid4().hex[:8]}"
    assert requests.post("http://10.181.57.11/api/messages", json={"body": body}, timeout=5).status_code == 201
    assert replica_has(body)
