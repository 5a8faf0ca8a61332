"""`invoke exercise.*`: break-fix exercises on the running lab, graded by its checks."""

from __future__ import annotations

import io
import json

from invoke import Context, task
from invoke.exceptions import Exit

from ..buildit import runner as buildit
from ..exercises import runner
from ..exercises.catalog import EXERCISES
from ..live import live
from ..session import LabSession
from .common import LAB_HELP, listed_design, session
from .options import Cause, Choice, Number, options


def silent_session(c: Context, lab_file: str | None, provider: str | None) -> LabSession:
    """The lab's session with its console kept to itself: what the exercise runs on the nodes is its answer."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=True)
    s.console.stream = io.StringIO()
    return s


@task(name="list", help={"lab-file": "the design to list the exercises for (default: the one the lab runs, else configs/lab.yml)", "json": "print the list as JSON"})
@options()
def list_(c: Context, lab_file: str | None = None, json_: bool = False) -> None:
    """List the exercises: name, level, layer, the designs they run on, and what a user would report."""
    lab = listed_design(c, lab_file)
    here = runner.applicable(lab)
    if json_:
        rows = [{"name": e.name, "level": e.level, "layer": e.layer, "symptom": e.symptom, "runs_here": e in here, "needs": e.designs} for e in EXERCISES]
        print(json.dumps({"design": str(lab.source), "exercises": rows}, indent=2))
        return
    print(f"exercises for {lab.source.name}: {len(here)} of {len(EXERCISES)} run on this design (start one: invoke exercise.start NAME)")
    print(f"{'NAME':<26} {'LEVEL':<5} {'LAYER':<14} SYMPTOM")
    for exercise in EXERCISES:
        elsewhere = "" if exercise in here else f"  [needs {exercise.designs}]"
        print(f"{exercise.name:<26} {exercise.level:<5} {exercise.layer:<14} {exercise.symptom}{elsewhere}")


@task(
    help={
        **LAB_HELP,
        "name": "the exercise, from invoke exercise.list",
        "seed": "a number that chooses the details (which node, port, file): give each student their own; default: a random one",
    }
)
@options(name=Choice(tuple(e.name for e in EXERCISES)), seed=Number("a whole number", 0, 2**31 - 1, whole=True))
def start(c: Context, name: str, seed: int | None = None, lab_file: str | None = None, provider: str | None = None) -> None:
    """Check the lab is healthy, break it in a hidden way, and show only what a user would report."""
    s = silent_session(c, lab_file, provider)
    buildit.idle(s, "an exercise")
    with live(s) as lab:
        runner.start(lab, name, seed, print)


@task(help=LAB_HELP)
@options()
def hint(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Show the next hint of the running exercise (the last one is the solution); hints are counted."""
    runner.hint(silent_session(c, lab_file, provider), print)


@task(help={**LAB_HELP, "cause": "what was wrong, as NODE:COMPONENT (e.g. web-02:nginx), or none"})
@options(cause=Cause())
def check(c: Context, cause: str | None = None, lab_file: str | None = None, provider: str | None = None) -> None:
    """Grade the running exercise: the symptom gone, every check of the lab passing, and the cause named."""
    s = silent_session(c, lab_file, provider)
    with live(s) as lab:
        solved = runner.grade(lab, cause, print)
    if not solved:
        raise Exit("not solved yet: see what still fails above", code=1)


@task(help=LAB_HELP)
@options()
def solve(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Apply the running exercise's reference fix and show the solution (for instructors and tests)."""
    s = silent_session(c, lab_file, provider)
    with live(s) as lab:
        runner.solve(lab, print)


@task(help=LAB_HELP)
@options()
def stop(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Give up the running exercise: restore the lab and show what the fault was."""
    runner.stop(silent_session(c, lab_file, provider), print)
