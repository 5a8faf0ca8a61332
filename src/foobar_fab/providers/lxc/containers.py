"""The lab's containers: one overlay clone of the base image per node, its own identity, running."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...executors import Outcome
from ...steps import SECTION, Plan, Put, Run, Step, StepError, change, lines, ok, sections
from ...topology import NodeSpec
from .layout import BASE_MARKER, IMAGE_MARKER, MARKER, LxcLayout

BOOT_TIMEOUT = 90
CREATED = "created"  # Container.why_made: there is no container yet


@dataclass
class KeyPair(Step):
    """The lab's own SSH key pair, in its state folder (0600), authorised on every node."""

    layout: LxcLayout
    name: str = "ssh key"

    def probe(self) -> str:
        return f"cat {self.layout.key_file}.pub 2>/dev/null || true"

    def decide(self, probe: Outcome) -> Plan:
        key = self.layout.key_file
        if probe.stdout.startswith("ssh-ed25519 "):
            return ok(f"{key} exists")
        return change(
            f"{key} generated",
            Run(f"mkdir -p -m 0700 {self.layout.state_dir} && chmod 0700 {self.layout.state_dir}"),
            Run(f"rm -f {key} {key}.pub && ssh-keygen -q -t ed25519 -N '' -C foobar_fab-{self.layout.lab.name} -f {key}"),
            Run(f"chmod 0600 {key} {key}.pub"),
        )


@dataclass
class Container(Step):
    """The node's container exists, made by this lab from the current base image, with this lab's key.

    A new container starts from `image`, the role image of its packages, when there is one; an
    existing one keeps the image it was made from while that image is on the host.
    """

    layout: LxcLayout
    node: NodeSpec
    public_key: str
    image: Path | None = None
    name: str = "container"

    def probe(self) -> str:
        d = self.layout.container_dir(self.node.name)
        files = [d / MARKER, d / BASE_MARKER, d / "config", self.layout.delta(self.node.name) / "root/.ssh/authorized_keys", d / IMAGE_MARKER]
        reads = "".join(f"cat {f} 2>/dev/null; echo {SECTION}; " for f in files)
        image = f'i=$(cat {d / IMAGE_MARKER} 2>/dev/null); [ -n "$i" ] && test -f "$i/stamp" && echo present'
        return f"{reads}cat {self.layout.base_stamp} 2>/dev/null; echo {SECTION}; test -d {d} && echo exists; echo {SECTION}; {image}; true"

    def decide(self, probe: Outcome) -> Plan:
        why = self.why_made(probe)
        name = self.layout.container(self.node.name)
        if why == CREATED:
            origin = f"from role image {self.image.parent.name}/{self.image.name}" if self.image else "as an overlay clone of the base image"
            return change(f"{name} created {origin}", *self.create())
        if why is not None:
            return change(f"{name} replaced: {why}", *self.replace())
        _, _, config, _, made_from, *_ = sections(probe.stdout, 8)
        image = Path(made_from.strip()) if made_from.strip() else None
        wanted = self.layout.container_config(self.node, image)
        if config != wanted:
            return change(
                f"{name} config updated (stopped to apply it)",
                Run(f"{self.layout.lxc('stop', self.node.name, '-t', '10')} || true"),
                Put(str(self.layout.container_dir(self.node.name) / "config"), wanted),
            )
        return ok(f"{name} exists")

    def why_made(self, probe: Outcome) -> str | None:
        """Why the container is made anew from the probe's output (CREATED, or why the one there is replaced),
        None when it is kept; the one answer the provider asks too, before it picks the new nodes' role images."""
        lab, base, _, key, made_from, stamp, exists, image_present = sections(probe.stdout, 8)
        if not exists.strip():
            return CREATED
        if lab.strip() != self.layout.lab.name:
            raise StepError(f"{self.layout.container_dir(self.node.name)} was not made by this lab: remove it or rename the lab")
        if base.strip() != stamp.strip():
            return "it was cloned from another base image"
        if made_from.strip() and not image_present.strip():
            return f"its role image {made_from.strip()} is gone"
        if key.strip() != self.public_key.strip():
            return "it does not hold this lab's SSH key"
        return None

    def replace(self) -> list[Run | Put]:
        return [Run(self.layout.lxc("destroy", self.node.name, "-f")), *self.create()]

    def create(self) -> list[Run | Put]:
        """Make the container folder by hand: config, markers, and the node's identity in its overlay."""
        node = self.node.name
        d, delta = self.layout.container_dir(node), self.layout.delta(node)
        host_key = delta / "etc/ssh/ssh_host_ed25519_key"
        return [
            Run(f"mkdir -p -m 0755 {delta}/etc/ssh && mkdir -p -m 0700 {delta}/root/.ssh && chmod 0700 {d} {delta}/root"),
            Put(str(d / "config"), self.layout.container_config(self.node, self.image)),
            Put(str(d / MARKER), f"{self.layout.lab.name}\n"),
            Run(f"cp {self.layout.base_stamp} {d / BASE_MARKER}"),
            Put(str(d / IMAGE_MARKER), f"{self.image or ''}\n"),
            Put(str(delta / "etc/machine-id"), uuid.uuid4().hex + "\n", "0444"),
            Put(str(delta / "etc/resolv.conf"), f"nameserver {self.layout.lab.gateway}\n"),
            Put(str(delta / "root/.ssh/authorized_keys"), self.public_key.strip() + "\n", "0600"),
            Run(f"ssh-keygen -q -t ed25519 -N '' -C root@{node} -f {host_key}"),
        ]


@dataclass
class Running(Step):
    """The node's container is running (a stopped one, left by a killed run or a drill, is started)."""

    layout: LxcLayout
    node: str
    name: str = "running"

    def probe(self) -> str:
        return self.layout.lxc("info", self.node, "-sH")

    def decide(self, probe: Outcome) -> Plan:
        state = probe.stdout.strip()
        if state == "RUNNING":
            return ok("container is running")
        if not probe.ok:
            raise StepError(f"container {self.layout.container(self.node)} is not defined: {probe.error()}")
        # The host forgets the address's old neighbour entry: another node of an earlier design may have had it, with
        # another MAC address, and SSH would time out until the stale entry failed (about 8 s).
        forget = f"ip neigh del {self.layout.lab.node(self.node).address} dev {self.layout.bridge} 2>/dev/null || true"
        return change(f"started (was {state.lower() or 'unknown'})", Run(forget), Run(self.layout.lxc("start", self.node)))


@dataclass
class Booted(Step):
    """systemd inside the node reports 'running': every unit, sshd included, is up."""

    layout: LxcLayout
    node: str
    name: str = "systemd"

    def inside(self, *words: str) -> str:
        """A command line that runs the words inside the node."""
        return self.layout.lxc("attach", self.node, "--", *words)

    def probe(self) -> str:
        return f"{self.inside('systemctl', 'is-system-running')} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        if probe.stdout.strip() == "running":
            return ok("is-system-running: running")
        # Then one ARP request from the node (a connection to the gateway): every node that kept the address's entry
        # with another node's MAC address (one of an earlier design had it) learns the new one at once.
        announce = f"timeout 3 {self.inside('bash', '-c', f'exec 3<>/dev/tcp/{self.layout.lab.gateway}/22')} 2>/dev/null || true"
        return change("booted: is-system-running: running", Run(wait_until_running(self.inside)), Run(announce))


def wait_for_boot(layout: LxcLayout, node: str) -> str:
    """A shell command that waits until systemd in the node is running, or shows what failed."""
    return wait_until_running(Booted(layout, node).inside)


def wait_until_running(inside: Callable[..., str]) -> str:
    """The same wait, for a node reached by `inside(*words)` (a command line running the words in it)."""
    state = inside("systemctl", "is-system-running", "--wait")
    failed = inside("systemctl", "--failed", "--no-legend", "--plain")
    return (
        f"timeout {BOOT_TIMEOUT} sh -c 'until [ \"$({state} 2>/dev/null)\" = running ]; do sleep 0.3; done' "
        f"|| {{ echo \"systemd did not reach running in {BOOT_TIMEOUT} s; failed units: $({failed})\" >&2; false; }}"
    )


@dataclass
class KnownHosts(Step):
    """The lab's known_hosts lists each node's own host key, so Fabric checks every node it talks to."""

    layout: LxcLayout
    nodes: tuple[NodeSpec, ...]
    name: str = "known_hosts"

    def host_key(self, node: str) -> str:
        """A command printing the node's public host key."""
        return f"cat {self.layout.delta(node)}/etc/ssh/ssh_host_ed25519_key.pub"

    def probe(self) -> str:
        reads = "".join(f"echo {n.address} $({self.host_key(n.name)} | cut -d' ' -f1,2); " for n in self.nodes)
        return f"{reads}echo {SECTION}; cat {self.layout.known_hosts} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        wanted, present = sections(probe.stdout, 2)
        if any(len(line.split()) != 3 for line in lines(wanted)):
            raise StepError(f"a node has no SSH host key: {wanted.strip()!r}")
        if wanted == present:
            return ok(f"{len(self.nodes)} host keys in {self.layout.known_hosts}")
        return change(f"{len(self.nodes)} host keys written to {self.layout.known_hosts}", Put(str(self.layout.known_hosts), wanted, "0600"))


@dataclass
class ContainerGone(Step):
    """The node's container is gone, if this lab made it; anything else is left alone."""

    layout: LxcLayout
    node: str
    why: str = ""  # said when the container goes, e.g. "not in this design"
    name: str = "container"

    def probe(self) -> str:
        d = self.layout.container_dir(self.node)
        return f"cat {d / MARKER} 2>/dev/null; echo {SECTION}; test -d {d} && echo exists; true"

    def decide(self, probe: Outcome) -> Plan:
        lab, exists = sections(probe.stdout, 2)
        name = self.layout.container(self.node)
        if not exists.strip():
            return ok(f"no container {name}")
        if lab.strip() != self.layout.lab.name:
            return ok(f"{name} was not made by this lab: left alone")
        return change(f"{name} destroyed" + (f" ({self.why})" if self.why else ""), Run(self.layout.lxc("destroy", self.node, "-f")))


@dataclass
class StateGone(Step):
    """The lab's state folder (keys, known_hosts, notes) is gone."""

    layout: LxcLayout
    name: str = "state"

    def probe(self) -> str:
        return f"test -d {self.layout.state_dir} && echo present; true"

    def decide(self, probe: Outcome) -> Plan:
        state = self.layout.state_dir
        if "present" not in probe.stdout:
            return ok(f"no {state}")
        return change(f"{state} removed", Run(f"rm -rf {state} && rmdir --ignore-fail-on-non-empty {state.parent}"))
