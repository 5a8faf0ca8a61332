"""HAProxy's own view of its servers, read from the statistics page's CSV export on each balancer."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import requests

from ..constants import STATS_PORT
from ..topology import Lab, NodeSpec
from .site import LabGone

BACKEND = "web"


@dataclass(frozen=True)
class HaproxyStats:
    """One balancer's statistics page (reachable from the admin address)."""

    balancer: NodeSpec
    network_present: Callable[[], bool]

    @property
    def url(self) -> str:
        return f"http://{self.balancer.address}:{STATS_PORT}/"

    def server_states(self, timeout: float = 1.0) -> dict[str, str]:
        """Each web server's status in HAProxy (UP, DOWN, MAINT, 'UP 1/2'...); raises requests errors or LabGone."""
        if not self.network_present():
            raise LabGone(f"the lab's network is gone: no request to {self.balancer.name}")
        answer = requests.get(f"{self.url};csv", timeout=timeout)
        answer.raise_for_status()
        rows = csv.DictReader(io.StringIO(answer.text.lstrip("# ")))
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }


def all_up(states: dict[str, str], lab: Lab) -> bool:
    """True when HAProxy knows every web server of the design and shows each UP."""
    wanted = {n.name for n in lab.web_nodes}
    return set(states) == wanted and all(s == "UP" for s in states.values())


def describe(states: dict[str, str]) -> str:
    """'web-01 UP, web-02 DOWN'."""
    return ", ".join(f"{name} {state}" for name, state in sorted(states.items())) or "no servers"
