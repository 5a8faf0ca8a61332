"""The cached Debian 12 base image: debootstrap once, then every node is an overlay clone of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ...executors import Outcome
from ...resources.packages import TOUCH_UPDATE_STAMP
from ...steps import SECTION, Plan, Put, Run, Step, StepError, change, lines, ok, sections
from .layout import LxcLayout
from .mirror import reach_probe, unreachable
from .recipe import (
    APT_CONFIG,
    BASE_PACKAGES,
    DEBIAN_SUITE,
    DPKG_CONFIG,
    SSHD_CONFIG,
    sources_list,
)


@dataclass
class BaseImage(Step):
    """A Debian 12 root file system with systemd and SSH, built once and shared by every lab."""

    layout: LxcLayout
    name: str = "base image"

    def probe(self) -> str:
        stamp = self.layout.base_stamp
        return f"cat {stamp} 2>/dev/null; echo {SECTION}; test -f {stamp} || {reach_probe(self.layout.mirror)}"

    def decide(self, probe: Outcome) -> Plan:
        stamp, reach = sections(probe.stdout, 2)
        if lines(stamp):
            return ok(f"cached in {self.layout.base_dir} ({lines(stamp)[0]})")
        offline = unreachable(reach, self.layout.mirror)
        if offline:
            raise StepError(f"no base image is cached in {self.layout.cache_dir} and {offline}: connect the host to the network")
        return change(f"built in {self.layout.base_dir} with debootstrap", *self.build_actions())

    def build_actions(self) -> list[Run | Put]:
        """Debootstrap into a temporary folder, prepare it for cloning, then move it into place."""
        final = self.layout.base_dir
        tmp = final.with_name(final.name + ".partial")
        rootfs = tmp / "rootfs"
        chroot = f"chroot {rootfs}"
        stamp = f"{uuid.uuid4().hex[:12]} debootstrap {DEBIAN_SUITE}, recipe {final.name}"
        return [
            Run(f"rm -rf {tmp} && mkdir -p {tmp}"),
            Run(
                f"debootstrap --variant=minbase --include={','.join(BASE_PACKAGES)} "
                f"{DEBIAN_SUITE} {rootfs} {self.layout.mirror}"
            ),
            Run(f"rm -f {rootfs}/etc/ssh/ssh_host_* && truncate -s 0 {rootfs}/etc/machine-id {rootfs}/etc/hostname"),
            Put(f"{rootfs}/etc/ssh/sshd_config.d/foobar_fab.conf", SSHD_CONFIG),
            Put(f"{rootfs}/etc/apt/apt.conf.d/90foobar_fab", APT_CONFIG),
            Put(f"{rootfs}/etc/dpkg/dpkg.cfg.d/90foobar_fab", DPKG_CONFIG),
            Put(f"{rootfs}/etc/apt/sources.list", sources_list(self.layout.mirror)),
            Run(f"{chroot} apt-get -q update && {chroot} sh -c '{TOUCH_UPDATE_STAMP}' && {chroot} apt-get clean"),
            Put(f"{tmp}/stamp", stamp + "\n"),
            Run(f"rm -rf {final} && mv {tmp} {final}"),
        ]


@dataclass
class OldImages(Step):
    """Base images of an older recipe are removed once no container on this host is cloned from them."""

    layout: LxcLayout
    name: str = "old base images"

    def probe(self) -> str:
        pattern = self.layout.base_dir.parent / f"{DEBIAN_SUITE}-*"
        configs = f"{self.layout.lxcpath}/*/config"
        return f"for d in {pattern}; do [ -d \"$d\" ] || continue; grep -qs \"$d/rootfs:\" {configs} && echo \"used $d\" || echo \"unused $d\"; done"

    def decide(self, probe: Outcome) -> Plan:
        current = str(self.layout.base_dir)
        unused = [row.split(" ", 1)[1] for row in lines(probe.stdout) if row.startswith("unused ") and not row.endswith(current)]
        if not unused:
            return ok("none unused")
        return change(f"removed {len(unused)} unused: {', '.join(unused)}", Run(f"rm -rf {' '.join(unused)}"))
