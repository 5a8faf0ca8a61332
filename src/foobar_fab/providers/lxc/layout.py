"""Names and paths of everything the LXC provider makes, all derived from the lab's name.

Containers, the bridge, the firewall table and the state folder carry the lab's name, so two labs
(a user's and the tests') and other LXC containers on the host never collide.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
from dataclasses import dataclass
from pathlib import Path

from ...executors import SshParams
from ...resources.packages import PACKAGE_CACHE
from ...settings import Settings
from ...statefolder import LabFolder
from ...topology import Lab, NodeSpec
from ..base import misrouted
from .recipe import DEBIAN_SUITE, recipe_id

MARKER = "foobar_fab.lab"
BASE_MARKER = "foobar_fab.base"
IMAGE_MARKER = "foobar_fab.image"  # the role image a container was made from (empty: the base image alone)


@dataclass(frozen=True)
class LxcLayout:
    """Where the lab's containers, network and files live on the host."""

    lab: Lab
    state_dir: Path
    cache_dir: Path
    mirror: str = "http://deb.debian.org/debian"
    lxcpath: Path = Path("/var/lib/lxc")

    @classmethod
    def of(cls, settings: Settings, lab: Lab) -> LxcLayout:
        """The layout of a lab under these settings (its state folder, the shared cache, the mirror)."""
        return cls(lab, settings.state_dir(lab.name), settings.cache_dir, settings.mirror)

    @property
    def bridge(self) -> str:
        return f"{self.lab.name}-br"

    @property
    def nft_table(self) -> str:
        return f"foobar_fab_{self.lab.name}"

    @property
    def prefix(self) -> str:
        """The subnet written as gateway/prefix, the bridge's own address."""
        return f"{self.lab.gateway}/{self.lab.subnet.prefixlen}"

    @property
    def base_dir(self) -> Path:
        return self.cache_dir / f"{DEBIAN_SUITE}-{debian_arch()}-{recipe_id(self.mirror)}"

    @property
    def base_rootfs(self) -> Path:
        return self.base_dir / "rootfs"

    @property
    def base_stamp(self) -> Path:
        return self.base_dir / "stamp"

    @property
    def images_dir(self) -> Path:
        """Role images: a node's package set installed once over the base image, one folder per recipe."""
        return self.cache_dir / "images"

    @property
    def package_cache(self) -> Path:
        """Package files fetched once for every node of every lab on the host, kept across builds."""
        return self.cache_dir / "packages"

    @property
    def folder(self) -> LabFolder:
        """The lab's state folder, which names the files kept there."""
        return LabFolder(self.state_dir)

    @property
    def key_file(self) -> Path:
        return self.folder.key_file

    @property
    def known_hosts(self) -> Path:
        return self.folder.known_hosts

    @property
    def dnsmasq_pid(self) -> Path:
        return self.folder.dnsmasq_pid

    @property
    def forward_note(self) -> Path:
        return self.folder.forward_note

    def bridge_present(self) -> bool:
        return os.path.isdir(f"/sys/class/net/{self.bridge}")

    def missing_bridge(self) -> str | None:
        """Why the lab's nodes cannot be reached safely through its bridge now, None when they can."""
        if not self.bridge_present():
            return f"no bridge {self.bridge}"
        return misrouted(self.lab.addresses, self.bridge)

    def ssh_params(self, node: str) -> SshParams:
        """Root on the node's static address, with the lab's key, checked against the lab's known_hosts."""
        return SshParams(host=str(self.lab.node(node).address), user="root", key_file=self.key_file, known_hosts=self.known_hosts)

    def container(self, node: str) -> str:
        return f"{self.lab.name}-{node}"

    def container_dir(self, node: str) -> Path:
        return self.lxcpath / self.container(node)

    def delta(self, node: str) -> Path:
        """The overlay's upper folder: what this node changed on top of the base image."""
        return self.container_dir(node) / "delta0"

    def lxc(self, command: str, node: str, *args: str) -> str:
        """An lxc-* command line for one node's container."""
        words = [f"lxc-{command}", "-P", str(self.lxcpath), "-n", self.container(node), *args]
        return " ".join(shlex.quote(w) if w != "--" else w for w in words)

    def container_config(self, node: NodeSpec, image: Path | None = None) -> str:
        """The container's LXC config: Debian with systemd, on the lab's bridge, a static address.

        Its root is the base image, with the layer of the role image it was made from (if any) on top,
        and the node's own changes over both. The host's package cache is mounted in every node.
        """
        lower = f"{image / 'layer'}:{self.base_rootfs}" if image else str(self.base_rootfs)
        return "\n".join(
            [
                f"# Managed by foobar_fab: node {node.name} of lab {self.lab.name}.",
                "lxc.include = /usr/share/lxc/config/common.conf",
                "lxc.tty.dir =",
                "lxc.arch = linux64",
                f"lxc.uts.name = {node.name}",
                f"lxc.rootfs.path = overlay:{lower}:{self.delta(node.name)}",
                f"lxc.mount.entry = {self.package_cache} {PACKAGE_CACHE.lstrip('/')} none bind,create=dir 0 0",
                "lxc.start.auto = 0",
                "lxc.net.0.type = veth",
                f"lxc.net.0.link = {self.bridge}",
                "lxc.net.0.flags = up",
                "lxc.net.0.name = eth0",
                f"lxc.net.0.hwaddr = {mac_address(self.lab.name, node.name)}",
                f"lxc.net.0.ipv4.address = {node.address}/{self.lab.subnet.prefixlen}",
                f"lxc.net.0.ipv4.gateway = {self.lab.gateway}",
                "",
            ]
        )


def mac_address(lab: str, node: str) -> str:
    """A stable MAC address in LXC's range, so a rebuilt node keeps its neighbours' ARP entries."""
    digest = hashlib.sha256(f"{lab}/{node}".encode()).digest()
    return "00:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


def debian_arch() -> str:
    """Debian's name for this machine's architecture."""
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
