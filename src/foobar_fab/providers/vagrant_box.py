"""A Vagrant box for vagrant-lxc, built locally from the lab's own cached Debian base image.

It is what lets the Vagrant path run on a Linux host without a hypervisor: the same Vagrantfile,
with `vagrant up --provider lxc`. The box holds a `vagrant` user with Vagrant's public insecure key
(replaced by a key of its own at first `vagrant up`), passwordless sudo, and no SSH host keys: each
machine makes its own at first boot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..executors import Outcome
from ..steps import Plan, Put, Run, Step, change, lines, ok
from .lxc.layout import LxcLayout

BOX_NAME = "foobar_fab/bookworm-lxc"
GEMS = Path("/usr/share/rubygems-integration/all/gems")


def gem_file(pattern: str) -> Path | None:
    """A file shipped in Debian's vagrant or vagrant-lxc package (the newest version if several)."""
    found = sorted(GEMS.glob(pattern))
    return found[-1] if found else None

HOST_KEYS_AT_BOOT = """\
# Managed by foobar_fab: every machine made from the box gets SSH host keys of its own,
# made before sshd checks its configuration.
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""

RESOLVER_UNIT = """\
# Managed by foobar_fab: the lab's resolver is its gateway (dnsmasq on the lab's bridge).
[Unit]
Description=Use the default gateway as DNS resolver
After=network.target
Before=ssh.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c "ip -4 route show default | awk '{print \\"nameserver \\" $3; exit}' > /etc/resolv.conf"

[Install]
WantedBy=multi-user.target
"""


def box_probe(box: str, stamp: Path) -> str:
    """Whether Vagrant has the box, and the recipe its stamp says it was made from."""
    return f"vagrant box list --machine-readable | grep -c ',box-name,{box}$'; cat {stamp} 2>/dev/null; true"


def box_plan(probe: Outcome, box: str, recipe: str, build: Callable[[], list[Run | Put]]) -> Plan:
    """Nothing to do when Vagrant has the box and it was made from this recipe; else build and add it."""
    found = lines(probe.stdout)
    if found[:1] not in ([], ["0"]) and found[1:2] == [recipe]:
        return ok(f"{box} made from {recipe}")
    return change(f"{box} built from {recipe} and added", *build())


@dataclass
class LxcBox(Step):
    """The vagrant-lxc box is registered with Vagrant, made from the current base image."""

    layout: LxcLayout
    name: str = "vagrant box"

    @property
    def stamp(self) -> Path:
        return self.layout.cache_dir / "vagrant-box.stamp"

    @property
    def recipe(self) -> str:
        """The base image it is made from, and a checksum of what the box adds to it."""
        added = hashlib.sha256((HOST_KEYS_AT_BOOT + RESOLVER_UNIT).encode()).hexdigest()[:8]
        return f"{self.layout.base_dir.name}+{added}"

    def probe(self) -> str:
        return box_probe(BOX_NAME, self.stamp)

    def decide(self, probe: Outcome) -> Plan:
        return box_plan(probe, BOX_NAME, self.recipe, self.build_actions)

    def build_actions(self) -> list[Run | Put]:
        tmp = self.layout.cache_dir / "vagrant-box.partial"
        rootfs = tmp / "rootfs"
        chroot = f"chroot {rootfs}"
        metadata = json.dumps({"provider": "lxc", "version": "1.0.0", "built-on": self.layout.base_dir.name})
        return [
            Run(f"rm -rf {tmp} && mkdir -p {tmp} && cp -a {self.layout.base_rootfs} {rootfs}"),
            Run(f"{chroot} apt-get -q install -y --no-install-recommends sudo iproute2 && {chroot} apt-get clean"),
            Run(f"{chroot} useradd --create-home --shell /bin/bash vagrant"),
            Run(f"install -d -m 0700 {rootfs}/home/vagrant/.ssh && cp {gem_file('vagrant-*/keys/vagrant.pub')} {rootfs}/home/vagrant/.ssh/authorized_keys"),
            Run(f"{chroot} chown -R vagrant:vagrant /home/vagrant/.ssh && chmod 0600 {rootfs}/home/vagrant/.ssh/authorized_keys"),
            Put(f"{rootfs}/etc/sudoers.d/vagrant", "vagrant ALL=(ALL) NOPASSWD:ALL\n", "0440"),
            Put(f"{rootfs}/etc/systemd/system/ssh.service.d/foobar_fab.conf", HOST_KEYS_AT_BOOT),
            Put(f"{rootfs}/etc/systemd/system/foobar-resolver.service", RESOLVER_UNIT),
            Run(f"ln -sf /etc/systemd/system/foobar-resolver.service {rootfs}/etc/systemd/system/multi-user.target.wants/"),
            Run(f"cd {tmp} && tar --numeric-owner -czf rootfs.tar.gz ./rootfs/* && rm -rf {rootfs}"),
            Put(f"{tmp}/metadata.json", metadata + "\n"),
            Put(f"{tmp}/lxc-config", "lxc.include = /usr/share/lxc/config/common.conf\nlxc.tty.dir =\n"),
            Run(f"cp {gem_file('vagrant-lxc-*/scripts/lxc-template')} {tmp}/lxc-template"),
            Run(f"tar -cf {tmp}.box -C {tmp} metadata.json rootfs.tar.gz lxc-config lxc-template"),
            Run(f"vagrant box add --force --name {BOX_NAME} {tmp}.box && rm -rf {tmp} {tmp}.box"),
            Put(str(self.stamp), self.recipe + "\n"),
        ]
