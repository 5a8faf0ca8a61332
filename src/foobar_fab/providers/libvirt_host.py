"""What Vagrant's libvirt provider needs on this host for one lab: its network, its storage pool, and a
verdict on whether KVM runs guests here.

The network is the lab's own subnet on the lab's bridge, with NAT, libvirt's dnsmasq as resolver and a
DHCP reservation giving each node its address (by a MAC address made from the lab's and node's names,
the same the Vagrantfile gives the machine). Vagrant uses it as its management network, so a node has
one interface, as a container of the LXC lab has. The pool holds the box's volume and the machines'
disks; both carry the lab's name and go with `invoke destroy`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..console import Console
from ..executors import Outcome
from ..steps import Plan, Run, Step, change, ok
from ..topology import Lab
from .lxc.layout import LxcLayout

VIRSH = "virsh -c qemu:///system"
PROBE_SECONDS = 20
DHCP_SPARE = 16


def vm_mac(lab: str, node: str) -> str:
    """A stable MAC address in QEMU's range; the Vagrantfile computes the same (Digest::SHA256)."""
    digest = hashlib.sha256(f"{lab}/{node}".encode()).digest()
    return "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])


def network_name(lab: Lab) -> str:
    return f"{lab.name}-net"


def pool_name(lab: Lab) -> str:
    return f"{lab.name}-pool"


def pool_path(lab: Lab) -> Path:
    """Where the pool keeps its volumes: under libvirt's images folder, which QEMU's user can reach."""
    return Path("/var/lib/libvirt/images") / pool_name(lab)


def network_xml(layout: LxcLayout) -> str:
    """The lab's libvirt network: NAT on the lab's bridge, one DHCP reservation per node."""
    lab = layout.lab
    free = list(lab.subnet.hosts())[-max(DHCP_SPARE, len(lab.nodes)):]  # libvirt lets dnsmasq lease no more than its range holds
    hosts = "".join(f"      <host mac='{vm_mac(lab.name, n.name)}' name='{n.name}' ip='{n.address}'/>\n" for n in lab.nodes)
    return (
        f"<network>\n  <name>{network_name(lab)}</name>\n  <forward mode='nat'/>\n"
        f"  <bridge name='{layout.bridge}' stp='off' delay='0'/>\n"
        f"  <ip address='{lab.gateway}' netmask='{lab.subnet.netmask}'>\n    <dhcp>\n"
        f"      <range start='{free[0]}' end='{free[-1]}'/>\n{hosts}    </dhcp>\n  </ip>\n</network>\n"
    )


def reservations(xml: str) -> list[str]:
    """The lines of a network's XML that say what it is (name, bridge, address, reservations), in order."""
    keys = ("<name>", "<bridge ", "<ip ", "<range ", "<host ")
    found = []
    for row in xml.splitlines():
        row = row.strip().replace('"', "'")
        if row.startswith(keys):
            found.append(" ".join(w for w in row.split() if not w.startswith(("stp=", "delay=", "macTableManager="))).rstrip("/>").strip())
    return found


@dataclass
class LabNetwork(Step):
    """The lab's libvirt network is defined as the design says and active."""

    layout: LxcLayout
    name: str = "network"

    def probe(self) -> str:
        net = network_name(self.layout.lab)
        return f"{VIRSH} net-dumpxml --inactive {net} 2>/dev/null; echo active: $({VIRSH} net-info {net} 2>/dev/null | awk '/^Active:/{{print $2}}')"

    def decide(self, probe: Outcome) -> Plan:
        net = network_name(self.layout.lab)
        wanted = network_xml(self.layout)
        defined = "<network" in probe.stdout
        if defined and reservations(probe.stdout) == reservations(wanted):
            if "active: yes" in probe.stdout:
                return ok(f"{net} on {self.layout.bridge}, {self.layout.prefix}, {len(self.layout.lab.nodes)} reservations")
            return change(f"{net} started", Run(f"{VIRSH} net-start {net}"))
        xml = self.layout.state_dir / "libvirt-network.xml"
        again = f"{VIRSH} net-destroy {net} >/dev/null 2>&1; {VIRSH} net-undefine {net} >/dev/null; " if defined else ""
        return change(
            f"{net} {'redefined' if defined else 'defined'} on {self.layout.bridge} ({self.layout.prefix}) and started",
            Run(f"cat > {xml} <<'XML'\n{wanted}XML"),
            Run(f"{again}{VIRSH} net-define {xml} >/dev/null && {VIRSH} net-start {net} >/dev/null"),
        )


@dataclass
class LabNetworkGone(Step):
    """No libvirt network of this lab is left."""

    lab: Lab
    name: str = "network"

    def probe(self) -> str:
        return f"{VIRSH} net-info {network_name(self.lab)} >/dev/null 2>&1 && echo defined; true"

    def decide(self, probe: Outcome) -> Plan:
        net = network_name(self.lab)
        if "defined" not in probe.stdout:
            return ok(f"no network {net}")
        return change(f"{net} removed", Run(f"{VIRSH} net-destroy {net} >/dev/null 2>&1; {VIRSH} net-undefine {net} >/dev/null"))


@dataclass
class LabPool(Step):
    """The lab's storage pool (a folder) is defined and active."""

    lab: Lab
    name: str = "pool"

    def probe(self) -> str:
        return f"{VIRSH} pool-info {pool_name(self.lab)} 2>/dev/null | awk '/^State:/{{print $2}}'; true"

    def decide(self, probe: Outcome) -> Plan:
        pool, state = pool_name(self.lab), probe.stdout.strip()
        if state == "running":
            return ok(f"{pool} at {pool_path(self.lab)}")
        define = "" if state else f"{VIRSH} pool-define-as {pool} dir --target {pool_path(self.lab)} >/dev/null && "
        return change(f"{pool} {'started' if state else 'made'} at {pool_path(self.lab)}", Run(f"{define}{VIRSH} pool-build {pool} >/dev/null && {VIRSH} pool-start {pool} >/dev/null"))


def box_volume_name(box: str, image: Path) -> str:
    """The volume vagrant-libvirt looks for before it uploads a box's disk (a box of version 0: the disk's mtime)."""
    return f"{box.replace('/', '-VAGRANTSLASH-')}_vagrant_box_image_0_{int(image.stat().st_mtime)}_box.img"


@dataclass
class BoxVolume(Step):
    """The box's disk is a volume of the lab's pool, copied there as a file: vagrant-libvirt would upload it
    through libvirt's stream API, at a few MB/s (minutes for the box), before the first machine starts."""

    lab: Lab
    box: str
    image: Path
    name: str = "box volume"

    @property
    def volume(self) -> Path:
        return pool_path(self.lab) / box_volume_name(self.box, self.image)

    def probe(self) -> str:
        return f"test -f {self.volume} && echo present; true"

    def decide(self, probe: Outcome) -> Plan:
        if "present" in probe.stdout:
            return ok(f"{self.volume.name} in {pool_name(self.lab)}")
        return change(
            f"{self.volume.name} copied into {pool_name(self.lab)}",
            Run(f"cp --sparse=always {self.image} {self.volume}.partial && mv {self.volume}.partial {self.volume} && {VIRSH} pool-refresh {pool_name(self.lab)} >/dev/null"),
        )


@dataclass
class LabPoolGone(Step):
    """No storage pool of this lab is left, nor its volumes (the box's copy included) or folder."""

    lab: Lab
    name: str = "pool"

    def probe(self) -> str:
        return f"{VIRSH} pool-info {pool_name(self.lab)} >/dev/null 2>&1 && echo defined; test -d {pool_path(self.lab)} && echo folder; true"

    def decide(self, probe: Outcome) -> Plan:
        pool, path = pool_name(self.lab), pool_path(self.lab)
        if not probe.stdout.strip():
            return ok(f"no pool {pool}")
        remove = (
            f"for v in $({VIRSH} vol-list {pool} --name 2>/dev/null); do {VIRSH} vol-delete --pool {pool} $v >/dev/null; done; "
            f"{VIRSH} pool-destroy {pool} >/dev/null 2>&1; {VIRSH} pool-undefine {pool} >/dev/null 2>&1; rm -rf {path}"
        )
        return change(f"{pool} and its volumes removed", Run(remove))


def accelerator(kernel: Path, cache: Path, console: Console) -> str:
    """'kvm' when KVM boots the box's kernel here, else 'qemu' (QEMU's emulation), said in one line.

    KVM is tried for real: a short boot of the kernel (no disk) must reach its root-mount panic. The
    verdict is kept for this boot of the host and this kernel (a hanging probe costs its timeout once)."""
    key = f"{Path('/proc/sys/kernel/random/boot_id').read_text().strip()} {kernel.stat().st_mtime_ns}"
    verdict_file = cache / "accelerator"
    kept = verdict_file.read_text().split("\n", 1) if verdict_file.exists() else []
    if len(kept) == 2 and kept[0] == key:
        verdict, why = kept[1].strip().split(" ", 1)
    else:
        verdict, why = probe_kvm(kernel)
        verdict_file.write_text(f"{key}\n{verdict} {why}\n")
    line = "accelerated by KVM" if verdict == "kvm" else f"emulated by QEMU (TCG, several times slower): KVM {why}"
    console.note("host", f"virtual machines {line}")
    return verdict


def probe_kvm(kernel: Path) -> tuple[str, str]:
    """Boot the kernel under KVM for a few seconds: ('kvm', 'boots') or ('qemu', why not)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "qemu", "is not available (no /dev/kvm)"
    command = [
        "qemu-system-x86_64", "-machine", "accel=kvm", "-cpu", "host", "-m", "256", "-nodefaults", "-nographic",
        "-serial", "stdio", "-no-reboot", "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1",
    ]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "qemu", f"ran no guest kernel to its end within {PROBE_SECONDS} s"
    if "Kernel panic" in proc.stdout or "VFS:" in proc.stdout:
        return "kvm", "boots"
    said = (proc.stderr or proc.stdout).strip().splitlines()
    reason = said[0].removeprefix("qemu-system-x86_64: ").removeprefix("error: ")[:100] if said else f"exit status {proc.returncode}"
    return "qemu", f"stopped the guest ({reason})"
