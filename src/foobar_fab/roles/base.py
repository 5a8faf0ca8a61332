"""The base role, on every node: hostname, /etc/hosts, fresh apt lists, every package at once, UTC, SSH."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..constants import DRILL_TABLE, SSH_PORT
from ..executors import Outcome
from ..expect import expect
from ..resources.packages import APT_GET, TOUCH_UPDATE_STAMP, UPDATE_STAMP, Packages, installed, query_command
from ..steps import SECTION, Plan, Put, Run, Step, StepError, change, lines, ok, sections
from ..topology import Lab, NodeSpec
from .record import ADMIN, NodeCheck, Port, Role, RoleInputs, Rule, problems_where

if TYPE_CHECKING:
    from ..observe.view import LabView

PACKAGES = ("curl", "ca-certificates", "iproute2", "nftables", "python3", "tzdata")
APT_LISTS_MAX_AGE = 3600


@dataclass
class Hostname(Step):
    """The node's running hostname and /etc/hostname are its lab name."""

    hostname: str
    name: str = "hostname"

    def probe(self) -> str:
        return "hostname; cat /etc/hostname 2>/dev/null || true"

    def decide(self, probe: Outcome) -> Plan:
        found = lines(probe.stdout) + ["", ""]
        running, stored = found[0], found[1]
        if running == stored == self.hostname:
            return ok(f"already {self.hostname}")
        was = f"/etc/hostname {stored or 'empty'}" if running == self.hostname else f"was {running or 'unset'}"
        return change(
            f"set to {self.hostname} ({was})",
            Put("/etc/hostname", f"{self.hostname}\n"),
            Run(f"hostname {shlex.quote(self.hostname)}"),
        )


@dataclass
class HostsFile(Step):
    """/etc/hosts lists every node of the lab; the site's names point at the load balancer."""

    content: str
    name: str = "/etc/hosts"

    def probe(self) -> str:
        return "cat /etc/hosts 2>/dev/null || true"

    def decide(self, probe: Outcome) -> Plan:
        if probe.stdout == self.content:
            return ok("lists every lab node")
        return change("rewritten to list every lab node", Put("/etc/hosts", self.content))


def hosts_file(lab: Lab) -> str:
    """The /etc/hosts every node gets: every node by name, and the site's names at the entry address."""
    rows = [
        f"# Managed by foobar_fab for lab {lab.name}: every node, and the site at its entry address.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    site_names = [lab.domain, lab.site]
    for node in lab.nodes:
        names = [node.name] + (site_names if node.address == lab.entry_address else [])
        rows.append(f"{node.address}\t{' '.join(names)}")
    if lab.floating_address is not None:
        rows.append(f"{lab.floating_address}\t{' '.join(site_names)}")
    return "\n".join(rows) + "\n"


@dataclass
class AptLists(Step):
    """apt's package lists are younger than an hour when the node has packages to install.

    A node with every package of its roles installed (one made from a role image) installs nothing
    from them, so its lists are kept as they are: no refresh, and no network, is needed.
    """

    packages: tuple[str, ...] = ()
    max_age: int = APT_LISTS_MAX_AGE
    name: str = "apt lists"

    def probe(self) -> str:
        # apt dates each list by the mirror's Last-Modified, not by when it was fetched: a stamp says when.
        stamp = f"date +%s; stat -c %Y {UPDATE_STAMP} 2>/dev/null || echo 0"
        return f"{stamp}; echo {SECTION}; {query_command(self.packages)}" if self.packages else stamp

    def decide(self, probe: Outcome) -> Plan:
        ages, rows = sections(probe.stdout, 2) if self.packages else (probe.stdout, "")
        found = lines(ages)
        try:
            now = int(found[0])
            newest = int(found[1]) if len(found) > 1 and found[1] != "0" else None
        except (ValueError, IndexError):
            raise StepError(f"unexpected probe output: {probe.stdout!r}") from None
        age = "never refreshed" if newest is None else f"refreshed {_age(now - newest)} ago"
        if self.packages and set(self.packages) <= installed(rows):
            return ok(f"not needed: every package is installed (lists {age})")
        if newest is not None and now - newest <= self.max_age:
            return ok(age)
        why = "never refreshed" if newest is None else f"{_age(now - newest)} old"
        return change(f"refreshed ({why})", Run(f"{APT_GET} update && {TOUCH_UPDATE_STAMP}"))


def _age(seconds: int) -> str:
    seconds = max(seconds, 0)
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


@dataclass
class Timezone(Step):
    """The node's clock speaks the given zone (UTC: logs of all nodes line up)."""

    zone: str = "Etc/UTC"
    name: str = "timezone"

    def probe(self) -> str:
        return "readlink /etc/localtime; cat /etc/timezone 2>/dev/null || true"

    def decide(self, probe: Outcome) -> Plan:
        found = lines(probe.stdout) + ["", ""]
        link, stored = found[0], found[1]
        wanted_link = f"/usr/share/zoneinfo/{self.zone}"
        if link == wanted_link and stored == self.zone:
            return ok(f"already {self.zone}")
        return change(
            f"{stored or link or 'unset'} -> {self.zone}",
            Run(f"ln -sfn {wanted_link} /etc/localtime"),
            Put("/etc/timezone", f"{self.zone}\n"),
        )


@dataclass
class NoTable(Step):
    """An nftables table that must not be loaded: a drill's cut link, left by a restore that was abandoned."""

    table: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"no nftables table {self.table}"

    def probe(self) -> str:
        return f"nft list table inet {self.table} >/dev/null 2>&1 && echo present; true"

    def decide(self, probe: Outcome) -> Plan:
        if "present" not in probe.stdout:
            return ok("none")
        return change("deleted", Run(f"nft delete table inet {self.table}"))


def steps(inputs: RoleInputs) -> list[Step]:
    """The base role's steps for one node, in order; its packages step installs every role's packages."""
    lab, node = inputs.lab, inputs.node
    return [
        Hostname(node.name),
        HostsFile(hosts_file(lab)),
        AptLists(inputs.packages or PACKAGES),
        Packages(inputs.packages or PACKAGES, name="packages (every role's, one transaction)"),
        Timezone(),
        NoTable(DRILL_TABLE, name="no drill's cut link"),
    ]


def system_running(live: LabView, node: NodeSpec) -> str:
    with live.shells.host(node.name) as host:
        state = host.run("systemctl is-system-running").stdout.strip()
    return expect(state == "running", f"is-system-running: {state}")


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    return (Port(SSH_PORT, "ssh", "SSH", "any", (ADMIN,)),)


ROLE = Role(
    name="base",
    label="",
    packages=PACKAGES,
    wave=1,
    steps=steps,
    ports=ports,
    checks=(NodeCheck("node.systemd", "systemd running", system_running),),
    rules=(
        Rule(
            "every node needs base (its name, /etc/hosts, its packages)",
            lambda lab: problems_where(lab.nodes, lambda n: None if n.has_role("base") else "base is not listed"),
        ),
    ),
)
