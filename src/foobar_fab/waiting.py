"""Waiting for something to become true on the lab, with a deadline: the one polling loop."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], bool], timeout: float, interval: float) -> bool:
    """Ask the condition every `interval` seconds until it holds (True) or `timeout` seconds have passed
    (False); it is asked at least once."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True
