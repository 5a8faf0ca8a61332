"""The one polling loop: asked until the condition holds, or the time is up."""

from __future__ import annotations

import time

from foobar_fab.waiting import wait_until


def test_wait_until_asks_until_the_condition_holds() -> None:
    answers = iter([False, False, True])
    asked: list[float] = []

    def condition() -> bool:
        asked.append(time.monotonic())
        return next(answers)

    assert wait_until(condition, timeout=5.0, interval=0.01)
    assert len(asked) == 3


def test_wait_until_gives_up_at_the_deadline_having_asked_at_least_once() -> None:
    asked: list[bool] = []
    started = time.monotonic()
    assert not wait_until(lambda: asked.append(True) or False, timeout=0.05, interval=0.01)
    assert asked and time.monotonic() - started < 1.0
    asked.clear()
    assert not wait_until(lambda: asked.append(True) or False, timeout=0.0, interval=0.01)
    assert asked == [True]
