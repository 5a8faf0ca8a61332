"""What a drill watches to tell that the lab is whole, before the fault and after the restore."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from ..live import LiveLab
from ..observe.databases import Databases
from ..observe.haproxy import HaproxyStats, all_up, describe
from ..observe.prometheus import Prometheus
from ..observe.site import LabGone
from ..waiting import wait_until


@dataclass(frozen=True)
class Health:
    """What a drill watches to tell that the lab is whole: the nodes, HAProxy's view, the replicas
    (and on a monitored design, that no alert is firing before a drill starts)."""

    live: LiveLab
    stats: HaproxyStats
    databases: Databases
    prometheus: Prometheus | None = None

    def firing(self) -> list[str]:
        """The alerts firing now (none where there is no monitoring, or it does not answer)."""
        if self.prometheus is None:
            return []
        try:
            return list(self.prometheus.firing(timeout=2.0))
        except (requests.RequestException, LabGone, ValueError, KeyError):
            return []

    def quiet(self, timeout: float) -> bool:
        """Wait until no alert fires; True if none was left at the end."""
        return wait_until(lambda: not self.firing(), timeout, 1.0)

    def problems(self) -> list[str]:
        """What keeps the lab from being healthy: stopped nodes, servers not UP, replicas behind."""
        session = self.live.session
        problems = [f"{s.name} is {s.state}" for s in session.provider.status() if s.state != "running"]
        if problems:
            return problems
        try:
            states = self.stats.server_states()
            if not all_up(states, self.live.lab):
                problems.append(f"HAProxy on {self.stats.balancer.name} shows {describe(states)}")
        except Exception as err:  # the statistics page is the load balancer's own health
            problems.append(f"HAProxy's statistics on {self.stats.balancer.name} do not answer: {type(err).__name__}")
        behind = self.databases.transactions_behind()
        if behind != 0:
            problems.append("a replica cannot be read" if behind is None else f"the replicas are {behind} transactions behind")
        return problems

    def follow(self) -> None:
        """After a promotion: watch the replicas of the new primary."""
        self.databases.lab = self.live.lab

    def wait(self, timeout: float) -> bool:
        return wait_until(lambda: not self.problems(), timeout, 0.5)
