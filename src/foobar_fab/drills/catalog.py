"""The drills: which fault each one injects, how it is undone, what the design predicts, and the lesson."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..executors import RemoteExecutor
from ..session import LabSession
from .figures import Expectation, Figures

PARTITION_TABLE = "foobar_drill"


@dataclass
class FaultContext:
    """How a drill reaches the lab: the provider for power cuts, SSH for everything on a node."""

    session: LabSession

    def address(self, node: str) -> str:
        return str(self.session.lab.node(node).address)

    def on_node(self, node: str, command: str) -> None:
        """Run a command on a node over SSH, printed as it runs; raise if it fails."""
        executor = RemoteExecutor(node, self.session.provider.ssh_params(node), self.session.console)
        try:
            outcome = executor.run(command)
        finally:
            executor.close()
        if not outcome.ok:
            raise RuntimeError(f"{node}: {outcome.error()}")


Action = Callable[[FaultContext], None]


@dataclass(frozen=True)
class Drill:
    """One failure drill."""

    name: str
    title: str
    target: str | None  # the web server HAProxy should take out, if any
    inject: Action
    restore: Action
    expectations: Callable[[Figures], list[Expectation]]
    lesson: str
    lesson_link: str


def power_cut(node: str) -> Action:
    return lambda ctx: ctx.session.provider.stop_hard(node)


def power_on(node: str) -> Action:
    return lambda ctx: ctx.session.provider.start(node)


def on_node(node: str, command: str) -> Action:
    return lambda ctx: ctx.on_node(node, command)


def partition(node: str, peer: str) -> Action:
    """A firewall table inside the node that drops everything to and from its peer."""

    def inject(ctx: FaultContext) -> None:
        peer_address = ctx.address(peer)
        rules = (
            f"add table inet {PARTITION_TABLE}; "
            f"add chain inet {PARTITION_TABLE} input {{ type filter hook input priority 0; policy accept; }}; "
            f"add rule inet {PARTITION_TABLE} input ip saddr {peer_address} drop; "
            f"add chain inet {PARTITION_TABLE} output {{ type filter hook output priority 0; policy accept; }}; "
            f"add rule inet {PARTITION_TABLE} output ip daddr {peer_address} drop"
        )
        ctx.on_node(node, f"nft '{rules}'")

    return inject


def kill_web1_expectations(f: Figures) -> list[Expectation]:
    return [
        f.detected_within(2.0),
        f.none_failed("read"),
        f.all_failed("write", "no primary: every write fails until web-01 is back"),
        f.none_slower_than(1.0, "read"),
        f.no_acknowledged_write_lost(),
    ]


def service_outage_expectations(f: Figures) -> list[Expectation]:
    return [
        f.detected_within(2.0),
        f.none_failed("read"),
        f.none_failed("write", after_detection=True),
        f.no_acknowledged_write_lost(),
    ]


DRILLS: tuple[Drill, ...] = (
    Drill(
        name="kill-web1",
        title="web-01 loses power",
        target="web-01",
        inject=power_cut("web-01"),
        restore=power_on("web-01"),
        expectations=kill_web1_expectations,
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
        title="web-02 loses power",
        target="web-02",
        inject=power_cut("web-02"),
        restore=power_on("web-02"),
        expectations=lambda f: [
            f.detected_within(2.0),
            f.none_failed("read"),
            f.none_failed("write", after_detection=True),
            f.no_acknowledged_write_lost(),
        ],
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
        title="lb-01 loses power",
        target=None,
        inject=power_cut("lb-01"),
        restore=power_on("lb-01"),
        expectations=lambda f: [
            f.all_failed("read", "no load balancer: every request fails"),
            f.all_failed("write", "no load balancer: every request fails"),
            f.no_acknowledged_write_lost(),
        ],
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
        title="Nginx dies on web-01",
        target="web-01",
        inject=on_node("web-01", "systemctl kill --signal=KILL nginx"),
        restore=on_node("web-01", "systemctl start nginx"),
        expectations=service_outage_expectations,
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
        title="the application server stops on web-02",
        target="web-02",
        inject=on_node("web-02", "systemctl stop foobar-app"),
        restore=on_node("web-02", "systemctl start foobar-app"),
        expectations=service_outage_expectations,
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
        title="MariaDB stops on web-01",
        target="web-01",
        inject=on_node("web-01", "systemctl stop mariadb"),
        restore=on_node("web-01", "systemctl start mariadb"),
        expectations=lambda f: [
            f.detected_within(2.0),
            f.none_failed("read"),
            f.all_failed("write", "the only primary is down: every write fails"),
            f.no_acknowledged_write_lost(),
        ],
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
        title="web-02 loses its link to web-01",
        target=None,
        inject=partition("web-02", "web-01"),
        restore=on_node("web-02", f"nft delete table inet {PARTITION_TABLE}"),
        expectations=lambda f: [
            f.none_failed("read"),
            f.lag_grew(),
            f.all_failed("write", "writes that reach web-02 fail: it cannot reach the primary", node="web-02"),
            f.no_acknowledged_write_lost(),
        ],
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
