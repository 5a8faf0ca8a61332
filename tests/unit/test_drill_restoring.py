"""Ctrl-C while a drill puts the lab back: held back once, a second press abandons the restore."""

from __future__ import annotations

import os
import signal

import pytest

from foobar_fab.drills.restoring import RestoreAbandoned, restoring


def press_ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def test_one_ctrl_c_is_noted_and_the_restore_goes_on(capfd: pytest.CaptureFixture[str]) -> None:
    before = signal.getsignal(signal.SIGINT)
    finished = False
    with restoring("web-02 loses power", lambda: 7.5) as presses:
        press_ctrl_c()
        finished = True
    assert finished and presses == [7.5]
    assert "Ctrl-C again abandons it" in capfd.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before


def test_a_second_ctrl_c_abandons_it_and_says_what_to_do() -> None:
    before = signal.getsignal(signal.SIGINT)
    abandoned = pytest.raises(RestoreAbandoned, match=r"'web-02 loses power' may still be in place: run `invoke build`")
    with abandoned, restoring("web-02 loses power", lambda: 1.0):
        press_ctrl_c()
        press_ctrl_c()
    assert signal.getsignal(signal.SIGINT) is before
    assert isinstance(RestoreAbandoned("x"), KeyboardInterrupt)  # the tasks turn it into its own line, exit 130
