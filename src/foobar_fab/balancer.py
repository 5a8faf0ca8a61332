"""The load balancer in a class's hands: HAProxy changed while it runs, and put back by `invoke build`.

A server's weight and its administrative state (ready, drain, maint) change live through HAProxy's
runtime API, on every balancer of the design, with nothing restarted. HAProxy 2.6 cannot change its
algorithm or make a server a backup that way: those go through the build's own steps, with a build
option, and HAProxy reloads (a new process takes over the sockets; its counters start again at 0).
"""

from __future__ import annotations

import dataclasses

from . import reconfiguration
from .errors import LabError
from .live import LiveLab
from .observe.haproxy import BACKEND, runtime_command
from .roles import BuildOptions
from .roles.loadbalancer import ALGORITHMS
from .session import LabSession
from .topology import NodeSpec

MAX_WEIGHT = 256  # HAProxy's limit
STATES = ("ready", "drain", "maint")


def web_server(live: LiveLab, name: str) -> NodeSpec:
    """A web server of the design (HAProxy's server of the same name), or one line saying which exist."""
    names = [w.name for w in live.lab.web_nodes]
    if name not in names:
        raise LabError(f"{name} is not a web server of this design ({live.lab.source.name}): {', '.join(names)}")
    return live.lab.node(name)


def tell(live: LiveLab, command: str) -> None:
    """Send one runtime command to HAProxy on every balancer; HAProxy answers nothing when it accepts it."""
    for balancer in live.lab.balancers:
        answer = live.shells.must(balancer.name, runtime_command(command), kind="run").strip()
        if answer:
            raise LabError(f"{balancer.name}: HAProxy refused `{command}`: {answer.splitlines()[0]}")


def set_state(live: LiveLab, name: str, state: str) -> None:
    """ready, drain (no new requests, what is under way finishes) or maint (nothing at all, checks stop)."""
    if state not in STATES:
        raise LabError(f"unknown state {state!r}: one of {', '.join(STATES)}")
    tell(live, f"set server {BACKEND}/{web_server(live, name).name} state {state}")


def algorithm(name: str) -> str:
    """An algorithm given on the command line, checked."""
    if name not in ALGORITHMS:
        raise LabError(f"unknown algorithm {name!r}: one of {', '.join(ALGORITHMS)}")
    return name


def set_weight(live: LiveLab, name: str, weight: int) -> None:
    """The server's share: HAProxy gives each server requests in proportion to its weight (the config gives 1)."""
    tell(live, f"set server {BACKEND}/{web_server(live, name).name} weight {weight}")


def rebuild(session: LabSession, options: BuildOptions) -> None:
    """HAProxy's config with these options, through the build's own steps (a reload where it changes)."""
    algorithm(options.balance)
    if not reconfiguration.haproxy(session, options):
        raise LabError("HAProxy's config could not be changed (see the failed step above); `invoke build` puts the design's back")


def active_passive(live: LiveLab, backup: str | None) -> BuildOptions:
    """The options that make one web server a backup (the last, unless named), keeping the running algorithm."""
    if len(live.lab.web_nodes) < 2:
        raise LabError("active-passive needs two web servers: this design has one")
    name = web_server(live, backup).name if backup else live.lab.web_nodes[-1].name
    return dataclasses.replace(reconfiguration.running_options(live), backups=(name,))


def table(live: LiveLab) -> list[str]:
    """Each balancer's algorithm, and each web server's status, weight, role and requests, as HAProxy counts them."""
    choices = reconfiguration.running_options(live)
    rows = []
    for balancer in live.lab.balancers:
        servers = live.stats(balancer).server_rows(timeout=2.0)
        rows.append(f"{balancer.name}: balance {choices.balance}")
        rows.append(f"  {'SERVER':<8} {'STATUS':<10} {'WEIGHT':>6}  {'ROLE':<7} {'NOW':>4} {'GIVEN':>6}")
        for name, row in sorted(servers.items()):
            role = "backup" if row.get("bck") == "1" else "active"
            rows.append(f"  {name:<8} {row['status']:<10} {row['weight']:>6}  {role:<7} {row['scur']:>4} {row['lbtot']:>6}")
    return rows
