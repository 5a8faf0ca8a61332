"""What a build-it lab is, as one record: the design it runs the lab on, what the student owns there, the work
not yet done at the start, the task and hints, and the criteria its grade measures.

A build-it lab changes the design the lab runs (web-03 added, a firewall switched on) as a design file of
its own, and names the (node, role) pairs the student builds. The start builds that design, then applies
the student's roles as they stood before (`before`: HAProxy without web-03, web-02 without a firewall)
and clears what no role takes away (a replica's data); the reference solution applies them as the design
says, after its groundwork (the primary's data copied). Texts are templates of the lab's details.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..live import LiveLab
from ..topology import Lab

Details = dict[str, str]
#: Something done on the live lab beside the build's steps (a replica's data taken away, or copied).
Action = Callable[[LiveLab, Details], None]
#: What a criterion still finds wrong on the live lab, in the student's terms (none: it passes), and what it saw.
Measure = Callable[[LiveLab, Details], tuple[list[str], str]]


@dataclass(frozen=True)
class Criterion:
    """One thing the grade measures; `what` is the student's goal as a template of the details."""

    id: str
    what: str
    measure: Measure
    settle: float = 0.0  # seconds the grade looks again while something is wrong (HAProxy's rise after a reload)
    last: bool = False  # measured only once every other criterion passes (the lab's checks: slow while things fail)


@dataclass(frozen=True)
class BuildIt:
    """One build-it lab."""

    name: str
    layer: str
    summary: str  # for `build-it.list`
    task: str  # what `build-it.start` prints: the work, with its details
    designs: str  # which designs it starts from, for people
    applies: Callable[[Lab], bool]
    details: Callable[[Lab], Details]  # the lab's names the texts use (the new server, the node to protect)
    change: Callable[[dict[str, Any], Details], None]  # the design file's data (topology.to_yaml's) made the lab's design
    owned: Callable[[Lab, Details], list[tuple[str, str]]]  # (node, role) pairs the student builds, on the lab's design
    before: Callable[[Lab, Details], Lab]  # the build-it lab's design -> the design the start applies the owned roles with
    criteria: tuple[Criterion, ...]
    hints: tuple[str, ...]  # in order; the last one is the solution
    clear: Action | None = None  # after the start's build: what the build does not take away by itself (a replica's data)
    groundwork: Action | None = None  # the reference solution's part before the roles are applied (the primary's data copied)
    finishing: Action | None = None  # the reference solution's part after the roles (the floating address moved)
    putting_back: Action | None = None  # the stop's part after the build: what it does not put back itself (the address)
