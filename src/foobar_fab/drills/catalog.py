"""The drills: which node each one breaks and how, how it is undone, and the lesson.

A drill names its target by name ("web-01") or by part ("the primary", "the balancer clients reach"),
resolved on the design it runs on; what the design predicts follows from the target's roles (see
predictions.py), so the same drill on another design predicts what that design should do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..constants import APP_DELAY_FILE, DRILL_TABLE
from ..errors import LabError
from ..live import LiveLab
from ..observe.vip import holders
from ..topology import Lab, NodeSpec
from .failover import FAILOVER
from .response import Response

MULTICAST = "224.0.0.0/4"  # every IPv4 multicast group
SLOW_MS = 200  # how much later the slow server answers: well under HAProxy's 800 ms server timeout


class DrillRefused(LabError):
    """The drill cannot run on this lab or design; the message says why and what to do."""


class NotInThisDesign(DrillRefused):
    """The design has no target for the drill (no app-01, one load balancer...): `drill.all` skips it."""


Action = Callable[[LiveLab, NodeSpec], None]


@dataclass(frozen=True)
class Lead:
    """What goes wrong for a while before a drill's fault (a replica that stops receiving, say); the fault's
    restore undoes it too."""

    act: Action
    seconds: float
    title: Callable[[NodeSpec, LiveLab], str]


@dataclass(frozen=True)
class Fault:
    """What a drill does to its target: which of the node's roles stop working, and how."""

    kind: str  # power, service, partition or slow
    breaks: Callable[[NodeSpec], frozenset[str]]  # the roles of the node that stop working
    inject: Action
    restore: Action
    title: Callable[[NodeSpec, LiveLab], str]
    peers: Callable[[Lab, NodeSpec], tuple[NodeSpec, ...]] = lambda lab, node: ()  # a partition's other side
    lead: Lead | None = None  # what goes wrong first, for a while


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


def partition(peers: Callable[[Lab, NodeSpec], tuple[NodeSpec, ...]], what: str) -> Fault:
    """A firewall table inside the node drops everything to and from its peers (a table of the drill's own),
    and everything it sends to a multicast group: VRRP advertisements go to 224.0.0.18, not to a peer's
    address, and a cut that lets them through is cut one way only (the peers would still hear the node)."""

    def inject(live: LiveLab, node: NodeSpec) -> None:
        addresses = ", ".join(str(p.address) for p in peers(live.lab, node))
        rules = (
            f"add table inet {DRILL_TABLE}; "
            f"add chain inet {DRILL_TABLE} input {{ type filter hook input priority 0; policy accept; }}; "
            f"add rule inet {DRILL_TABLE} input ip saddr {{ {addresses} }} drop; "
            f"add chain inet {DRILL_TABLE} output {{ type filter hook output priority 0; policy accept; }}; "
            f"add rule inet {DRILL_TABLE} output ip daddr {{ {addresses}, {MULTICAST} }} drop"
        )
        _on(live, node, f"nft '{rules}'")

    return Fault(
        kind="partition",
        breaks=lambda node: frozenset(),
        inject=inject,
        restore=lambda live, node: _on(live, node, f"nft delete table inet {DRILL_TABLE}"),
        title=lambda node, live: f"{node.name} loses its link to {what}",
        peers=peers,
    )


def slowed(milliseconds: int) -> Fault:
    """The node's application answers later but answers: it waits before each request (its own switch, a file).

    The network would be the other place to add the delay (tc netem), but the lab's host kernel may have
    no netem, and a delay there also slows the TCP handshake, which HAProxy's 300 ms connect timeout
    would take for a dead server.
    """
    return Fault(
        kind="slow",
        breaks=lambda node: frozenset(),
        inject=lambda live, node: _on(live, node, f"echo {milliseconds} > {APP_DELAY_FILE}"),
        restore=lambda live, node: _on(live, node, f"rm -f {APP_DELAY_FILE}"),
        title=lambda node, live: f"{node.name} answers {milliseconds} ms slower",
    )


def _on(live: LiveLab, node: NodeSpec, command: str) -> None:
    live.shells.must(node.name, command, kind="run")


Target = Callable[[LiveLab], NodeSpec]


def node_named(name: str, needs: str | None = None) -> Target:
    """A node of the design by name (which must have the role `needs`, where given)."""

    def find(live: LiveLab) -> NodeSpec:
        if not live.lab.has_node(name):
            raise NotInThisDesign(f"this design ({live.lab.source.name}) has no node {name}")
        node = live.lab.node(name)
        if needs is not None and not node.has_role(needs):
            raise NotInThisDesign(f"{name} has no role {needs} in this design ({live.lab.source.name})")
        return node

    return find


def the_primary(live: LiveLab) -> NodeSpec:
    return live.lab.primary


def primary_with_replica(live: LiveLab) -> NodeSpec:
    """The primary, on a design with a replica to take over from it."""
    if not live.lab.replicas:
        raise NotInThisDesign(f"this design ({live.lab.source.name}) has no replica to fail over to")
    return live.lab.primary


def entry_balancer(live: LiveLab) -> NodeSpec:
    """The load balancer that clients reach now: the one at the entry address, or holding the floating one."""
    lab = live.lab
    if lab.floating_address is None:
        return next(b for b in lab.balancers if b.address == lab.entry_address)
    found = holders(live.shells, lab)
    if len(found) != 1:
        raise DrillRefused(f"the floating address {lab.floating_address} is held by {', '.join(found) or 'nobody'}: run `invoke check`")
    return lab.node(found[0])


def second_balancer(live: LiveLab) -> NodeSpec:
    """A load balancer that does not hold the floating address (it will claim it when cut off)."""
    if len(live.lab.balancers) < 2:
        raise NotInThisDesign(f"this design ({live.lab.source.name}) has one load balancer: nothing can split")
    holder = entry_balancer(live)
    return next(b for b in live.lab.balancers if b != holder)


def the_replica(live: LiveLab) -> NodeSpec:
    """The design's replica (the first, where there are several: cut off, it is as good as any)."""
    if not live.lab.replicas:
        raise NotInThisDesign(f"this design ({live.lab.source.name}) has no replica")
    return live.lab.replicas[0]


def other_balancers(lab: Lab, node: NodeSpec) -> tuple[NodeSpec, ...]:
    return tuple(b for b in lab.balancers if b != node)


def primary_of(lab: Lab, node: NodeSpec) -> tuple[NodeSpec, ...]:
    return (lab.primary,)


@dataclass(frozen=True)
class Drill:
    """One failure drill. Its lesson is the seed design's, unless the design has a trait with a lesson of its own."""

    name: str
    target: Target
    fault: Fault
    lesson: str
    lesson_link: str
    summary: str  # for `invoke --list`: what breaks, in words that hold on every design
    other_lessons: tuple[tuple[str, str], ...] = ()  # (trait, lesson): "floating" or "tiers"
    response: Response | None = None  # what the operator does about the fault (a failover), if anything

    def lesson_for(self, lab: Lab) -> str:
        for trait, lesson in self.other_lessons:
            if trait in traits(lab):
                return lesson
        return self.lesson


def traits(lab: Lab) -> set[str]:
    """What sets a design apart for a drill's lesson: a floating address, tiers on servers of their own, TLS
    passed through the load balancer (which then sees no request to retry)."""
    found = set()
    if lab.passes_tls_through:
        found.add("passthrough")
    if lab.floating_address is not None:
        found.add("floating")
    if any(not w.has_role("app") for w in lab.web_nodes) and not any(d in lab.web_nodes for d in lab.db_nodes):
        found.add("tiers")
    return found


#: What kill-web1 teaches of the writes, whatever the load balancer did with the reads.
WRITES_ON_WEB1 = (
    "Writes failed for the whole outage: web-01 holds the only primary database, and web-02's replica is read-only. "
    "Active-active web servers do not make the data tier active-active: web-01 is a single point of failure for writes."
)


DRILLS: tuple[Drill, ...] = (
    Drill(
        name="kill-web1",
        summary="web-01 loses power",
        target=node_named("web-01"),
        fault=power_cut(),
        lesson=(
            "Reads went on: HAProxy's round robin sent every request to web-02 once its health checks (and "
            "the failed connections it observed) marked web-01 DOWN, and the requests caught in between were "
            "retried on web-02 (option redispatch). " + WRITES_ON_WEB1
        ),
        lesson_link="docs/lessons/04-primary-replica.md",
        other_lessons=(
            (
                "tiers",
                "Reads and writes went on: web-01 runs Nginx only, so losing it costs the web tier half its "
                "capacity and nothing else. HAProxy took it out as on the seed design, and web-02 went on "
                "proxying to both application servers, which write to the primary on a server of its own.",
            ),
            (
                "passthrough",
                "Reads went on once HAProxy's health checks (and the failed connections it observed) marked web-01 "
                "DOWN, but those caught in between failed: TLS passes through lb-01, so HAProxy forwards connections "
                "and sees no request it could retry on web-02. " + WRITES_ON_WEB1,
            ),
        ),
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
        other_lessons=(
            (
                "floating",
                "The balancer that held the floating address lost power; the other stopped hearing its VRRP "
                "advertisements (every 100 ms), took the address within a few of them, and announced it with "
                "gratuitous ARP. Requests already sent to the dead balancer failed; new ones went to the new "
                "holder. When the first balancer came back it did not take the address back (nopreempt): a "
                "second move would cost clients a second outage.",
            ),
        ),
    ),
    Drill(
        name="stop-haproxy",
        summary="HAProxy stops on the load balancer clients reach",
        target=entry_balancer,
        fault=service_down("haproxy", "loadbalancer", "HAProxy stops", "stop"),
        lesson=(
            "The machine stayed up but HAProxy did not, and every request failed until it was started again: "
            "with one load balancer, its software is as much a single point of failure as its power."
        ),
        lesson_link="docs/lessons/05-single-points-of-failure.md",
        other_lessons=(
            (
                "floating",
                "keepalived checks HAProxy itself every second (a request to its statistics page), not only that "
                "the machine lives: the check failed, the balancer gave the floating address up, and the other "
                "one took it. Without that check the address would have stayed on a balancer with nothing "
                "behind it.",
            ),
        ),
    ),
    Drill(
        name="split-brain",
        summary="the load balancers lose sight of each other",
        target=second_balancer,
        fault=partition(other_balancers, "the other load balancers"),
        lesson=(
            "Cut off from the holder, the second balancer stopped hearing its advertisements and took the "
            "floating address too: both held it (a split brain). Clients reached whichever answered their ARP "
            "last, and since both balancers send to the same healthy web servers, requests kept working. When "
            "the link healed, the balancer with the lower priority stepped back. With stateless balancers a "
            "split brain is mostly harmless; with a database it would mean two primaries taking writes, which "
            "is why database failover needs more than VRRP."
        ),
        lesson_link="docs/lessons/08-scaling-up.md",
    ),
    Drill(
        name="kill-app1",
        summary="app-01 loses power",
        target=node_named("app-01", needs="app"),
        fault=power_cut(),
        lesson=(
            "Each web server proxies to both application servers: Nginx's first connection to the dead one "
            "timed out after 300 ms, the request went to app-02, and app-01 was left alone for a few seconds "
            "at a time. The web tier never noticed, and neither did HAProxy: each tier fails on its own."
        ),
        lesson_link="docs/lessons/08-scaling-up.md",
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
        name="slow-web1",
        summary="web-01 answers slowly",
        target=node_named("web-01", needs="app"),
        fault=slowed(SLOW_MS),
        lesson=(
            "web-01 kept answering, only later, so its health checks passed and it stayed UP. What it got "
            "depends on the algorithm. Round robin gives each server its turn whatever it does with it: web-01 "
            "went on taking half of the requests, and those users waited. leastconn sends each request to the "
            "server with the fewest under way: web-01 holds each request longer, so it has more under way, and "
            "most requests went to web-02. Run the drill with and without --balance leastconn to compare."
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
        name="failover",
        summary="the primary loses power and the replica is promoted",
        target=primary_with_replica,
        fault=power_cut(),
        response=FAILOVER,
        lesson=(
            "Writes failed from the power cut until the replica was promoted: the time to notice (three "
            "missed probes), to promote, and to tell every application server where the primary is now. "
            "When the old primary came back, it started read-only and its guard saw that another server "
            "took writes, so it stayed fenced until it rejoined as a replica. With asynchronous replication "
            "the primary acknowledges a write before any replica has it: a write acknowledged in the last "
            "moments before the power cut can exist only on the dead server, and the failover loses it. "
            "With semi-synchronous replication the primary waits for a replica to have each write first, so "
            "none is lost while the replica keeps up; the price is a little latency on every write, and, with no "
            "replica left to answer, a wait of the timeout before the primary goes on alone, after which it can "
            "lose writes as asynchronous replication does (`invoke drill.durability` shows when)."
        ),
        lesson_link="docs/lessons/09-when-the-primary-dies.md",
    ),
    Drill(
        name="partition-replica",
        summary="the replica loses its link to the primary",
        target=the_replica,
        fault=partition(primary_of, "the primary"),
        lesson=(
            "The site still answered every read: lb-01 reaches both web nodes, and web-02 reads from its own "
            "replica. But the replica stopped receiving the primary's changes, so web-02 served stale pages "
            "(the lag grew with every write), and writes that landed on web-02 failed because it could not "
            "reach the primary. Once the link healed, the replica caught up by itself. A split network is "
            "quieter than a dead node, and the design has no monitoring to notice it."
        ),
        lesson_link="docs/lessons/04-primary-replica.md",
        other_lessons=(
            (
                "tiers",
                "Every request still succeeded: the application servers write to the primary and read from the "
                "replica, and only the replica lost its link. But it stopped receiving the primary's changes, so "
                "every page showed stale messages while the lag grew; once the link healed it caught up. Nothing "
                "failed, so only monitoring could have told anyone.",
            ),
        ),
    ),
)


def by_name(name: str) -> Drill:
    for drill in DRILLS:
        if drill.name == name:
            return drill
    raise KeyError(name)
