"""One picture of the running lab for its page, taken at most every half second however many pages watch.

What it reads, through the lab's own observers (they change nothing, and send nothing once the lab's network
is gone): each node's power (the provider), its services (`systemctl is-active` over SSH, the units of its
roles' ports), HAProxy's view of each server (status, weight, sessions a second), who holds the floating
address, the primary, the replicas with their delay and the fenced servers, the alerts firing, and the
drill under way (its progress file: its timeline so far).

Each question has a short deadline: one that does not answer in time gives its last answer for a while, then
(a node that just lost power) shows as not answering; it is not asked again until it has come back, so
nothing piles up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import requests

from ..drills import progress
from ..exercises import runner as exercises
from ..live import LiveLab
from ..observe.databases import Databases
from ..observe.replication import threads_running
from ..observe.shell import NodeShells, NodeUnreachable
from ..observe.site import LabGone
from ..observe.vip import holds
from ..roles import roles_of
from ..topology import Lab, NodeSpec

INTERVAL = 0.5  # seconds: a snapshot younger than this is shared
SLACK = 0.1  # seconds: how much younger a snapshot may be and still be taken anew for a page asking every INTERVAL
DEADLINE = 0.3  # seconds a snapshot waits for its answers (a slower one gives its last answer, see Questions)
PROBE_TIMEOUT = 1.5  # seconds one command or request may take before it counts as no answer
NO_ANSWER = "no answer"
FAILURES = (NodeUnreachable, LabGone, requests.RequestException, ValueError, KeyError)


def units(lab: Lab, node: NodeSpec) -> list[str]:
    """The systemd units behind the ports of the node's roles (from the role records), in order, once each."""
    found = [port.unit for role in roles_of(node) for port in role.ports(lab, node)]
    return list(dict.fromkeys(u for u in found if u))


def parse_is_active(names: list[str], output: str) -> dict[str, str]:
    """`systemctl is-active a b c` prints one state a line, in order: each unit's state."""
    said = output.split()
    return {name: said[i] if i < len(said) else "unknown" for i, name in enumerate(names)}


class Questions:
    """Questions asked in parallel with a deadline. One still running is not asked again; until it has run for
    `patience` seconds its last answer stands (a slow answer is not a dead node), then it is no answer. The
    answers to a question no longer asked (a node without power) are forgotten: a node back shows only new ones."""

    def __init__(self, workers: int = 8, patience: float = PROBE_TIMEOUT) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lab-page")
        self.patience = patience
        self.running: dict[str, tuple[Future[Any], float]] = {}
        self.last: dict[str, Any] = {}

    def ask(self, asked: dict[str, Callable[[], Any]], deadline: float) -> dict[str, Any]:
        for key in [k for k in self.last if k not in asked]:
            del self.last[key]
        for key, question in asked.items():
            if key not in self.running:
                self.running[key] = (self.pool.submit(question), time.monotonic())
        wait([self.running[k][0] for k in asked], timeout=deadline)
        answers = {}
        for key in asked:
            future, since = self.running[key]
            if future.done():
                del self.running[key]
                try:
                    self.last[key] = future.result()
                except FAILURES:
                    self.last[key] = NO_ANSWER
                answers[key] = self.last[key]
            elif time.monotonic() - since < self.patience:
                answers[key] = self.last.get(key, NO_ANSWER)
            else:
                answers[key] = NO_ANSWER
        return answers

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class Shared:
    """The last snapshot, for every page that asks: taken again unless it was begun less than the interval ago
    (less a little, so that a page asking every interval gets a new one each time)."""

    def __init__(self, take: Callable[[], dict[str, Any]], interval: float = INTERVAL) -> None:
        self.take = take
        self.interval = interval
        self.lock = threading.Lock()
        self.taken: dict[str, Any] = {}
        self.taken_at = 0.0

    def latest(self) -> dict[str, Any]:
        with self.lock:
            began = time.monotonic()
            if not self.taken or began - self.taken_at >= self.interval - SLACK:
                self.taken = self.take()
                self.taken_at = began
            return self.taken


class Sampler:
    """Snapshots of one lab, shared by every page that watches it."""

    def __init__(self, live: LiveLab, interval: float = INTERVAL, deadline: float = DEADLINE) -> None:
        self.live = live
        self.interval = interval
        self.deadline = deadline
        self.shells: NodeShells = live.more_shells()
        self.databases = Databases(live.lab, self.shells, show=False)
        self.questions = Questions()
        self.shared = Shared(self.take, interval)

    def latest(self) -> dict[str, Any]:
        return self.shared.latest()

    def take(self) -> dict[str, Any]:
        lab = self.live.lab
        started = time.time()
        if not self.live.network_present():
            return {"lab": lab.name, "at": started, "gone": f"lab {lab.name}'s network is gone: nothing is asked of it"}
        power = {row.name: row.state for row in self.live.session.provider.status()}
        running = [n for n in lab.nodes if power.get(n.name) == "running"]
        asked: dict[str, Callable[[], Any]] = {}
        for node in running:
            asked[f"services {node.name}"] = self._services(node)
        for balancer in (b for b in lab.balancers if b in running):
            asked[f"haproxy {balancer.name}"] = self._haproxy(balancer)
            if lab.floating_address is not None:
                asked[f"holds {balancer.name}"] = self._holds(balancer, str(lab.floating_address))
        for replica in (r for r in lab.replicas if r in running):
            asked[f"replica {replica.name}"] = self._replica(replica)
        for monitor in (m for m in lab.with_role("monitor") if m in running):
            asked[f"alerts {monitor.name}"] = self._alerts(monitor)
        answers = self.questions.ask(asked, self.deadline)
        taken = assemble(lab, power, answers, started, time.time() - started)
        taken["drill"] = progress.running(self.live.session.folder.drill_running)  # a file on this host: nothing asked of the lab
        taken["exercise"] = exercises.shown(self.live.session)  # the sealed state on this host, as the student may see it
        return taken

    def _services(self, node: NodeSpec) -> Callable[[], dict[str, str]]:
        names = units(self.live.lab, node)

        def question() -> dict[str, str]:
            command = "systemctl is-active " + " ".join(names) + "; true"
            return parse_is_active(names, self.shells.run(node.name, command, kind="probe", timeout=PROBE_TIMEOUT, show=False).stdout)

        return question

    def _haproxy(self, balancer: NodeSpec) -> Callable[[], dict[str, dict[str, str]]]:
        return lambda: self.live.stats(balancer).server_rows(timeout=PROBE_TIMEOUT)

    def _holds(self, balancer: NodeSpec, address: str) -> Callable[[], bool | None]:
        return lambda: holds(self.shells, balancer, address, timeout=PROBE_TIMEOUT, show=False)

    def _replica(self, replica: NodeSpec) -> Callable[[], dict[str, str]]:
        return lambda: self.databases.replica_status(replica)

    def _alerts(self, monitor: NodeSpec) -> Callable[[], list[dict[str, str]]]:
        def question() -> list[dict[str, str]]:
            return [{"name": a.name, "node": a.node, "summary": a.summary} for a in self.live.prometheus(monitor).firing(timeout=PROBE_TIMEOUT).values()]

        return question

    def close(self) -> None:
        self.questions.close()
        self.shells.close()


def assemble(lab: Lab, power: dict[str, str], answers: dict[str, Any], at: float, took: float) -> dict[str, Any]:
    """The snapshot the page reads, from the provider's states and the answers (a pure function, tested alone)."""
    nodes: dict[str, dict[str, Any]] = {}
    for node in lab.nodes:
        services = answers.get(f"services {node.name}", NO_ANSWER)
        answered = isinstance(services, dict)
        nodes[node.name] = {
            "power": power.get(node.name, "missing"),
            "state": "UP" if answered and all(s == "active" for s in services.values()) else ("DEGRADED" if answered else "DOWN"),
            "services": services if answered else {},
            "database": "primary" if node == lab.primary else "replica" if node in lab.replicas else "fenced" if node in lab.fenced else "",
        }
    haproxy: dict[str, Any] = {}
    requests_per_second: dict[str, int] = {}
    for balancer in lab.balancers:
        rows = answers.get(f"haproxy {balancer.name}", NO_ANSWER)
        if not isinstance(rows, dict):
            haproxy[balancer.name] = NO_ANSWER
            continue
        haproxy[balancer.name] = {
            name: {"status": row.get("status", "?"), "weight": row.get("weight", "?"), "backup": row.get("bck") == "1", "rate": int(row.get("rate") or 0)}
            for name, row in sorted(rows.items())
        }
        for name, row in rows.items():
            requests_per_second[name] = requests_per_second.get(name, 0) + int(row.get("rate") or 0)
    for replica in lab.replicas:
        status = answers.get(f"replica {replica.name}", NO_ANSWER)
        if isinstance(status, dict):
            behind = status.get("Seconds_Behind_Master", "")
            nodes[replica.name]["replication"] = {"running": threads_running(status), "delay": int(behind) if behind.isdigit() else None}
        else:
            nodes[replica.name]["replication"] = None
    floating = None
    if lab.floating_address is not None:
        floating = {"address": str(lab.floating_address), "holders": [b.name for b in lab.balancers if answers.get(f"holds {b.name}") is True]}
    monitors = lab.with_role("monitor")
    alerts: list[dict[str, str]] | None = None
    if monitors:
        found = [answers.get(f"alerts {m.name}", NO_ANSWER) for m in monitors]
        alerts = [a for answer in found if isinstance(answer, list) for a in answer] if any(isinstance(a, list) for a in found) else None
    return {
        "lab": lab.name,
        "at": at,
        "took": round(took, 3),
        "nodes": nodes,
        "haproxy": haproxy,
        "requests": requests_per_second,
        "floating": floating,
        "alerts": alerts,
    }


class Absent:
    """The snapshots of a lab that is not up: always the reason, nothing asked of it."""

    def __init__(self, lab: str, reason: str) -> None:
        self.said = {"lab": lab, "at": 0.0, "gone": reason}

    def latest(self) -> dict[str, Any]:
        return self.said
