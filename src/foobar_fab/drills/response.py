"""What a drill may do about its fault besides waiting: the operator's part (a failover, say).

A response acts right after the fault is injected, again once the fault is undone, and last, after the
report, to put the lab back as the design has it. What it finds goes into the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..live import LiveLab
from ..roles import BuildOptions
from ..topology import NodeSpec


class Event(Protocol):
    """Record a moment of the drill (now, or at a given time of the drill's clock); returns its time."""

    def __call__(self, what: str, detail: str, at: float | None = None) -> float: ...


@dataclass
class DrillRun:
    """One run of a drill, as its response sees it."""

    live: LiveLab
    target: NodeSpec
    event: Event
    clock: Callable[[], float]  # seconds on the drill's clock
    options: BuildOptions  # the build options the drill runs with (a replication mode)
    duration: float  # seconds the fault lasts: the longest the response may wait for it to show
    findings: dict[str, Any] = field(default_factory=dict)  # what the response saw, for the report


Act = Callable[[DrillRun], None]


@dataclass(frozen=True)
class Response:
    """The operator's part of a drill."""

    during: Act  # right after the fault is injected
    after: Act  # once the fault is undone, before the lab counts as recovered
    finish: Act  # after the report: the lab as the design has it again
