"""`class.status`: one row a student, measured now: where their lab runs, whether it is up, its checks, the
exercise under way (with the hints taken) and the grade of the last one finished."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from .. import checks
from ..cluster.membership import lost_members
from ..cluster.target import IncusTarget
from ..errors import LabError
from ..exercises.runner import drawer
from ..exercises.state import finished_exercises
from ..live import live
from ..providers.base import LabNotUp
from ..providers.incus.layout import IncusPlace
from ..session import LabSession, folder_of
from ..settings import Settings
from .classfile import Classroom, Student
from .labs import on_the_labs_incus, student_session

WORKERS = 4  # labs looked at at once: each look is SSH and HTTP, waiting, not computing


@dataclass
class StudentRow:
    """One student's line of the table."""

    student: str
    lab: str
    member: str
    lab_up: str  # up, N of M nodes running, missing
    checks_ok: int
    checks_failed: int
    failed: list[str]
    exercise: str  # the one running, "" when none
    hints: int
    grade: str  # the last finished exercise's outcome, "" when none

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def last_result(session: LabSession) -> dict[str, Any] | None:
    """The last finished exercise of the lab, from its results."""
    done = finished_exercises(session.folder)
    return done[-1] if done else None


def grade_of(record: dict[str, Any] | None) -> str:
    """A finished exercise, as a grade: solved (with hints), solved by the reference fix, or its outcome."""
    if record is None:
        return ""
    if record.get("outcome") == "solved":
        how = "reference fix" if record.get("reference_fix") else f"{record.get('hints', 0)} hints"
        return f"{record.get('exercise')}: solved ({how})"
    return f"{record.get('exercise')}: {record.get('outcome')}"


def row(settings: Settings, classroom: Classroom, student: Student) -> StudentRow:
    """Look at one student's lab (one line even when it is missing or down)."""
    found = StudentRow(student.name, student.lab_name, "-", "missing", 0, 0, [], "", 0, "")
    try:
        session = student_session(settings, classroom, student, io.StringIO())
    except LabError as err:
        found.lab_up = f"unknown: {err}"
        return found
    nodes = session.provider.status()
    found.member = ", ".join(sorted({n.member for n in nodes if n.member})) or ("this host" if any(n.state != "missing" for n in nodes) else "-")
    running = sum(n.state == "running" for n in nodes)
    found.lab_up = "up" if running == len(nodes) else "missing" if running == 0 and all(n.state == "missing" for n in nodes) else f"{running} of {len(nodes)} nodes running"
    hidden = drawer(session)
    try:
        if hidden.running():
            state = hidden.load()
            found.exercise, found.hints = state.exercise, state.hints
    except LabError:
        found.exercise = "unreadable"
    found.grade = grade_of(last_result(session))
    if found.lab_up != "up":
        return found
    try:
        with live(session) as lab:
            results = checks.check(lab)
    except LabNotUp as err:
        found.lab_up = f"down: {err}"
        return found
    found.checks_ok = sum(c.ok for c in results)
    found.failed = sorted({c.id for c in results if not c.ok})
    found.checks_failed = len(results) - found.checks_ok
    return found


def status(settings: Settings, classroom: Classroom) -> list[StudentRow]:
    """Every student's row, a few labs at a time, in the class file's order; on a cluster, a lab whose member
    is lost says so (`class.up` makes it again on the members left)."""
    with on_the_labs_incus(classroom):
        lost = lost_members(IncusTarget(classroom.cluster, "")) if classroom.cluster else {}
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            rows = list(pool.map(lambda s: row(settings, classroom, s), classroom.students))
    for student, found in zip(classroom.students, rows, strict=True):
        placed = IncusPlace.load(folder_of(settings, student.lab_name)).member  # Incus may list nothing of a lost member
        if placed in lost:
            found.member, found.lab_up = placed, f"lost: {placed} is {lost[placed]}"
    return rows


def table(rows: list[StudentRow]) -> list[str]:
    """The rows as the terminal shows them."""
    lines = [f"{'STUDENT':<12} {'LAB':<12} {'MEMBER':<10} {'LAB UP':<10} {'CHECKS':<9} {'EXERCISE':<24} {'HINTS':<5} GRADE"]
    for r in rows:
        counts = f"{r.checks_ok} ok" if not r.checks_failed else f"{r.checks_failed} failed"
        lines.append(f"{r.student:<12} {r.lab:<12} {r.member:<10} {r.lab_up:<10} {counts:<9} {r.exercise or '-':<24} {r.hints:<5} {r.grade or '-'}")
    return lines
