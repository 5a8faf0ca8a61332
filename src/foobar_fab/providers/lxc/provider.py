"""The embedded default: every node is an LXC system container on a bridge of the lab's own."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ... import parallel
from ...console import Console
from ...executors import LocalExecutor, Outcome, SshParams
from ...resources.packages import NodeImage
from ...steps import Runner, Step, StepError
from ...topology import NodeSpec
from ..base import NodeStatus, Provider, ProviderError, converge_nodes, must
from .containers import (
    Booted,
    Container,
    ContainerGone,
    KeyPair,
    KnownHosts,
    Running,
    StateGone,
    wait_for_boot,
)
from .image import BaseImage, OldImages
from .layout import MARKER, LxcLayout
from .network import Bridge, BridgeGone, InotifyLimit, InotifyLimitGone, Nat, NatGone, Resolver, ResolverGone
from .package_cache import OldPackages, PackageCache
from .role_images import OldRoleImages, role_images_for

HOST_COMMANDS = {
    "lxc-start": "lxc",
    "debootstrap": "debootstrap",
    "nft": "nftables",
    "dnsmasq": "dnsmasq-base",
    "conntrack": "conntrack",
    "ssh-keygen": "openssh-client",
    "unshare": "util-linux",
}


class LxcProvider(Provider):
    """Containers, bridge, NAT and resolver on this Linux host, all named after the lab.

    New nodes start from role images (their packages installed already) unless `role_images` is
    off (`invoke build --fresh`), when they install their packages themselves.
    """

    name = "lxc"

    def __init__(self, layout: LxcLayout, console: Console, role_images: bool = True) -> None:
        self.layout = layout
        self.lab = layout.lab
        self.console = console
        self.role_images = role_images
        self.host = LocalExecutor("host", console)

    def preflight(self) -> None:
        if platform.system() != "Linux":
            raise ProviderError("the lxc provider needs a Linux host: use --provider vagrant or --provider ssh")
        if os.geteuid() != 0:
            raise ProviderError("the lxc provider needs root (it makes containers and a bridge): run it with sudo")
        missing = sorted({pkg for cmd, pkg in HOST_COMMANDS.items() if shutil.which(cmd) is None})
        if missing:
            raise ProviderError(f"missing host packages {', '.join(missing)}: run `make lab` or apt-get install them")

    def up(self, runner: Runner, images: Mapping[str, NodeImage]) -> bool:
        self.console.heading(f"host: lab {self.layout.lab.name} on LXC")
        layout = self.layout
        host_steps: list[Step] = [KeyPair(layout), BaseImage(layout), PackageCache(layout), InotifyLimit(layout), Bridge(layout), Nat(layout), Resolver(layout)]
        if not runner.apply("host", self.host, host_steps):
            return False
        public_key = (layout.key_file.with_suffix(".pub")).read_text()
        new_nodes = self.to_make(public_key)
        made_from = self._role_images(runner, {name: images[name] for name in new_nodes})
        if made_from is None:
            return False

        def steps(node: NodeSpec) -> list[Step]:
            return [Container(layout, node, public_key, made_from.get(node.name)), Running(layout, node.name), Booted(layout, node.name)]

        if not converge_nodes(
            runner, self.console, layout.lab, steps, self._leftover_nodes(), lambda gone: ContainerGone(layout, gone, why="not in this design")
        ):
            return False
        # What builds keep is tidied by builds that make nodes, so a re-run stays a run with nothing to change.
        tidy: list[Step] = [OldRoleImages(layout), OldPackages(layout)] if new_nodes else []
        return runner.apply("host", self.host, [KnownHosts(layout, layout.lab.nodes), OldImages(layout), *tidy])

    def _role_images(self, runner: Runner, new_nodes: Mapping[str, NodeImage]) -> dict[str, Path | None] | None:
        """The role image each node about to be created starts from, checked or made first; None if one failed."""
        return role_images_for(self.layout, runner, self.host, new_nodes) if self.role_images else {}

    def to_make(self, public_key: str) -> list[str]:
        """The nodes whose container is about to be made (created or replaced), as their Container step will
        decide: they start from role images, and the build tidies afterwards."""

        def made(node: NodeSpec) -> bool:
            step = Container(self.layout, node, public_key)
            probe = step.probe()
            proc = subprocess.run(probe, shell=True, capture_output=True, text=True, executable="/bin/bash")
            try:
                return step.why_made(Outcome(probe, proc.returncode, proc.stdout, proc.stderr)) is not None
            except StepError:
                return False  # not made by this lab: its Container step refuses it
        return [node.name for node in self.layout.lab.nodes if made(node)]

    def stop_hard(self, node: str) -> None:
        must(LocalExecutor(node, self.console).run(self.layout.lxc("stop", node, "-k")))

    def start(self, node: str) -> None:
        executor = LocalExecutor(node, self.console)
        must(executor.run(self.layout.lxc("start", node)))
        must(executor.run(wait_for_boot(self.layout, node)))

    def destroy(self, runner: Runner) -> bool:
        self.console.heading(f"destroy: lab {self.layout.lab.name}")
        nodes = sorted({n.name for n in self.layout.lab.nodes} | set(self._leftover_nodes()))
        results = parallel.each(
            nodes, lambda n: runner.apply(n, LocalExecutor(n, self.console), [ContainerGone(self.layout, n)])
        )
        network: list[Step] = [ResolverGone(self.layout), InotifyLimitGone(self.layout), NatGone(self.layout), BridgeGone(self.layout), StateGone(self.layout)]
        return all(results) and runner.apply("host", self.host, network)

    def status(self) -> list[NodeStatus]:
        rows = []
        for node in self.layout.lab.nodes:
            proc = subprocess.run(
                self.layout.lxc("info", node.name, "-sH"), shell=True, capture_output=True, text=True
            )
            state = proc.stdout.strip().lower() if proc.returncode == 0 else "missing"
            rows.append(NodeStatus(node.name, state, str(node.address), self.layout.container(node.name)))
        return rows

    def ssh_params(self, node: str) -> SshParams:
        return self.layout.ssh_params(node)

    @property
    def bridge(self) -> str | None:
        return self.layout.bridge

    def network_present(self) -> bool:
        return self.layout.bridge_present()

    def missing_network(self) -> str | None:
        return self.layout.missing_bridge()

    def _leftover_nodes(self) -> list[str]:
        """Containers this lab made for nodes no longer in lab.yml (found by their marker)."""
        prefix = f"{self.layout.lab.name}-"
        found = []
        if self.layout.lxcpath.is_dir():
            for entry in self.layout.lxcpath.iterdir():
                marker = entry / MARKER
                if entry.name.startswith(prefix) and marker.is_file() and marker.read_text().strip() == self.layout.lab.name:
                    found.append(entry.name.removeprefix(prefix))
        return found


