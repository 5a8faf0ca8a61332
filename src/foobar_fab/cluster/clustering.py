"""The cluster itself: the first member enables clustering, the others join it with a join token, and
the class's client folder is trusted by it; the lab's base image is copied into it from the host.

Join and trust tokens go from one `incus` command to the next through a pipe: they are never part
of a printed command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..executors import Outcome
from ..providers.incus.instances import queried
from ..providers.incus.layout import incus
from ..steps import SECTION, Plan, Run, Step, StepError, change, lines, ok, sections
from .layout import ClusterLayout
from .members import inside


def cluster_members(answer: str) -> list[str]:
    """Member names from `incus query /1.0/cluster/members` (a list of URLs; empty when it said nothing)."""
    if not answer.strip():
        return []
    try:
        urls = json.loads(answer)
    except ValueError:
        raise StepError(f"unexpected answer of `incus query`: {answer[:200]!r}") from None
    if not isinstance(urls, list):
        raise StepError(f"unexpected answer of `incus query`: {answer[:200]!r}")
    return [str(u).rsplit("/", 1)[-1] for u in urls]


@dataclass
class Bootstrapped(Step):
    """The first member is a one-member cluster: a dir storage pool, its cluster address, no image updates."""

    layout: ClusterLayout
    name: str = "cluster"

    def probe(self) -> str:
        return f"{inside(self.layout, self.layout.first, 'incus query /1.0/cluster')} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        found, first = queried(probe.stdout), self.layout.first
        name = self.layout.member_name(first)
        if found is not None and found.get("enabled"):
            if found.get("server_name") != name:
                raise StepError(f"member {name} is in a cluster as {found.get('server_name')!r}: remove the test cluster and make it again")
            return ok(f"{name} is clustered")

        def run(command: str) -> Run:
            return Run(inside(self.layout, first, command))

        return change(
            f"clustering enabled on {name} ({self.layout.url(first)})",
            run("incus storage show default >/dev/null 2>&1 || incus storage create default dir"),
            run("incus profile device get default root pool >/dev/null 2>&1 || incus profile device add default root disk path=/ pool=default"),
            run(f"incus config set core.https_address={self.layout.url(first)} images.auto_update_interval=0"),
            run(f"incus cluster enable {name}"),
        )


def preseed(layout: ClusterLayout, member: str) -> str:
    """The join preseed for a member, with the token read from the shell variable `token`."""
    return (
        "cluster:\\n  enabled: true\\n"
        f"  server_name: {layout.member_name(member)}\\n  server_address: {layout.url(member)}\\n"
        "  cluster_token: %s\\n"
        "  member_config:\\n  - entity: storage-pool\\n    name: default\\n    key: source\\n    value: \\\"\\\"\\n"
    )


def membership_probe(layout: ClusterLayout, member: str) -> str:
    """The cluster's members as the first member lists them, then 'former' if the member has been in a cluster."""
    listing = inside(layout, layout.first, "incus query /1.0/cluster/members")
    former = inside(layout, member, "test -e /var/lib/incus/cluster.crt && echo former")
    return f"{listing} 2>/dev/null; echo {SECTION}; {former} 2>/dev/null; true"


@dataclass
class Removed(Step):
    """A member the cluster removed (lost, then back) has its Incus state wiped, so that it can join again.

    Such a member cannot rejoin as it was: its daemon waits for a database leader that no longer
    counts it in, and its boot never finishes. Wiped, it is a fresh daemon that Joined adds.
    """

    layout: ClusterLayout
    member: str
    name: str = "removed"

    def probe(self) -> str:
        return membership_probe(self.layout, self.member)

    def decide(self, probe: Outcome) -> Plan:
        answer, former = sections(probe.stdout, 2)
        names, name = cluster_members(answer), self.layout.member_name(self.member)
        if not names or name in names or not lines(former):
            return ok(f"{name} was not removed from the cluster")
        return change(
            f"{name} had been removed from the cluster: its Incus state wiped",
            Run(inside(
                self.layout, self.member,
                # incus-startup would start the daemon again while its folder is being removed: stopped first.
                "systemctl stop incus-startup.service incus-user.socket incus-user.service incus.service incus.socket "
                "&& rm -rf /var/lib/incus && mkdir -m 0711 /var/lib/incus && systemctl start incus.socket",
            )),
        )


@dataclass
class Joined(Step):
    """The member is in the cluster, joined with a token the first member made for it."""

    layout: ClusterLayout
    member: str
    name: str = "joined"

    def probe(self) -> str:
        return membership_probe(self.layout, self.member)

    def decide(self, probe: Outcome) -> Plan:
        answer, former = sections(probe.stdout, 2)
        names, name = cluster_members(answer), self.layout.member_name(self.member)
        first = self.layout.member_name(self.layout.first)
        if not names:
            raise StepError(f"the first member {first} is not a cluster")
        if name in names:
            return ok(f"{name} is a member")
        if lines(former):
            raise StepError(f"{name} was removed from the cluster and still holds its state: make the test cluster again")
        token = incus("exec", first, "--", "incus", "cluster", "add", name, "--quiet")
        revoke = f"{incus('exec', first, '--', 'incus', 'cluster', 'revoke-token', name)} >/dev/null 2>&1 || true"
        join = incus("exec", name, "--", "incus", "admin", "init", "--preseed")
        return change(
            f"{name} joined {first}",
            Run(f"{revoke}; set -o pipefail; {token} | {{ read -r token; printf '{preseed(self.layout, self.member)}' \"$token\"; }} | {join}"),
        )


@dataclass
class ClusterRemote(Step):
    """The class's client folder reaches the cluster as its default remote, trusted, with no public image remote."""

    layout: ClusterLayout
    name: str = "client"

    def probe(self) -> str:
        target = self.layout.target
        return (
            f"{target.command('query', f'{self.layout.name}:/1.0')} 2>/dev/null; echo {SECTION}; "
            f"test -d {self.layout.conf} && {target.command('remote', 'list', '--format', 'csv')} 2>/dev/null; "
            f"echo {SECTION}; test -d {self.layout.conf} && {target.command('remote', 'get-default')} 2>/dev/null; true"
        )

    def decide(self, probe: Outcome) -> Plan:
        answer, remotes, default = sections(probe.stdout, 3)
        found, remote, conf = queried(answer), self.layout.name, self.layout.conf
        names = {row.split(",", 1)[0].split(" ", 1)[0] for row in lines(remotes)}
        if found is not None and found.get("auth") == "trusted" and "images" not in names and default.strip() == remote:
            return ok(f"{conf} reaches {remote} ({self.layout.url(self.layout.first)}), trusted")
        target, first = self.layout.target, self.layout.member_name(self.layout.first)
        trust = incus("exec", first, "--", "incus", "config", "trust", "add", f"{remote}-client", "--quiet")
        add = f'{target.command("remote", "add", remote)} "$token" --accept-certificate'
        return change(
            f"{conf} made: remote {remote} trusted and default, public image remote removed",
            Run(f"rm -rf {conf} && mkdir -m 0700 -p {conf}"),
            Run(f"set -o pipefail; {trust} | {{ read -r token; {add} >/dev/null; }}"),
            Run(target.command("remote", "switch", remote)),
            Run(f"{target.command('remote', 'remove', 'images')} 2>/dev/null || true"),
        )


@dataclass
class ClusterImage(Step):
    """The lab's image `alias` is in the cluster, copied from the host's daemon (no remote image server)."""

    layout: ClusterLayout
    alias: str
    name: str = "cluster image"

    def probe(self) -> str:
        return f"{self.layout.target.command('query', f'/1.0/images/aliases/{self.alias}')} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        if queried(probe.stdout) is not None:
            return ok(f"{self.alias} is in the cluster")
        copy = self.layout.target.command("image", "copy", f"local:{self.alias}", f"{self.layout.name}:", "--alias", self.alias, "--mode", "relay", "--quiet")
        return change(f"{self.alias} copied from the host's daemon", Run(copy))
