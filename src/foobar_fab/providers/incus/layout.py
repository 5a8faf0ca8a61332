"""Names of everything the incus provider makes, derived from the lab's name like the LXC provider's.

The lab's keys, known_hosts, base image, role images and package cache are the LXC provider's own
(an LxcLayout): Incus imports the same images, and both providers reach the nodes the same way.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...statefolder import LabFolder, json_text, read_json, write
from ...topology import NodeSpec
from ..lxc.layout import LxcLayout

POOL = "default"  # the storage pool host/incus.sh makes
LAB_KEY = "user.foobar_fab.lab"  # on every instance and network the lab makes: whose it is
SOURCE_KEY = "user.foobar_fab.source"  # on every image: the folder it was packed from


DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class IncusPlace:
    """Where in Incus a lab lives: the project of its instances, the cluster member they are all pinned to
    (None: Incus places the first, the others follow it) with its address, and each instance's memory limit
    (a class's projects count it). A lab of one's own lives in the default project; a class writes each student's."""

    project: str = DEFAULT_PROJECT
    member: str | None = None
    memory: str | None = None
    via: str | None = None  # on a cluster: the member's address, which this host routes the lab's subnet through

    def words(self) -> list[str]:
        """The CLI's project flag, when not the default project."""
        return [] if self.project == DEFAULT_PROJECT else ["--project", self.project]

    @classmethod
    def load(cls, folder: LabFolder) -> IncusPlace:
        """The place recorded in the lab's state folder, the default project when none is."""
        found = read_json(folder.incus_place)
        if not isinstance(found, dict):
            return cls()
        return cls(str(found.get("project") or DEFAULT_PROJECT), found.get("member") or None, found.get("memory") or None, found.get("via") or None)

    def save(self, folder: LabFolder) -> None:
        write(folder.incus_place, json_text(asdict(self)))


@dataclass(frozen=True)
class IncusLayout:
    """The lab's Incus names (instances, network, image aliases) over its LXC layout (files, images)."""

    files: LxcLayout
    place: IncusPlace = field(default_factory=IncusPlace)

    def cli(self, *words: str) -> str:
        """An incus command line acting on the lab's instances (in its project)."""
        return incus(*self.place.words(), *words)

    def api(self, path: str) -> str:
        """An API path for the lab's instances (in its project)."""
        return path if self.place.project == DEFAULT_PROJECT else f"{path}?project={self.place.project}"

    @property
    def lab_name(self) -> str:
        return self.files.lab.name

    @property
    def network(self) -> str:
        """The Incus network, and the host's bridge of the same name (what sniff and scan join)."""
        return self.files.bridge

    def instance(self, node: str) -> str:
        return self.files.container(node)

    @property
    def staging(self) -> Path:
        """Where a node's identity files are written before they are pushed into its instance."""
        return self.files.folder.incus

    @property
    def packing(self) -> Path:
        """Where images are packed for import (removed once imported)."""
        return self.files.cache_dir / "incus"

    def image_alias(self, base_stamp: str, image: Path | None) -> str:
        """The alias of the Incus image packed from a role image (or the base image alone, for None).

        Named by a digest of the base image's stamp and the role image's generation, which is never
        changed once made: the same alias is the same bytes, so each is imported once and shared by labs.
        """
        source = f"{base_stamp.strip()}\0{image or self.files.base_dir}"
        return "foobar-" + hashlib.sha256(source.encode()).hexdigest()[:12]

    def raw_lxc(self, node: NodeSpec) -> str:
        """The node's static address, set by liblxc when the instance starts, as the LXC provider does
        (there is no udev in the container, so systemd-networkd would wait for it forever)."""
        lab = self.files.lab
        return (
            f"lxc.net.0.ipv4.address = {node.address}/{lab.subnet.prefixlen} {lab.subnet.broadcast_address}\n"
            f"lxc.net.0.ipv4.gateway = {lab.gateway}"
        )


def incus(*words: str) -> str:
    """An incus command line, each word quoted for the shell."""
    return " ".join(["incus", *(shlex.quote(w) for w in words)])
