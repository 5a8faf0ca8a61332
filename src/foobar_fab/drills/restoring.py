"""Ctrl-C while a drill puts the lab back: the first press only says so, a second abandons the restore.

A restore cut short would leave the fault in place (a node stopped, a link cut, a slow server) with no
report. So while it runs, one Ctrl-C is noted and the restore goes on; a second one stops the drill
with one line saying what may be left and that `invoke build` puts it back.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

WAIT_NOTE = "Ctrl-C: the lab is being put back first (the restore goes on); Ctrl-C again abandons it\n"


class RestoreAbandoned(KeyboardInterrupt):
    """Ctrl-C twice while the lab was being put back: the message says what may be left and what to do."""


@contextmanager
def restoring(fault: str, now: Callable[[], float]) -> Iterator[list[float]]:
    """Run the restore of `fault` with Ctrl-C held back once; yields the times (drill clock) of the presses."""
    presses: list[float] = []
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield presses
        return

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        presses.append(now())
        if len(presses) == 1:
            os.write(sys.stderr.fileno(), WAIT_NOTE.encode())  # not print(): the handler may run inside one
            return
        raise RestoreAbandoned(
            f"interrupted: the restore was abandoned, so '{fault}' may still be in place: "
            "run `invoke build` to put the lab back, then `invoke check`"
        )

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield presses
    finally:
        signal.signal(signal.SIGINT, previous)
