"""`class.grades`: a CSV a gradebook imports, one row a student, one column an exercise, from each lab's results.

An exercise's points: 100 when the student solved it (the symptom gone, every check passing and the cause
named), less 10 a hint taken and 10 a wrong cause judged, never below 50; 0 when they gave up, when the
reference fix solved it, or while it still runs. The last try of an exercise counts.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ..errors import LabError
from ..exercises.state import finished_exercises
from ..settings import Settings
from .classfile import Classroom, Student
from .labs import student_session

FULL = 100
PER_HINT = 10
PER_WRONG_CAUSE = 10
FLOOR = 50


def points(record: dict[str, Any]) -> int:
    """One finished exercise's points."""
    if record.get("outcome") != "solved" or record.get("reference_fix"):
        return 0
    wrong = max(0, int(record.get("attempts", 1)) - 1)  # the last cause judged was the right one
    return max(FLOOR, FULL - PER_HINT * int(record.get("hints", 0)) - PER_WRONG_CAUSE * wrong)


def results(settings: Settings, classroom: Classroom, student: Student) -> list[dict[str, Any]]:
    """The student's finished exercises, oldest first (none when the lab is gone)."""
    try:
        return finished_exercises(student_session(settings, classroom, student, io.StringIO()).folder)
    except LabError:
        return []


def table(settings: Settings, classroom: Classroom) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and one row a student: their name, lab, each exercise's points, and the total."""
    by_student = {s.name: {str(r.get("exercise")): r for r in results(settings, classroom, s)} for s in classroom.students}
    exercises = sorted({name for done in by_student.values() for name in done})
    columns = ["student", "lab", *exercises, "total", "hints"]
    rows = []
    for student in classroom.students:
        done = by_student[student.name]
        row: dict[str, Any] = {"student": student.name, "lab": student.lab_name}
        row.update({name: points(done[name]) if name in done else 0 for name in exercises})
        row["total"] = sum(row[name] for name in exercises)
        row["hints"] = sum(int(r.get("hints", 0)) for r in done.values())
        rows.append(row)
    return columns, rows


def as_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
