"""The drills: which node each one breaks and how, how it is undone, and the lesson.

A drill names its target by name ("web-01") or by part ("the primary", "the balancer clients reach"),
resolved on the design it runs on; what the design predicts follows from the target's roles (see
predictions.py), so the same drill on another design predicts what that design should do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..live import LiveLab
from ..providers import ProviderError
from ..topology import NodeSpec

PARTITION_TABLE = "foobar_drill"


class DrillRefused(ProviderError):
    """The drill cannot run on this lab or design; the message says why and what to do."""


Action = Callable[[LiveLab, NodeSpec], None]


@dataclass(frozen=True)
class Fault:
    """What a drill does to its target: which of the node's roles stop working, and how."""

    kind: str  # power, service or partition
    breaks: Callable[[NodeSpec], frozenset[str]]  # the roles of the node that stop working
    inject: Action
    restore: Action
    title: Callable[[NodeSpec, LiveLab], str]


def power_cut() -> Fault:
    """The node loses power: no clean shutdown (the provider's hard stop)."""
    return Fault(
        kind="power",
        breaks=lambda node: frozenset(node.roles),
        inject=lambda live, node: live.session.provider.stop_hard(node.name),
        restore=lambda live, node: live.session.provider.start(node.name),
        title=lambda node, live: f"{node.name} loses power",
    )


def service_down(unit: str, role: str, label: str, how: str) -> Fault:
    """One service on the node stops (`how` is the systemctl command that stops it)."""
    return Fault(
        kind="service",
        breaks=lambda node: frozenset({role} if role != "database" else set(node.roles) & {"db_primary", "db_replica"}),
        inject=lambda live, node: _on(live, node, f"systemctl {how} {unit}"),
        restore=lambda live, node: _on(live, node, f"systemctl start {unit}"),
        title=lambda node, live: f"{label} on {node.name}",
    )


def partition_from_primary() -> Fault:
    """A firewall table inside the node drops everything to and from the database primary."""

    def inject(live: LiveLab, node: NodeSpec) -> None:
        peer = live.lab.primary.address
        rules = (
            f"add table inet {PARTITION_TABLE}; "
            f"add chain inet {PARTITION_TABLE} input {{ type filter hook input priority 0; policy accept; }}; "
            f"add rule inet {PARTITION_TABLE} input ip saddr {peer} drop; "
            f"add chain inet {PARTITION_TABLE} output {{ type filter hook output priority 0; policy accept; }}; "
            f"add rule inet {PARTITION_TABLE} output ip daddr {peer} drop"
        )
        _on(live, node, f"nft '{rules}'")

    return Fault(
        kind="partition",
        breaks=lambda node: frozenset(),
        inject=inject,
        restore=lambda live, node: _on(live, node, f"nft delete table inet {PARTITION_TABLE}"),
        title=lambda node, live: f"{node.name} loses its link to {live.lab.primary.name}",
    )


def _on(live: LiveLab, node: NodeSpec, command: str) -> None:
    live.shells.must(node.name, command, kind="run")


Target = Callable[[LiveLab], NodeSpec]


def node_named(name: str, needs: str | None = None) -> Target:
    """A node of the design by name (which must have the role `needs`, where given)."""

    def find(live: LiveLab) -> NodeSpec:
        if not live.lab.has_node(name):
            raise DrillRefused(f"this design ({live.lab.source.name}) has no node {name}")
        node = live.lab.node(name)
        if needs is not None and not node.has_role(needs):
            raise DrillRefused(f"{name} has no role {needs} in this design ({live.lab.source.name})")
        return node

    return find


def the_primary(live: LiveLab) -> NodeSpec:
    return live.lab.primary


def entry_balancer(live: LiveLab) -> NodeSpec:
    """The load balancer that clients reach now (the one at the entry address)."""
    for balancer in live.lab.balancers:
        if balancer.address == live.lab.entry_address:
            return balancer
    raise DrillRefused("no load balancer holds the entry address in this design")


def replica_named(name: str) -> Target:
    """A node by name that is not the primary (it is cut off from it)."""
    find = node_named(name)

    def replica(live: LiveLab) -> NodeSpec:
        node = find(live)
        if node == live.lab.primary:
            raise DrillRefused(f"{name} holds the primary in this design: it cannot be cut off from itself")
        return node

    return replica


@dataclass(frozen=True)
class Drill:
    """One failure drill."""

    name: str
    target: Target
    fault: Fault
    lesson: str
    lesson_link: str
    summary: str  # for `invoke --list`: what breaks, in words that hold on every design


DRILLS: tuple[Drill, ...] = (
    Drill(
        name="kill-web1",
        summary="web-01 loses power",
        target=node_named("web-01"),
        fault=power_cut(),
        lesson=(
            "Reads went on: HAProxy's round robin sent every request to web-02 once its health checks (and "
            "the failed connections it observed) marked web-01 DOWN, and the requests caught in between were "
            "retried on web-02 (option redispatch). Writes failed for the whole outage: web-01 holds the only "
            "primary database, and web-02's replica is read-only. Active-active web servers do not make the "
            "data tier active-active: web-01 is a single point of failure for writes."
        ),
        lesson_link="docs/lessons/04-primary-replica.md",
    ),
    Drill(
        name="kill-web2",
        summary="web-02 loses power",
        target=node_named("web-02"),
        fault=power_cut(),
        lesson=(
            "Everything went on through web-01, which holds the primary: losing the replica's node costs "
            "capacity, not service. When web-02 came back, its replica reconnected and replayed every "
            "transaction it had missed from the primary's binary log (GTID replication), so no acknowledged "
            "write is missing on either database."
        ),
        lesson_link="docs/lessons/04-primary-replica.md",
    ),
    Drill(
        name="kill-lb",
        summary="the load balancer clients reach loses power",
        target=entry_balancer,
        fault=power_cut(),
        lesson=(
            "Every request failed until lb-01 was back, although both web servers and both databases were "
            "healthy the whole time: all traffic enters through one load balancer, the design's single point "
            "of failure. The usual cure is a second load balancer sharing a virtual IP (keepalived/VRRP) or "
            "DNS with several addresses."
        ),
        lesson_link="docs/lessons/05-single-points-of-failure.md",
    ),
    Drill(
        name="stop-nginx-web1",
        summary="Nginx dies on web-01",
        target=node_named("web-01", needs="web"),
        fault=service_down("nginx", "web", "Nginx dies", "kill --signal=KILL"),
        lesson=(
            "The node lived but its web server did not: HAProxy's HTTP health check (GET /api/health through "
            "Nginx) failed, and web-01 was taken out of the round robin; once Nginx was started again, two "
            "passing checks (rise 2) put it back. Writes still worked: web-02's application writes to the "
            "primary database on web-01, which never stopped."
        ),
        lesson_link="docs/lessons/02-load-balancer.md",
    ),
    Drill(
        name="stop-app-web2",
        summary="the application server stops on web-02",
        target=node_named("web-02", needs="app"),
        fault=service_down("foobar-app", "app", "the application server stops", "stop"),
        lesson=(
            "Nginx on web-02 still answered, but with 502 errors, since gunicorn was gone. The health check "
            "asks the application itself (/api/health), not just the port, so HAProxy noticed and sent "
            "everything to web-01 until the application was back. A check that only opened port 80 would have "
            "kept sending users to a broken node."
        ),
        lesson_link="docs/lessons/02-load-balancer.md",
    ),
    Drill(
        name="kill-db-primary",
        summary="MariaDB stops on the primary",
        target=the_primary,
        fault=service_down("mariadb", "database", "MariaDB stops", "stop"),
        lesson=(
            "web-01's application could no longer read its own database, so its health check failed and "
            "HAProxy took web-01 out; web-02 kept serving reads from its replica. Every write failed, because "
            "there is one primary and nothing promotes the replica. Note what the health checks saw: web-02 "
            "stayed UP although it could not take a single write. A check sees only what it tests, and the "
            "design has no monitoring to watch the write path."
        ),
        lesson_link="docs/lessons/04-primary-replica.md",
    ),
    Drill(
        name="partition-web2",
        summary="web-02 loses its link to the primary",
        target=replica_named("web-02"),
        fault=partition_from_primary(),
        lesson=(
            "The site still answered every read: lb-01 reaches both web nodes, and web-02 reads from its own "
            "replica. But the replica stopped receiving the primary's changes, so web-02 served stale pages "
            "(the lag grew with every write), and writes that landed on web-02 failed because it could not "
            "reach the primary. Once the link healed, the replica caught up by itself. A split network is "
            "quieter than a dead node, and the design has no monitoring to notice it."
        ),
        lesson_link="docs/lessons/04-primary-replica.md",
    ),
)


def by_name(name: str) -> Drill:
    for drill in DRILLS:
        if drill.name == name:
            return drill
    raise KeyError(name)
