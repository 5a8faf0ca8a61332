"""The lab's topology: configs/lab.yml loaded into typed, validated objects.

Everything else (providers, roles, checks, drills) reads names, addresses and roles from here, so the
addresses live in one place. A bad file raises :class:`TopologyError` with one line naming the file,
the field and the problem, before anything is created.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

KNOWN_ROLES = ("base", "loadbalancer", "web", "app", "db_primary", "db_replica")
LAB_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
NODE_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}[a-z0-9]")
REQUIRED_NODES = ("lb-01", "web-01", "web-02")


class TopologyError(ValueError):
    """lab.yml is not usable; the message is one line: file, field, problem."""


@dataclass(frozen=True)
class NodeSpec:
    """One node of the lab as lab.yml describes it."""

    name: str
    address: ipaddress.IPv4Address
    roles: tuple[str, ...]

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Lab:
    """The whole lab: its name, network and nodes."""

    name: str
    subnet: ipaddress.IPv4Network
    domain: str
    nodes: tuple[NodeSpec, ...]
    source: Path

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        """The host's address on the lab's bridge: the subnet's first address."""
        return next(self.subnet.hosts())

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        names = ", ".join(n.name for n in self.nodes)
        raise TopologyError(f"{self.source}: no node named {name!r} (nodes: {names})")

    def with_role(self, role: str) -> tuple[NodeSpec, ...]:
        return tuple(n for n in self.nodes if n.has_role(role))


def load(path: Path | str) -> Lab:
    """Read and validate a lab file; raise TopologyError on the first problem."""
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
    return parse(data, path)


def parse(data: Any, source: Path) -> Lab:
    """Validate already-parsed YAML data (a dict) into a Lab."""
    fail = _Failer(source)
    if not isinstance(data, dict):
        fail("(top level)", "expected a mapping with 'lab' and 'nodes'")
    lab = _mapping(data, "lab", fail)
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
    if not isinstance(domain, str) or not domain:
        fail("lab.domain", "must be a host name such as www.foobar.com")

    nodes_data = data.get("nodes")
    if not isinstance(nodes_data, dict) or not nodes_data:
        fail("nodes", "missing: list the nodes lb-01, web-01 and web-02")
    gateway = next(subnet.hosts())
    seen: dict[ipaddress.IPv4Address, str] = {}
    nodes = []
    for node_name, spec in nodes_data.items():
        nodes.append(_node(str(node_name), spec, subnet, gateway, seen, fail))
    for required in REQUIRED_NODES:
        if required not in nodes_data:
            fail(f"nodes.{required}", "missing: the design needs lb-01, web-01 and web-02")
    return Lab(name=name, subnet=subnet, domain=domain, nodes=tuple(nodes), source=source)


def _node(
    name: str,
    spec: Any,
    subnet: ipaddress.IPv4Network,
    gateway: ipaddress.IPv4Address,
    seen: dict[ipaddress.IPv4Address, str],
    fail: _Failer,
) -> NodeSpec:
    if not NODE_NAME.fullmatch(name):
        fail(f"nodes.{name.encode('unicode_escape').decode()}", f"{name!r} is not a valid host name (lowercase letters, digits and '-')")
    field = f"nodes.{name}"
    if not isinstance(spec, dict):
        fail(field, "expected a mapping with 'address' and 'roles'")
    text = _string(spec, f"{field}.address", fail)
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        fail(f"{field}.address", f"{text!r} is not an IPv4 address")
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        fail(f"{field}.address", f"{address} is outside the subnet {subnet}")
    if address == gateway:
        fail(f"{field}.address", f"{address} is the gateway (the host's side of the bridge)")
    if address in seen:
        fail(f"{field}.address", f"{address} is already used by {seen[address]}")
    seen[address] = name
    roles = spec.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        fail(f"{field}.roles", "expected a list of roles, e.g. [base, web]")
    for role in roles:
        if role not in KNOWN_ROLES:
            fail(f"{field}.roles", f"unknown role {role!r} (known: {', '.join(KNOWN_ROLES)})")
    if len(set(roles)) != len(roles):
        fail(f"{field}.roles", "a role is listed twice")
    return NodeSpec(name=name, address=address, roles=tuple(roles))


class _DuplicateKey(Exception):
    """A mapping in lab.yml names the same key twice (YAML would keep only the last)."""


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
    """The same lab under another name and subnet, each node keeping its host number (for tests, benchmarks)."""
    network = ipaddress.IPv4Network(subnet)
    offset = int(network.network_address) - int(lab.subnet.network_address)
    nodes = tuple(
        NodeSpec(n.name, ipaddress.IPv4Address(int(n.address) + offset), n.roles) for n in lab.nodes
    )
    return Lab(name=name, subnet=network, domain=lab.domain, nodes=nodes, source=lab.source)


def to_yaml(lab: Lab) -> str:
    """lab.yml text for a Lab; load(to_yaml(lab)) gives the same lab back."""
    data = {
        "lab": {"name": lab.name, "subnet": str(lab.subnet), "domain": lab.domain},
        "nodes": {n.name: {"address": str(n.address), "roles": list(n.roles)} for n in lab.nodes},
    }
    return yaml.safe_dump(data, sort_keys=False)
