"""HAProxy's own view of its servers, read from the statistics page's CSV export (port 8404)."""

from __future__ import annotations

import csv
import io

import requests

from .roles.values import STATS_PORT
from .topology import Lab

BACKEND = "web"


def server_states(lab: Lab, timeout: float = 1.0) -> dict[str, str]:
    """Each web server's status in HAProxy (UP, DOWN, MAINT, 'UP 1/2'...); raises requests errors."""
    balancer = lab.with_role("loadbalancer")[0]
    answer = requests.get(f"http://{balancer.address}:{STATS_PORT}/;csv", timeout=timeout)
    answer.raise_for_status()
    rows = csv.DictReader(io.StringIO(answer.text.lstrip("# ")))
    return {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
    }


def all_up(states: dict[str, str], lab: Lab) -> bool:
    """True when HAProxy knows every web node and shows each UP."""
    wanted = {n.name for n in lab.with_role("web")}
    return set(states) == wanted and all(s == "UP" for s in states.values())
