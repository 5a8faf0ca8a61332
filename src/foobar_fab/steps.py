"""The step layer: probe, compare, act.

A step reads a node's state with one quiet probe command, decides from that output alone (a pure
function, tested without a node), and returns a plan: the actions to take and the reason. A plan with
no actions means the node is already as wanted ("ok"); otherwise the actions run and the step reports
"changed". The first failing action ends the node's run with the step, the command and its error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

from .console import Console
from .executors import Executor, Outcome


@dataclass(frozen=True)
class Run:
    """Run a shell command; a non-zero exit fails the step.

    A command that `reports` prints one line saying what it found or did (e.g. where packages came
    from), added to the step's reason; when it fails, its last line on stderr says why, on its own.
    """

    command: str
    reports: bool = False


@dataclass(frozen=True)
class Put:
    """Write a whole file with the given mode."""

    path: str
    content: str
    mode: str = "0644"


Action = Run | Put


@dataclass(frozen=True)
class Plan:
    """What a step will do, and why (or why nothing has to be done)."""

    reason: str
    actions: tuple[Action, ...] = ()

    @property
    def changes(self) -> bool:
        return bool(self.actions)


def ok(reason: str) -> Plan:
    """Nothing to do: the node is already as wanted."""
    return Plan(reason)


def change(reason: str, *actions: Action) -> Plan:
    """Act to bring the node to the wanted state."""
    return Plan(reason, tuple(actions))


class Step(ABC):
    """One idempotent piece of configuration."""

    name: str = "step"

    @abstractmethod
    def probe(self) -> str:
        """A read-only shell command whose output tells the current state."""

    @abstractmethod
    def decide(self, probe: Outcome) -> Plan:
        """Compare the probed state with the wanted one (no I/O here)."""


class StepError(Exception):
    """A step cannot decide from what it probed; the message says why."""


@dataclass(frozen=True)
class Failure:
    """A failed step, for the final report."""

    who: str
    step: str
    error: str

    def __str__(self) -> str:
        return f"{self.who}: step '{self.step}': {self.error}"


@dataclass
class Runner:
    """Applies steps on executors and records every result on the console."""

    console: Console
    failures: list[Failure] = field(default_factory=list)

    def apply(self, who: str, executor: Executor, steps: Iterable[Step]) -> bool:
        """Apply the steps in order; stop at the first failure. True when all succeeded."""
        for step in steps:
            error = self._apply_one(who, executor, step)
            if error is not None:
                self.failures.append(Failure(who, step.name, error))
                self.console.result(who, step.name, "failed", error)
                return False
        return True

    def _apply_one(self, who: str, executor: Executor, step: Step) -> str | None:
        try:
            plan = step.decide(executor.run(step.probe(), kind="probe"))
        except StepError as err:
            return str(err)
        except Exception as err:  # a node that vanished or a lost connection: report, don't crash
            return f"{type(err).__name__}: {err}"
        if not plan.changes:
            self.console.result(who, step.name, "ok", plan.reason)
            return None
        said = []
        for action in plan.actions:
            try:
                outcome = _perform(executor, action)
            except Exception as err:
                return f"{type(err).__name__}: {err}"
            if not outcome.ok:
                explained = isinstance(action, Run) and action.reports and lines(outcome.stderr)
                return lines(outcome.stderr)[-1] if explained else outcome.error()
            if isinstance(action, Run) and action.reports and lines(outcome.stdout):
                said.append(lines(outcome.stdout)[-1])
        self.console.result(who, step.name, "changed", plan.reason + (f" ({'; '.join(said)})" if said else ""))
        return None


def _perform(executor: Executor, action: Action) -> Outcome:
    if isinstance(action, Put):
        return executor.put(action.path, action.content, action.mode)
    return executor.run(action.command)


def lines(text: str) -> list[str]:
    """Non-empty stripped lines of probe output."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def fields(text: str) -> dict[str, str]:
    """The 'key: value' lines of a stamp or a marker as a dict (other lines are skipped)."""
    return dict(row.split(": ", 1) for row in lines(text) if ": " in row)


SECTION = "@@"


def sections(stdout: str, count: int) -> list[str]:
    """Split probe output made of `count` parts separated by '@@' lines."""
    parts = stdout.split(f"{SECTION}\n")
    if len(parts) != count:
        raise StepError(f"unexpected probe output ({len(parts)} parts, wanted {count}): {stdout[:200]!r}")
    return parts
