"""Test doubles for unit tests: probe outcomes built by hand, an executor that replays them, a provider that reaches nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from foobar_fab.console import Console
from foobar_fab.executors import Outcome, SshParams
from foobar_fab.providers.base import LabNotUp, NodeStatus, Provider
from foobar_fab.steps import Runner
from foobar_fab.topology import Lab


def probed(stdout: str = "", exited: int = 0, stderr: str = "", command: str = "probe") -> Outcome:
    """A command's outcome as an executor would return it."""
    return Outcome(command, exited, stdout, stderr)


@dataclass
class FakeExecutor:
    """Records every command and file write; answers from a script keyed by command (default: success).

    Like the real executors, it prints each command through the console before "running" it.
    """

    console: Console
    script: Mapping[str, Outcome] = field(default_factory=dict)
    label: str = "node"
    calls: list[tuple[str, str]] = field(default_factory=list)

    def run(self, command: str, kind: str = "run") -> Outcome:
        self.console.command(self.label, kind, command)
        self.calls.append((kind, command))
        return self.script.get(command, Outcome(command, 0, "", ""))

    def put(self, path: str, content: str, mode: str = "0644") -> Outcome:
        self.console.command(self.label, "put", path)
        self.calls.append(("put", path))
        return self.script.get(f"put {path}", Outcome(f"write {path}", 0, "", ""))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


class RecordingProvider(Provider):
    """A provider that reaches nothing: it records every call (every way to a node goes through one) and
    answers that the lab is not up."""

    name = "fake"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.calls: list[str] = []

    def _refuse(self, call: str) -> NoReturn:
        self.calls.append(call)
        raise LabNotUp(f"the fake lab is not up ({call})")

    def preflight(self) -> None:
        self.calls.append("preflight")

    def up(self, runner: Runner) -> bool:
        self._refuse("up")

    def stop_hard(self, node: str) -> None:
        self._refuse(f"stop_hard {node}")

    def start(self, node: str) -> None:
        self._refuse(f"start {node}")

    def destroy(self, runner: Runner) -> bool:
        self._refuse("destroy")

    def status(self) -> list[NodeStatus]:
        self._refuse("status")

    def ssh_params(self, node: str) -> SshParams:
        self._refuse(f"ssh_params {node}")

    def network_present(self) -> bool:
        self._refuse("network_present")
