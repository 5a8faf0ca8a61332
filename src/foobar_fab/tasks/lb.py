"""`invoke lb.*`: change the load balancer while it runs, and see what it does; `invoke build` puts the design's back."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from invoke import Context, task

from .. import balancer, reconfiguration
from ..live import LiveLab, live
from ..roles.loadbalancer import ALGORITHMS
from .common import LAB_HELP, QUIET_HELP, session
from .options import WEB_SERVER, Choice, Number, options

SERVER_HELP = {**LAB_HELP, "server": "a web server of the design, e.g. web-01"}
UNDO = "undo: `invoke build` puts back what the design says"


def _report(lab: LiveLab, said: str | None = None) -> None:
    """What changed (if anything), then every balancer's view of its web servers."""
    if said:
        lab.console.line(said)
    for row in balancer.table(lab):
        lab.console.line(row)


@task(help=LAB_HELP)
@options()
def show(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Show HAProxy's algorithm, and each web server's status, weight, role and requests."""
    with live(session(c, lab_file=lab_file, provider=provider)) as lab:
        _report(lab)


@task(help={**SERVER_HELP, "weight": f"the server's new weight, 0 to {balancer.MAX_WEIGHT} (the config gives each server 1)"})
@options(server=WEB_SERVER, weight=Number("a whole number", 0, balancer.MAX_WEIGHT, whole=True))
def weight(c: Context, server: str, weight: int, lab_file: str | None = None, provider: str | None = None) -> None:
    """Set a web server's weight live (runtime API): its share of the requests."""
    s = session(c, lab_file=lab_file, provider=provider)
    with live(s) as lab:
        balancer.set_weight(lab, server, weight)
        _report(lab, f"{server}: weight {weight}, live, nothing restarted ({UNDO})")


def _state_task(state: str, doc: str, said: str) -> Callable[..., Any]:
    def body(c: Context, server: str, lab_file: str | None = None, provider: str | None = None) -> None:
        s = session(c, lab_file=lab_file, provider=provider)
        with live(s) as lab:
            balancer.set_state(lab, server, state)
            _report(lab, f"{server}: {said}")

    body.__doc__ = doc
    body.__name__ = state
    return task(options(server=WEB_SERVER)(body), name=state, help=SERVER_HELP)


drain = _state_task(
    "drain",
    "Drain a web server live: no new requests (runtime API).",
    f"draining, live: no new requests, those under way finish, health checks go on (back: invoke lb.ready; {UNDO})",
)
maint = _state_task(
    "maint",
    "Put a web server in maintenance live: no requests, no checks (runtime API).",
    f"in maintenance, live: no requests and no health checks (back: invoke lb.ready; {UNDO})",
)
ready = _state_task(
    "ready",
    "Bring a drained web server, or one in maintenance, back live (runtime API).",
    "ready, live: it takes requests again once its health checks pass",
)


@task(help={**QUIET_HELP, "algorithm": f"one of {', '.join(ALGORITHMS)}"})
@options(algorithm=Choice(ALGORITHMS))
def balance(c: Context, algorithm: str, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """Choose HAProxy's algorithm (through the build: HAProxy reloads)."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    with live(s) as lab:
        kept = reconfiguration.running_options(lab)
    balancer.rebuild(s, dataclasses.replace(kept, balance=algorithm))
    with live(s) as lab:
        _report(lab, f"balance {algorithm}: HAProxy 2.6 cannot change its algorithm live, so the build wrote it into the config and HAProxy reloaded ({UNDO})")


@task(name="active-passive", help={**QUIET_HELP, "backup": "the web server that waits (default: the design's last web server)"})
@options(backup=WEB_SERVER)
def active_passive(c: Context, backup: str | None = None, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """Make one web server a backup: traffic only when the others are down (through the build)."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    with live(s) as lab:
        options = balancer.active_passive(lab, backup)
    balancer.rebuild(s, options)
    with live(s) as lab:
        _report(lab, f"{', '.join(options.backups)}: backup, through the build (HAProxy 2.6 cannot make a server a backup live), HAProxy reloaded ({UNDO})")
