"""The incus provider: every node is an Incus system container, on an Incus network of the lab's own.

The nodes are made from the lab's own base and role images (the LXC provider's), imported into
Incus offline; Incus is driven through its CLI, so every command is printed as it runs. Keys,
known_hosts and SSH are the LXC provider's: everything after "the nodes answer SSH" is the same.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ... import parallel
from ...console import Console
from ...executors import LocalExecutor, Outcome, SshParams
from ...resources.packages import NodeImage
from ...steps import Runner, Step, StepError
from ...topology import NodeSpec
from ..base import NodeStatus, Provider, ProviderError, converge_nodes, must
from ..lxc.containers import KeyPair, StateGone, wait_until_running
from ..lxc.image import BaseImage
from ..lxc.network import Nat, NatGone
from ..lxc.package_cache import OldPackages, PackageCache
from ..lxc.role_images import OldRoleImages, role_images_for
from . import cluster
from .images import IncusImage, OldIncusImages
from .instances import (
    IncusBooted,
    IncusKnownHosts,
    Instance,
    InstanceGone,
    Network,
    NetworkGone,
    Running,
)
from .layout import LAB_KEY, IncusLayout

HOST_COMMANDS = {"incus": "incus-base", "nft": "nftables", "conntrack": "conntrack", "debootstrap": "debootstrap", "zstd": "zstd", "ssh-keygen": "openssh-client"}
STATES = {"Running": "running", "Stopped": "stopped", "Frozen": "stopped"}


def require_daemon() -> None:
    """ProviderError, in one line saying how to start it, unless the Incus daemon (the one INCUS_CONF names) answers."""
    try:
        answered = subprocess.run(["incus", "query", "/1.0"], capture_output=True, text=True, timeout=30).returncode == 0
    except (subprocess.TimeoutExpired, FileNotFoundError):
        answered = False
    if not answered:
        raise ProviderError("the Incus daemon does not answer: run `sh src/foobar_fab/host/bootstrap.sh incus` to start it")


class IncusProvider(Provider):
    """Instances, network and images in the local Incus daemon, all named after the lab."""

    name = "incus"

    def __init__(self, layout: IncusLayout, console: Console, role_images: bool = True) -> None:
        self.layout = layout
        self.lab = layout.files.lab
        self.console = console
        self.role_images = role_images
        self.host = LocalExecutor("host", console)

    def preflight(self) -> None:
        if platform.system() != "Linux" or os.geteuid() != 0:
            raise ProviderError("the incus provider needs root on a Linux host: run it with sudo")
        missing = sorted({pkg for cmd, pkg in HOST_COMMANDS.items() if shutil.which(cmd) is None})
        if missing:
            raise ProviderError(f"missing host packages {', '.join(missing)}: run `sh src/foobar_fab/host/bootstrap.sh incus`")
        require_daemon()

    def up(self, runner: Runner, images: Mapping[str, NodeImage]) -> bool:
        self.console.heading(f"host: lab {self.lab.name} on Incus")
        files = self.layout.files
        on_cluster = cluster.members()
        if on_cluster and self.layout.place.member not in on_cluster:
            self._pin(None)  # never placed, or its member is gone from the cluster: Incus places it anew
        network = Network(self.layout, tuple(sorted(on_cluster)))
        if not runner.apply("host", self.host, [KeyPair(files), BaseImage(files), PackageCache(files), network, Nat(files)]):
            return False
        public_key = files.key_file.with_suffix(".pub").read_text()
        new_nodes = self.to_make(public_key)
        aliases = self._images(runner, {name: images[name] for name in new_nodes})
        if aliases is None:
            return False
        if on_cluster and not self._placed(runner, public_key, new_nodes, aliases, on_cluster):
            return False

        def steps(node: NodeSpec) -> list[Step]:
            return [Instance(self.layout, node, public_key, aliases.get(node.name)), Running(self.layout, node.name), IncusBooted(files, node.name, place=self.layout.place)]

        if not converge_nodes(
            runner, self.console, self.lab, steps, self._leftover_nodes(), lambda gone: InstanceGone(self.layout, gone, why="not in this design")
        ):
            return False
        # As on LXC, builds that make nodes tidy what builds keep, so a re-run stays a run with nothing to change.
        tidy: list[Step] = [OldRoleImages(files), OldPackages(files), OldIncusImages(self.layout)] if new_nodes else []
        return runner.apply("host", self.host, [IncusKnownHosts(files, self.lab.nodes, place=self.layout.place), *tidy])

    def _pin(self, member: str | None, address: str | None = None) -> None:
        """Record the member the lab's nodes are pinned to (and the address this host routes the lab through)."""
        place = dataclasses.replace(self.layout.place, member=member, via=address)
        self.layout = dataclasses.replace(self.layout, place=place)
        place.save(self.layout.files.folder)

    def _placed(self, runner: Runner, public_key: str, new_nodes: list[str], aliases: Mapping[str, str], on_cluster: Mapping[str, str]) -> bool:
        """On a cluster: Incus places the lab's first node, the others are pinned to its member (a lab's bridge never
        spans machines), and this host routes the lab's subnet through that member."""
        if self.layout.place.member is None:
            first = new_nodes[0] if new_nodes else self.lab.nodes[0].name
            made = Instance(self.layout, self.lab.node(first), public_key, aliases.get(first))
            if not runner.apply(first, self.host, [made]):
                return False
            member = cluster.location(self.layout.place.words(), self.layout.instance(first))
            if member is None or member not in on_cluster:
                raise ProviderError(f"Incus placed {self.layout.instance(first)} on no member it reports online ({member}): see `incus cluster list`")
            self._pin(member, on_cluster[member])
        return runner.apply("host", self.host, [cluster.RouteVia(self.lab.subnet, str(self.layout.place.via))])

    def _images(self, runner: Runner, new_nodes: Mapping[str, NodeImage]) -> dict[str, str] | None:
        """The Incus image alias each new node is made from, each imported first; None if one failed."""
        if not new_nodes:
            return {}
        files = self.layout.files
        sources: Mapping[str, Path | None] | None = (
            role_images_for(files, runner, self.host, new_nodes) if self.role_images else dict.fromkeys(new_nodes)
        )
        if sources is None:
            return None
        base_stamp = files.base_stamp.read_text()
        aliases = {node: self.layout.image_alias(base_stamp, source) for node, source in sources.items()}
        wanted = {aliases[node]: source for node, source in sources.items()}
        steps = [IncusImage(self.layout, alias, source) for alias, source in wanted.items()]
        if not all(parallel.each(steps, lambda step: runner.apply("host", self.host, [step]))):
            return None
        return aliases

    def to_make(self, public_key: str) -> list[str]:
        """The nodes whose instance is about to be made (created or replaced), as their Instance step will decide."""

        def made(node_name: str) -> bool:
            step = Instance(self.layout, self.lab.node(node_name), public_key)
            probe = step.probe()
            proc = subprocess.run(probe, shell=True, capture_output=True, text=True, executable="/bin/bash")
            try:
                return step.why_made(Outcome(probe, proc.returncode, proc.stdout, proc.stderr)) is not None
            except StepError:
                return False  # not made by this lab: its Instance step refuses it

        return [n.name for n in self.lab.nodes if made(n.name)]

    def stop_hard(self, node: str) -> None:
        must(LocalExecutor(node, self.console).run(self.layout.cli("stop", "--force", self.layout.instance(node))))

    def start(self, node: str) -> None:
        executor = LocalExecutor(node, self.console)
        must(executor.run(self.layout.cli("start", self.layout.instance(node))))
        must(executor.run(wait_until_running(IncusBooted(self.layout.files, node, place=self.layout.place).inside)))

    def destroy(self, runner: Runner) -> bool:
        self.console.heading(f"destroy: lab {self.lab.name} on Incus")
        nodes = sorted({n.name for n in self.lab.nodes} | set(self._leftover_nodes()))
        results = parallel.each(nodes, lambda n: runner.apply(n, LocalExecutor(n, self.console), [InstanceGone(self.layout, n)]))
        host: list[Step] = [NetworkGone(self.layout), NatGone(self.layout.files), cluster.RouteGone(self.lab.subnet), StateGone(self.layout.files)]
        return all(results) and runner.apply("host", self.host, host)

    def what_destroy_removes(self) -> str:
        return super().what_destroy_removes() + " (the imported Incus images stay, for the next build)"

    def _instances(self) -> list[dict[str, Any]]:
        """This lab's instances, as `incus list` reports them (quietly: status is asked often)."""
        try:
            proc = subprocess.run(["incus", *self.layout.place.words(), "list", "--format", "json"], capture_output=True, text=True, timeout=60)
            found = json.loads(proc.stdout) if proc.returncode == 0 else []
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return []
        return [i for i in found if isinstance(i, dict) and (i.get("config") or {}).get(LAB_KEY) == self.lab.name]

    def status(self) -> list[NodeStatus]:
        found = {str(i.get("name")): i for i in self._instances()}
        rows = []
        for n in self.lab.nodes:
            instance = found.get(self.layout.instance(n.name), {})
            state = STATES.get(str(instance.get("status")), str(instance.get("status", "")).lower()) if instance else "missing"
            member = str(instance.get("location", "")) if instance.get("location") not in (None, "none") else ""
            rows.append(NodeStatus(n.name, state, str(n.address), self.layout.instance(n.name), member))
        return rows

    def ssh_params(self, node: str) -> SshParams:
        return self.layout.files.ssh_params(node)

    @property
    def bridge(self) -> str | None:
        return self.layout.network

    def network_present(self) -> bool:
        if self.layout.place.via:
            return cluster.misrouted_via(self.lab.addresses, self.layout.place.via) is None
        return self.layout.files.bridge_present()

    def missing_network(self) -> str | None:
        if self.layout.place.via:
            return cluster.misrouted_via(self.lab.addresses, self.layout.place.via)
        return self.layout.files.missing_bridge()

    def _leftover_nodes(self) -> list[str]:
        """Instances this lab made for nodes no longer in its design (found by their lab key)."""
        prefix = f"{self.lab.name}-"
        return [str(i["name"]).removeprefix(prefix) for i in self._instances() if str(i.get("name", "")).startswith(prefix)]
