"""Every build-it lab of the seed design on a real lab, one after another on one lab: after the start the grade
fails, naming what is still wrong in the student's terms; after the reference solution it passes (exit 0);
after the stop the lab runs its design again, every check passing, the result recorded. While a lab runs, a
build of its design leaves the student's part alone (HAProxy's config stays without web-03) and a build of
another design is refused.

Runs on the tests' lab after test_exercises (the seed design) and leaves the seed design behind. On a lab
of its own: FOOBAR_TEST_LAB=<name> FOOBAR_TEST_SUBNET=<subnet> (it is then built first).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from foobar_fab import build as building
from foobar_fab import checks, design
from foobar_fab.buildit import runner
from foobar_fab.buildit import state as states
from foobar_fab.exercises.state import finished_exercises
from foobar_fab.roles.loadbalancer import CONFIG
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.statefolder import LabFolder

from .conftest import build, live_lab, quiet_session
from .test_lifecycle import INVOKE

#: For each build-it lab of the seed design: what its grade names as still wrong right after the start.
WRONG_AT_START = {
    "add-web-server": ("web-03 is no server of backend web in lb-01's HAProxy", "no request through lb-01 reached web-03"),
    "web-firewall": ("web-02:3306 reachable from outside", "web-02:22 reachable from lb-01", "foobar-firewall is not installed"),
    "https": ("nothing answers on lb-01:443", "answers HTTP 200, not 301 -> https://www.foobar.com/api/health"),
    "replica": ("web-02 replicates from nobody", "web-02 has no copy of the database foobar"),
}


@pytest.fixture(scope="module")
def seed_lab(built_lab: object) -> Settings:
    settings: Settings = built_lab.settings  # type: ignore[attr-defined]
    result, output = build(settings)
    assert result.ok, output
    return settings


def invoke(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(settings.state_root)}
    return subprocess.run([INVOKE, *args, "--lab-file", str(settings.lab_file)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_seed_designs_build_it_labs_fail_before_the_work_and_pass_after(seed_lab: Settings) -> None:
    session, _ = quiet_session(seed_lab)
    names = [b.name for b in runner.applicable(session.lab)]
    assert names == list(WRONG_AT_START)
    for name in names:
        started = invoke(seed_lab, "build-it.start", name)
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"build-it lab {name} started" in started.stdout
        graded = invoke(seed_lab, "build-it.grade")
        assert graded.returncode == 1, graded.stdout + graded.stderr
        for wrong in WRONG_AT_START[name]:
            assert wrong in graded.stdout, (name, graded.stdout)
        if name == "add-web-server":
            the_build_leaves_the_students_work_alone(seed_lab)
        solved = invoke(seed_lab, "build-it.solve")
        assert solved.returncode == 0, solved.stdout + solved.stderr
        graded = invoke(seed_lab, "build-it.grade")
        assert graded.returncode == 0 and "failed" not in graded.stdout, graded.stdout + graded.stderr
        assert f"built: {name}" in graded.stdout
        stopped = invoke(seed_lab, "build-it.stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        session, _ = quiet_session(seed_lab)
        assert states.load(session.folder) is None and not session.folder.build_it_design.exists()
        with live_lab(seed_lab) as (lab, _):
            assert [c.id for c in checks.check(lab) if not c.ok] == [], name
    session, _ = quiet_session(seed_lab)
    done = [r for r in finished_exercises(session.folder) if r.get("kind") == "build-it"][-len(names):]
    assert [(r["exercise"], r["outcome"], r["reference_fix"]) for r in done] == [(n, "solved", True) for n in names]
    containers = subprocess.run(["lxc-ls"], capture_output=True, text=True, check=True).stdout.split()
    assert f"{session.lab.name}-web-03" not in containers  # add-web-server's server went with its design


def the_build_leaves_the_students_work_alone(settings: Settings) -> None:
    """While add-web-server runs: a build of its design says it leaves lb-01's HAProxy to the student (who has not
    added web-03 yet: its checks fail), and a build of the lab's own design is refused."""
    refused = invoke(settings, "build")
    assert refused.returncode != 0 and "build-it lab add-web-server runs on lab" in refused.stderr, refused.stderr
    own_design = settings.but(lab_file=LabFolder(settings.state_dir(design.load(settings.lab_file).name)).build_it_design)
    session, output = quiet_session(own_design, any_design=True)
    result = building.build(session)
    assert not result.ok and "lb-01    ok       loadbalancer: left as the student made it" in output.getvalue()
    with live_lab(own_design) as (lab, _):
        assert "web-03" not in lab.shells.must("lb-01", f"cat {CONFIG}")
