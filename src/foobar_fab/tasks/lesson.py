"""`invoke lesson.start N`: the lab where a lesson starts."""

from __future__ import annotations

from invoke import Context, task

from .. import lesson_start
from .common import YES_HELP, confirm, settings
from .options import Number, options


@task(help={"number": "the lesson, 1 to 9", "lab-file": "the seed design (default: configs/lab.yml)", **YES_HELP})
@options(number=Number("a lesson number", min(lesson_start.LESSONS), max(lesson_start.LESSONS), whole=True))
def start(c: Context, number: int, lab_file: str | None = None, yes: bool = False) -> None:
    """Put the seed lab where lesson N starts, from any state: exercise stopped, promotion undone, built as designed."""
    lesson = lesson_start.LESSONS[int(number)]
    print(lesson_start.what_it_does(lesson))
    confirm(yes)
    lesson_start.start(settings(c, lab_file=lab_file), lesson, print)
