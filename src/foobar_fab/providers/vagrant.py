"""Vagrant machines from the Vagrantfile: VirtualBox by default, libvirt, or LXC on a Linux host.

Vagrant only creates the machines (`vagrant up --no-provision`); the roles reach them over SSH with
the parameters `vagrant ssh-config` gives, read once for all machines. A drill's power cut is
`vagrant halt --force` (with libvirt: the VM forced off, `virsh destroy`). With libvirt, the lab's box, network and
storage pool are made first (vm_box, libvirt_host), and KVM is used where it runs guests, QEMU's
emulation elsewhere.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from ..console import Console
from ..executors import LocalExecutor, Outcome, SshParams
from ..resources.packages import NodeImage
from ..settings import PROJECT_ROOT
from ..steps import Plan, Run, Runner, Step, change, lines, ok
from ..topology import Lab
from .base import NodeStatus, Provider, ProviderError, misrouted, must
from .libvirt_host import VIRSH, BoxVolume, LabNetwork, LabNetworkGone, LabPool, LabPoolGone, accelerator
from .lxc.containers import StateGone
from .lxc.layout import LxcLayout
from .lxc.network import Bridge, BridgeGone, Nat, NatGone, Resolver, ResolverGone
from .lxc.package_cache import PackageCache
from .vagrant_box import BOX_NAME, LxcBox, gem_file
from .vm_box import VM_BOX_NAME, VmBox, VmBoxFiles, box_image

STATES = {"running": "running", "poweroff": "stopped", "stopped": "stopped", "shutoff": "stopped", "not_created": "missing"}


def parse_ssh_config(text: str) -> dict[str, dict[str, str]]:
    """`vagrant ssh-config` output: machine name -> its settings (keys lower-cased)."""
    machines: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for row in text.splitlines():
        words = row.strip().split(None, 1)
        if len(words) != 2:
            continue
        key, value = words[0].lower(), words[1].strip().strip('"')
        if key == "host":
            current = machines.setdefault(value, {})
        elif current is not None:
            current.setdefault(key, value)
    return machines


def parse_status(text: str) -> dict[str, str]:
    """`vagrant status --machine-readable`: machine name -> running, stopped or missing."""
    states = {}
    for row in text.splitlines():
        fields = row.split(",")
        if len(fields) >= 4 and fields[2] == "state" and fields[1]:
            states[fields[1]] = STATES.get(fields[3], fields[3])
    return states


class VagrantProvider(Provider):
    """The lab's nodes as Vagrant machines, one per node of lab.yml."""

    name = "vagrant"

    def __init__(self, lab: Lab, layout: LxcLayout, backend: str, console: Console) -> None:
        self.lab = lab
        self.layout = layout  # the lab's bridge and state folder (the lxc backend uses the bridge)
        self.backend = backend
        self.console = console
        self.host = LocalExecutor("host", console)
        self._ssh: dict[str, dict[str, str]] | None = None

    @property
    def driver(self) -> str:
        """libvirt's domain type for the lab's VMs, as the build chose it: 'kvm', or 'qemu' where KVM runs no guest."""
        kept = self.layout.folder.vm_domain_type
        return kept.read_text().strip() if kept.exists() else "kvm"

    def emulated(self) -> bool:
        return self.backend == "libvirt" and self.driver == "qemu"

    @property
    def env(self) -> dict[str, str]:
        """What the Vagrantfile reads: the lab file, where Vagrant keeps its state, which provider."""
        return {
            "VAGRANT_CWD": str(PROJECT_ROOT),
            "VAGRANT_DOTFILE_PATH": str(self.layout.folder.vagrant),
            "VAGRANT_DEFAULT_PROVIDER": self.backend,
            "FOOBAR_LAB_FILE": str(self.lab.source),
            "FOOBAR_LXC_BOX": BOX_NAME,
            "FOOBAR_PACKAGE_CACHE": str(self.layout.package_cache),
            "FOOBAR_LIBVIRT_BOX": VM_BOX_NAME,
            "FOOBAR_LIBVIRT_DRIVER": self.driver,
        }

    def vagrant(self, *words: str) -> str:
        """A vagrant command line, with the settings the Vagrantfile reads in front of it."""
        settings = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return f"{settings} vagrant {' '.join(shlex.quote(w) for w in words)}"

    def preflight(self) -> None:
        if shutil.which("vagrant") is None:
            raise ProviderError("Vagrant is missing: install it (apt-get install vagrant, or from vagrantup.com), or use --provider lxc")
        needs = {
            "virtualbox": ("VBoxManage", "VirtualBox is missing: install it, or set vagrant_provider: libvirt (or lxc) in invoke.yaml"),
            "libvirt": ("virsh", "libvirt is missing: run `sh src/foobar_fab/host/libvirt.sh` (it installs and starts what VMs need), or set vagrant_provider: virtualbox"),
            "lxc": ("lxc-start", "LXC is missing: apt-get install lxc vagrant-lxc, or set vagrant_provider: virtualbox"),
        }
        if self.backend not in needs:
            raise ProviderError(f"unknown vagrant_provider {self.backend!r}: choose one of {', '.join(needs)}")
        tool, message = needs[self.backend]
        if shutil.which(tool) is None:
            raise ProviderError(message)
        if self.backend == "lxc" and (gem_file("vagrant-lxc-*/scripts/lxc-template") is None or os.geteuid() != 0):
            raise ProviderError("Vagrant with LXC needs root and Debian's vagrant-lxc package: apt-get install vagrant-lxc")
        if self.backend == "libvirt":
            self._libvirt_preflight()

    def _libvirt_preflight(self) -> None:
        """The libvirt path needs root (it builds the box's disk), the plugin, QEMU's tools and a running libvirtd."""
        fix = "run `sh src/foobar_fab/host/libvirt.sh` (it installs and starts what VMs need)"
        if os.geteuid() != 0:
            raise ProviderError("Vagrant with libvirt here needs root (the box's disk is made from the lab's base image)")
        if gem_file("vagrant-libvirt-*/lib/vagrant-libvirt.rb") is None or shutil.which("qemu-img") is None or shutil.which("qemu-system-x86_64") is None:
            raise ProviderError(f"vagrant-libvirt or QEMU is missing: {fix}")
        if subprocess.run(f"{VIRSH} version", shell=True, capture_output=True).returncode != 0:
            raise ProviderError(f"libvirtd does not answer at qemu:///system: {fix}")

    def up(self, runner: Runner, images: Mapping[str, NodeImage]) -> bool:
        self.console.heading(f"host: lab {self.lab.name} on Vagrant ({self.backend})")
        steps: list[Step] = []
        if self.backend == "lxc":
            steps += [StateFolder(self.layout.state_dir), LxcBox(self.layout), PackageCache(self.layout), Bridge(self.layout), Nat(self.layout), Resolver(self.layout)]
        if self.backend == "libvirt":
            prepared = [StateFolder(self.layout.state_dir), self.vm_box(images), LabPool(self.lab), BoxVolume(self.lab, VM_BOX_NAME, box_image()), LabNetwork(self.layout)]
            if not runner.apply("host", self.host, prepared):
                return False
            files = VmBoxFiles(self.layout)
            self.layout.folder.vm_domain_type.write_text(accelerator(files.kernel, files.folder, self.console) + "\n")
        steps.append(Machines(self))
        ok_ = runner.apply("host", self.host, steps)
        self._ssh = None
        return ok_

    def vm_box(self, images: Mapping[str, NodeImage]) -> VmBox:
        """The libvirt box: every package of the lab's nodes; the services of those not on every node disabled."""
        packages = tuple(dict.fromkeys(p for image in images.values() for p in image.packages))
        everywhere = set.intersection(*(set(image.packages) for image in images.values())) if images else set()
        return VmBox(self.layout, packages, tuple(p for p in packages if p not in everywhere))

    def _read(self, *words: str, tries: int = 1) -> str:
        """Output of a read-only vagrant command (retried: right after `up`, a machine may not report yet)."""
        for attempt in range(tries):
            proc = subprocess.run(["vagrant", *words], env={**os.environ, **self.env}, capture_output=True, text=True)
            if proc.returncode == 0:
                return proc.stdout
            if attempt + 1 < tries:
                time.sleep(1)
        reason = " ".join((proc.stderr or proc.stdout).split())[:300]
        raise ProviderError(f"`vagrant {' '.join(words)}` failed: {reason}")

    def ssh_params(self, node: str) -> SshParams:
        if self._ssh is None:
            self._ssh = parse_ssh_config(self._read("ssh-config", tries=10))
        found = self._ssh.get(node)
        if found is None:
            raise ProviderError(f"vagrant ssh-config knows no machine {node}: run `invoke build --provider vagrant`")
        return SshParams(
            host=found["hostname"], user=found.get("user", "vagrant"), port=int(found.get("port", "22")),
            key_file=Path(found["identityfile"]), sudo=True,
            known_hosts=self.layout.known_hosts, trust_new_hosts=True,
        )

    def stop_hard(self, node: str) -> None:
        """The power cut: `vagrant halt --force`; with libvirt the VM forced off (vagrant-libvirt's halt first
        waits up to a minute for a clean shutdown)."""
        if self.backend == "libvirt":
            must(LocalExecutor(node, self.console).run(f"{VIRSH} destroy {self.lab.name}-{node}"))
        else:
            must(LocalExecutor(node, self.console).run(self.vagrant("halt", "--force", node)))

    def start(self, node: str) -> None:
        must(LocalExecutor(node, self.console).run(self.vagrant("up", "--no-provision", node)))
        self._ssh = None

    def destroy(self, runner: Runner) -> bool:
        self.console.heading(f"destroy: lab {self.lab.name} on Vagrant ({self.backend})")
        steps: list[Step] = [MachinesGone(self)]
        if self.backend == "lxc":
            steps += [ResolverGone(self.layout), NatGone(self.layout), BridgeGone(self.layout)]
        if self.backend == "libvirt":
            steps += [LabNetworkGone(self.lab), LabPoolGone(self.lab)]
        steps.append(StateGone(self.layout))
        return runner.apply("host", self.host, steps)

    def status(self) -> list[NodeStatus]:
        states: dict[str, str] = {}
        if Path(self.env["VAGRANT_DOTFILE_PATH"]).is_dir():  # asking Vagrant would create its folder
            try:
                states = parse_status(self._read("status", "--machine-readable"))
            except ProviderError:
                pass
        return [NodeStatus(n.name, states.get(n.name, "missing"), str(n.address), f"vagrant:{n.name}") for n in self.lab.nodes]

    @property
    def bridge(self) -> str | None:
        """The lab's bridge on this host: LXC's, or the one libvirt's network of the lab makes."""
        return self.layout.bridge if self.backend in ("lxc", "libvirt") else None

    def network_present(self) -> bool:
        if self.bridge:
            return os.path.isdir(f"/sys/class/net/{self.bridge}")
        return misrouted(self.lab.addresses) is None

    def missing_network(self) -> str | None:
        if self.bridge and not self.network_present():
            return f"no bridge {self.bridge}"
        return misrouted(self.lab.addresses, self.bridge)


class Machines(Step):
    """Every machine of the Vagrantfile is up (created without provisioning: that is foobar_fab's job)."""

    name = "machines"

    def __init__(self, provider: VagrantProvider) -> None:
        self.provider = provider

    def probe(self) -> str:
        return self.provider.vagrant("status", "--machine-readable")

    def decide(self, probe: Outcome) -> Plan:
        states = parse_status(probe.stdout)
        wanted = [n.name for n in self.provider.lab.nodes]
        if all(states.get(n) == "running" for n in wanted):
            return ok(f"{len(wanted)} machines running")
        waiting = ", ".join(f"{n} {states.get(n, 'missing')}" for n in wanted if states.get(n) != "running")
        return change(f"brought up ({waiting})", Run(self.provider.vagrant("up", "--no-provision", "--provider", self.provider.backend)))


class MachinesGone(Step):
    """No machine of this lab is left in Vagrant."""

    name = "machines"

    def __init__(self, provider: VagrantProvider) -> None:
        self.provider = provider

    def probe(self) -> str:
        return f"{self.provider.vagrant('status', '--machine-readable')} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        present = [n for n, s in parse_status(probe.stdout).items() if s != "missing"]
        if not present:
            return ok("no machines")
        return change(f"destroyed {', '.join(sorted(present))}", Run(self.provider.vagrant("destroy", "--force")))


class StateFolder(Step):
    """The lab's state folder exists (0700): Vagrant's machine data and the NAT rules live there."""

    name = "state"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def probe(self) -> str:
        return f"stat -c %a {self.folder} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        if lines(probe.stdout) == ["700"]:
            return ok(f"{self.folder} exists")
        return change(f"{self.folder} made", Run(f"mkdir -p {self.folder} && chmod 0700 {self.folder}"))
