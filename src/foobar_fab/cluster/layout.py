"""Names of everything a test cluster is made of, derived from its name and subnet.

The members are system containers of the host's own Incus daemon on a bridge of their own, each
running an Incus daemon of its own (nesting). They are described as a lab whose nodes are the
members, so the incus provider's steps make them (network, instances from the lab's base image, SSH
identity) and the LXC provider's files name their key and known_hosts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ..providers.incus.layout import IncusLayout
from ..providers.lxc.layout import LxcLayout
from ..topology import Lab, NodeSpec
from .target import IncusTarget

PORT = 8443  # the members' cluster address port
FIRST_HOST = 11  # member N has the subnet's address FIRST_HOST + N - 1 (the host has the first)
DEBS = "incus-debs"  # under the cache folder: the Incus packages the members install, fetched on the host
PACKAGES = ("incus-base", "dnsmasq-base", "zstd")  # zstd unpacks the lab's images; dnsmasq serves the lab networks
CLUSTER_KEY = "user.foobar_fab.cluster"  # on the member instances: the cluster they belong to


@dataclass(frozen=True)
class ClusterLayout:
    """A test cluster of `size` members named `<name>-m1`, `<name>-m2`... on `<name>-br` (the subnet's first address is the host's)."""

    name: str
    subnet: ipaddress.IPv4Network
    state_dir: Path
    cache_dir: Path
    size: int = 2
    mirror: str = "http://deb.debian.org/debian"

    @property
    def members(self) -> tuple[str, ...]:
        """The members' short names (m1, m2...): the nodes of the members' lab."""
        return tuple(f"m{i}" for i in range(1, self.size + 1))

    def address(self, member: str) -> ipaddress.IPv4Address:
        return self.files.lab.node(member).address

    def member_name(self, member: str) -> str:
        """The member's instance name on the host, which is also its name in the cluster."""
        return self.files.container(member)

    @property
    def first(self) -> str:
        """The member that enables clustering; the others join it."""
        return self.members[0]

    def url(self, member: str) -> str:
        return f"{self.address(member)}:{PORT}"

    @property
    def files(self) -> LxcLayout:
        """The members as a lab's nodes: their key, known_hosts, base image and package cache."""
        nodes = tuple(NodeSpec(m, self.subnet.network_address + FIRST_HOST + i, ("incus",)) for i, m in enumerate(self.members))
        lab = Lab(self.name, self.subnet, f"{self.name}.cluster", nodes, self.state_dir / "members.yml")
        return LxcLayout(lab, self.state_dir, self.cache_dir, self.mirror)

    @property
    def host(self) -> IncusLayout:
        """The members' network, instances and image in the host's Incus daemon."""
        return IncusLayout(self.files)

    @property
    def debs(self) -> Path:
        return self.cache_dir / DEBS

    @property
    def conf(self) -> Path:
        """The client folder through which the cluster is reached (INCUS_CONF)."""
        return self.state_dir / "incus-client"

    @property
    def target(self) -> IncusTarget:
        return IncusTarget.cluster(self.conf, self.name)
