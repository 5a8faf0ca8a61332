"""The build-it lab under way on a lab, kept in clear in its state folder (build-it.json): there is no hidden
answer to a building task, only what the student owns while it runs.

What the student owns is a list of (node, role) pairs: the build's steps of that role on that node are
the student's work, so no build, `invoke lb.*` or drill writes them while the lab runs (see
build.converge). Its result (solved at the first passing grade, or stopped) is appended to the lab's
results (exercises.jsonl) beside the exercises', with `kind: build-it`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import statefolder
from .errors import LabError
from .statefolder import LabFolder

KIND = "build-it"


class BuildItError(LabError):
    """A build-it lab cannot be started, read or graded; the message says what to do."""


@dataclass
class Underway:
    """One build-it lab under way: which one, the design the lab ran before it, what the student owns."""

    lab: str
    original: str  # the design file the lab ran before the start (`build-it.stop` builds it again)
    owned: list[tuple[str, str]]  # (node, role): the build leaves these to the student
    details: dict[str, str] = field(default_factory=dict)  # the lab's names the texts use, chosen at the start
    started: float = field(default_factory=time.time)
    hints: int = 0
    grades: int = 0  # how many times the student graded (free: measuring is what a builder does)
    reference_fix: bool = False  # `build-it.solve` did the work, not the student
    passed: bool = False  # a grade passed (and was recorded); the work stays until `build-it.stop`

    @property
    def minutes(self) -> str:
        seconds = int(time.time() - self.started)
        return f"{seconds // 60} min {seconds % 60} s"

    def owns(self, node: str, role: str) -> bool:
        return (node, role) in {tuple(pair) for pair in self.owned}

    def described(self) -> str:
        """What the student owns, for messages: 'lb-01 (loadbalancer)'."""
        return ", ".join(f"{node} ({role})" for node, role in self.owned)


def load(folder: LabFolder) -> Underway | None:
    """The build-it lab under way, or None when none runs; BuildItError when its record cannot be read."""
    if not folder.build_it.exists():
        return None
    data = statefolder.read_json(folder.build_it)
    try:
        return Underway(**{**data, "owned": [(str(n), str(r)) for n, r in data["owned"]]})
    except (TypeError, KeyError, ValueError):
        raise BuildItError(f"{folder.build_it} cannot be read: remove it, then `invoke build --lab-file {folder.build_it_design}` or your design") from None


def save(folder: LabFolder, state: Underway) -> None:
    statefolder.write(folder.build_it, statefolder.json_text(asdict(state)))


def record(folder: LabFolder, state: Underway, outcome: str) -> dict[str, Any]:
    """The build-it lab's result appended to the lab's results (solved, stopped or not started)."""
    record = {
        "exercise": state.lab,
        "kind": KIND,
        "seed": 0,
        "design": Path(state.original).name,
        "outcome": outcome,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(state.started)),
        "seconds": round(time.time() - state.started),
        "hints": state.hints,
        "attempts": 1,  # no cause is judged: class.grades counts only the hints against it
        "grades": state.grades,
        "reference_fix": state.reference_fix,
    }
    folder.append_line(folder.exercise_results, json.dumps(record))
    return record


def end(folder: LabFolder) -> None:
    """No build-it lab runs any more: its state and its design file are removed."""
    folder.build_it.unlink(missing_ok=True)
    folder.build_it_design.unlink(missing_ok=True)
