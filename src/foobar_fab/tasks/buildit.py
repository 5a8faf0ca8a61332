"""`invoke build-it.*`: the student builds a part of the design on the running lab, graded by its measurements."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

from invoke import Context, task
from invoke.exceptions import Exit

from ..buildit import runner
from ..buildit.labs import BUILD_ITS
from ..session import LabSession
from .common import LAB_HELP, listed_design, session
from .options import Choice, options


@contextmanager
def lab_session(c: Context, lab_file: str | None, provider: str | None, silent: bool = False) -> Iterator[LabSession]:
    """The lab's session, whichever of its designs it runs (a build-it lab runs one of its own), showing only what
    changes or fails (`silent`: nothing; the grade says it in the student's terms)."""
    s = session(c, any_design=True, lab_file=lab_file, provider=provider, quiet=True)
    if silent:
        s.console.stream = io.StringIO()
    with s.console.briefly():
        yield s


@task(name="list", help={"lab-file": "the design to list the build-it labs for (default: the one the lab runs, else configs/lab.yml)", "json": "print the list as JSON"})
@options()
def list_(c: Context, lab_file: str | None = None, json_: bool = False) -> None:
    """List the build-it labs: name, layer, the designs they start from, and the work."""
    lab = listed_design(c, lab_file)
    here = runner.applicable(lab)
    if json_:
        rows = [{"name": b.name, "layer": b.layer, "work": b.summary, "runs_here": b in here, "needs": b.designs} for b in BUILD_ITS]
        print(json.dumps({"design": str(lab.source), "build_it": rows}, indent=2))
        return
    print(f"build-it labs for {lab.source.name}: {len(here)} of {len(BUILD_ITS)} start from this design (start one: invoke build-it.start NAME)")
    width = max(len(b.name) for b in BUILD_ITS)
    print(f"{'NAME':<{width}} {'LAYER':<14} WORK")
    for build_it in BUILD_ITS:
        elsewhere = "" if build_it in here else f"  [needs {build_it.designs}]"
        print(f"{build_it.name:<{width}} {build_it.layer:<14} {build_it.summary}{elsewhere}")


@task(help={**LAB_HELP, "name": "the build-it lab, from invoke build-it.list"})
@options(name=Choice(tuple(b.name for b in BUILD_ITS)))
def start(c: Context, name: str, lab_file: str | None = None, provider: str | None = None) -> None:
    """Check the lab is healthy, set up the build-it lab's starting state, and tell the work."""
    with lab_session(c, lab_file, provider) as s:
        runner.start(s, name, print)


@task(help=LAB_HELP)
@options()
def hint(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Show the next hint of the build-it lab (the last one is the solution); hints are counted."""
    with lab_session(c, lab_file, provider) as s:
        runner.hint(s, print)


@task(help=LAB_HELP)
@options()
def grade(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Measure the work on the live lab: each criterion passed or failed, what is still wrong; exit 0 when all pass."""
    with lab_session(c, lab_file, provider, silent=True) as s:
        built = runner.grade(s, print)
    if not built:
        raise Exit("not built yet: see what is still wrong above", code=1)


@task(help=LAB_HELP)
@options()
def solve(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Do the build-it lab's reference solution with the lab's own roles (for instructors and tests)."""
    with lab_session(c, lab_file, provider) as s:
        runner.solve(s, print)


@task(help=LAB_HELP)
@options()
def stop(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """End the build-it lab: build the lab's own design again (the work is replaced by the build's) and record it."""
    with lab_session(c, lab_file, provider) as s:
        runner.stop(s, print)
