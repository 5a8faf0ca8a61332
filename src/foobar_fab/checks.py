"""`invoke check`: the running lab verified with pytest-testinfra on each node and real clients from the host.

Node checks use testinfra's vocabulary (`host.service("nginx").is_running`) over the same SSH connection
Fabric uses, with every command printed; site checks are real HTTP requests through lb-01.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests
import testinfra.backend
from testinfra.host import Host

from . import haproxy_stats, parallel
from .console import Console
from .executors import connect
from .resources.mariadb import parse_replica_status
from .roles.values import APP_PORT, DATABASE, STATS_PORT
from .session import LabSession
from .topology import NodeSpec

HTTP_TIMEOUT = 3.0
SETTLE_SECONDS = 15.0  # a fresh build may still be passing HAProxy's first health checks


@dataclass(frozen=True)
class Check:
    """One thing checked on the running lab, with what was seen."""

    who: str
    what: str
    ok: bool
    seen: str


class CheckFailed(AssertionError):
    """A check saw something other than wanted; the message says what it saw."""


def eventually(probe: Callable[[], str], timeout: float = SETTLE_SECONDS) -> str:
    """Retry a probe until it passes or the time is up (then its last failure stands)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except (CheckFailed, requests.RequestException):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def expect(condition: bool, seen: str) -> str:
    if not condition:
        raise CheckFailed(seen)
    return seen


@contextmanager
def testinfra_host(session: LabSession, node: str) -> Iterator[Host]:
    """A testinfra Host on the node's Fabric connection (host key checked), printing each command."""
    params = session.provider.ssh_params(node)
    connection = connect(params)
    backend = testinfra.backend.get_backend(f"paramiko://{params.user}@{params.host}:{params.port}", sudo=params.sudo)
    backend.__dict__["client"] = connection.client  # testinfra's cached_property, filled with ours
    plain_run = backend.run

    def visible_run(command: str, *args: str, **kwargs: Any) -> Any:
        session.console.command(node, "check", backend.get_command(command, *args))
        return plain_run(command, *args, **kwargs)

    backend.run = visible_run  # type: ignore[method-assign]
    try:
        yield Host(backend)
    finally:
        connection.close()


def service_checks(node: NodeSpec) -> list[tuple[str, str]]:
    """(service, socket) pairs that must be running and listening on a node, by its roles."""
    wanted = []
    if node.has_role("loadbalancer"):
        wanted += [("haproxy", "tcp://0.0.0.0:80"), ("haproxy", f"tcp://0.0.0.0:{STATS_PORT}")]
    if node.has_role("web"):
        wanted.append(("nginx", "tcp://0.0.0.0:80"))
    if node.has_role("app"):
        wanted.append(("foobar-app", f"tcp://127.0.0.1:{APP_PORT}"))
    if node.has_role("db_primary") or node.has_role("db_replica"):
        wanted.append(("mariadb", f"tcp://{node.address}:3306"))
    return wanted


class LabChecker:
    """Runs every check of the design and records what it saw."""

    def __init__(self, session: LabSession) -> None:
        self.session = session
        self.lab = session.lab
        self.console: Console = session.console
        self.results: list[Check] = []
        self.balancer = self.lab.with_role("loadbalancer")[0]
        self.site = f"http://{self.balancer.address}"
        self.headers = {"Host": self.lab.domain}

    def record(self, who: str, what: str, probe: Callable[[], str]) -> None:
        try:
            seen, ok = probe(), True
        except (CheckFailed, requests.RequestException, OSError) as err:
            seen, ok = str(err) or type(err).__name__, False
        self.results.append(Check(who, what, ok, seen))
        self.console.result(who, "check", "ok" if ok else "failed", f"{what}: {seen}")

    def run(self) -> list[Check]:
        self.console.heading("check: services on every node")
        parallel.each(list(self.lab.nodes), self.check_node)
        self.console.heading("check: the site through the load balancer")
        self.record(self.balancer.name, "HAProxy shows every web server UP", self.backends_up)
        self.record(self.balancer.name, "requests answered in turn by the web nodes", self.round_robin)
        self.check_data()
        return self.results

    def check_node(self, node: NodeSpec) -> None:
        with testinfra_host(self.session, node.name) as host:
            self.record(node.name, "systemd running", lambda: self.system_running(host))
            for service, socket in service_checks(node):
                self.record(node.name, f"{service} running, listening on {socket}", partial(self.service, host, service, socket))

    @staticmethod
    def system_running(host: Host) -> str:
        state = host.run("systemctl is-system-running").stdout.strip()
        return expect(state == "running", f"is-system-running: {state}")

    @staticmethod
    def service(host: Host, name: str, socket: str) -> str:
        service = host.service(name)
        expect(service.is_running, f"{name} is not running")
        expect(service.is_enabled, f"{name} is not enabled at boot")
        expect(host.socket(socket).is_listening, f"nothing listens on {socket}")
        return "yes"

    def backends_up(self) -> str:
        def probe() -> str:
            states = haproxy_stats.server_states(self.lab, HTTP_TIMEOUT)
            summary = ", ".join(f"{k} {v}" for k, v in sorted(states.items()))
            return expect(haproxy_stats.all_up(states, self.lab), summary or "no servers")

        return eventually(probe)

    def round_robin(self) -> str:
        def probe() -> str:
            served = [
                requests.get(f"{self.site}/api/health", headers=self.headers, timeout=HTTP_TIMEOUT).headers.get("X-Served-By", "?")
                for _ in range(4)
            ]
            alternates = all(a != b for a, b in zip(served, served[1:]))
            both = {n.name for n in self.lab.with_role("web")} <= set(served)
            return expect(alternates and both, " -> ".join(served))

        return eventually(probe)

    def check_data(self) -> None:
        self.console.heading("check: a write through the load balancer, on both databases")
        body = f"check {uuid.uuid4().hex[:12]}"
        self.record(self.balancer.name, "message posted through the load balancer", lambda: self.post(body))
        for node in self.lab.nodes:
            if node.has_role("db_primary") or node.has_role("db_replica"):
                self.record(node.name, "message stored in the local database", partial(self.stored, node, body))
            if node.has_role("db_replica"):
                self.record(node.name, "replication threads running", partial(self.replication, node))

    def post(self, body: str) -> str:
        answer = requests.post(f"{self.site}/api/messages", json={"body": body}, headers=self.headers, timeout=HTTP_TIMEOUT)
        expect(answer.status_code == 201, f"HTTP {answer.status_code} {answer.text.strip()[:120]}")
        return f"HTTP 201 via {answer.headers.get('X-Served-By', '?')}: {body!r}"

    def stored(self, node: NodeSpec, body: str) -> str:
        with testinfra_host(self.session, node.name) as host:
            query = f"mariadb -N -B -e \"SELECT COUNT(*) FROM {DATABASE}.messages WHERE body='{body}'\""

            def probe() -> str:
                count = host.run(query).stdout.strip()
                return expect(count == "1", f"{count or 'no'} row(s) with {body!r}")

            return eventually(probe, 10)

    def replication(self, node: NodeSpec) -> str:
        with testinfra_host(self.session, node.name) as host:
            status = parse_replica_status(host.run("mariadb -e 'SHOW REPLICA STATUS\\G'").stdout)
        io_run, sql_run = status.get("Slave_IO_Running", "No"), status.get("Slave_SQL_Running", "No")
        seen = f"IO {io_run}, SQL {sql_run}, {status.get('Seconds_Behind_Master', '?')} s behind {status.get('Master_Host', '?')}"
        return expect(io_run == "Yes" and sql_run == "Yes", seen)


def check(session: LabSession) -> list[Check]:
    """Run every check and return the results (printed as they come)."""
    return LabChecker(session).run()
