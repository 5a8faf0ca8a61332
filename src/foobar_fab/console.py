"""What the learner sees: commands as they run, step results, and the recap.

Lines from parallel nodes never mix within a line (one lock). Colour only on a terminal.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

_COLOURS = {"ok": "32", "changed": "33", "failed": "31", "cmd": "2", "head": "1", "note": "36"}


@dataclass
class Tally:
    """Counts of step results for one node, as in Ansible's PLAY RECAP."""

    ok: int = 0
    changed: int = 0
    failed: int = 0

    def count(self, status: str) -> None:
        """Count a step's result; like Ansible, ok counts every step that did not fail."""
        if status == "failed":
            self.failed += 1
            return
        self.ok += 1
        if status == "changed":
            self.changed += 1


@dataclass
class Console:
    """Prints lines prefixed with the node they concern; ``quiet`` hides the commands, ``brief`` also the
    steps that found nothing to do (a drill's failover shows only what it changed)."""

    quiet: bool = False
    brief: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    tallies: dict[str, Tally] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def colour(self) -> bool:
        return self.stream.isatty() and os.environ.get("NO_COLOR") is None and os.environ.get("TERM") != "dumb"

    def paint(self, kind: str, text: str) -> str:
        return f"\033[{_COLOURS[kind]}m{text}\033[0m" if self.colour else text

    def line(self, text: str = "") -> None:
        """Print one line, with every known secret masked."""
        for secret in self.secrets:
            text = text.replace(secret, "********")
        with self._lock:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def briefly(self) -> Iterator[None]:
        """Show only what changes or fails while the block runs (a reconfiguration inside a drill or a benchmark)."""
        before, self.brief = self.brief, True
        try:
            yield
        finally:
            self.brief = before

    def heading(self, text: str) -> None:
        if self.brief:
            return
        self.line(self.paint("head", f"== {text}"))

    def note(self, who: str, text: str) -> None:
        self.line(f"{who:<8} {self.paint('note', 'note')}     {text}")

    def command(self, who: str, kind: str, command: str) -> None:
        """A command about to run on a node: kind is 'probe', 'run' or 'put'."""
        if not (self.quiet or self.brief):
            self.line(self.paint("cmd", f"{who:<8} {kind:<8} {command}"))

    def result(self, who: str, step: str, status: str, reason: str) -> None:
        self.tallies.setdefault(who, Tally()).count(status)
        if self.brief and status == "ok":
            return
        self.line(f"{who:<8} {self.paint(status, f'{status:<8}')} {step}: {reason}")

    def recap(self) -> bool:
        """Print one line per node; return True when nothing failed."""
        self.heading("RECAP")
        width = max((len(n) for n in self.tallies), default=0)
        for who, t in sorted(self.tallies.items(), key=lambda item: (item[0] != "host", item[0])):
            failed = self.paint("failed", f"failed={t.failed}") if t.failed else f"failed={t.failed}"
            changed = self.paint("changed", f"changed={t.changed}") if t.changed else f"changed={t.changed}"
            self.line(f"{who:<{width}} : ok={t.ok} {changed} {failed}")
        return all(t.failed == 0 for t in self.tallies.values())
