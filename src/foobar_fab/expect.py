"""The vocabulary of checks: expect a condition (or fail saying what was seen), and retry for a while."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

SETTLE_SECONDS = 15.0  # a fresh build may still be passing HAProxy's first health checks


class CheckFailed(AssertionError):
    """A check saw something other than wanted; the message says what it saw."""


def expect(condition: bool, seen: str) -> str:
    """Return what was seen when the condition holds; raise CheckFailed with it otherwise."""
    if not condition:
        raise CheckFailed(seen)
    return seen


def eventually(probe: Callable[[], str], timeout: float = SETTLE_SECONDS) -> str:
    """Retry a probe until it passes or the time is up (then its last failure stands)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except (CheckFailed, requests.RequestException):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
