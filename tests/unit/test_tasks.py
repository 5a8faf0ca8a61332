"""The Invoke tasks: what `invoke --list` shows, and how a bad lab file ends `invoke build`."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Task

from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.tasks import ns

INVOKE = Path(sys.executable).with_name("invoke")
DRILLS = [
    "kill-web1", "kill-web2", "kill-lb", "stop-haproxy", "split-brain", "kill-app1", "stop-nginx-web1", "stop-app-web2", "slow-web1",
    "kill-db-primary", "failover", "partition-replica", "all", "durability", "stale-reads",
]
EXERCISE_TASKS = ["exercise.start", "exercise.hint", "exercise.check", "exercise.solve", "exercise.stop"]
BUILD_IT_TASKS = ["build-it.list", "build-it.start", "build-it.hint", "build-it.grade", "build-it.solve", "build-it.stop"]
LB = ["lb.show", "lb.weight", "lb.drain", "lb.maint", "lb.ready", "lb.balance", "lb.active-passive"]
TASKS = [
    "build", "check", "status", "ssh", "destroy", "watch", "scan", "sniff", "alerts", "web", "bench.build", "bench.site", "bench.class", "cache.show", "cache.clear",
    "db.status", "db.switchover", "db.failover", "db.rejoin", "db.rebuild", "db.orphans",
    "docs.capture", "docs.diagram", "docs.screenshot",
] + [f"drill.{d}" for d in DRILLS] + LB + ["exercise.list", *EXERCISE_TASKS] + BUILD_IT_TASKS + ["class.up", "class.status", "class.exercise", "class.grades", "class.web", "class.down", "lesson.start"]


def test_list_shows_the_tasks() -> None:
    """`invoke --list` offers exactly the lab's tasks."""
    assert sorted(ns.task_names) == sorted(TASKS)


@pytest.mark.parametrize("name", TASKS)
def test_task_is_documented(name: str) -> None:
    """Each task has a docstring and a help string for every parameter (and none for unknown ones)."""
    task: Task = ns[name]
    assert (task.__doc__ or "").strip()
    # get_arguments() consumes the task's help dict and raises on help for unknown parameters: use a copy.
    arguments = copy.deepcopy(task).get_arguments()
    undocumented = [a.name for a in arguments if not (a.help or "").strip()]
    assert undocumented == []


def run_invoke(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INVOKE), *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"lab: [\n", id="yaml-syntax"),
        pytest.param(b"lab:\n  name: fferr\n  subnet: 10.181.58.0/33\nnodes: {}\n", id="bad-subnet"),
        pytest.param(b"lab:\n  name: caf\xe9\n", id="not-utf8"),
        pytest.param(
            b"lab: {name: fferr, subnet: 10.181.58.0/24}\nnodes:\n"
            b"  lb-01: {address: 10.181.58.10, roles: [base, loadbalancer]}\n"
            b"  web-01: {address: 10.181.58.11, roles: [base, db_primary, web, app]}\n"
            b"  web-02: {address: 10.181.58.12, roles: [base, db_primary, web, app]}\n",
            id="two-primaries",
        ),
        pytest.param(
            b"lab: {name: fferr, subnet: 10.181.58.0/24}\nnodes:\n"
            b"  web-01: {adress: 10.181.58.11, roles: [base, db_primary, web, app]}\n",
            id="misspelt-key",
        ),
    ],
)
def test_build_with_bad_lab_file_fails_in_one_line(tmp_path: Path, content: bytes) -> None:
    """`invoke build --lab-file <bad>` exits non-zero with one line on stderr, before making anything."""
    bad = tmp_path / "bad.yml"
    bad.write_bytes(content)
    state, cache = tmp_path / "state", tmp_path / "cache"
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(state), "INVOKE_LAB_CACHE_DIR": str(cache)}
    result = run_invoke("build", "--lab-file", str(bad), env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: {bad}: ")
    assert result.stdout == ""
    assert not state.exists() and not cache.exists()


LAB_TASKS = [
    "build", "check", "status", "ssh", "destroy", "watch", "scan", "sniff", "alerts", "web", "scan", "bench.site", "docs.capture", "docs.screenshot",
    "db.status", "db.switchover", "db.failover", "db.rejoin", "db.rebuild", "db.orphans",
] + [f"drill.{d}" for d in DRILLS] + LB + EXERCISE_TASKS


@pytest.mark.parametrize("name", LAB_TASKS)
def test_every_task_on_a_lab_takes_the_same_lab_and_provider_options(name: str) -> None:
    names = {n for a in copy.deepcopy(ns[name]).get_arguments() for n in a.names}
    assert {"lab-file", "provider"} <= {n.replace("_", "-") for n in names}
