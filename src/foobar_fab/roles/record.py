"""What a role is, as one record: build, checks, the diagram, the firewall and monitoring all read it.

A role states its packages, the wave it is applied in, its steps, the ports its services listen on
and who must reach them, its checks (with stable ids), its label on the diagram, and the rules it
needs the design to follow. Adding a role means one module with its record, and its templates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..pki import Pki
from ..steps import Step
from ..topology import Lab, NodeSpec

if TYPE_CHECKING:
    from ..observe.view import LabView

ANYONE = "anyone"  # a port open to every client: the site itself
ADMIN = "admin"  # the admin address: where the lab is run from (checks, drills, SSH)


@dataclass(frozen=True)
class BuildOptions:
    """Choices a build can be asked for beyond the design file (a drill's untuned HAProxy, a benchmark's plain
    HTTP, a class's other balancing algorithm or backup servers); a plain `invoke build` puts the design's back."""

    haproxy_profile: str = "tuned"
    plain_http: bool = False  # with https: serve plain HTTP too instead of redirecting it (to compare the two)
    replication: str | None = None  # async or semi-sync instead of the design's mode (a drill comparing the two)
    semi_sync_timeout_ms: int | None = None  # another semi-sync timeout than the design's (a drill's primary that never falls back)
    read_own_writes_s: int | None = None  # another read-your-writes window than the design's (a drill comparing with and without)
    balance: str = "roundrobin"  # HAProxy's algorithm for the web servers
    backups: tuple[str, ...] = ()  # web servers that take traffic only when every other one is down


@dataclass(frozen=True)
class Port:
    """A TCP port a role's service listens on, and who must reach it.

    `listen` is where the socket is bound: "any" (0.0.0.0), "node" (the node's address) or "loopback".
    `reach` names who must get through: ANYONE, ADMIN, or node names of the design.
    """

    number: int
    unit: str
    what: str
    listen: Literal["any", "node", "loopback"]
    reach: tuple[str, ...]
    metrics: str | None = None  # where Prometheus scrapes this port (a path), if it serves metrics
    job: str = ""  # the scrape job's name for those metrics
    protocol: Literal["tcp", "vrrp"] = "tcp"  # vrrp: IP protocol 112 (number is then the protocol's)

    def socket(self, node: NodeSpec) -> str | None:
        """The socket as testinfra names it, e.g. tcp://0.0.0.0:80 (None for what is not a TCP port)."""
        if self.protocol != "tcp":
            return None
        host = {"any": "0.0.0.0", "node": str(node.address), "loopback": "127.0.0.1"}[self.listen]
        return f"tcp://{host}:{self.number}"


@dataclass(frozen=True)
class Exposure:
    """A port of the design on one node: what the firewall opens, the scan expects and monitoring scrapes."""

    node: NodeSpec
    port: Port

    def sources(self, lab: Lab) -> tuple[str, ...] | None:
        """The addresses that must get in, or None when anyone may."""
        if ANYONE in self.port.reach:
            return None
        found = [str(lab.admin_address) if who == ADMIN else str(lab.node(who).address) for who in self.port.reach]
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class RoleInputs:
    """What a role needs to write its steps for one node."""

    lab: Lab
    node: NodeSpec
    secrets: Mapping[str, str]
    packages: tuple[str, ...] = ()  # every package of the node's roles, installed by base at once
    options: BuildOptions = BuildOptions()
    exposure: tuple[Exposure, ...] = ()  # every port of the whole design, on every node
    tls: Pki | None = None  # the lab's CA and certificates, where the design has https

@dataclass(frozen=True)
class Problem:
    """Where a design breaks a rule: the field of the file, and what was found there."""

    field: str
    found: str


@dataclass(frozen=True)
class Rule:
    """Something a role needs of the design, stated once; `broken` yields each place the design breaks it."""

    text: str
    broken: Callable[[Lab], Iterable[Problem]]


def always(lab: Lab) -> bool:
    return True


@dataclass(frozen=True)
class NodeCheck:
    """A check run on each node that has the role; `run` returns what it saw or raises CheckFailed."""

    id: str
    what: str
    run: Callable[[LabView, NodeSpec], str]
    phase: Literal["node", "site", "data"] = "node"
    when: Callable[[Lab], bool] = always  # only on designs where this holds (e.g. with https)


@dataclass(frozen=True)
class SiteCheck:
    """A check run once for the whole lab, as a client of the site sees it."""

    id: str
    what: str
    run: Callable[[LabView], str]
    phase: Literal["node", "site", "data"] = "site"
    when: Callable[[Lab], bool] = always


def no_ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    return ()


@dataclass(frozen=True)
class Role:
    """One role of the design."""

    name: str
    label: str  # on the diagram, under the node's name
    packages: tuple[str, ...]
    wave: int  # roles are applied in waves: 1 before 2 before 3, nodes in parallel within a wave
    steps: Callable[[RoleInputs], list[Step]]
    ports: Callable[[Lab, NodeSpec], tuple[Port, ...]] = no_ports
    checks: tuple[NodeCheck | SiteCheck, ...] = ()
    rules: tuple[Rule, ...] = ()
    retire: Callable[[RoleInputs], list[Step]] | None = None  # takes the role away from a node that no longer has it
    node_packages: Callable[[Lab, NodeSpec], tuple[str, ...]] | None = None  # packages that depend on the node's other roles
    #: Services of its packages that fail when started before the build configures them (the MariaDB exporter
    #: has no credentials yet): a role image keeps them disabled, so a node made from it boots clean.
    held: tuple[str, ...] = ()


def roles_field(node: NodeSpec) -> str:
    """The design file's field that lists a node's roles."""
    return f"nodes.{node.name}.roles"


def problems_where(nodes: Iterable[NodeSpec], found: Callable[[NodeSpec], str | None]) -> Iterator[Problem]:
    """A Problem for each node where `found` says something is wrong."""
    for node in nodes:
        detail = found(node)
        if detail:
            yield Problem(roles_field(node), detail)
