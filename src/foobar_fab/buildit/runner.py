"""Running a build-it lab: start it on a healthy lab, give hints, grade, solve, stop.

The start writes the lab's design for the lab (build-it.yml in the state folder: the lab's design with
the change, e.g. web-03 added), builds it, and applies the student's roles as they stood before the work
(HAProxy without web-03). From then until `build-it.stop` the lab runs that design and the student owns
those roles: `invoke build` applies everything else and leaves them alone, saying so; building another
design is refused. The stop builds the lab's own design again, the student's work with the rest.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import requests
import yaml

from .. import build as building
from .. import buildit_underway as states
from .. import design as designs
from .. import statefolder
from ..buildit_underway import BuildItError, Underway
from ..errors import LabError
from ..exercises.record import common, fill, shown_path
from ..exercises.runner import drawer, failed_checks
from ..live import LiveLab, live
from ..session import LabSession, open_session
from ..steps import Runner
from ..topology import Lab, TopologyError, to_yaml
from ..waiting import wait_until
from .labs import BUILD_ITS, PROBLEMS, by_name
from .record import Action, BuildIt, Criterion, Details

Out = Callable[[str], None]
POLL = 1.0
SHOW_TIMEOUT = 30.0  # seconds the start's set-up gets to show (a reload that takes effect a moment later)


def applicable(lab: Lab) -> list[BuildIt]:
    return [b for b in BUILD_ITS if b.applies(lab)]


def named(name: str, lab: Lab) -> BuildIt:
    try:
        build_it = by_name(name)
    except KeyError:
        raise BuildItError(f"no build-it lab {name!r}: `invoke build-it.list` shows them") from None
    if not build_it.applies(lab):
        raise BuildItError(f"{name} needs {build_it.designs}; this lab's design is {lab.source.name}")
    return build_it


def on_design(session: LabSession, lab_file: Path) -> LabSession:
    """The lab's session on another of its design files (the build-it lab's, or the one it ran before)."""
    if session.settings.lab_file.resolve() == lab_file.resolve():
        return session
    return open_session(session.settings.but(lab_file=lab_file, lab_file_named=True), session.console, any_design=True)


def underway(session: LabSession) -> Underway:
    found = states.load(session.folder)
    if found is None:
        raise BuildItError("no build-it lab runs on this lab: `invoke build-it.list`, then `invoke build-it.start NAME`")
    return found


def idle(session: LabSession, doing: str) -> None:
    """Refuse something that would change the lab under a build-it lab (an exercise's start, another design's build)."""
    found = states.load(session.folder)
    if found is not None:
        raise BuildItError(f"build-it lab {found.lab} runs on lab {session.lab.name}: {doing} waits until `invoke build-it.stop` puts the lab back to its design")


def guard_build(session: LabSession) -> None:
    """`invoke build` while a build-it lab runs: its own design only (which leaves the student's roles alone)."""
    found = states.load(session.folder)
    if found is not None and session.settings.lab_file.resolve() != session.folder.build_it_design.resolve():
        raise BuildItError(
            f"build-it lab {found.lab} runs on lab {session.lab.name} (its design: {session.folder.build_it_design}): leave out --lab-file "
            "to build it (your work is left alone), or `invoke build-it.stop` to put the lab back to its design"
        )


def design_text(lab: Lab, build_it: BuildIt, details: Details) -> str:
    """The build-it lab's design file: the lab's design with the lab's change."""
    data = yaml.safe_load(to_yaml(lab))
    build_it.change(data, details)
    return f"# build-it lab {build_it.name} on lab {lab.name}: written by `invoke build-it.start`, removed by `invoke build-it.stop`\n" + yaml.safe_dump(
        data, sort_keys=False
    )


def owned_roles(session: LabSession, lab: Lab, owned: list[tuple[str, str]]) -> bool:
    """The student's roles applied (with `lab` as the design: the one before the work, or the build-it lab's own),
    through the build's own steps; True when nothing failed."""
    runner = Runner(session.console)
    shaped = dataclasses.replace(session, lab=lab)
    done = building.converge(
        shaped, runner, session.secrets, only={role for _, role in owned}, tls=building.certificates(shaped), students_work=True,
        on={node for node, _ in owned},
    )
    return done and not runner.failures


def acted(session: LabSession, action: Action | None, details: Details) -> bool:
    """A build-it lab's own action on the live lab (beside the build's steps) done; False when it failed, said on the console."""
    if action is None:
        return True
    with live(session) as lab:
        try:
            action(lab, details)
        except (*PROBLEMS, LabError) as err:
            session.console.result("host", "build-it", "failed", str(err) or type(err).__name__)
            return False
    return True


def start(session: LabSession, name: str, out: Out) -> Underway:
    """Check the lab is healthy, build the build-it lab's design, take the student's part back to before the work,
    and tell the task."""
    if states.load(session.folder) is not None:
        raise BuildItError("a build-it lab already runs on this lab: `invoke build-it.grade`, or `invoke build-it.stop` to end it")
    if drawer(session).running():
        raise BuildItError("an exercise runs on this lab: `invoke exercise.check`, or `invoke exercise.stop` first")
    designed = designs.load(session.settings.lab_file)
    build_it = named(name, designed)
    out(f"build-it lab {build_it.name} on lab {designed.name} ({designed.source.name}): checking that the lab is healthy first...")
    with live(session) as lab:
        failed = failed_checks(lab)
    if failed:
        raise BuildItError(f"the lab is not healthy ({', '.join(dict.fromkeys(c.id for c in failed))} failed): run `invoke build`, then start again")
    details = {**common(designed, shown_path(str(session.state_dir))), **build_it.details(designed)}
    path = session.folder.build_it_design
    statefolder.write(path, design_text(designed, build_it, details))
    try:
        target = designs.load(path)
    except TopologyError as err:
        path.unlink(missing_ok=True)
        raise BuildItError(f"{build_it.name} cannot run on this design: {err}") from None
    state = Underway(build_it.name, str(session.settings.lab_file), build_it.owned(target, details), details)
    states.save(session.folder, state)  # before the build: `invoke build-it.stop` can always put the lab back
    out(f"  building the lab's design for it ({shown_path(str(path))}): this takes a minute or two...")
    there = on_design(session, path)
    if not building.build(there, students_work=True).ok or not owned_roles(there, build_it.before(there.lab, details), state.owned) or not acted(there, build_it.clear, details):
        stop(session, lambda line: None, outcome="not started")
        raise BuildItError(f"{build_it.name} could not be set up on this lab; the lab was put back to its design")
    time.sleep(build_it.criteria[0].settle)  # what the set-up changed takes that long to show (Prometheus's targets)
    if not wait_until(lambda: not_done(there, build_it, details), SHOW_TIMEOUT, POLL):
        stop(session, lambda line: None, outcome="not started")
        raise BuildItError(f"{build_it.name} left nothing to do on this lab (a defect of the build-it lab); the lab was put back to its design")
    state.started = time.time()
    states.save(session.folder, state)
    out(f"build-it lab {build_it.name} started: {build_it.layer}")
    out(f"  {fill(build_it.task, details)}")
    out("what the grade measures:")
    for criterion in build_it.criteria:
        out(f"  - {fill(criterion.what, details)}")
    out(f"yours until the lab ends: {state.described()} (`invoke build` leaves them to you)")
    out("invoke build-it.grade measures your work (as often as you like); build-it.hint gives a hint (counted); build-it.stop ends the lab")
    return state


def not_done(session: LabSession, build_it: BuildIt, details: Details) -> bool:
    """The start's set-up shows: the first criterion finds something wrong (Prometheus, for one, reloads its config
    a moment after it was written)."""
    with live(session) as lab:
        return bool(measured(lab, build_it.criteria[0], details, settle=0.0)[0])


def hint(session: LabSession, out: Out) -> int:
    """Show the next hint (the last one is the solution); return how many were taken."""
    state = underway(session)
    hints = by_name(state.lab).hints
    state.hints = min(state.hints + 1, len(hints))
    states.save(session.folder, state)
    out(f"hint {state.hints} of {len(hints)} ({state.lab}):")
    out(f"  {fill(hints[state.hints - 1], state.details)}")
    return state.hints


def measured(live_lab: LiveLab, criterion: Criterion, details: Details, settle: float | None = None) -> tuple[list[str], str]:
    """What the criterion still finds wrong, looked at again for its `settle` seconds while something is wrong (a
    server coming UP after a reload); a measure that cannot be made is what is wrong."""
    seen: list[tuple[list[str], str]] = []

    def look() -> bool:
        try:
            seen.append(criterion.measure(live_lab, details))
        except (*PROBLEMS, requests.RequestException) as err:
            seen.append(([f"cannot measure it: {str(err) or type(err).__name__}"], ""))
        return not seen[-1][0]

    wait_until(look, criterion.settle if settle is None else settle, POLL)
    return seen[-1]


def grade(session: LabSession, out: Out) -> bool:
    """Measure every criterion on the live lab and say, in the student's terms, what is still wrong; True when all
    pass (the first pass is recorded in the lab's results)."""
    state = underway(session)
    build_it = by_name(state.lab)
    there = on_design(session, session.folder.build_it_design)
    out(f"build-it lab {build_it.name}: started {state.minutes} ago, {state.hints} hint(s) taken")
    passed = 0
    with live(there) as lab:
        for criterion in build_it.criteria:
            if criterion.last and passed < len(build_it.criteria) - 1:
                out(f"  {'--':<7} {fill(criterion.what, state.details)}: measured once the rest passes")
                continue
            wrong, seen = measured(lab, criterion, state.details)
            passed += not wrong
            out(f"  {'passed' if not wrong else 'failed':<7} {fill(criterion.what, state.details)}" + (f" ({seen})" if seen and not wrong else ""))
            for problem in wrong:
                out(f"            - {problem}")
    state.grades += 1
    done = passed == len(build_it.criteria)
    if done and not state.passed:
        state.passed = True
        record = states.record(session.folder, state, "solved")
        how = "the reference solution (build-it.solve)" if state.reference_fix else f"{record['hints']} hint(s)"
        out(f"built: {build_it.name} in {record['seconds'] // 60} min {record['seconds'] % 60} s, {how}; `invoke build-it.stop` puts the lab back to its design")
    elif not done:
        out(f"{passed} of {len(build_it.criteria)} criteria pass")
    states.save(session.folder, state)
    return done


def solve(session: LabSession, out: Out) -> None:
    """Do the reference solution: the student's roles applied as the build-it lab's design says, by the build's steps."""
    state = underway(session)
    build_it = by_name(state.lab)
    there = on_design(session, session.folder.build_it_design)
    out(f"build-it.solve: the reference solution of {build_it.name} builds {state.described()} as the design says")
    done = acted(there, build_it.groundwork, state.details) and owned_roles(there, there.lab, state.owned)
    if not done or not acted(there, build_it.finishing, state.details):
        raise BuildItError(f"the reference solution of {build_it.name} failed: the steps above say why; `invoke build-it.stop` puts the lab back")
    state.reference_fix, state.hints = True, len(build_it.hints)
    states.save(session.folder, state)
    out(f"reference solution applied: {fill(build_it.hints[-1], state.details)}")


def stop(session: LabSession, out: Out, outcome: str = "stopped") -> None:
    """End the build-it lab: the lab's own design built again (the student's work replaced by the build's), the
    result recorded unless a grade passed."""
    state = underway(session)
    back = on_design(session, Path(state.original))
    if not building.build(back, students_work=True).ok or not acted(back, by_name(state.lab).putting_back, state.details):
        raise BuildItError(f"the lab could not be put back to {back.lab.source.name}: the steps above say why; `invoke build-it.stop` again")
    if not state.passed:
        states.record(session.folder, state, outcome)
    states.end(session.folder)
    out(f"build-it lab {state.lab} ended after {state.minutes}" + (" (built)" if state.passed else f" ({outcome})"))
    out(f"the lab {back.lab.name} runs its design again ({back.lab.source.name}): every check passes")
