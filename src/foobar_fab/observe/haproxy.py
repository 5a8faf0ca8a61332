"""HAProxy's own view of its servers: the statistics page's CSV export on each balancer, and what its
runtime API (the admin socket, over SSH) says of each server's weight and administrative state."""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Callable
from dataclasses import dataclass

import requests

from ..constants import STATS_PORT
from ..topology import Lab, NodeSpec
from .site import LabGone

BACKEND = "web"
ADMIN_SOCKET = "/run/haproxy/admin.sock"
# Bits of srv_admin_state in `show servers state` that the runtime API sets (HAProxy's SRV_ADMF_*).
FORCED_MAINT = 0x01
FORCED_DRAIN = 0x08


@dataclass(frozen=True)
class HaproxyStats:
    """One balancer's statistics page (reachable from the admin address)."""

    balancer: NodeSpec
    network_present: Callable[[], bool]

    @property
    def url(self) -> str:
        return f"http://{self.balancer.address}:{STATS_PORT}/"

    def server_rows(self, timeout: float = 1.0) -> dict[str, dict[str, str]]:
        """Each web server's row of the CSV export (status, weight, bck, scur, lbtot...); raises requests errors or LabGone."""
        if not self.network_present():
            raise LabGone(f"the lab's network is gone: no request to {self.balancer.name}")
        answer = requests.get(f"{self.url};csv", timeout=timeout)
        answer.raise_for_status()
        rows = csv.DictReader(io.StringIO(answer.text.lstrip("# ")))
        return {
            row["svname"]: row
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def server_states(self, timeout: float = 1.0) -> dict[str, str]:
        """Each web server's status in HAProxy (UP, DOWN, MAINT, DRAIN, 'UP 1/2'...)."""
        return {name: row["status"] for name, row in self.server_rows(timeout).items()}


def all_up(states: dict[str, str], lab: Lab) -> bool:
    """True when HAProxy knows every web server of the design and shows each UP."""
    wanted = {n.name for n in lab.web_nodes}
    return set(states) == wanted and all(s == "UP" for s in states.values())


def describe(states: dict[str, str]) -> str:
    """'web-01 UP, web-02 DOWN'."""
    return ", ".join(f"{name} {state}" for name, state in sorted(states.items())) or "no servers"


def describe_rows(rows: dict[str, dict[str, str]]) -> str:
    """'web-01 UP weight 3, web-02 UP backup': each server's status, with a weight other than 1 and a backup role."""
    said = []
    for name, row in sorted(rows.items()):
        weight = f" weight {row['weight']}" if row.get("weight", "1") != "1" else ""
        said.append(f"{name} {row['status']}{weight}{' backup' if row.get('bck') == '1' else ''}")
    return ", ".join(said) or "no servers"


def runtime_command(command: str) -> str:
    """The shell command that sends one command to HAProxy's runtime API on its balancer (needs socat)."""
    return f"echo {shlex.quote(command)} | socat stdio {ADMIN_SOCKET}"


@dataclass(frozen=True)
class ServerRuntime:
    """One server as `show servers state` gives it: its administrative state and weights."""

    name: str
    admin: int  # srv_admin_state: bits, FORCED_MAINT and FORCED_DRAIN set by the runtime API
    weight: int  # srv_uweight: the weight in use
    configured_weight: int  # srv_iweight: the weight the config gives

    @property
    def admin_state(self) -> str:
        """What the runtime API set: maint, drain, or ready (neither)."""
        if self.admin & FORCED_MAINT:
            return "maint"
        return "drain" if self.admin & FORCED_DRAIN else "ready"


def parse_servers_state(text: str, backend: str = BACKEND) -> list[ServerRuntime]:
    """The servers of one backend in the output of `show servers state` (format version 1)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 9 or line.startswith("#") or fields[1] != backend:
            continue
        found.append(ServerRuntime(fields[3], int(fields[6]), int(fields[7]), int(fields[8])))
    return found
