"""The members: system containers of the host's Incus daemon, each running an Incus daemon of its own.

A member is made like a lab's node (the incus provider's Instance step, from the lab's base image,
with its own SSH identity), allowed to nest containers (privileged: its daemon manages cgroups,
bridges and firewall rules), with the Incus packages fetched on the host mounted read-only. Inside,
its boot mounts the cgroup hierarchies a nested container needs, and Incus is installed from those
packages with dpkg: the members fetch nothing themselves.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..executors import Outcome
from ..providers.incus.instances import Instance
from ..providers.incus.layout import incus
from ..steps import SECTION, Plan, Put, Run, Step, change, lines, ok
from .layout import CLUSTER_KEY, PACKAGES, ClusterLayout


def inside(layout: ClusterLayout, member: str, command: str) -> str:
    """A host command line running a shell command inside the member (through the host's daemon)."""
    return incus("exec", layout.member_name(member), "--", "sh", "-c", command)


@dataclass
class IncusPackages(Step):
    """The Incus packages the members install, with what they need beyond the base image, fetched on the host.

    apt resolves them against the base image's own package status, so the folder holds exactly what
    a member lacks; the host's apt sources (bookworm-backports, set up by host/incus.sh) provide them.
    """

    layout: ClusterLayout
    name: str = "incus packages"

    @property
    def wanted(self) -> str:
        return f"packages: {' '.join(PACKAGES)}\nbase: {self.layout.files.base_stamp.read_text().strip() if self.layout.files.base_stamp.exists() else ''}\n"

    def probe(self) -> str:
        return f"cat {self.layout.debs}/stamp 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        folder = self.layout.debs
        if probe.stdout == self.wanted:
            return ok(f"{', '.join(PACKAGES)} and what they need in {folder}")
        status = self.layout.files.base_rootfs / "var/lib/dpkg/status"
        fetch = (
            f"apt-get -q -y -d --no-install-recommends -o Dir::State::status={status} -o Dir::Cache::archives={folder} "
            f"install {' '.join(PACKAGES)}"
        )
        return change(
            f"{', '.join(PACKAGES)} and what the base image lacks for them fetched into {folder}",
            Run(f"rm -rf {folder} && mkdir -p {folder}/partial"),
            Run(f"{fetch} >/dev/null && rm -rf {folder}/partial {folder}/lock && echo \"$(ls {folder}/*.deb | wc -l) package files\"", reports=True),
            Put(f"{folder}/stamp", self.wanted),
        )


@dataclass
class Member(Instance):
    """The member's instance exists: a lab node's instance that may nest containers, with the Incus packages mounted."""

    debs: str = ""
    name: str = "member"

    def create(self) -> list[Run | Put]:
        member = self.instance
        return [
            *super().create(),
            Run(incus("config", "set", member, "security.nesting=true", "security.privileged=true", f"{CLUSTER_KEY}={self.layout.lab_name}")),
            Run(incus("config", "device", "add", member, "incus-debs", "disk", f"source={self.debs}", f"path={self.debs}", "readonly=true")),
        ]


CGROUPS_SCRIPT = """#!/bin/sh
# Managed by foobar_fab. Where the host mounts cpu and cpuacct as two cgroup v1 hierarchies, this
# container boots with neither mounted (an empty cpu,cpuacct folder): mount each, or no container
# starts inside ("Failed to initialize cgroups").
set -eu
cd /sys/fs/cgroup
missing=""
for c in cpu cpuacct; do mountpoint -q "$c" || missing="$missing $c"; done
[ -n "$missing" ] || exit 0
mount -o remount,rw /sys/fs/cgroup
for c in $missing; do
    rm -f "$c"
    mkdir -p "$c"
    mount -t cgroup -o rw,nosuid,nodev,noexec,"$c" cgroup "$c"
done
rmdir cpu,cpuacct 2>/dev/null || true
mount -o remount,ro /sys/fs/cgroup
"""

CGROUPS_UNIT = """# Managed by foobar_fab.
[Unit]
Description=cgroup hierarchies for nested containers
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target incus.socket incus.service lxcfs.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/foobar-cgroups

[Install]
WantedBy=sysinit.target
"""

SCRIPT_PATH = "/usr/local/sbin/foobar-cgroups"
UNIT_PATH = "/etc/systemd/system/foobar-cgroups.service"


@dataclass
class NestedCgroups(Step):
    """The member mounts, at every boot, the cgroup hierarchies a nested container needs."""

    layout: ClusterLayout
    member: str
    name: str = "nested cgroups"

    def probe(self) -> str:
        read = f"cat {SCRIPT_PATH}; echo {SECTION}; cat {UNIT_PATH}; echo {SECTION}; systemctl is-active foobar-cgroups; systemctl is-enabled foobar-cgroups"
        return f"{inside(self.layout, self.member, read)} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        parts = probe.stdout.split(f"{SECTION}\n")
        script, unit, state = (parts + ["", "", ""])[:3]
        if script == CGROUPS_SCRIPT and unit == CGROUPS_UNIT and lines(state) == ["active", "enabled"]:
            return ok("foobar-cgroups.service mounted them at boot")
        write = " && ".join(
            f"printf %s {shlex.quote(text)} > {path} && chmod {mode} {path}"
            for text, path, mode in ((CGROUPS_SCRIPT, SCRIPT_PATH, "0755"), (CGROUPS_UNIT, UNIT_PATH, "0644"))
        )
        return change(
            "foobar-cgroups.service installed and run (cpu, cpuacct mounted)",
            Run(inside(self.layout, self.member, f"{write} && systemctl daemon-reload && systemctl enable --quiet foobar-cgroups && systemctl restart foobar-cgroups")),
        )


@dataclass
class IncusInstalled(Step):
    """Incus is installed in the member from the packages fetched on the host, and its daemon answers."""

    layout: ClusterLayout
    member: str
    name: str = "incus"

    def probe(self) -> str:
        query = f"dpkg-query -W -f '${{Package}} ${{Status}}\\n' {' '.join(PACKAGES)}"
        return f"{inside(self.layout, self.member, query)} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        installed = {row.split()[0] for row in lines(probe.stdout) if row.endswith("install ok installed")}
        ready = Run(inside(self.layout, self.member, "incus admin waitready --timeout 60"))
        if installed >= set(PACKAGES):
            return ok(f"{', '.join(PACKAGES)} installed")
        missing = [p for p in PACKAGES if p not in installed]
        return change(
            f"{', '.join(missing)} installed from {self.layout.debs}",
            Run(inside(self.layout, self.member, f"DEBIAN_FRONTEND=noninteractive dpkg -i {self.layout.debs}/*.deb >/dev/null")),
            ready,
        )
