"""A lab on an Incus cluster: every node on one member, and this host's route to the lab through it.

The cluster is whatever the `incus` command reaches (a class sets INCUS_CONF to its client folder). A lab's
network is defined on every member, then created; Incus places the lab's first node and the others are
pinned to the same member (--target), so no bridge has to span machines. This host reaches the nodes by a
route to the lab's subnet via that member's address, and comes to them from its own address on that
route, which is then the lab's admin address (the one the secured design lets SSH in from).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ...executors import Outcome
from ...steps import Plan, Run, Step, change, lines, ok
from ..base import ProviderError


def incus_json(*words: str) -> Any:
    """What an `incus` command prints as JSON (quietly), None when it fails or says nothing."""
    try:
        proc = subprocess.run(["incus", *words], capture_output=True, text=True, timeout=60)
        return json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def answering() -> str | None:
    """The name of the cluster member that answers this host's `incus`; None when that Incus is no cluster."""
    server = incus_json("query", "/1.0")
    environment = (server.get("environment") or {}) if isinstance(server, dict) else {}
    return str(environment.get("server_name")) if environment.get("server_clustered") else None


def members() -> dict[str, str]:
    """The cluster's members that are up, each with its address; empty when this Incus is no cluster. The member
    that answers counts as up even when it reports itself offline (it may, while the cluster waits on a lost one)."""
    itself = answering()
    if itself is None:
        return {}
    found = incus_json("query", "/1.0/cluster/members?recursion=1")
    if not isinstance(found, list):
        raise ProviderError(f"the Incus cluster (through {itself}) does not list its members: try again in a minute")
    return {
        str(m.get("server_name")): str(urlparse(str(m.get("url", ""))).hostname or "")
        for m in found
        if isinstance(m, dict) and (m.get("status") == "Online" or m.get("server_name") == itself)
    }


def location(project_words: list[str], instance: str) -> str | None:
    """The member an instance runs on (None when it does not exist, or Incus is no cluster)."""
    found = incus_json("list", *project_words, "--format", "json", f"^{instance}$")
    if not isinstance(found, list) or not found:
        return None
    place = str(found[0].get("location") or "")
    return place if place and place != "none" else None


def gateway_to(address: ipaddress.IPv4Address | str) -> str | None:
    """The gateway this host sends the address's traffic to (None when it is directly connected)."""
    proc = subprocess.run(["ip", "-j", "route", "get", str(address)], capture_output=True, text=True, check=False)
    try:
        return (json.loads(proc.stdout) or [{}])[0].get("gateway")
    except ValueError:
        return None


def misrouted_via(addresses: list[ipaddress.IPv4Address], via: str) -> str | None:
    """Why a lab address would not go through the member that runs the lab, None when all do."""
    for address in addresses:
        gateway = gateway_to(address)
        if gateway != via:
            return f"{address} would be reached through {gateway or 'a directly connected interface'}, not the member at {via}"
    return None


@dataclass
class RouteVia(Step):
    """This host routes the lab's subnet through the member that runs the lab."""

    subnet: ipaddress.IPv4Network
    via: str
    name: str = "route"

    def probe(self) -> str:
        return f"ip -4 route show {self.subnet} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        wanted = f"{self.subnet} via {self.via}"
        rows = lines(probe.stdout)
        if any(row.startswith(wanted + " ") or row == wanted for row in rows):
            return ok(wanted)
        return change(wanted + (f" (was {rows[0]})" if rows else ""), Run(f"ip -4 route replace {wanted}"))


@dataclass
class RouteGone(Step):
    """No route to the lab's subnet through a gateway is left on this host (a bridge's own route is no gateway's)."""

    subnet: ipaddress.IPv4Network
    name: str = "route"

    def probe(self) -> str:
        return f"ip -4 route show {self.subnet} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        routed = [row for row in lines(probe.stdout) if " via " in row]
        if not routed:
            return ok(f"no route to {self.subnet} through a member")
        return change(f"route to {self.subnet} removed ({routed[0]})", Run(f"ip -4 route del {routed[0]}"))
