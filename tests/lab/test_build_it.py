"""Every build-it lab on a real lab, one after another on one lab (the seed design's, then the secured design's
after an upgrade in place): after the start the grade fails, naming what is still wrong in the student's
terms; after the reference solution it passes (exit 0); after the stop the lab runs its design again, every
check passing, the result recorded. While a lab runs, a build of its design leaves the student's part alone
(HAProxy's config stays without web-03) and a build of another design is refused.

The floating address's owner runs on a lab of the scaled design of its own, made and destroyed here.

Runs on the tests' lab after test_exercises (the seed design) and leaves the seed design behind. On a lab
of its own: FOOBAR_TEST_LAB=<name> FOOBAR_TEST_SUBNET=<subnet> FOOBAR_TEST_SCALED_SUBNET=<another> (it is
then built first).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from foobar_fab import build as building
from foobar_fab import buildit_underway as states
from foobar_fab import design, topology
from foobar_fab.buildit import runner
from foobar_fab.exercises.state import finished_exercises
from foobar_fab.observe import vip
from foobar_fab.roles.loadbalancer import CONFIG
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.statefolder import LabFolder
from foobar_fab.steps import Runner

from .conftest import build, live_lab, quiet_session
from .test_exercises import scaled_lab_beside
from .test_lifecycle import INVOKE

#: For each build-it lab: what its grade names as still wrong right after the start.
WRONG_AT_START = {
    "add-web-server": ("web-03 is no server of backend web in lb-01's HAProxy", "no request through lb-01 reached web-03"),
    "https": ("nothing answers on lb-01:443", "answers HTTP 200, not 301 -> https://www.foobar.com/api/health"),
    "replica": ("web-02 replicates from nobody", "web-02 has no copy of the database foobar"),
    "web-firewall": ("web-02:3306 reachable from outside", "web-02:22 reachable from lb-01", "foobar-firewall is not installed"),
    "monitor-new-server": ("Prometheus on mon-01 does not scrape web-03's node",),
    "floating-owner": (".100 is on lb-01, not on lb-02", "(priorities: lb-02 140, lb-01 150)"),
}
#: Where each runs: the seed design, then the secured one (upgraded in place, as a class does), which has monitoring
#: and already a firewall (so the firewall lab's start has less to build).
ON_SEED = ("add-web-server", "https", "replica")
ON_SECURED = ("web-firewall", "monitor-new-server")


@pytest.fixture(scope="module")
def seed_lab(built_lab: object) -> Settings:
    settings: Settings = built_lab.settings  # type: ignore[attr-defined]
    result, output = build(settings)
    assert result.ok, output
    return settings


def invoke(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(settings.state_root)}
    return subprocess.run([INVOKE, *args, "--lab-file", str(settings.lab_file)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def start_grade_solve_grade_stop(settings: Settings, name: str) -> None:
    """One build-it lab from start to stop: failing (saying what is wrong) before the work, passing after."""
    started = invoke(settings, "build-it.start", name)
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"build-it lab {name} started" in started.stdout
    graded = invoke(settings, "build-it.grade")
    assert graded.returncode == 1, graded.stdout + graded.stderr
    for wrong in WRONG_AT_START[name]:
        assert wrong in graded.stdout, (name, graded.stdout)
    if name == "add-web-server":
        the_build_leaves_the_students_work_alone(settings)
    solved = invoke(settings, "build-it.solve")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    graded = invoke(settings, "build-it.grade")
    assert graded.returncode == 0 and "failed" not in graded.stdout, graded.stdout + graded.stderr
    assert f"built: {name}" in graded.stdout
    stopped = invoke(settings, "build-it.stop")  # its build checks the lab: it ends well only when every check passes
    assert stopped.returncode == 0 and "runs its design again" in stopped.stdout, stopped.stdout + stopped.stderr
    session, _ = quiet_session(settings)
    assert states.load(session.folder) is None and not session.folder.build_it_design.exists()


def test_each_build_it_lab_fails_before_the_work_and_passes_after(seed_lab: Settings, tmp_path: Path) -> None:
    session, _ = quiet_session(seed_lab)
    assert sorted(b.name for b in runner.applicable(session.lab)) == sorted([*ON_SEED, "web-firewall"])
    for name in ON_SEED:
        start_grade_solve_grade_stop(seed_lab, name)
    secured = tmp_path / "secured.yml"
    secured.write_text(topology.to_yaml(topology.relocate(design.load(PROJECT_ROOT / "configs/secured.yml"), session.lab.name, str(session.lab.subnet))))
    on_secured = seed_lab.but(lab_file=secured)
    try:
        result, output = build(on_secured)
        assert result.ok, output
        for name in ON_SECURED:
            start_grade_solve_grade_stop(on_secured, name)
    finally:
        result, output = build(seed_lab)
    assert result.ok, output
    session, _ = quiet_session(seed_lab)
    done = [r for r in finished_exercises(session.folder) if r.get("kind") == "build-it"][-len(ON_SEED + ON_SECURED):]
    assert [(r["exercise"], r["outcome"], r["reference_fix"]) for r in done] == [(n, "solved", True) for n in (*ON_SEED, *ON_SECURED)]
    containers = subprocess.run(["lxc-ls"], capture_output=True, text=True, check=True).stdout.split()
    assert f"{session.lab.name}-web-03" not in containers  # the server two of the labs added went with their design


@pytest.fixture
def scaled_lab(seed_lab: Settings, tmp_path: Path) -> Iterator[Settings]:
    """A lab of the scaled design of its own: the test lab's name plus "k" (test_exercises' scaled lab is gone by then)."""
    with scaled_lab_beside(seed_lab, tmp_path, "k") as settings:
        yield settings


def test_the_floating_address_changes_owner_on_the_scaled_design(scaled_lab: Settings) -> None:
    start_grade_solve_grade_stop(scaled_lab, "floating-owner")
    with live_lab(scaled_lab) as (lab, _):
        assert vip.holders(lab.shells, lab.lab) == [lab.lab.balancers[0].name]  # the stop gave the design's first balancer the address back


def the_build_leaves_the_students_work_alone(settings: Settings) -> None:
    """While add-web-server runs: the build of its design says it leaves lb-01's HAProxy to the student (who has not
    added web-03 yet), and a build of the lab's own design is refused."""
    refused = invoke(settings, "build")
    assert refused.returncode != 0 and "build-it lab add-web-server runs on lab" in refused.stderr, refused.stderr
    own_design = settings.but(lab_file=LabFolder(settings.state_dir(design.load(settings.lab_file).name)).build_it_design)
    session, output = quiet_session(own_design, any_design=True)
    # The build's provisioning (its checks would only wait for web-03 to come UP, which it does not).
    assert building.converge(session, Runner(session.console), session.secrets, tls=building.certificates(session)), output.getvalue()
    assert "lb-01    ok       loadbalancer: left as the student made it" in output.getvalue()
    with live_lab(own_design) as (lab, _):
        assert "web-03" not in lab.shells.must("lb-01", f"cat {CONFIG}")
