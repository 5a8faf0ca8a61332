"""The class's SSH entry point: one small Incus container that forwards each student's key to their own nodes.

It is made like a lab's node (the lab's base image, a network of its own: the class subnet's first block)
in the class's own project, and listens on the host through an Incus proxy device (loopback unless the
class file says otherwise). Each student has an account there with no shell and no password, whose one
key (their lab's) may only open connections to their own nodes' port 22 (`restrict,port-forwarding,
permitopen=...`); the nodes accept that key and no other student's. The keys are root's files, out of the
accounts' reach.
"""

from __future__ import annotations

import shlex
import socket
from dataclasses import dataclass

from ..executors import Outcome
from ..providers.incus.instances import queried, query
from ..providers.incus.layout import IncusLayout, incus
from ..steps import Plan, Put, Run, Step, change, ok
from ..topology import Lab, NodeSpec
from .classfile import Classroom, Student

NODE = "entry"
KEYS = "/etc/ssh/entry"  # one authorized_keys file an account, named after it
SSHD = "/etc/ssh/sshd_config.d/foobar-entry.conf"
SSHD_CONFIG = (
    "# Managed by foobar_fab: the class's entry point forwards keys to nodes, nothing else.\n"
    f"AuthorizedKeysFile {KEYS}/%u .ssh/authorized_keys\n"
    "PasswordAuthentication no\n"
    "KbdInteractiveAuthentication no\n"
    "AllowAgentForwarding no\n"
    "X11Forwarding no\n"
    "PermitTunnel no\n"
    "GatewayPorts no\n"
)


def entry_lab(classroom: Classroom) -> Lab:
    """The entry point as a lab of one node without roles: named class + '0' (no student's lab can be, as
    students' names start with a letter), on the class subnet's first block."""
    subnet = classroom.entry_subnet
    hosts = list(subnet.hosts())
    return Lab(
        name=f"{classroom.name}0",
        subnet=subnet,
        domain="entry.invalid",
        nodes=(NodeSpec(NODE, hosts[1], ()),),
        source=classroom.source,
    )


def key_line(classroom: Classroom, student: Student, public_key: str) -> str:
    """The student's one line: their key, good only to forward to their own nodes' SSH."""
    lab = classroom.lab_of(student)
    opens = ",".join(f'permitopen="{n.address}:22"' for n in lab.nodes)
    return f'restrict,port-forwarding,{opens},command="/usr/sbin/nologin" {public_key.strip()}\n'


def inside(layout: IncusLayout, script: str) -> str:
    """A command line running the script in the entry point's container."""
    return incus(*layout.place.words(), "exec", layout.instance(NODE), "--", "sh", "-c", script)


@dataclass
class EntrySshd(Step):
    """sshd on the entry point takes keys from root's folder only, never a password, and forwards nothing else."""

    layout: IncusLayout
    name: str = "sshd"

    def probe(self) -> str:
        return f"{inside(self.layout, f'cat {SSHD} 2>/dev/null; true')}"

    def decide(self, probe: Outcome) -> Plan:
        if probe.stdout == SSHD_CONFIG:
            return ok("keys from the class only, no passwords")
        stage = self.layout.staging / "sshd.conf"
        push = incus(*self.layout.place.words(), "file", "push", "--mode", "0644", str(stage), f"{self.layout.instance(NODE)}{SSHD}")
        return change(
            "keys from the class only, no passwords",
            Put(str(stage), SSHD_CONFIG),
            Run(push),
            Run(inside(self.layout, f"mkdir -p -m 0755 {KEYS} && sshd -t && systemctl reload ssh")),
            Run(f"rm -f {stage}"),
        )


@dataclass
class EntryAccounts(Step):
    """One account a student, with their key line; accounts of students no longer in the class go."""

    layout: IncusLayout
    wanted: dict[str, str]  # account -> authorized_keys text
    name: str = "accounts"

    def probe(self) -> str:
        script = f'for f in {KEYS}/*; do [ -f "$f" ] || continue; u=${{f##*/}}; id -u "$u" >/dev/null 2>&1 && echo "== $u" && cat "$f"; done; true'
        return inside(self.layout, script)

    def shown(self) -> str:
        return "".join(f"== {account}\n{text}" for account, text in sorted(self.wanted.items()))

    def decide(self, probe: Outcome) -> Plan:
        if probe.stdout == self.shown():
            return ok(f"{len(self.wanted)} students' accounts")
        present = {line[3:] for line in probe.stdout.splitlines() if line.startswith("== ")}
        gone = sorted(present - set(self.wanted))
        script = [f"mkdir -p -m 0755 {KEYS}"]
        for account, text in sorted(self.wanted.items()):
            script.append(f"id -u {account} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin {account}")
            script.append(f"printf %s {shlex.quote(text)} > {KEYS}/{account} && chmod 0644 {KEYS}/{account}")
        script += [f"userdel {account}; rm -f {KEYS}/{account}" for account in gone]
        return change(
            f"{len(self.wanted)} students' accounts" + (f" ({', '.join(gone)} removed)" if gone else ""),
            Run(inside(self.layout, " && ".join(script))),
        )


@dataclass
class EntryListens(Step):
    """The entry point's SSH is reached on the host at the class file's address (an Incus proxy device)."""

    layout: IncusLayout
    listen: str  # ADDRESS:PORT
    name: str = "listens"

    def probe(self) -> str:
        return query(self.layout.api(f"/1.0/instances/{self.layout.instance(NODE)}"))

    def decide(self, probe: Outcome) -> Plan:
        found = queried(probe.stdout) or {}
        device = (found.get("devices") or {}).get("ssh")
        wanted = {"type": "proxy", "listen": f"tcp:{self.listen}", "connect": "tcp:127.0.0.1:22"}
        if device == wanted:
            return ok(f"listens on {self.listen}")
        instance = self.layout.instance(NODE)
        remove = [Run(self.layout.cli("config", "device", "remove", instance, "ssh"))] if device else []
        return change(f"listens on {self.listen}", *remove, Run(self.layout.cli("config", "device", "add", instance, "ssh", "proxy", f"listen={wanted['listen']}", f"connect={wanted['connect']}")))


def ssh_config(classroom: Classroom, student: Student) -> str:
    """The student's ssh_config: the entry point, then each node through it (paths are the bundle's own:
    run ssh from the bundle's folder, `ssh -F ssh_config web-01`)."""
    lab = classroom.lab_of(student)
    host = socket_name(classroom.entry_host)
    nodes = "".join(f"Host {n.name}\n    HostName {n.address}\n    User root\n    ProxyJump {classroom.name}-entry\n\n" for n in lab.nodes)
    return (
        f"# Lab {lab.name} of {student.name}, class {classroom.name}: run ssh from this folder, e.g. `ssh -F ssh_config {lab.nodes[0].name}`.\n"
        f"Host {classroom.name}-entry\n    HostName {host}\n    Port {classroom.entry_port}\n    User {student.name}\n\n"
        f"{nodes}"
        "Host *\n    IdentityFile id_ed25519\n    IdentitiesOnly yes\n    UserKnownHostsFile known_hosts\n    StrictHostKeyChecking yes\n"
    )


def socket_name(address: str) -> str:
    """Where students connect: the listening address, or this host's name when it listens on every address."""
    if address == "0.0.0.0":
        return socket.getfqdn()
    return address


def known_hosts(classroom: Classroom, entry_key: str, lab_known_hosts: str) -> str:
    """The entry point's host key under the address students use, then their nodes' (the lab's own file)."""
    host = socket_name(classroom.entry_host)
    name = host if classroom.entry_port == 22 else f"[{host}]:{classroom.entry_port}"
    return f"{name} {entry_key.strip()}\n{lab_known_hosts}"

