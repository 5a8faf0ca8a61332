"""The host's way to a lab network inside a member: a route to its subnet via the member's address.

A lab's nodes sit on a bridge inside the member that runs them; the member forwards between that
bridge and the members' network, so one route per lab subnet lets the host (and Fabric on it)
reach the nodes directly. Each lab subnet must then be unique across the cluster.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..executors import Outcome
from ..steps import Plan, Run, Step, StepError, change, lines, ok
from .layout import ClusterLayout


def route_probe(subnet: ipaddress.IPv4Network) -> str:
    return f"ip -4 route show {subnet} 2>/dev/null; true"


@dataclass
class LabRoute(Step):
    """The host routes the lab's subnet through the member that runs the lab, over the members' bridge."""

    layout: ClusterLayout
    subnet: ipaddress.IPv4Network
    member: str
    name: str = "route"

    @property
    def wanted(self) -> str:
        return f"{self.subnet} via {self.layout.address(self.member)} dev {self.layout.host.network}"

    def probe(self) -> str:
        return f"{route_probe(self.subnet)}; test -e /sys/class/net/{self.layout.host.network} || echo no-bridge"

    def decide(self, probe: Outcome) -> Plan:
        rows = lines(probe.stdout)
        if "no-bridge" in rows:
            raise StepError(f"no bridge {self.layout.host.network}: make the cluster first")
        if any(row.startswith(self.wanted) for row in rows):
            return ok(self.wanted)
        return change(
            self.wanted + (f" (was {rows[0]})" if rows else ""),
            Run(f"ip -4 route replace {self.wanted}"),
        )


@dataclass
class LabRouteGone(Step):
    """No route to the lab's subnet goes through the members' bridge any more (others are left alone)."""

    layout: ClusterLayout
    subnet: ipaddress.IPv4Network
    name: str = "route"

    def probe(self) -> str:
        return route_probe(self.subnet)

    def decide(self, probe: Outcome) -> Plan:
        ours = [row for row in lines(probe.stdout) if f" dev {self.layout.host.network} " in f"{row} "]
        if not ours:
            return ok(f"no route to {self.subnet} through {self.layout.host.network}")
        return change(f"route to {self.subnet} removed", Run(f"ip -4 route del {self.subnet} dev {self.layout.host.network}"))
