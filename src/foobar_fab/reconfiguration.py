"""A running lab reconfigured: the build options it runs with now, and roles applied again with other ones.

A lab records no build options. HAProxy's config tells the load balancer's (the algorithm and the backup
servers `invoke lb.*` chose), the design tells the rest (its replication mode). Every change of a running
lab's configuration goes through the build's own steps, from here: `invoke lb.*`, a drill's HAProxy
profile and replication mode, a promotion settling, an exercise's put-back, a benchmark's plain HTTP.
"""

from __future__ import annotations

from collections.abc import Collection

from .build import certificates, converge
from .live import LiveLab
from .observe.haproxy import BACKEND
from .roles import BuildOptions
from .roles.loadbalancer import CONFIG
from .session import LabSession
from .steps import Runner
from .topology import DB_ROLES

LOAD_BALANCER = ("loadbalancer",)


def parse_options(config: str) -> BuildOptions:
    """The build options a haproxy.cfg was written with, as far as it tells: the web backend's algorithm and
    backup servers."""
    balance, backups, inside = "roundrobin", [], False
    for line in config.splitlines():
        words = line.split()
        if line and not line[0].isspace():
            inside = words[:2] == ["backend", BACKEND]
        elif inside and words[:1] == ["balance"] and len(words) > 1:
            balance = words[1]
        elif inside and words[:1] == ["server"] and "backup" in words[3:]:
            backups.append(words[1])
    return BuildOptions(balance=balance, backups=tuple(backups))


def running_options(live: LiveLab) -> BuildOptions:
    """The build options the lab's HAProxy runs with now (what `invoke lb.*` chose), read from the first
    balancer's config (a build gives every balancer the same one): the one place they are read."""
    return parse_options(live.shells.must(live.lab.balancers[0].name, f"cat {CONFIG}", kind="probe", show=False))


def reconfigure(session: LabSession, roles: Collection[str], options: BuildOptions = BuildOptions(), skip: Collection[str] = ()) -> bool:
    """Apply some roles again (with other build options: a drill's untuned HAProxy), through the build's own steps,
    on every node that has them but those to skip; True when nothing failed."""
    if isinstance(roles, str):
        raise TypeError(f"reconfigure takes a collection of role names, not the string {roles!r}")
    session.provider.require_up()
    return _converge(session, options, set(roles), skip)


def haproxy(session: LabSession, options: BuildOptions) -> bool:
    """The load balancers' config written with these options (HAProxy reloads where it changes); True when it went through."""
    return reconfigure(session, LOAD_BALANCER, options)


def replication(live: LiveLab, mode: str | None, semi_sync_timeout_ms: int | None = None) -> bool:
    """Make the database servers replicate in another mode and semi-sync timeout (None: the design's), through
    the build's own steps, showing only what changes; False if a step failed."""
    with live.console.briefly():
        return reconfigure(live.session, DB_ROLES, BuildOptions(replication=mode, semi_sync_timeout_ms=semi_sync_timeout_ms))


def as_built(session: LabSession) -> bool:
    """Every role of the design applied again with the design's options, on every node (the lab put back as
    built, after an exercise); True when nothing failed."""
    return _converge(session, BuildOptions(), None, ())


def _converge(session: LabSession, options: BuildOptions, only: Collection[str] | None, skip: Collection[str]) -> bool:
    runner = Runner(session.console)
    return converge(session, runner, session.secrets, options, only=only, tls=certificates(session), skip=skip) and not runner.failures
