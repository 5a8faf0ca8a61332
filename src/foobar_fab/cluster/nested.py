"""A test cluster on one host: members made as nested system containers of the host's Incus daemon.

`up` brings it to a cluster of all its members, reachable through the class's client folder, with
the lab's base image in it; run again, it changes nothing. `down` removes the members, their
network and the client folder (the fetched packages and the host's image stay, for the next one).
The host's own daemon is never clustered and its configuration never changed: it only holds the
members' network and instances.
"""

from __future__ import annotations

from .. import parallel
from ..console import Console
from ..executors import LocalExecutor
from ..providers.incus.images import IncusImage
from ..providers.incus.instances import IncusBooted, IncusKnownHosts, InstanceGone, Network, NetworkGone, Running
from ..providers.lxc.containers import KeyPair, StateGone
from ..providers.lxc.image import BaseImage
from ..providers.lxc.package_cache import PackageCache
from ..steps import Runner, Step
from .clustering import Bootstrapped, ClusterImage, ClusterRemote, Joined, Removed
from .layout import ClusterLayout
from .members import IncusInstalled, IncusPackages, Member, NestedCgroups
from .target import IncusTarget


class NestedCluster:
    """The members, their network and the cluster they form, all named after the cluster."""

    def __init__(self, layout: ClusterLayout, console: Console) -> None:
        self.layout = layout
        self.console = console
        self.host = LocalExecutor("host", console)

    @property
    def target(self) -> IncusTarget:
        return self.layout.target

    @property
    def image(self) -> str:
        """The alias of the lab's base image, in the host's daemon and in the cluster."""
        return self.layout.host.image_alias(self.layout.files.base_stamp.read_text(), None)

    def up(self, runner: Runner) -> bool:
        """Make what is missing; True when the cluster is up with every member."""
        layout, files = self.layout, self.layout.files
        self.console.heading(f"host: test cluster {layout.name} ({layout.size} members on {layout.subnet})")
        host: list[Step] = [KeyPair(files), BaseImage(files), PackageCache(files), IncusPackages(layout), Network(layout.host)]
        if not runner.apply("host", self.host, host) or not runner.apply("host", self.host, [IncusImage(layout.host, self.image, None)]):
            return False
        key = files.key_file.with_suffix(".pub").read_text()

        def member(name: str) -> bool:
            node = files.lab.node(name)
            steps: list[Step] = [
                Member(layout.host, node, key, self.image, debs=str(layout.debs)),
                Running(layout.host, name),
                *([] if name == layout.first else [Removed(layout, name)]),
                IncusBooted(files, name),
                NestedCgroups(layout, name),
                IncusInstalled(layout, name),
            ]
            return runner.apply(name, LocalExecutor(name, self.console), steps)

        if not all(parallel.each(list(layout.members), member)):
            return False
        if not runner.apply(layout.first, LocalExecutor(layout.first, self.console), [Bootstrapped(layout)]):
            return False
        for name in layout.members[1:]:  # one at a time: each join changes the cluster's database
            if not runner.apply(name, LocalExecutor(name, self.console), [Joined(layout, name)]):
                return False
        # The members' host keys in the cluster's known_hosts: SSH reaches a member (a jump host to its labs) checked.
        return runner.apply("host", self.host, [IncusKnownHosts(files, files.lab.nodes), ClusterRemote(layout), ClusterImage(layout, self.image)])

    def down(self, runner: Runner) -> bool:
        """Remove the members, their network and the client folder; True when nothing of them is left."""
        layout = self.layout
        self.console.heading(f"destroy: test cluster {layout.name}")
        results = parallel.each(list(layout.members), lambda m: runner.apply(m, LocalExecutor(m, self.console), [InstanceGone(layout.host, m)]))
        return all(results) and runner.apply("host", self.host, [NetworkGone(layout.host), StateGone(layout.files)])

    def lose(self, member: str) -> None:
        """Pull the plug on a member: its container is stopped at once, as a machine that fails."""
        self.host.run(f"{IncusTarget.local().command('stop', '--force', self.layout.member_name(member))}")
