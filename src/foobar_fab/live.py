"""A lab confirmed to be up, and the observers that reach it.

Every command that reaches the nodes or the site (check, watch, ssh, drills, benchmarks) gets its
connections from `live(session)`, which asks the provider first and refuses, before any connection,
when the lab is not there: its addresses would otherwise be tried through the host's default route.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .console import Console
from .observe.databases import Databases
from .observe.haproxy import HaproxyStats
from .observe.prometheus import Prometheus
from .observe.shell import NodeShells
from .observe.site import Site
from .session import LabSession
from .topology import Lab, NodeSpec

NETWORK_RECHECK = 0.5  # seconds a "the lab's network is there" answer is trusted by request loops


@dataclass
class LiveLab:
    """Connections to a lab that is up, for the length of one command."""

    session: LabSession
    states: dict[str, str]  # node -> running, stopped...
    shells: NodeShells
    site: Site
    databases: Databases
    marker: str = field(default_factory=lambda: f"check {uuid.uuid4().hex[:12]}")

    @property
    def lab(self) -> Lab:
        return self.session.lab

    @property
    def console(self) -> Console:
        return self.session.console

    def running(self, node: NodeSpec) -> bool:
        return self.states.get(node.name) == "running"

    def stats(self, balancer: NodeSpec) -> HaproxyStats:
        return HaproxyStats(balancer, self.site.network_present)

    def prometheus(self, monitor: NodeSpec) -> Prometheus:
        return Prometheus(monitor, self.site.network_present)

    def more_shells(self) -> NodeShells:
        """Connections of their own, for an observer thread that must not wait on another's commands."""
        return NodeShells(self.session.provider.ssh_params, self.console, self.site.network_present)

    def network_present(self) -> bool:
        return self.site.network_present()

    def follow(self, session: LabSession) -> None:
        """Go on with the lab as a promotion left it (another primary): the same connections, the new design."""
        self.session = session
        self.databases.lab = session.lab

    def close(self) -> None:
        self.shells.close()


def trusted_for(seconds: float, probe: Callable[[], bool]) -> Callable[[], bool]:
    """A probe whose True answer is reused for a short while (a loop asks it before every request)."""
    lock = threading.Lock()
    last = [0.0]

    def cached() -> bool:
        with lock:
            if time.monotonic() - last[0] < seconds:
                return True
            if probe():
                last[0] = time.monotonic()
                return True
            return False

    return cached


@contextmanager
def live(session: LabSession, running: list[str] | None = None) -> Iterator[LiveLab]:
    """The lab, confirmed up (and these nodes running, if given), with observers; closed afterwards."""
    provider = session.provider
    if running:
        provider.require_running(running)
    states = {row.name: row.state for row in provider.require_up()}
    network = trusted_for(NETWORK_RECHECK, provider.network_present)
    shells = NodeShells(provider.ssh_params, session.console, network)
    site = Site.of(session.lab, network, session.folder.ca_cert)
    lab = LiveLab(session, states, shells, site, Databases(session.lab, shells))
    try:
        yield lab
    finally:
        lab.close()
