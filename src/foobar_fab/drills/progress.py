"""A drill under way, as it goes: every second, its per-second timeline so far (the same figures its report
will give, from the same records) and its events, in `drill-running.json` of the lab's state folder, for the
lab's page (`invoke web`) to show live. The file is removed when the drill's traffic stops."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import statefolder
from .figures import Figures
from .traffic import Request

EVERY = 1.0  # seconds between two writes
FRESH = 3.0  # seconds after which a file nobody renewed is a drill that ended without removing it


class Progress:
    """Writes the drill's progress every second while it runs; bounded by the drill's own window."""

    def __init__(self, path: Path, drill: str, title: str, records: Callable[[], list[Request]], now: Callable[[], float],
                 events: list[Any], moments: Callable[[], dict[str, float]]) -> None:
        self.path, self.drill, self.title = path, drill, title
        self.records, self.now, self.events, self.moments = records, now, events, moments
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="drill-progress", daemon=True)

    def state(self) -> dict[str, Any]:
        """What the page shows: the drill, its clock, its moments and events so far, and its timeline so far."""
        moments = self.moments()
        figures = Figures(records=self.records(), fault_at=moments["fault_at"], restore_at=moments["restore_at"])
        return {"drill": self.drill, "title": self.title, "at": time.time(), "t": round(self.now(), 1), **moments,
                "events": list(self.events), "timeline": figures.timeline()}

    def _run(self) -> None:
        while not self.done.wait(EVERY):
            try:
                statefolder.write(self.path, statefolder.json_text(self.state()))
            except OSError:
                return  # the lab's folder is gone: nothing to show the page

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.path.unlink(missing_ok=True)


def running(path: Path) -> dict[str, Any] | None:
    """The drill under way as its progress file says, or None (no file, or one not renewed for FRESH seconds)."""
    found = statefolder.read_json(path)
    if not isinstance(found, dict) or time.time() - float(found.get("at", 0)) > FRESH:
        return None
    return found
