"""Every break-fix exercise on a real lab: after the start the symptom shows to a student's commands and
the grade fails (also with the right cause); after the reference fix the grade passes. The seed design's
exercises run one after another on one lab, as a class does them, in two orders: each graded after its fix,
then each stopped after its fix (the order a class reported first: a replica left short of a row by one
exercise broke the next). After each, the lab is as built: every check passes and the replicas hold what
the primary holds.

Runs on the tests' lab after test_secured (the seed design) and leaves the seed design behind. To run it
on a lab of your own, already built: FOOBAR_TEST_LAB_FILE=<its design file> (and FOOBAR_TEST_STATE_DIR
if its state is not in .lab/). The scaled design's exercise runs once configs/scaled.yml exists, on a
lab of its own (the test lab's name plus "s"), destroyed afterwards.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from foobar_fab import checks, design, topology
from foobar_fab.exercises import runner, symptoms
from foobar_fab.exercises.catalog import EXERCISES, by_name
from foobar_fab.exercises.faults import Details
from foobar_fab.exercises.record import fill
from foobar_fab.exercises.state import ExerciseError
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.statefolder import LabFolder
from foobar_fab.topology import Lab

from .conftest import build, destroy, live_lab, quiet_session
from .test_lifecycle import INVOKE

SEED = 7
SCALED = PROJECT_ROOT / "configs/scaled.yml"


@pytest.fixture(scope="module")
def seed_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The lab the exercises run on, built with the seed design; exercise keys in a folder of the test's own."""
    keys = tmp_path_factory.mktemp("exercise-keys")
    own = os.environ.get("FOOBAR_TEST_LAB_FILE")
    if own:
        state = os.environ.get("FOOBAR_TEST_STATE_DIR", str(PROJECT_ROOT / ".lab"))
        settings = Settings.from_mapping({"lab_file": own, "state_dir": state, "exercise_dir": str(keys)})
    else:
        settings = request.getfixturevalue("built_lab").settings.but(exercise_dir=keys)
    result, output = build(settings)
    assert result.ok, output
    return settings


def design_of(settings: Settings) -> Lab:
    return design.load(settings.lab_file)


def relocated(settings: Settings, path: Path, folder: Path, name: str | None = None, subnet: str | None = None) -> Settings:
    """Another design file for the same lab (or, with a name and subnet, a lab of its own)."""
    lab = design_of(settings)
    target = folder / path.name
    target.write_text(topology.to_yaml(topology.relocate(design.load(path), name or lab.name, subnet or str(lab.subnet))))
    return settings.but(lab_file=target)


def cause_and_details(settings: Settings) -> tuple[str, Details]:
    session, _ = quiet_session(settings)
    state = runner.drawer(session).load()
    return fill(by_name(state.exercise).causes[0], state.details), state.details


# What a student would run first, and what it shows while the fault is there: (node or "host", command, pattern).
Witness = Callable[[Details], tuple[str, str, str]]
POSTS = (
    "for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{{http_code}} ' -H 'Host: {domain}' -H 'Content-Type: application/json' "
    "-d '{{\"body\": \"hello\"}}' http://{entry}/api/messages; done"
)
STATS = "curl -s 'http://{lb_address}:8404/;csv'"
SERVED = "for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null -D - -H 'Host: {domain}' http://{entry}/ | grep -i '^x-served-by'; done"
EXPIRED = "curl -sS -o /dev/null --cacert {state}/tls/ca.pem --resolve {domain}:443:{entry} https://{domain}/ 2>&1; true"
PROMETHEUS = "curl -s http://{mon_address}:9090/api/v1/targets; curl -s http://{mon_address}:9090/api/v1/rules"


def never_from(node: str) -> str:
    """Answers seen, and none of them from the node."""
    return rf"(?i)\A(?![\s\S]*x-served-by: {re.escape(node)}\b)[\s\S]*x-served-by: "


WITNESSES: dict[str, Witness] = {
    "site-unavailable": lambda d: ("host", "curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: {domain}' http://{entry}/", r"^503$"),
    "server-down-after-change": lambda d: ("host", STATS, rf"(?m)^web,{d['node']},.*,DOWN,"),
    "server-down-after-reboot": lambda d: (d["node"], "systemctl is-active foobar-app; true", r"inactive|failed"),
    "nobody-touched-it": lambda d: ("host", STATS, rf"(?m)^web,{d['web']},.*,DOWN,"),
    "some-posts-fail": lambda d: ("host", POSTS, r"5\d\d"),
    "posts-fail-after-cleanup": lambda d: ("host", POSTS, r"5\d\d"),
    "hardened-database": lambda d: ("host", POSTS, r"5\d\d"),
    "stale-replica": lambda d: (d["replica"], "mariadb -e 'SHOW REPLICA STATUS\\G'", r"Slave_SQL_Running: No"),
    "after-maintenance": lambda d: (d["replica"], "mariadb -e 'SHOW REPLICA STATUS\\G'", r"Last_IO_Error: .*Access denied"),
    "replica-stuck": lambda d: (d["replica"], "df -h /var/lib/mysql", r"100%"),
    "certificate-warning": lambda d: ("host", EXPIRED, r"expired"),
    "floating-address-moved": lambda d: (d["backup"], "ip -o -4 addr show", rf" {re.escape(d['vip'])}/"),
    "uneven-load": lambda d: ("host", SERVED, rf"(?i)(?:[\s\S]*x-served-by: {re.escape(d['busy'])}\b){{6}}"),
    "server-up-but-idle": lambda d: ("host", SERVED, never_from(d["web"])),
    "warning-after-renewal": lambda d: ("host", EXPIRED, r"expired"),
    "floating-address-twice": lambda d: (d["changed"], "ip -o -4 addr show", rf" {re.escape(d['vip'])}/"),
    "no-alert-came": lambda d: ("host", PROMETHEUS, r'"health":"down"' if d["variant"] == "firewall" else r'state=\\"down\\"'),
    "user-saw-an-error": lambda d: ("host", "curl -s -o /dev/null -w '%{{http_code}}' -H 'Host: {domain}' http://{entry}/", r"^200$"),
}


def student_sees(settings: Settings, name: str, details: Details) -> None:
    """The witness's command shows the symptom (looked at again for a few seconds, as a student would)."""
    where, command, pattern = WITNESSES[name](details)
    command = fill(command, details)
    deadline = time.monotonic() + 10
    while True:
        if where == "host":
            seen = subprocess.run(["bash", "-c", command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60).stdout
        else:
            with live_lab(settings) as (lab, _):
                seen = lab.shells.run(where, command, show=False, timeout=30).stdout
        if re.search(pattern, seen) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert re.search(pattern, seen), f"{name}: `{command}` on {where} shows {seen!r}, not /{pattern}/"


def grade(settings: Settings, cause: str | None) -> tuple[bool, str]:
    said: list[str] = []
    with live_lab(settings) as (lab, _):
        passed = runner.grade(lab, cause, said.append)
    return passed, "\n".join(said)


def start_and_fail(settings: Settings, name: str, seed: int) -> str:
    """Start: the report is told, a student's first command shows the symptom, and the grade fails (also with the
    right cause); the cause to name."""
    exercise = by_name(name)
    said: list[str] = []
    with live_lab(settings) as (lab, _):
        runner.start(lab, name, seed, said.append)
    cause, details = cause_and_details(settings)
    assert fill(exercise.report, details) in "\n".join(said)
    student_sees(settings, name, details)
    if exercise.shows:
        passed, output = grade(settings, cause)
        assert not passed and "failed  exercise.symptom" in output, output  # the right cause is not enough
    else:
        assert not grade(settings, None)[0] and not grade(settings, "lb-01:haproxy")[0]
    return cause


def solve(settings: Settings) -> None:
    with live_lab(settings) as (lab, _):
        runner.solve(lab, lambda line: None)


def solve_and_pass(settings: Settings, name: str, cause: str) -> None:
    solve(settings)
    passed, output = grade(settings, cause)
    assert passed, f"{name}: {output}"
    assert not runner.drawer(quiet_session(settings)[0]).running()


def stop(settings: Settings) -> None:
    session, _ = quiet_session(settings)
    runner.stop(session, lambda line: None)  # raises unless the restored lab passes every check
    assert not runner.drawer(session).running()


def as_built(settings: Settings, after: str) -> None:
    """What `invoke check` checks passes, and every replica holds what its primary holds (no check of the build sees that)."""
    with live_lab(settings) as (lab, _):
        failed = [f"{c.who}: {c.id}: {c.seen}" for c in checks.check(lab) if not c.ok]
        lacking = symptoms.behind(lab, symptoms.SETTLE) if lab.lab.replicas else {}
    assert not failed and not lacking, f"after {after}: {failed + list(lacking.values())}"


def run_exercise(settings: Settings, name: str) -> None:
    """Start, see the symptom, fail the grade, solve, pass; start again with another seed and give up."""
    solve_and_pass(settings, name, start_and_fail(settings, name, SEED))
    with live_lab(settings) as (lab, _):
        runner.start(lab, name, SEED + 1, lambda line: None)
    stop(settings)


@pytest.fixture(autouse=True)
def no_exercise_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that fails half-way gives its exercise up, so the next one starts on a healthy lab."""
    yield
    labs = [name for name in ("seed_lab", "scaled_lab") if name in request.fixturenames]
    for name in labs:
        # the design the lab runs (the seed's, or the secured one while that module fixture lives), as a command given no file
        session, _ = quiet_session(request.getfixturevalue(name).but(lab_file_named=False))
        if runner.drawer(session).running():
            runner.stop(session, lambda line: None)


def applying(lab: Lab, *not_on: Lab) -> list[str]:
    return [e.name for e in EXERCISES if e.applies(lab) and not any(e.applies(other) for other in not_on)]


SEED_DESIGN = design.load(PROJECT_ROOT / "configs/lab.yml")
SECURED_DESIGN = design.load(PROJECT_ROOT / "configs/secured.yml")


def test_every_exercise_has_a_witness() -> None:
    assert set(WITNESSES) == {e.name for e in EXERCISES}


def test_the_answer_is_not_in_what_the_student_reads(seed_lab: Settings) -> None:
    """Through the commands themselves: the start shows the symptom only; neither `invoke check` nor the
    state folder tells which port was changed; hints come in order; the grade says what fails, by id."""
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(seed_lab.state_root), "INVOKE_LAB_EXERCISE_DIR": str(seed_lab.exercise_dir)}

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([INVOKE, *args, "--lab-file", str(seed_lab.lab_file)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)

    started = invoke("exercise.start", "server-down-after-change", "--seed", str(SEED))
    assert started.returncode == 0, started.stderr
    cause, details = cause_and_details(seed_lab)
    checked = invoke("check", "--json")
    assert checked.returncode == 1 and '"id": "lb.servers-up"' in checked.stdout
    folder = seed_lab.state_dir(design_of(seed_lab).name)
    results_file = LabFolder(folder).exercise_results
    changed = f":{details['port']};"  # the port Nginx now proxies to, as its config says
    assert changed not in started.stdout + checked.stdout and details["port"] not in started.stdout
    for kept in (p for p in folder.rglob("*") if p.is_file() and p != results_file):  # finished exercises are kept in clear
        text = kept.read_text(errors="replace")
        assert changed not in text and "server-down-after-change" not in text and cause not in text, kept
    again = invoke("exercise.start", "site-unavailable")
    assert again.returncode != 0 and again.stderr.strip().count("\n") == 0 and "already running" in again.stderr
    first, second = invoke("exercise.hint"), invoke("exercise.hint")
    assert "hint 1 of" in first.stdout and "hint 2 of" in second.stdout
    wrong = invoke("exercise.check", "--cause", "lb-01:haproxy")
    assert wrong.returncode == 1 and "failed  exercise.symptom" in wrong.stdout and "lb-01:haproxy not judged, not counted" in wrong.stdout
    assert "is not the cause" not in wrong.stdout  # the grade is no oracle before the repair
    bad = invoke("exercise.check", "--cause", "web-09:nginx")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --cause: ") and "'web-09' is no node" in bad.stderr and "Traceback" not in bad.stderr
    stopped = invoke("exercise.stop")
    assert stopped.returncode == 0 and f"--cause {cause}" in stopped.stdout and stopped.stdout.rstrip().endswith("every check passes")
    results = results_file.read_text().splitlines()
    assert '"outcome": "stopped"' in results[-1] and '"hints": 2' in results[-1] and '"attempts": 0' in results[-1]


def test_an_exercise_refuses_an_unhealthy_lab_and_other_designs(seed_lab: Settings) -> None:
    with live_lab(seed_lab) as (lab, _):
        with pytest.raises(ExerciseError, match="needs a design with https"):
            runner.start(lab, "certificate-warning", SEED, print)
        lab.shells.must("web-01", "systemd-run --quiet --unit=ffx-failed false; sleep 1", show=False)  # systemd: degraded
        try:
            with pytest.raises(ExerciseError, match=r"not healthy \(node\.systemd failed\)"):
                runner.start(lab, "site-unavailable", SEED, print)
        finally:
            lab.shells.must("web-01", "systemctl reset-failed ffx-failed", show=False)
    assert not runner.drawer(quiet_session(seed_lab)[0]).running()


#: The seed design's exercises in the catalogue's order, each graded; and the one whose stop broke the ones after
#: it in a class's order (stale-replica, some-posts-fail, replica-stuck: the last one's reference fix timed out).
IN_ORDER = applying(SEED_DESIGN)
LEAKED = "stale-replica"


def test_the_seed_exercises_one_after_another_each_graded(seed_lab: Settings) -> None:
    """As a class does them on one lab: start, the grade fails, solve, the grade passes; the lab is then as built."""
    for name in IN_ORDER:
        solve_and_pass(seed_lab, name, start_and_fail(seed_lab, name, SEED + 1))
        as_built(seed_lab, name)


def test_a_stopped_exercise_leaves_the_replica_holding_what_the_primary_holds(seed_lab: Settings) -> None:
    """Start, the grade fails, solve, then stop (the stop's restore undoes the fix): the lab is as built.

    stale-replica's stop used to delete its row on the replica again after the primary's real row of that id had
    replicated: the replica then lacked a row, and every exercise after it that waits for the replica (replica-stuck
    in a class's order) timed out. `as_built` compares the databases right after the stop."""
    start_and_fail(seed_lab, LEAKED, SEED)
    solve(seed_lab)
    stop(seed_lab)
    as_built(seed_lab, LEAKED)


@pytest.fixture(scope="module")
def secured_lab(seed_lab: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The same lab upgraded to the secured design, and built back to the seed design afterwards."""
    settings = relocated(seed_lab, PROJECT_ROOT / "configs/secured.yml", tmp_path_factory.mktemp("secured-exercises"))
    result, output = build(settings)
    assert result.ok, output
    yield settings
    result, output = build(seed_lab)
    assert result.ok, output


@pytest.mark.parametrize("name", applying(SECURED_DESIGN, SEED_DESIGN))
def test_exercise_on_the_secured_design(secured_lab: Settings, name: str) -> None:
    run_exercise(secured_lab, name)


@contextmanager
def scaled_lab_beside(seed_lab: Settings, folder: Path, suffix: str) -> Iterator[Settings]:
    """A lab of the scaled design of its own, built, and destroyed afterwards: the test lab's name plus `suffix`,
    on 10.181.65.0/24 (with a lab of your own, on the subnet after its own; FOOBAR_TEST_SCALED_SUBNET chooses another)."""
    lab = design_of(seed_lab)
    following = ipaddress.IPv4Network(int(lab.subnet.network_address) + 256).supernet(new_prefix=24)
    subnet = os.environ.get("FOOBAR_TEST_SCALED_SUBNET", str(following) if os.environ.get("FOOBAR_TEST_LAB_FILE") else "10.181.65.0/24")
    settings = relocated(seed_lab, SCALED, folder, f"{lab.name}{suffix}", subnet)
    result, output = build(settings)
    try:
        assert result.ok, output
        yield settings
    finally:
        destroy(settings)


@pytest.fixture(scope="module")
def scaled_lab(seed_lab: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The exercises' scaled lab (the test lab's name plus "s")."""
    with scaled_lab_beside(seed_lab, tmp_path_factory.mktemp("scaled-exercises"), "s") as settings:
        yield settings


@pytest.mark.skipif(not SCALED.exists(), reason="configs/scaled.yml does not exist yet (the scaled design)")
@pytest.mark.parametrize("name", applying(design.load(SCALED), SEED_DESIGN, SECURED_DESIGN) if SCALED.exists() else ["floating-address-moved"])
def test_exercise_on_the_scaled_design(scaled_lab: Settings, name: str) -> None:
    run_exercise(scaled_lab, name)
