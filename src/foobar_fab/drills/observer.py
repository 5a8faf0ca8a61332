"""What the drill watches while it runs: HAProxy's state of each server, and the replica's lag."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import requests

from ..observe.databases import Databases
from ..observe.haproxy import HaproxyStats
from ..observe.site import LabGone

STATS_EVERY = 0.2
LAG_EVERY = 1.0


@dataclass(frozen=True)
class ServerSample:
    """HAProxy's view at one moment; servers is None when the statistics page did not answer."""

    t: float
    servers: dict[str, str] | None


@dataclass(frozen=True)
class LagSample:
    t: float
    behind: int | None


class Observer:
    """Polls HAProxy's statistics and the replication lag in background threads."""

    def __init__(self, stats: HaproxyStats, clock: Callable[[], float], databases: Databases) -> None:
        self.stats = stats
        self.clock = clock
        self.databases = databases
        self.servers: list[ServerSample] = []
        self.lag: list[LagSample] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(self._sample_servers, STATS_EVERY), daemon=True),
            threading.Thread(target=self._loop, args=(self._sample_lag, LAG_EVERY), daemon=True),
        ]

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

    def first_down(self, server: str, after: float) -> float | None:
        """When HAProxy first showed the server anything but UP, after the given moment."""
        for sample in list(self.servers):
            if sample.t >= after and sample.servers and not sample.servers.get(server, "").startswith("UP"):
                return sample.t
        return None

    def peak_lag(self) -> int | None:
        values = [s.behind for s in list(self.lag) if s.behind is not None]
        return max(values) if values else None
