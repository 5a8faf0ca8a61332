"""What the drill watches while it runs: HAProxy's state of each server, the replicas' lag, and on a
monitored design the alerts Prometheus fires."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import requests

from ..observe.databases import Databases
from ..observe.haproxy import HaproxyStats
from ..observe.prometheus import Prometheus
from ..observe.shell import NodeShells
from ..observe.site import LabGone
from ..observe.vip import holds
from ..topology import NodeSpec

STATS_EVERY = 0.2
LAG_EVERY = 1.0
ALERTS_EVERY = 0.5
HOLDER_EVERY = 0.1


@dataclass(frozen=True)
class ServerSample:
    """HAProxy's view at one moment; servers is None when the statistics page did not answer."""

    t: float
    servers: dict[str, str] | None


@dataclass(frozen=True)
class LagSample:
    t: float
    behind: int | None


@dataclass
class AlertSeen:
    """An alert as the drill saw it: when it was first seen firing and when it was last seen (drill clock)."""

    name: str
    node: str
    summary: str
    fired_at: float
    last_seen: float
    resolved_at: float | None = None


@dataclass(frozen=True)
class Floating:
    """What the observer needs to follow a floating address: the balancers, their shells, the address."""

    shells: NodeShells
    balancers: tuple[NodeSpec, ...]
    address: str


class Observer:
    """Polls HAProxy's statistics, the replication lag and (where the design has them) Prometheus and the
    floating address's holder, each in a background thread."""

    def __init__(
        self,
        stats: HaproxyStats,
        clock: Callable[[], float],
        databases: Databases,
        prometheus: Prometheus | None = None,
        floating: Floating | None = None,
    ) -> None:
        self.stats = stats
        self.clock = clock
        self.databases = databases
        self.prometheus = prometheus
        self.floating = floating
        self.servers: list[ServerSample] = []
        self.lag: list[LagSample] = []
        self.alerts: dict[str, AlertSeen] = {}
        self.holding: dict[str, bool] = {}  # balancer -> holds the floating address (last answer)
        self.takeovers: list[dict[str, Any]] = []  # each change of holders: t, holders
        self._holding_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(self._sample_servers, STATS_EVERY), daemon=True),
            threading.Thread(target=self._loop, args=(self._sample_lag, LAG_EVERY), daemon=True),
        ]
        if prometheus is not None:
            self._threads.append(threading.Thread(target=self._loop, args=(self._sample_alerts, ALERTS_EVERY), daemon=True))
        for balancer in floating.balancers if floating else ():
            self._threads.append(threading.Thread(target=self._loop, args=(partial(self._sample_holder, balancer), HOLDER_EVERY), daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _loop(self, sample: Callable[[], None], every: float) -> None:
        while not self._stop.is_set():
            sample()
            self._stop.wait(every)

    def _sample_servers(self) -> None:
        try:
            states: dict[str, str] | None = self.stats.server_states(timeout=0.5)
        except (requests.RequestException, LabGone):
            states = None
        self.servers.append(ServerSample(self.clock(), states))

    def _sample_lag(self) -> None:
        self.lag.append(LagSample(self.clock(), self.databases.transactions_behind()))

    def _sample_holder(self, balancer: NodeSpec) -> None:
        """Ask one balancer whether it holds the address; note every change of who holds it."""
        floating = self.floating
        if floating is None:
            return
        held = holds(floating.shells, balancer, floating.address, timeout=1.0, show=False)
        with self._holding_lock:
            if held is None:
                held = False  # a balancer that cannot be asked serves nobody
            if self.holding.get(balancer.name) == held:
                return
            self.holding[balancer.name] = held
            now = sorted(name for name, has in self.holding.items() if has)
            if not self.takeovers or self.takeovers[-1]["holders"] != now:
                self.takeovers.append({"t": round(self.clock(), 2), "holders": now})

    def _sample_alerts(self) -> None:
        """Note each alert's first firing, and its resolution (firing no longer) once it had fired."""
        prometheus = self.prometheus
        if prometheus is None:
            return
        try:
            firing = prometheus.firing(timeout=1.0)
        except (requests.RequestException, LabGone, ValueError, KeyError):
            return  # the monitoring server did not answer this time: nothing is concluded
        now = self.clock()
        for key, alert in firing.items():
            seen = self.alerts.get(key)
            if seen is None or seen.resolved_at is not None:
                self.alerts[key] = AlertSeen(alert.name, alert.node, alert.summary, now, now)
            else:
                seen.last_seen = now
        for key, seen in self.alerts.items():
            if key not in firing and seen.resolved_at is None:
                seen.resolved_at = now

    def first_down(self, server: str, after: float) -> float | None:
        """When HAProxy first showed the server anything but UP, after the given moment."""
        for sample in list(self.servers):
            if sample.t >= after and sample.servers and not sample.servers.get(server, "").startswith("UP"):
                return sample.t
        return None

    def peak_lag(self) -> int | None:
        values = [s.behind for s in list(self.lag) if s.behind is not None]
        return max(values) if values else None
