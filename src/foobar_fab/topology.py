"""A design file (configs/lab.yml and its siblings) loaded into typed, validated objects.

This module checks the file as a file: YAML, known keys, names, addresses. What the roles need of
each other is checked by `design.load`, which every task calls, with the rules each role states.
A bad file raises :class:`TopologyError` with one line naming the file, the field and the problem,
before anything is created.

The parts of the design are named, not picked by position: `lab.balancers`, `lab.entry_address`,
`lab.primary`, `lab.replicas`, `lab.web_nodes`, `lab.app_nodes`.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .errors import LabError

LAB_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
NODE_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}[a-z0-9]")
HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

TOP_KEYS = ("lab", "features", "nodes")
LAB_KEYS = ("name", "subnet", "domain", "floating_address", "replication", "semi_sync_timeout_ms", "read_own_writes_s", "tls_to_servers")
DB_ROLES = ("db_primary", "db_replica")  # the database roles, which a promotion moves between servers
REPLICATION_MODES = ("async", "semi-sync")  # asynchronous (MariaDB's default) or semi-synchronous
#: With https, what the load balancer does with the clients' TLS: ends it and speaks plain HTTP to the web servers
#: (terminate), ends it and opens TLS again to each web server (reencrypt), or forwards the encrypted bytes to
#: web servers that end it themselves with the site's key (passthrough).
TLS_TO_SERVERS = ("terminate", "reencrypt", "passthrough")
NODE_KEYS = ("address", "roles")

#: What a design may switch on as a whole, and the role each feature gives every node (if any).
FEATURES: dict[str, str | None] = {
    "firewall": "firewall",  # nftables on every node, rules derived from the design
    "https": None,  # TLS at the load balancer and for the databases (the roles read the setting)
    "monitoring": "exporter",  # a monitoring client on every node, for the node with the role monitor
}


class TopologyError(LabError, ValueError):
    """The design file is not usable; the message is one line: file, field, problem."""


@dataclass(frozen=True)
class NodeSpec:
    """One node of the lab as the design file describes it."""

    name: str
    address: ipaddress.IPv4Address
    roles: tuple[str, ...]

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Lab:
    """The whole design: the lab's name, network, site name and nodes, and its named parts."""

    name: str
    subnet: ipaddress.IPv4Network
    domain: str
    nodes: tuple[NodeSpec, ...]
    source: Path
    floating_address: ipaddress.IPv4Address | None = None
    admin: ipaddress.IPv4Address | None = None  # where the lab is run from; the gateway unless a provider says
    features: frozenset[str] = frozenset()
    replication: str = "async"  # or semi-sync: the primary acknowledges a write once a replica has it
    semi_sync_timeout_ms: int = 1000  # how long a semi-sync primary waits for a replica before going on alone
    read_own_writes_s: int = 0  # for this long after a client's write its reads go to the primary (0: they stay on the replica)
    tls_to_servers: str = "terminate"  # with https: terminate, reencrypt or passthrough (see TLS_TO_SERVERS)
    out: tuple[str, ...] = ()  # former primaries, fenced after a failover until they rejoin (no database role meanwhile)

    def has(self, feature: str) -> bool:
        """Whether the design switches a feature on (firewall, https, monitoring)."""
        return feature in self.features

    @property
    def passes_tls_through(self) -> bool:
        """Whether the load balancers forward the clients' TLS to the web servers, and so see no request."""
        return self.has("https") and self.tls_to_servers == "passthrough"

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        """The host's address on the lab's bridge: the subnet's first address."""
        return next(self.subnet.hosts())

    @property
    def admin_address(self) -> ipaddress.IPv4Address:
        """The address the lab's own tools (checks, drills, SSH) come from."""
        return self.admin or self.gateway

    @property
    def addresses(self) -> list[ipaddress.IPv4Address]:
        """Every address of the lab that its tools may send traffic to: the nodes' and the floating one."""
        floating = [self.floating_address] if self.floating_address is not None else []
        return [n.address for n in self.nodes] + floating

    @property
    def site(self) -> str:
        """The site's bare name: www.foobar.com -> foobar.com."""
        return self.domain.removeprefix("www.")

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        names = ", ".join(n.name for n in self.nodes)
        raise TopologyError(f"{self.source}: no node named {name!r} (nodes: {names})")

    def has_node(self, name: str) -> bool:
        return any(n.name == name for n in self.nodes)

    def with_role(self, role: str) -> tuple[NodeSpec, ...]:
        """Every node with the role, in the file's order."""
        return tuple(n for n in self.nodes if n.has_role(role))

    # The named parts of the design -------------------------------------------------------------

    @property
    def balancers(self) -> tuple[NodeSpec, ...]:
        return self.with_role("loadbalancer")

    @property
    def web_nodes(self) -> tuple[NodeSpec, ...]:
        return self.with_role("web")

    @property
    def app_nodes(self) -> tuple[NodeSpec, ...]:
        return self.with_role("app")

    @property
    def replicas(self) -> tuple[NodeSpec, ...]:
        return self.with_role("db_replica")

    @property
    def db_nodes(self) -> tuple[NodeSpec, ...]:
        """Every database server: the primary first, then the replicas."""
        return self.with_role("db_primary") + self.replicas

    @property
    def fenced(self) -> tuple[NodeSpec, ...]:
        """Former primaries kept out after a failover until they rejoin (no database role meanwhile)."""
        return tuple(self.node(name) for name in self.out)

    @property
    def primary(self) -> NodeSpec:
        """The database primary (the design rules make sure there is exactly one where it is asked for)."""
        primaries = self.with_role("db_primary")
        if len(primaries) != 1:
            raise TopologyError(f"{self.source}: the design has {len(primaries)} database primaries, not one")
        return primaries[0]

    @property
    def entry_address(self) -> ipaddress.IPv4Address:
        """Where clients reach the site: the floating address where there is one, else the load balancer."""
        if self.floating_address is not None:
            return self.floating_address
        if len(self.balancers) != 1:
            raise TopologyError(f"{self.source}: the design has no single entry address (no load balancer)")
        return self.balancers[0].address

    @property
    def entry_name(self) -> str:
        """What stands at the entry address, for people: the balancer's name or 'the floating address'."""
        return "the floating address" if self.floating_address is not None else self.balancers[0].name

    def with_primary(self, name: str, out: tuple[str, ...] = ()) -> Lab:
        """The same design after a promotion: `name` is the primary, the former primary a replica (or, while
        it is `out`, fenced after a failover, no database at all until it rejoins)."""
        if not self.has_node(name) or self.node(name) not in self.db_nodes:
            raise TopologyError(f"{self.source}: {name} holds no database: it cannot be the primary")

        def recast(node: NodeSpec) -> NodeSpec:
            if not any(node.has_role(r) for r in DB_ROLES):
                return node
            kept = [r for r in node.roles if r not in DB_ROLES]
            if node.name in out:
                return replace(node, roles=tuple(kept))
            db_role = "db_primary" if node.name == name else "db_replica"
            position = next(i for i, r in enumerate(node.roles) if r in DB_ROLES)
            return replace(node, roles=tuple(kept[:position] + [db_role] + kept[position:]))

        return replace(self, nodes=tuple(recast(n) for n in self.nodes), out=out)

    @property
    def lone_apps(self) -> tuple[NodeSpec, ...]:
        """The application servers with no web server of their own (every web server proxies to them)."""
        return tuple(a for a in self.app_nodes if not a.has_role("web"))

    def upstream_apps(self, web: NodeSpec) -> tuple[NodeSpec, ...]:
        """The application servers a web server proxies to: its own and those with no web server of their own,
        or, where it has none of its own, every application server."""
        return (web, *self.lone_apps) if web.has_role("app") else self.app_nodes

    def read_database(self, app: NodeSpec) -> NodeSpec:
        """Where an application node reads: its own database, else a replica (spread evenly), else the primary."""
        if app in self.db_nodes:
            return app
        if self.replicas:
            return self.replicas[self.app_nodes.index(app) % len(self.replicas)]
        return self.primary


def load(path: Path | str, known_roles: Collection[str]) -> Lab:
    """Read and check a design file as a file; raise TopologyError on the first problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise TopologyError(f"{path}: cannot read the lab file: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise TopologyError(f"{path}: not UTF-8 text (byte {err.start})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as err:
        raise TopologyError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise TopologyError(f"{path}: YAML error{where}: {problem}") from None
    return parse(data, path, known_roles)


def parse(data: Any, source: Path, known_roles: Collection[str]) -> Lab:
    """Check already-parsed YAML data (a dict) and make a Lab of it."""
    fail = _Failer(source)
    if not isinstance(data, dict):
        fail("(top level)", "expected a mapping with 'lab' and 'nodes'")
    _known_keys(data, "", TOP_KEYS, fail)
    lab = _mapping(data, "lab", fail)
    _known_keys(lab, "lab.", LAB_KEYS, fail)
    name = _string(lab, "lab.name", fail)
    if not LAB_NAME.fullmatch(name):
        fail("lab.name", f"{name!r} must be 1-12 lowercase letters or digits, starting with a letter")
    subnet_text = _string(lab, "lab.subnet", fail)
    try:
        subnet = ipaddress.IPv4Network(subnet_text)
    except ValueError as err:
        fail("lab.subnet", f"{subnet_text!r} is not an IPv4 network: {err}")
    if subnet.num_addresses < 8:
        fail("lab.subnet", f"{subnet} is too small for the lab (at least a /29)")
    domain = lab.get("domain", "www.foobar.com")
    if not isinstance(domain, str) or not is_host_name(domain):
        fail("lab.domain", f"{domain!r} is not a host name such as www.foobar.com (letters, digits, '-' and dots)")

    gateway = next(subnet.hosts())
    seen: dict[ipaddress.IPv4Address, str] = {}
    replication = lab.get("replication", "async")
    if replication not in REPLICATION_MODES:
        fail("lab.replication", f"{replication!r} is not one of {', '.join(REPLICATION_MODES)}")
    timeout = lab.get("semi_sync_timeout_ms", 1000)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 3_600_000:
        fail("lab.semi_sync_timeout_ms", f"{timeout!r} is not a number of milliseconds (1 to 3600000)")
    read_own = lab.get("read_own_writes_s", 0)
    if not isinstance(read_own, int) or isinstance(read_own, bool) or not 0 <= read_own <= 3600:
        fail("lab.read_own_writes_s", f"{read_own!r} is not a number of seconds (0 to 3600)")
    floating = None
    if lab.get("floating_address") is not None:
        floating = _address(lab, "lab.floating_address", subnet, gateway, seen, fail)
        seen[floating] = "lab.floating_address"

    features = _features(data.get("features", {}), fail)
    tls_to_servers = lab.get("tls_to_servers", "terminate")
    if tls_to_servers not in TLS_TO_SERVERS:
        fail("lab.tls_to_servers", f"{tls_to_servers!r} is not one of {', '.join(TLS_TO_SERVERS)}")
    if tls_to_servers != "terminate" and "https" not in features:
        fail("lab.tls_to_servers", f"{tls_to_servers} needs HTTPS: switch on features.https, or remove the key")
    nodes_data = data.get("nodes")
    if not isinstance(nodes_data, dict) or not nodes_data:
        fail("nodes", "missing: list the nodes, each with an address and roles")
    nodes = [_node(str(node_name), spec, subnet, gateway, seen, known_roles, fail) for node_name, spec in nodes_data.items()]
    nodes = [replace(n, roles=n.roles + tuple(r for r in implied_roles(n, features, floating) if r not in n.roles)) for n in nodes]
    return Lab(
        name=name, subnet=subnet, domain=domain, nodes=tuple(nodes), source=source, floating_address=floating, features=features,
        replication=replication, semi_sync_timeout_ms=timeout, read_own_writes_s=read_own, tls_to_servers=tls_to_servers,
    )


def implied_roles(node: NodeSpec, features: frozenset[str], floating: ipaddress.IPv4Address | None) -> tuple[str, ...]:
    """Roles a node gets from the design as a whole: each feature's, and keepalived on the load
    balancers of a design with a floating address (they share it)."""
    roles = [role for feature, role in FEATURES.items() if role is not None and feature in features]
    if floating is not None and node.has_role("loadbalancer"):
        roles.append("keepalived")
    return tuple(roles)


def _features(data: Any, fail: _Failer) -> frozenset[str]:
    """features: {firewall: true, https: true, monitoring: true}; every one is off unless switched on."""
    if not isinstance(data, dict):
        fail("features", "expected a mapping such as {firewall: true, https: true}")
    _known_keys(data, "features.", tuple(FEATURES), fail)
    for key, value in data.items():
        if not isinstance(value, bool):
            fail(f"features.{key}", f"expected true or false, got {value!r}")
    return frozenset(key for key, value in data.items() if value)


def is_host_name(text: str) -> bool:
    """A DNS host name of at least two labels: www.foobar.com."""
    labels = text.split(".")
    return len(text) <= 253 and len(labels) >= 2 and all(HOST_LABEL.fullmatch(label) for label in labels)


def _node(
    name: str,
    spec: Any,
    subnet: ipaddress.IPv4Network,
    gateway: ipaddress.IPv4Address,
    seen: dict[ipaddress.IPv4Address, str],
    known_roles: Collection[str],
    fail: _Failer,
) -> NodeSpec:
    if not NODE_NAME.fullmatch(name):
        fail(f"nodes.{name.encode('unicode_escape').decode()}", f"{name!r} is not a valid host name (lowercase letters, digits and '-')")
    field = f"nodes.{name}"
    if not isinstance(spec, dict):
        fail(field, "expected a mapping with 'address' and 'roles'")
    _known_keys(spec, f"{field}.", NODE_KEYS, fail)
    address = _address(spec, f"{field}.address", subnet, gateway, seen, fail)
    seen[address] = name
    roles = spec.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        fail(f"{field}.roles", "expected a list of roles, e.g. [base, web]")
    for role in roles:
        if role not in known_roles:
            fail(f"{field}.roles", f"unknown role {role!r}{_did_you_mean(role, known_roles)} (known: {', '.join(known_roles)})")
    if len(set(roles)) != len(roles):
        fail(f"{field}.roles", "a role is listed twice")
    return NodeSpec(name=name, address=address, roles=tuple(roles))


def _address(
    data: dict[str, Any],
    field: str,
    subnet: ipaddress.IPv4Network,
    gateway: ipaddress.IPv4Address,
    seen: dict[ipaddress.IPv4Address, str],
    fail: _Failer,
) -> ipaddress.IPv4Address:
    text = _string(data, field, fail)
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        fail(field, f"{text!r} is not an IPv4 address")
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        fail(field, f"{address} is outside the subnet {subnet}")
    if address == gateway:
        fail(field, f"{address} is the gateway (the host's side of the bridge)")
    if address in seen:
        fail(field, f"{address} is already used by {seen[address]}")
    return address


def _known_keys(data: dict[str, Any], prefix: str, known: tuple[str, ...], fail: _Failer) -> None:
    """A misspelt key is an error, not something silently ignored."""
    for key in data:
        if key not in known:
            fail(f"{prefix}{key}", f"unknown key{_did_you_mean(str(key), known)} (known: {', '.join(known)})")


def _did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f": did you mean {close[0]!r}?" if close else ""


class _DuplicateKey(Exception):
    """A mapping names the same key twice (YAML would keep only the last)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, such as a node listed twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                line = key_node.start_mark.line + 1
                raise _DuplicateKey(f"line {line}: a key must be plain text, not {type(key).__name__}")
            if key in seen:
                line = key_node.start_mark.line + 1
                raise _DuplicateKey(f"{key}: listed twice (line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Failer:
    """Raises TopologyError for a field of one file."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def __call__(self, field: str, problem: str) -> NoReturn:
        raise TopologyError(f"{self.source}: {field}: {problem}")


def _mapping(data: dict[str, Any], key: str, fail: _Failer) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        fail(key, "missing or not a mapping")
    return value


def _string(data: dict[str, Any], field: str, fail: _Failer) -> str:
    key = field.rsplit(".", 1)[-1]
    value = data.get(key)
    if value is None:
        fail(field, "missing")
    if not isinstance(value, str):
        fail(field, f"expected text, got {value!r}")
    return value


def relocate(lab: Lab, name: str, subnet: str) -> Lab:
    """The same design under another name and subnet, each address keeping its host number (tests, benchmarks)."""
    network = ipaddress.IPv4Network(subnet)
    offset = int(network.network_address) - int(lab.subnet.network_address)

    def moved(address: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
        return ipaddress.IPv4Address(int(address) + offset)

    nodes = tuple(NodeSpec(n.name, moved(n.address), n.roles) for n in lab.nodes)
    floating = moved(lab.floating_address) if lab.floating_address is not None else None
    return replace(lab, name=name, subnet=network, nodes=nodes, floating_address=floating)


def to_yaml(lab: Lab) -> str:
    """Design file text for a Lab; load(to_yaml(lab)) gives the same lab back."""
    head: dict[str, Any] = {"name": lab.name, "subnet": str(lab.subnet), "domain": lab.domain}
    if lab.replication != "async":
        head.update(replication=lab.replication, semi_sync_timeout_ms=lab.semi_sync_timeout_ms)
    if lab.read_own_writes_s:
        head["read_own_writes_s"] = lab.read_own_writes_s
    if lab.tls_to_servers != "terminate":
        head["tls_to_servers"] = lab.tls_to_servers
    if lab.floating_address is not None:
        head["floating_address"] = str(lab.floating_address)
    data: dict[str, Any] = {"lab": head}
    if lab.features:
        data["features"] = {feature: lab.has(feature) for feature in FEATURES}
    data["nodes"] = {
        n.name: {"address": str(n.address), "roles": [r for r in n.roles if r not in implied_roles(n, lab.features, lab.floating_address)]}
        for n in lab.nodes
    }
    return yaml.safe_dump(data, sort_keys=False)
