"""`invoke check`: the running lab verified against its design, every result with a stable id.

The checks come from the role records: each role's own checks, and for each port a role listens on,
that its service runs, starts at boot and listens there (pytest-testinfra's vocabulary, over the same
SSH connection Fabric uses, with every command printed). Site checks are real requests to the
design's entry address. They run in phases: the nodes, then the site, then the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import requests

from . import parallel
from .expect import CheckFailed, expect
from .live import LiveLab
from .observe.shell import NodeUnreachable
from .observe.site import LabGone
from .roles import roles_in, roles_of
from .roles.record import NodeCheck, Port, SiteCheck
from .topology import Lab, NodeSpec

PHASES = {"node": "services on every node", "site": "the site through its entry address", "data": "a write, on every database"}
SITE = "site"  # who a site check is about
RUNNING = "node running (as the provider reports it)"


@dataclass(frozen=True)
class Check:
    """One thing checked on the running lab: its stable id, whom it concerns, and what was seen."""

    id: str
    who: str
    what: str
    ok: bool
    seen: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def service_checks(lab: Lab, node: NodeSpec) -> list[NodeCheck]:
    """For each service the node's roles run: running, enabled at boot, listening where the design says."""
    ports: dict[str, list[Port]] = {}
    for role in roles_of(node):
        for port in role.ports(lab, node):
            ports.setdefault(port.unit, []).append(port)
    checks = []
    for unit, listening in ports.items():
        sockets = [socket for socket in (p.socket(node) for p in listening) if socket is not None]
        what = f"{unit} running, listening on {', '.join(sockets)}" if sockets else f"{unit} running"
        checks.append(NodeCheck(f"service.{unit}", what, partial(_service, unit, sockets)))
    return checks


def _service(unit: str, sockets: list[str], live: LiveLab, node: NodeSpec) -> str:
    with live.shells.host(node.name) as host:
        service = host.service(unit)
        expect(service.is_running, f"{unit} is not running")
        expect(service.is_enabled, f"{unit} is not enabled at boot")
        for socket in sockets:
            expect(host.socket(socket).is_listening, f"nothing listens on {socket}")
    return "yes"


def node_checks(lab: Lab, node: NodeSpec, phase: str) -> list[NodeCheck]:
    """The checks of one phase on one node: its roles' own (each once), and in the node phase its services."""
    own = [c for role in roles_of(node) for c in role.checks if isinstance(c, NodeCheck) and c.phase == phase and c.when(lab)]
    unique = list({c.id: c for c in own}.values())  # a check two roles share runs once
    return unique + (service_checks(lab, node) if phase == "node" else [])


def site_checks(lab: Lab, phase: str) -> list[SiteCheck]:
    """The checks of one phase made once for the whole lab, as a client of the site."""
    return [c for role in roles_in(lab) for c in role.checks if isinstance(c, SiteCheck) and c.phase == phase and c.when(lab)]


def expected(lab: Lab) -> list[tuple[str, str, str]]:
    """Every check `invoke check` makes on a design whose nodes all run, in order: (id, who, what)."""
    found = [("node.running", n.name, RUNNING) for n in lab.nodes]
    for phase in PHASES:
        found += [(c.id, n.name, c.what) for n in lab.nodes for c in node_checks(lab, n, phase)]
        found += [(c.id, SITE, c.what) for c in site_checks(lab, phase)]
    return found


class Checker:
    """Runs every check of the design on a live lab and records what each saw."""

    def __init__(self, live: LiveLab) -> None:
        self.live = live
        self.results: list[Check] = []

    def record(self, check_id: str, what: str, who: str, probe: Callable[[], str]) -> None:
        try:
            seen, ok = probe(), True
        except (CheckFailed, NodeUnreachable, requests.RequestException, LabGone, OSError) as err:
            seen, ok = str(err) or type(err).__name__, False
        self.results.append(Check(check_id, who, what, ok, seen))
        self.live.console.result(who, "check", "ok" if ok else "failed", f"{what}: {seen}")

    def run_phase(self, phase: str) -> None:
        lab = self.live.lab
        site = site_checks(lab, phase)
        per_node = {n.name: node_checks(lab, n, phase) for n in lab.nodes if self.live.running(n)}
        if not site and not any(per_node.values()):
            return
        self.live.console.heading(f"check: {PHASES[phase]}")

        def on_node(node: NodeSpec) -> None:
            for check in per_node.get(node.name, []):
                self.record(check.id, check.what, node.name, partial(check.run, self.live, node))

        if phase == "node":
            parallel.each(list(lab.nodes), on_node)
        else:
            for node in lab.nodes:
                on_node(node)
        for check in site:
            self.record(check.id, check.what, SITE, partial(check.run, self.live))

    def run(self) -> list[Check]:
        self.live.console.heading("check: every node is running")
        for node in self.live.lab.nodes:
            state = self.live.states.get(node.name, "missing")
            self.record("node.running", RUNNING, node.name, partial(expect, state == "running", state))
        for phase in PHASES:
            self.run_phase(phase)
        return self.results


def check(live: LiveLab) -> list[Check]:
    """Run every check and return the results (printed as they come)."""
    return Checker(live).run()
