"""Test doubles for unit tests: probe outcomes built by hand and an executor that replays them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from foobar_fab.console import Console
from foobar_fab.executors import Outcome


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
