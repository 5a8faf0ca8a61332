"""`invoke lesson.start N`: the lab put where lesson N starts, from any state it was left in.

Every lesson starts on the seed lab as designed: the seed design (a secured lab loses its hardening),
its primary (a promotion is undone: a fenced former primary is copied afresh, then a switchover gives
the primary back), HAProxy as designed (weights, algorithm, backups), no exercise or build-it lab running, every check
passing. Lessons that build a lab of their own start without it, so the build shows from nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import build as building
from . import buildit_underway, checks, design, promotion
from .buildit import runner as buildit
from .errors import LabError
from .exercises import runner
from .live import live
from .session import LabSession, open_session
from .settings import PROJECT_ROOT, Settings
from .steps import Runner

Out = Callable[[str], None]
SEED = "configs/lab.yml"


@dataclass(frozen=True)
class LessonStart:
    """Where a lesson starts: its page, and the designs whose labs it builds itself (removed first)."""

    number: int
    page: str
    builds: tuple[str, ...] = ()


LESSONS = {
    lesson.number: lesson
    for lesson in (
        LessonStart(1, "docs/lessons/01-three-servers.md"),
        LessonStart(2, "docs/lessons/02-load-balancer.md"),
        LessonStart(3, "docs/lessons/03-active-active.md"),
        LessonStart(4, "docs/lessons/04-primary-replica.md"),
        LessonStart(5, "docs/lessons/05-single-points-of-failure.md"),
        LessonStart(6, "docs/lessons/06-firewall-https-monitoring.md"),
        LessonStart(7, "docs/lessons/07-securing-and-monitoring.md"),
        LessonStart(8, "docs/lessons/08-scaling-up.md", builds=("configs/scaled.yml",)),
        LessonStart(9, "docs/lessons/09-when-the-primary-dies.md"),
    )
}


class LessonError(LabError):
    """The lab could not be put where the lesson starts; the message says what failed."""


def what_it_does(lesson: LessonStart) -> str:
    """One line: what lesson.start will change, said before it runs."""
    removed = "".join(f"; the lab of {design} is removed (the lesson builds it)" for design in lesson.builds)
    return (
        f"lesson.start {lesson.number}: the seed lab as designed ({SEED}): an exercise or build-it lab running is stopped, a promotion "
        f"undone (a fenced server copied afresh from the primary), HAProxy and every node built as designed{removed}"
    )


def seed_session(settings: Settings, other: str | None = None) -> LabSession:
    """A session on the seed lab (the settings' design file, configs/lab.yml unless another is named), or on
    the lab of another design of the project."""
    chosen = settings.but(lab_file=PROJECT_ROOT / other) if other else settings
    session = open_session(chosen.but(lab_file_named=True), any_design=True)
    session.provider.preflight()
    return session


def start(settings: Settings, lesson: LessonStart, out: Out) -> None:
    """Put the lab where the lesson starts (see the module's doc); one line a step."""
    for file in lesson.builds:
        other = seed_session(settings, file)
        if any(n.state != "missing" for n in other.provider.status()):
            if not other.provider.destroy(Runner(other.console)):
                raise LessonError(f"the lab of {file} could not be removed: `invoke destroy --lab-file {file}`")
            out(f"  removed the lab of {file}: lesson {lesson.number} builds it")
    session = seed_session(settings)
    if buildit_underway.load(session.folder) is not None:
        buildit.stop(session, lambda line: None)
        out("  stopped the build-it lab that was running (the lab back to its design)")
        session = seed_session(settings)
    if runner.drawer(session).running():
        runner.stop(session, lambda line: None)
        out("  stopped the exercise that was running (the lab restored)")
    if not building.build(session).ok:
        raise LessonError(f"the seed lab did not build: `invoke build --lab-file {settings.lab_file}` shows why")
    out("  built the seed design")
    give_back_the_primary(settings, out)
    session = seed_session(settings)
    with live(session) as lab:
        failed = [c for c in checks.check(lab) if not c.ok]
    if failed:
        raise LessonError(f"the lab is not healthy: {', '.join(sorted({c.id for c in failed}))} failed (`invoke check` shows them)")
    out(f"lab {session.lab.name} is where lesson {lesson.number} starts: {lesson.page}")


def give_back_the_primary(settings: Settings, out: Out) -> None:
    """After a promotion: each fenced former primary copied afresh, then the designed primary given its role back."""
    session = seed_session(settings)
    designed = design.load(session.settings.lab_file).primary.name  # the session's lab has the recorded primary applied
    for fenced in session.lab.fenced:
        with live(session, running=[fenced.name]) as lab:
            session = promotion.rebuild(lab, fenced)
        out(f"  {fenced.name} copied afresh from {session.lab.primary.name} (it was fenced after a failover)")
    if session.lab.primary.name != designed:
        with live(session, running=[n.name for n in session.lab.db_nodes]) as lab:
            promotion.switchover(lab, session.lab.node(designed))
        out(f"  {designed} is the primary again (a switchover, no write lost)")
