"""The monitoring server as the admin host sees it: Prometheus's targets and alerts (its HTTP API),
and the alert log Alertmanager's receiver writes (read over SSH)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from ..constants import ALERT_LOG, PROMETHEUS_PORT
from ..topology import NodeSpec
from .shell import NodeShells
from .site import LabGone


@dataclass(frozen=True)
class Target:
    job: str
    node: str
    health: str  # up, down or unknown
    instance: str = ""  # the address scraped, address:port


@dataclass(frozen=True)
class Alert:
    """An alert Prometheus holds now: pending (its `for` not yet over) or firing."""

    name: str
    node: str
    state: str
    active_at: str
    summary: str

    @property
    def key(self) -> str:
        """What tells one alert from another: its name and node."""
        return f"{self.name} ({self.node})"


@dataclass(frozen=True)
class Prometheus:
    """Prometheus on the monitoring server."""

    node: NodeSpec
    network_present: Callable[[], bool]

    def _get(self, path: str, timeout: float) -> Any:
        if not self.network_present():
            raise LabGone(f"the lab's network is gone: no request to {self.node.name}")
        answer = requests.get(f"http://{self.node.address}:{PROMETHEUS_PORT}{path}", timeout=timeout)
        answer.raise_for_status()
        return answer.json()["data"]

    def targets(self, timeout: float = 3.0) -> list[Target]:
        active = self._get("/api/v1/targets?state=active", timeout)["activeTargets"]
        return [Target(t["labels"].get("job", "?"), t["labels"].get("node", "?"), t["health"], t["labels"].get("instance", "")) for t in active]

    def alerts(self, timeout: float = 3.0) -> list[Alert]:
        return [
            Alert(
                a["labels"].get("alertname", "?"),
                a["labels"].get("node", a["labels"].get("instance", "?")),
                a["state"],
                a.get("activeAt", ""),
                a.get("annotations", {}).get("summary", ""),
            )
            for a in self._get("/api/v1/alerts", timeout)["alerts"]
        ]

    def rules(self, timeout: float = 3.0) -> dict[str, str]:
        """The alert rules Prometheus has loaded: each one's expression, as Prometheus reads it, by name."""
        groups = self._get("/api/v1/rules?type=alert", timeout)["groups"]
        return {r["name"]: r["query"] for g in groups for r in g["rules"]}

    def series(self, expression: str, timeout: float = 3.0) -> list[dict[str, str]]:
        """The labels of each series an expression gives now."""
        answer = self._get(f"/api/v1/query?query={quote(expression)}", timeout)
        return [r["metric"] for r in answer["result"]]

    def firing(self, timeout: float = 3.0) -> dict[str, Alert]:
        """The alerts firing now, by key (pending ones, still waiting out their `for`, left out)."""
        return {a.key: a for a in self.alerts(timeout) if a.state == "firing"}


def alert_log(shells: NodeShells, node: NodeSpec, lines: int = 20) -> list[dict[str, Any]]:
    """The last alerts Alertmanager delivered (fired and resolved), from the receiver's log."""
    text = shells.run(node.name, f"tail -n {lines} {ALERT_LOG} 2>/dev/null; true", kind="probe", show=False).stdout
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows
