"""The cached Debian 12 base image: debootstrap once, then every node is an overlay clone of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ...executors import Outcome
from ...steps import Plan, Put, Run, Step, change, lines, ok
from .layout import DEBIAN_SUITE, LxcLayout

#: What every node needs before Fabric can reach it; the roles install the rest.
BASE_PACKAGES = ("systemd-sysv", "openssh-server", "ca-certificates")

SSHD_CONFIG = """\
# Managed by foobar_fab: key logins only; each node gets its own host key when it is created.
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
PermitRootLogin prohibit-password
UseDNS no
"""

APT_CONFIG = """\
# Managed by foobar_fab: small, quick installs on lab nodes.
APT::Install-Recommends "false";
Acquire::Languages "none";
"""


def sources_list(mirror: str) -> str:
    security = mirror.rstrip("/") + "-security"
    return (
        f"deb {mirror} {DEBIAN_SUITE} main\n"
        f"deb {mirror} {DEBIAN_SUITE}-updates main\n"
        f"deb {security} {DEBIAN_SUITE}-security main\n"
    )


@dataclass
class BaseImage(Step):
    """A Debian 12 root file system with systemd and SSH, built once and shared by every lab."""

    layout: LxcLayout
    name: str = "base image"

    def probe(self) -> str:
        return f"cat {self.layout.base_stamp} 2>/dev/null || true"

    def decide(self, probe: Outcome) -> Plan:
        stamp = lines(probe.stdout)
        if stamp:
            return ok(f"cached in {self.layout.base_dir} ({stamp[0]})")
        return change(f"built in {self.layout.base_dir} with debootstrap", *self.build_actions())

    def build_actions(self) -> list[Run | Put]:
        """Debootstrap into a temporary folder, prepare it for cloning, then move it into place."""
        final = self.layout.base_dir
        tmp = final.with_name(final.name + ".partial")
        rootfs = tmp / "rootfs"
        chroot = f"chroot {rootfs}"
        stamp = f"{uuid.uuid4().hex[:12]} debootstrap {DEBIAN_SUITE}"
        return [
            Run(f"rm -rf {tmp} && mkdir -p {tmp}"),
            Run(
                f"debootstrap --variant=minbase --include={','.join(BASE_PACKAGES)} "
                f"{DEBIAN_SUITE} {rootfs} {self.layout.mirror}"
            ),
            Run(f"rm -f {rootfs}/etc/ssh/ssh_host_* && truncate -s 0 {rootfs}/etc/machine-id {rootfs}/etc/hostname"),
            Put(f"{rootfs}/etc/ssh/sshd_config.d/foobar_fab.conf", SSHD_CONFIG),
            Put(f"{rootfs}/etc/apt/apt.conf.d/90foobar_fab", APT_CONFIG),
            Put(f"{rootfs}/etc/apt/sources.list", sources_list(self.layout.mirror)),
            Run(f"{chroot} apt-get -q update && {chroot} apt-get clean"),
            Put(f"{tmp}/stamp", stamp + "\n"),
            Run(f"rm -rf {final} && mv {tmp} {final}"),
        ]
