"""The provider interface: where nodes come from. Roles, checks and drills use only this."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

from .. import parallel
from ..console import Console
from ..errors import LabError
from ..executors import LocalExecutor, Outcome, SshParams
from ..resources.packages import NodeImage
from ..steps import Runner, Step
from ..topology import Lab, NodeSpec


class ProviderError(LabError):
    """The provider cannot do what was asked; the message says what to do."""


class LabNotUp(ProviderError):
    """The lab is not there to be reached: refused before any connection to its addresses."""


def converge_nodes(
    runner: Runner, console: Console, lab: Lab, steps_for: Callable[[NodeSpec], list[Step]], leftovers: Iterable[str], gone: Callable[[str], Step]
) -> bool:
    """Every node of the design brought up by its steps on the host (nodes in parallel), then each node the
    provider still holds that the design no longer names removed; False at the first failure."""

    def bring_up(node: NodeSpec) -> bool:
        return runner.apply(node.name, LocalExecutor(node.name, console), steps_for(node))

    if not all(parallel.each(lab.nodes, bring_up)):
        return False
    dropped = sorted(set(leftovers) - {n.name for n in lab.nodes})
    return all(runner.apply(name, LocalExecutor(name, console), [gone(name)]) for name in dropped)


def must(outcome: Outcome) -> None:
    """Raise ProviderError with the command's error when a provider's own command failed."""
    if not outcome.ok:
        raise ProviderError(outcome.error())


@dataclass(frozen=True)
class NodeStatus:
    """One node as the provider sees it."""

    name: str
    state: str  # running, stopped or missing
    address: str
    machine: str  # the provider's own name for it (container, VM or host)
    member: str = ""  # the cluster member it runs on (Incus in a cluster), "" elsewhere

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class Provider(ABC):
    """Makes the lab's nodes exist, cuts their power, and tells how to reach them."""

    name: str = "provider"
    lab: Lab

    @abstractmethod
    def preflight(self) -> None:
        """Raise ProviderError (one line) when this machine cannot run the provider."""

    @abstractmethod
    def up(self, runner: Runner, images: Mapping[str, NodeImage]) -> bool:
        """Create what is missing and start every node (`images`: what each node's image needs, by node name,
        where the provider makes images); False when a step failed."""

    @abstractmethod
    def stop_hard(self, node: str) -> None:
        """Cut a node's power: no clean shutdown."""

    @abstractmethod
    def start(self, node: str) -> None:
        """Start a stopped node and wait until it is up."""

    @abstractmethod
    def destroy(self, runner: Runner) -> bool:
        """Remove every node and everything the lab made on the host; safe to repeat."""

    def what_destroy_removes(self) -> str:
        """What `destroy` takes away, for the line it starts with."""
        nodes = ", ".join(n.name for n in self.lab.nodes)
        return f"{nodes} are removed with all their data, and the lab's network, keys and state on this host"

    @abstractmethod
    def status(self) -> list[NodeStatus]:
        """Each node's state and address."""

    @abstractmethod
    def ssh_params(self, node: str) -> SshParams:
        """How to reach a node over SSH."""

    def emulated(self) -> bool:
        """Whether the nodes run under CPU emulation (several times slower): drills then send less traffic."""
        return False

    @abstractmethod
    def network_present(self) -> bool:
        """Cheap, asked before every request of a loop: traffic to the lab's addresses stays on its own network."""

    @property
    def bridge(self) -> str | None:
        """The host's bridge the lab's nodes are on, where this provider makes one (a scan's outside client joins it)."""
        return None

    def missing_network(self) -> str | None:
        """Why the lab's addresses cannot be reached safely now (None when they can); thorough, asked once."""
        return None if self.network_present() else "its network is not there"

    def require_up(self) -> list[NodeStatus]:
        """Each node's state, after making sure the lab exists; raise LabNotUp before any connection otherwise."""
        absent = self.missing_network()
        lab = self.lab.name
        if absent is not None:
            raise LabNotUp(f"lab {lab} is not up ({absent}): run `invoke build` first")
        rows = self.status()
        if rows and all(r.state == "missing" for r in rows):
            raise LabNotUp(f"lab {lab} has no nodes: run `invoke build` first")
        return rows

    def require_running(self, nodes: list[str]) -> None:
        """Refuse (LabNotUp) unless the lab is up and every one of these nodes is running."""
        stopped = [f"{r.name} is {r.state}" for r in self.require_up() if r.name in nodes and r.state != "running"]
        if stopped:
            raise LabNotUp(f"{', '.join(stopped)}: run `invoke build` to start it")


def route_device(address: ipaddress.IPv4Address | str) -> str | None:
    """The interface this host sends traffic for the address through, when it is directly connected
    (None when the route goes through a gateway: the default route, for an address nobody here has)."""
    proc = subprocess.run(["ip", "-j", "route", "get", str(address)], capture_output=True, text=True, check=False)
    try:
        route = (json.loads(proc.stdout) or [{}])[0]
    except ValueError:
        return None
    return None if "gateway" in route else route.get("dev")


def misrouted(addresses: Iterable[ipaddress.IPv4Address], device: str | None = None) -> str | None:
    """Why traffic to one of the addresses would leave through the wrong interface, or None when all stay on the lab's."""
    for address in addresses:
        found = route_device(address)
        if found is None or (device is not None and found != device):
            where = "a gateway (the default route)" if found is None else found
            return f"{address} would be reached through {where}" + (f", not {device}" if device else "")
    return None
