"""A Vagrant box for libvirt (real virtual machines), built offline from the lab's own cached Debian base image.

The box's disk is the base rootfs with Debian's cloud kernel, SSH, a `vagrant` user with Vagrant's public
insecure key and passwordless sudo, and every package of the lab's roles installed from the host's package
cache (as the role images are made), so provisioning installs nothing. Its filesystem fills the whole
disk, with no bootloader: the box's own Vagrantfile boots the kernel and initrd kept beside it in the
image cache (libvirt's direct kernel boot). Services of the packages that not every node needs stay
disabled: each node's roles enable their own. Nothing is downloaded but the kernel, from Debian's mirror.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..executors import Outcome
from ..resources.packages import APT_GET, CACHE_HELPER, CACHE_HELPER_SCRIPT, install_command, seed_command
from ..steps import Plan, Put, Run, Step
from .lxc.layout import LxcLayout
from .vagrant_box import HOST_KEYS_AT_BOOT, RESOLVER_UNIT, box_plan, box_probe, gem_file

VM_BOX_NAME = "foobar_fab/bookworm-libvirt"
VM_DISK = Path(__file__).resolve().parents[1] / "host" / "vm-disk.sh"
KERNEL_PACKAGES = ("linux-image-cloud-amd64", "udev", "sudo", "openssh-server", "iproute2")
DISK_SIZE_GB = 8
CMD_LINE = "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"

NETWORK = """\
# Managed by foobar_fab: the lab's network gives each node its own address (a DHCP reservation).
[Match]
Name=eth0

[Network]
DHCP=ipv4
"""


@dataclass(frozen=True)
class VmBoxFiles:
    """Where the box's kernel, initrd and stamp live in the image cache (readable by QEMU's user)."""

    layout: LxcLayout

    @property
    def folder(self) -> Path:
        return self.layout.cache_dir / "vagrant-libvirt"

    @property
    def kernel(self) -> Path:
        return self.folder / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.folder / "initrd.img"

    @property
    def stamp(self) -> Path:
        return self.folder / "stamp"


def box_image() -> Path:
    """The box's disk as Vagrant keeps it once added."""
    home = Path(os.environ.get("VAGRANT_HOME", Path.home() / ".vagrant.d"))
    return home / "boxes" / VM_BOX_NAME.replace("/", "-VAGRANTSLASH-") / "0" / "libvirt" / "box.img"


def box_vagrantfile(files: VmBoxFiles) -> str:
    """The box's own Vagrantfile: libvirt boots the kernel kept beside the box, on the whole-disk filesystem."""
    return (
        'Vagrant.configure("2") do |config|\n'
        '  config.vm.provider :libvirt do |lv|\n'
        f'    lv.kernel = "{files.kernel}"\n'
        f'    lv.initrd = "{files.initrd}"\n'
        f'    lv.cmd_line = "{CMD_LINE}"\n'
        '  end\n'
        'end\n'
    )


#: A machine's housekeeping a lab VM does without: these ran at its first boot, each missed once already, and
#: under emulation held the CPU a minute while the lab came up (e2scrub_reap alone 42 s of a 62 s boot; no LVM
#: to scrub, no upgrades behind the lab's back, no discard to a copy-on-write disk made minutes ago).
HOUSEKEEPING = ("e2scrub_reap.service", "e2scrub_all.timer", "fstrim.timer", "apt-daily.timer", "apt-daily-upgrade.timer")


def setup_script(packages: tuple[str, ...], optional: tuple[str, ...]) -> str:
    """What runs inside the box's tree: the kernel and the lab's packages, the vagrant user, no identity.

    The packages only some nodes need come in a second transaction, and every service it enabled
    (theirs and their dependencies') is disabled again: the roles enable their own."""
    first = (*KERNEL_PACKAGES, *(p for p in packages if p not in optional))
    enabled = "find /etc/systemd/system -path '*.wants/*' -name '*.service' -printf '%f\\n' | sort -u"
    return "\n".join([
        f"{APT_GET} update",
        seed_command(f"install --no-install-recommends {' '.join(first)}"),
        install_command(first),
        f"{enabled} > /root/enabled.before",
        *([seed_command(f"install --no-install-recommends {' '.join(optional)}"), install_command(optional)] if optional else []),
        f"{enabled} | comm -13 /root/enabled.before - | xargs -r systemctl disable && rm /root/enabled.before",
        f"{CACHE_HELPER} keep",
        f"{APT_GET} clean",
        "systemctl enable systemd-networkd foobar-resolver",
        f"systemctl mask {' '.join(HOUSEKEEPING)}",
        "id vagrant >/dev/null 2>&1 || useradd --create-home --shell /bin/bash vagrant",
        "install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh",
        "install -m 0600 -o vagrant -g vagrant /root/vagrant.pub /home/vagrant/.ssh/authorized_keys && rm /root/vagrant.pub",
        "echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' > /etc/fstab",
        "rm -f /etc/ssh/ssh_host_* /var/lib/dbus/machine-id && : > /etc/machine-id && : > /etc/hostname",
        "",
    ])


@dataclass
class VmBox(Step):
    """The libvirt box is registered with Vagrant, made from the current base image with these packages."""

    layout: LxcLayout
    packages: tuple[str, ...]
    optional: tuple[str, ...]  # packages not every node has: their services stay disabled in the box, the roles enable them
    name: str = "vagrant box"

    @property
    def files(self) -> VmBoxFiles:
        return VmBoxFiles(self.layout)

    @property
    def recipe(self) -> str:
        """The base image it is made from, and a checksum of everything the box adds to it."""
        parts = [setup_script(self.packages, self.optional), VM_DISK.read_text(), NETWORK, HOST_KEYS_AT_BOOT, RESOLVER_UNIT, box_vagrantfile(self.files)]
        return f"{self.layout.base_dir.name}+{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:8]}"

    def probe(self) -> str:
        return box_probe(VM_BOX_NAME, self.files.stamp)

    def decide(self, probe: Outcome) -> Plan:
        return box_plan(probe, VM_BOX_NAME, self.recipe, self.build_actions)

    def build_actions(self) -> list[Run | Put]:
        folder = self.files.folder
        tmp = folder.with_name("vagrant-libvirt.partial")
        tree = tmp / "files"
        metadata = json.dumps({"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_SIZE_GB})
        return [
            Run(f"rm -rf {tmp} && mkdir -p {tree}/root"),
            Run(f"cp {gem_file('vagrant-*/keys/vagrant.pub')} {tree}/root/vagrant.pub"),
            Put(f"{tree}{CACHE_HELPER}", CACHE_HELPER_SCRIPT, "0755"),
            Put(f"{tree}/etc/sudoers.d/vagrant", "vagrant ALL=(ALL) NOPASSWD:ALL\n", "0440"),
            Put(f"{tree}/etc/systemd/system/ssh.service.d/foobar_fab.conf", HOST_KEYS_AT_BOOT),
            Put(f"{tree}/etc/systemd/system/foobar-resolver.service", RESOLVER_UNIT),
            Put(f"{tree}/etc/systemd/network/10-lab.network", NETWORK),
            Put(f"{tmp}/setup.sh", setup_script(self.packages, self.optional)),
            Run(f"sh {VM_DISK} {self.layout.base_rootfs} {self.layout.package_cache} {tmp} {DISK_SIZE_GB}G"),
            Put(f"{tmp}/metadata.json", metadata + "\n"),
            Put(f"{tmp}/Vagrantfile", box_vagrantfile(self.files)),
            Run(f"tar -cf {tmp}.box -C {tmp} metadata.json Vagrantfile box.img"),
            Run(f"mkdir -p {folder} && mv {tmp}/vmlinuz {tmp}/initrd.img {folder}/ && chmod 0644 {folder}/vmlinuz {folder}/initrd.img"),
            Run(f"vagrant box add --force --name {VM_BOX_NAME} {tmp}.box && rm -rf {tmp} {tmp}.box"),
            Put(str(self.files.stamp), self.recipe + "\n"),
        ]
