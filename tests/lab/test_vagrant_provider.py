"""`--provider vagrant` for real, with Vagrant's LXC provider and a box built from the lab's own base.

VirtualBox stays the users' default (the Vagrantfile); no VirtualBox can run here, vagrant-lxc can.
A lab of its own (fftvag on 10.181.59.0/24): build, checks, one drill, destroy.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from foobar_fab import design, topology
from foobar_fab.drills.catalog import by_name
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.settings import PROJECT_ROOT, Settings

from .conftest import build, destroy, live_lab, quiet_session

pytestmark = pytest.mark.skipif(shutil.which("vagrant") is None, reason="Vagrant is not installed (make test installs it)")


@pytest.fixture(scope="module")
def vagrant_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("vagrant")
    lab = topology.relocate(design.load(PROJECT_ROOT / "configs/lab.yml"), "fftvag", "10.181.59.0/24")
    (folder / "lab.yml").write_text(topology.to_yaml(lab))
    settings = Settings.from_mapping(
        {"lab_file": str(folder / "lab.yml"), "state_dir": str(folder / "state"), "provider": "vagrant", "vagrant_provider": "lxc"}
    )
    destroy(settings)
    yield settings
    destroy(settings)


def test_build_over_vagrant_passes_the_checks(vagrant_lab: Settings) -> None:
    result, output = build(vagrant_lab)
    assert result.ok, output
    assert "vagrant up --no-provision --provider lxc" in output
    assert "check: replication threads running" in output
    session, _ = quiet_session(vagrant_lab)
    assert {s.name: s.state for s in session.provider.status()} == {"lb-01": "running", "web-01": "running", "web-02": "running"}
    assert session.provider.ssh_params("web-01").user == "vagrant"


def test_a_drill_runs_on_vagrant_machines(vagrant_lab: Settings) -> None:
    with live_lab(vagrant_lab) as (lab, output):
        report = run_drill(lab, by_name("kill-web2"), DrillOptions(20.0, 5.0))
    assert report["recovered"] and report["acknowledged_writes_lost"] == 0, output.getvalue()
    assert "vagrant halt --force web-02" in output.getvalue()
    assert report["totals"]["reads"]["failed"] == 0


def test_destroy_removes_the_machines_and_the_network(vagrant_lab: Settings) -> None:
    destroy(vagrant_lab)
    session, _ = quiet_session(vagrant_lab)
    assert {s.state for s in session.provider.status()} == {"missing"}
    assert not list(Path("/var/lib/lxc").glob("fftvag-*"))
    assert not Path("/sys/class/net/fftvag-br").exists()
    assert not vagrant_lab.state_dir("fftvag").exists()
