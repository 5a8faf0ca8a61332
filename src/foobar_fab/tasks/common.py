"""What every task shares: settings from invoke's config and flags, and one-line errors."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from invoke import Context
from invoke.exceptions import Exit

from ..console import Console
from ..errors import LabError
from ..session import LabSession, open_session, running_design
from ..settings import Settings
from ..topology import Lab

F = TypeVar("F", bound=Callable[..., Any])

#: Help shared by the flags most tasks take.
LAB_HELP = {
    "lab-file": "the lab's topology file (default: configs/lab.yml)",
    "provider": "where nodes come from: lxc (default), vagrant (the Vagrantfile), ssh (existing servers from an inventory) or incus (Incus containers)",
}
QUIET_HELP = {**LAB_HELP, "quiet": "hide the commands run on the nodes; show only results"}


def picture_help(width: int, height: int) -> dict[str, str]:
    """Help for the options of a task that takes a picture (options.PICTURE), with its default size."""
    return {
        "width": f"the window's width in pixels (default {width})",
        "height": f"the window's height in pixels (default {height})",
        "during": "run this command meanwhile (e.g. a drill), showing its output, and take the picture `after` seconds into it",
        "after": "seconds into the `during` command (default 10)",
    }


YES_HELP = {"yes": "do not ask first (asked only on a terminal: scripts go on without asking)"}


def settings(c: Context, **flags: Any) -> Settings:
    """Settings from invoke.yaml's `lab:` section, with the task's flags on top; without --lab-file, the design
    the lab runs comes before the default file."""
    base = Settings.from_mapping(dict(c.config.get("lab", {})))
    return base.but(**{k: v for k, v in flags.items() if v not in (None, False)}, lab_file_named=flags.get("lab_file") is not None)


def session(c: Context, any_design: bool = False, **flags: Any) -> LabSession:
    """The lab's session, its provider checked usable on this machine (one line if not); a line on stderr says
    which design the lab runs when it is not the file the task would have read."""
    s = settings(c, **flags)
    opened = open_session(s, Console(quiet=s.quiet), any_design)
    if opened.note:
        print(opened.note, file=sys.stderr, flush=True)
    opened.provider.preflight()
    return opened


def listed_design(c: Context, lab_file: str | None) -> Lab:
    """The design a listing is for: the one the lab runs (a line on stderr says so when it is not the file the
    task would have read), else the file; nothing is reached."""
    _, lab, note = running_design(settings(c, lab_file=lab_file), any_design=True)
    if note:
        print(note, file=sys.stderr)
    return lab


def confirm(yes: bool) -> None:
    """Before data is discarded: on a terminal, ask (unless --yes); scripts, with no terminal, go on as they always have."""
    if yes or not sys.stdin.isatty():
        return
    try:
        answer = input("go on? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise Exit("nothing done: not confirmed (--yes skips the question)", code=1)


def friendly(task_body: F) -> F:
    """Turn known errors and Ctrl-C into one line and a non-zero exit, never a traceback."""

    @functools.wraps(task_body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return task_body(*args, **kwargs)
        except LabError as err:
            raise Exit(f"error: {err}", code=2) from None
        except KeyboardInterrupt as err:
            message = str(err) or "interrupted: if a build was under way, run `invoke build` to finish it (or `invoke destroy`)"
            raise Exit(message, code=130) from None
        except Exit:
            raise
        except Exception as err:
            if os.environ.get("FOOBAR_FAB_DEBUG"):
                raise
            raise Exit(f"error: unexpected {type(err).__name__}: {err} (FOOBAR_FAB_DEBUG=1 shows the traceback)", code=1) from None

    return wrapper  # type: ignore[return-value]
