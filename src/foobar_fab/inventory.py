"""The inventory of existing servers for `--provider ssh`: how to reach each node of lab.yml.

configs/inventory.example.yml shows the format. The lab's addresses then come from the inventory.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .topology import Lab, NodeSpec, TopologyError


class InventoryError(TopologyError):
    """The inventory is not usable; one line naming the file, the field and the problem."""


@dataclass(frozen=True)
class Host:
    """One existing server."""

    address: ipaddress.IPv4Address
    user: str
    key_file: Path
    port: int = 22
    sudo: bool = False


@dataclass(frozen=True)
class Inventory:
    """The existing servers, and where the lab is run from (the admin address their firewalls let in)."""

    hosts: dict[str, Host]
    source: Path
    admin_address: ipaddress.IPv4Address | None = None

    def apply(self, lab: Lab) -> Lab:
        """The lab with each node's address from the inventory, and a subnet that holds them all."""
        for node in lab.nodes:
            if node.name not in self.hosts:
                raise InventoryError(f"{self.source}: nodes.{node.name}: missing (lab.yml has this node)")
        nodes = tuple(NodeSpec(n.name, self.hosts[n.name].address, n.roles) for n in lab.nodes)
        subnet = covering_network([n.address for n in nodes], lab.subnet)
        return dataclasses.replace(lab, nodes=nodes, subnet=subnet, admin=self.admin_address or source_address(nodes[0].address))


def covering_network(addresses: list[ipaddress.IPv4Address], preferred: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    """The preferred subnet if it holds every address, else the smallest network that does."""
    if all(a in preferred for a in addresses):
        return preferred
    prefix = 32
    while prefix > 0:
        network = ipaddress.IPv4Network(f"{addresses[0]}/{prefix}", strict=False)
        if all(a in network for a in addresses):
            return network
        prefix -= 1
    return ipaddress.IPv4Network("0.0.0.0/0")


def source_address(address: ipaddress.IPv4Address) -> ipaddress.IPv4Address | None:
    """The address this host sends from to reach the given one (what the servers see as the admin)."""
    proc = subprocess.run(["ip", "-j", "route", "get", str(address)], capture_output=True, text=True, check=False)
    try:
        found = (json.loads(proc.stdout) or [{}])[0].get("prefsrc")
        return ipaddress.IPv4Address(found) if found else None
    except ValueError:
        return None


def load(path: Path) -> Inventory:
    """Read and validate an inventory file."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise InventoryError(f"{path}: cannot read the inventory: {err.strerror} (copy configs/inventory.example.yml)") from None
    except yaml.YAMLError as err:
        raise InventoryError(f"{path}: YAML error: {getattr(err, 'problem', None) or err}") from None
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, dict) or not nodes:
        raise InventoryError(f"{path}: nodes: missing: list each node with address, user and key")
    admin = data.get("admin_address")
    try:
        admin_address = ipaddress.IPv4Address(str(admin)) if admin is not None else None
    except ValueError:
        raise InventoryError(f"{path}: admin_address: {admin!r} is not an IPv4 address (the address the lab is run from)") from None
    return Inventory({str(name): _host(path, str(name), spec) for name, spec in nodes.items()}, path, admin_address)


def _host(path: Path, name: str, spec: Any) -> Host:
    field = f"nodes.{name}"

    def fail(key: str, problem: str) -> InventoryError:
        return InventoryError(f"{path}: {field}.{key}: {problem}")

    if not isinstance(spec, dict):
        raise InventoryError(f"{path}: {field}: expected a mapping with address, user and key")
    try:
        address = ipaddress.IPv4Address(str(spec.get("address")))
    except ValueError:
        raise fail("address", f"{spec.get('address')!r} is not an IPv4 address") from None
    user = spec.get("user")
    if not isinstance(user, str) or not user:
        raise fail("user", "missing: the account to log in with")
    key = spec.get("key")
    if not isinstance(key, str) or not key:
        raise fail("key", "missing: the private key file to log in with")
    key_file = Path(key).expanduser()
    if not key_file.is_absolute():
        key_file = path.parent / key_file
    if not key_file.is_file():
        raise fail("key", f"{key_file} does not exist")
    port, sudo = spec.get("port", 22), spec.get("sudo", user != "root")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise fail("port", f"{port!r} is not a TCP port")
    if not isinstance(sudo, bool):
        raise fail("sudo", "must be true or false")
    return Host(address, user, key_file, port, sudo)
