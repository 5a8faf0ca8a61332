"""`--provider vagrant` on real virtual machines: Vagrant's libvirt provider, QEMU, a box of the lab's own.

KVM where it runs guests, QEMU's emulation where it does not (as here: KVM is nested and runs no guest).
One deep test on a lab of its own (fftvm on 10.181.77.0/24; FOOBAR_TEST_VM_LAB and FOOBAR_TEST_VM_SUBNET
move it): the seed design built on three VMs and checked, a web node's power cut (the VM forced off) with
its drill's verdicts (every acknowledged write kept, the lab recovered), and a destroy that leaves no domain, volume, pool, network or state of the lab (only
the cached box).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from foobar_fab import design, topology
from foobar_fab.drills.catalog import by_name
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.drills.traffic import drill_rate
from foobar_fab.providers.libvirt_host import VIRSH, pool_path
from foobar_fab.providers.vm_box import VM_BOX_NAME
from foobar_fab.settings import PROJECT_ROOT, Settings

from .conftest import build, destroy, live_lab, quiet_session

NAME = os.environ.get("FOOBAR_TEST_VM_LAB", "fftvm")
SUBNET = os.environ.get("FOOBAR_TEST_VM_SUBNET", "10.181.77.0/24")

pytestmark = pytest.mark.skipif(
    shutil.which("vagrant") is None or shutil.which("virsh") is None, reason="Vagrant or libvirt is not installed (make test installs them)"
)


def virsh(*words: str) -> list[str]:
    """The lines a read-only virsh command prints, blank ones left out."""
    proc = subprocess.run(f"{VIRSH} {' '.join(words)}", shell=True, capture_output=True, text=True, check=True)
    return [row.strip() for row in proc.stdout.splitlines() if row.strip()]


def test_the_seed_lab_on_three_vms_builds_survives_a_power_cut_and_goes(tmp_path: Path) -> None:
    lab = topology.relocate(design.load(PROJECT_ROOT / "configs/lab.yml"), NAME, SUBNET)
    (tmp_path / "lab.yml").write_text(topology.to_yaml(lab))
    settings = Settings.from_mapping(
        {"lab_file": str(tmp_path / "lab.yml"), "state_dir": str(tmp_path / "state"), "provider": "vagrant", "vagrant_provider": "libvirt"}
    )
    destroy(settings)
    try:
        kvm_group = os.stat("/dev/kvm").st_gid if os.path.exists("/dev/kvm") else None
        result, output = build(settings)
        assert result.ok, output
        # Making the box must leave the host's /dev alone: /dev/kvm given to another group slowed libvirt to minutes
        assert kvm_group is None or os.stat("/dev/kvm").st_gid == kvm_group
        assert "vagrant up --no-provision --provider libvirt" in output
        assert "check: replication threads running" in output
        verdict = next(row for row in output.splitlines() if "virtual machines " in row)
        domain_type = "kvm" if "accelerated by KVM" in verdict else "qemu"
        domains = sorted(d for d in virsh("list", "--name") if d.startswith(f"{NAME}-"))
        assert domains == [f"{NAME}-lb-01", f"{NAME}-web-01", f"{NAME}-web-02"], output
        assert f"<domain type='{domain_type}'" in "\n".join(virsh("dumpxml", f"{NAME}-web-01"))
        session, _ = quiet_session(settings)
        assert {s.name: s.state for s in session.provider.status()} == {"lb-01": "running", "web-01": "running", "web-02": "running"}

        with live_lab(settings) as (live, drill_output):
            rate = drill_rate(None, live)  # 5 requests/s under emulation: at 20, web-02 alone missed its health checks
            report = run_drill(live, by_name("kill-web1"), DrillOptions(rate, 5.0))
        said = drill_output.getvalue()
        assert f"destroy {NAME}-web-01" in said  # forced off
        assert ("CPU emulation" in said) == (domain_type == "qemu"), said
        failed = [e for e in report["expectations"] if not e["ok"]]
        assert not failed, failed
        # A real power cut loses the guest's page cache (a container's never does): with MariaDB's sync-binlog = 0,
        # web-01 lost its binary log's tail, restarted its GTIDs below web-02's, and replication stopped for good.
        assert report["recovered"] and report["acknowledged_writes_lost"] == 0, (report["lost_writes"], report["recovery_seconds"])
        assert {s.name: s.state for s in session.provider.status()}["web-01"] == "running"
    finally:
        destroy(settings)

    assert not [d for d in virsh("list", "--all", "--name") if d.startswith(f"{NAME}-")]
    assert not [n for n in virsh("net-list", "--all", "--name") if n.startswith(NAME)]
    assert not [p for p in virsh("pool-list", "--all", "--name") if p.startswith(NAME)]
    assert not pool_path(lab).exists()
    assert not Path(f"/sys/class/net/{NAME}-br").exists()
    assert not settings.state_dir(NAME).exists()
    assert VM_BOX_NAME in subprocess.run(["vagrant", "box", "list"], capture_output=True, text=True).stdout  # the box stays cached
