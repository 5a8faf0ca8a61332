"""Running an exercise: start it on a healthy lab, give hints, grade, solve, stop.

What reaches the student is only what `out` is given: the symptom, the hints asked for, the grade.
The commands the exercise runs on the nodes, and the lab's own output while it checks or restores,
go to the session's console, which the tasks keep silent.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

from .. import build as building
from .. import checks, promotion, reconfiguration
from ..checks import Check
from ..live import LiveLab
from ..live import live as connect
from ..session import LabSession
from ..topology import Lab
from ..waiting import wait_until
from . import causes, symptoms
from .catalog import EXERCISES, by_name
from .faults import Details
from .record import Exercise, common, fill, learned, shown_path
from .state import Drawer, ExerciseError, Running
from .symptoms import PROBLEMS, SETTLE

Out = Callable[[str], None]
SHOW_TIMEOUT = 90.0  # seconds an injected fault gets to show its symptom
GONE_TIMEOUT = 150.0  # seconds the reference fix gets to take the symptom away (a full disk is retried every 60 s)
STEADY = 2.0  # seconds a symptom must last before the start hands over
POLL = 1.0  # seconds between two looks at the symptom
SYMPTOM = "exercise.symptom"
CAUSE = "exercise.cause"


def drawer(session: LabSession) -> Drawer:
    return Drawer(session.folder, session.settings.exercise_dir, session.lab.name)


def applicable(lab: Lab) -> list[Exercise]:
    return [e for e in EXERCISES if e.applies(lab)]


def exercise_named(name: str, lab: Lab) -> Exercise:
    try:
        exercise = by_name(name)
    except KeyError:
        raise ExerciseError(f"no exercise {name!r}: `invoke exercise.list` shows them") from None
    if not exercise.applies(lab):
        raise ExerciseError(f"{name} needs a design with {exercise.designs}; this lab's design is {lab.source.name}")
    return exercise


def details_of(live: LiveLab, exercise: Exercise, seed: int) -> Details:
    """The lab's names and the seed's choices: the same seed gives the same details on the same design."""
    rng = random.Random(f"{exercise.name}:{seed}")
    return {**common(live.lab, shown_path(str(live.session.state_dir))), **exercise.choose(live.lab, rng)}


def failed_checks(live: LiveLab) -> list[Check]:
    return [c for c in checks.check(live) if not c.ok]


def symptom(live: LiveLab, exercise: Exercise, details: Details, settle: float = SETTLE) -> tuple[bool, str]:
    """Whether the symptom is gone, and what the probe saw (a failing probe is asked again for `settle` seconds)."""
    try:
        return True, exercise.gone(live, details, settle)
    except PROBLEMS as err:
        return False, str(err) or type(err).__name__


def showing(live: LiveLab, exercise: Exercise, details: Details) -> bool:
    """The symptom shows, and still does a moment later (HAProxy's `fall`, a thread that stops): what the student finds."""
    if symptom(live, exercise, details, 0.0)[0]:
        return False
    time.sleep(STEADY)
    return not symptom(live, exercise, details, 0.0)[0]


def _why(err: Exception) -> str:
    """An error while breaking or repairing, told without the commands (they are the answer) unless debugging."""
    return f"{type(err).__name__}: {err}" if os.environ.get("FOOBAR_FAB_DEBUG") else type(err).__name__


def start(live: LiveLab, name: str, seed: int | None, out: Out) -> Running:
    """Check the lab is healthy, inject the exercise's fault, wait for its symptom, and tell only the symptom."""
    lab, hidden = live.lab, drawer(live.session)
    if hidden.running():
        raise ExerciseError("an exercise is already running on this lab: `invoke exercise.check`, or `invoke exercise.stop` to give up")
    exercise = exercise_named(name, lab)
    out(f"exercise {exercise.name} on lab {lab.name} ({lab.source.name}): checking that the lab is healthy first...")
    failed = failed_checks(live)
    if failed:
        ids = ", ".join(dict.fromkeys(c.id for c in failed))
        raise ExerciseError(f"the lab is not healthy ({ids} failed): run `invoke build`, then start the exercise again")
    lacking = symptoms.behind(live, SETTLE) if lab.replicas else {}
    if lacking:
        name, why = next(iter(lacking.items()))
        raise ExerciseError(f"the lab is not healthy ({why}): `invoke db.rebuild {name}` copies it afresh, then start the exercise again")
    state = Running(exercise.name, secrets.randbelow(10**6) if seed is None else seed, lab.source.name, {})
    state.details = details_of(live, exercise, state.seed)
    hidden.save(state)  # before the fault: a stop can always undo it
    try:
        state.details.update(learned(exercise.inject(live, state.details)))
        hidden.save(state)
        shown = not exercise.shows or wait_until(lambda: showing(live, exercise, state.details), SHOW_TIMEOUT, POLL)
    except Exception as err:
        restore(live.session, exercise, state)
        hidden.finish(state, "not started")
        raise ExerciseError(f"the exercise could not be set up on this lab ({_why(err)}); the lab was restored") from None
    if not shown:
        restore(live.session, exercise, state)
        hidden.finish(state, "not started")
        raise ExerciseError(f"{exercise.name} broke nothing that shows on this lab (a defect of the exercise); the lab was restored")
    state.started = time.time()
    hidden.save(state)
    out(f"exercise {exercise.name} started: level {exercise.level}, layer: {exercise.layer}")
    out("what a user reports:")
    out(f"  {fill(exercise.report, state.details)}")
    out("find the cause, repair it, and name it: invoke exercise.check --cause CAUSE")
    out(f"  CAUSE: {causes.usage(lab)}")
    out("invoke exercise.hint gives a hint (they are counted); invoke exercise.stop gives up and restores the lab")
    return state


def shown(session: LabSession) -> dict[str, Any] | None:
    """The running exercise as a student may see it (what `exercise.start` told them, the time, hints and causes
    judged), None when none runs or its state cannot be read; never its details or its cause."""
    hidden = drawer(session)
    try:
        if not hidden.running():
            return None
        state = hidden.load()
    except ExerciseError:
        return None
    exercise = by_name(state.exercise)
    return {
        "exercise": exercise.name, "level": exercise.level, "layer": exercise.layer, "report": fill(exercise.report, state.details),
        "seconds": round(time.time() - state.started), "hints": state.hints, "hints_in_all": len(exercise.hints), "causes_judged": state.attempts,
    }


def hint(session: LabSession, out: Out) -> int:
    """Show the next hint (the last one is the solution); return how many were taken."""
    hidden = drawer(session)
    state = hidden.load()
    hints = by_name(state.exercise).hints
    number = min(state.hints + 1, len(hints))
    state.hints = number
    hidden.save(state)
    out(f"hint {number} of {len(hints)} ({state.exercise}):")
    out(f"  {fill(hints[number - 1], state.details)}")
    return number


def grade(live: LiveLab, cause: str | None, out: Out) -> bool:
    """Pass when the symptom is gone, every check of the lab passes, and the cause is named; say what still fails.
    The cause is judged (and counted) only once the rest passes."""
    hidden = drawer(live.session)
    state = hidden.load()
    exercise = by_name(state.exercise)
    named = causes.parse(cause, live.lab) if cause is not None else None
    out(f"exercise {exercise.name}: started {state.minutes} ago, {state.hints} hint(s) taken, {state.attempts} cause(s) judged so far")
    failing: list[str] = []

    def report(check_id: str, ok: bool, seen: str, who: str = "") -> None:
        out(f"  {'ok' if ok else 'failed':<7} {check_id}{f' ({who})' if who else ''}: {seen}")
        if not ok:
            failing.append(check_id)

    gone, seen = symptom(live, exercise, state.details)
    report(SYMPTOM, gone, seen)
    if gone:
        results = checks.check(live)
        for check in results:
            if not check.ok:
                report(check.id, False, check.seen, check.who)
        if all(c.ok for c in results):
            out(f"  ok      every check of the lab: {len(results)} ok")
    else:
        out("  --      the lab's checks run once the symptom is gone (`invoke check` runs them now)")
    if failing:
        # The cause is judged only on a repaired lab: the grade is no oracle to try every cause on first.
        out(f"  --      {CAUSE}: judged once the symptom is gone and every check passes" + (f" ({named} not judged, not counted)" if named else ""))
        return False
    right = named is not None and named in {fill(c, state.details) for c in exercise.causes}
    if named is not None:
        state.attempts += 1  # each judged cause counts; the wrong ones cost points in a class's grades
        hidden.save(state)
    report(CAUSE, right, "not named yet: --cause NODE:COMPONENT" if named is None else f"{named}" + ("" if right else " is not the cause"))
    if failing:
        return False
    record = hidden.finish(state, "solved")
    hints = f"{record['hints']} hint{'s' if record['hints'] != 1 else ''}"
    how = "the reference fix (exercise.solve)" if state.reference_fix else f"{record['attempts']} cause(s) judged"
    out(f"solved: {exercise.name} in {record['seconds'] // 60} min {record['seconds'] % 60} s, {hints}, {how}")
    if not put_back(live, exercise, state.details):
        out("the lab could not be put back as built: run `invoke build`")
    return True


def put_back(live: LiveLab, exercise: Exercise, details: Details) -> bool:
    """After a passing grade: what the exercise set up is taken away, and the build's own steps put the lab back as built."""
    session = live.session
    try:
        exercise.teardown(live, details)
    except PROBLEMS:
        return False
    return reconfiguration.as_built(session) and in_step(live)


def in_step(live: LiveLab) -> bool:
    """Every replica holds what its primary holds, those that did not copied afresh from it: a row deleted or an
    event skipped on a replica while an exercise ran is no fault the build sees, but it breaks every later
    exercise that compares the replicas with the primary. True when they all hold it (now)."""
    try:
        lacking = symptoms.behind(live, SETTLE) if live.lab.replicas else {}
        for name in lacking:
            live.console.note(name, f"{lacking[name]}: copied afresh from {live.lab.primary.name}")
            promotion.rebuild(live, live.lab.node(name))
        return not lacking or not symptoms.behind(live, SETTLE)
    except (*PROBLEMS, promotion.PromotionError):
        return False


def solve(live: LiveLab, out: Out) -> None:
    """Apply the reference fix and wait for the symptom to go; the grade still asks for the cause."""
    hidden = drawer(live.session)
    state = hidden.load()
    exercise = by_name(state.exercise)
    node = fill(exercise.causes[0], state.details).partition(":")[0]
    out(f"exercise.solve: the reference fix of {exercise.name} changes " + ("no node (nothing is broken)" if node == causes.NONE else node))
    try:
        exercise.fix(live, state.details)
    except Exception as err:
        raise ExerciseError(f"the reference fix of {exercise.name} failed ({_why(err)}): `invoke exercise.stop` restores the lab") from None
    state.reference_fix, state.hints = True, len(exercise.hints)
    hidden.save(state)
    if not wait_until(lambda: symptom(live, exercise, state.details, 0.0)[0], GONE_TIMEOUT, POLL):
        raise ExerciseError(f"the symptom of {exercise.name} is still there after the reference fix: `invoke exercise.stop` restores the lab")
    out(f"reference fix applied: {fill(exercise.hints[-1], state.details)}")
    out(f"the cause: {fill(exercise.causes[0], state.details)}; `invoke exercise.check --cause ...` grades it")


def restore(session: LabSession, exercise: Exercise, state: Running) -> bool:
    """Undo the fault as far as it can be, build the lab again (quietly) and bring every replica in step with its
    primary; True when the lab is as built."""
    with connect(session) as lab:
        for action in (exercise.fix, exercise.teardown):
            try:
                action(lab, state.details)
            except Exception:  # the student may have repaired part of it, or broken it further: the build decides
                pass
    if not building.build(session).ok:
        return False
    with connect(session) as lab:
        return in_step(lab)


def stop(session: LabSession, out: Out) -> None:
    """Give up: restore the lab, and tell what the fault was."""
    hidden = drawer(session)
    state = hidden.load()
    exercise = by_name(state.exercise)
    clean = restore(session, exercise, state)
    hidden.finish(state, "stopped")
    out(f"exercise {exercise.name} stopped after {state.minutes}; what it was:")
    out(f"  {fill(exercise.hints[-1], state.details)}")
    if not clean:
        raise ExerciseError("the lab is not healthy after the restore: run `invoke build` and read what fails")
    out(f"the lab {session.lab.name} is restored: every check passes")
