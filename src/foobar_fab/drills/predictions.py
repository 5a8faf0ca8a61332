"""What a design predicts for a fault: derived from the roles the fault takes out, not written per drill.

The same fault on another design (a second load balancer, the database on servers of its own) gives
other predictions, and the drill checks those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..roles.loadbalancer import HAPROXY_PROFILES
from ..topology import Lab, NodeSpec
from .figures import Expectation, Figures

DETECTION_LIMIT = 2.0  # seconds: HAProxy's tuned checks (every 500 ms, down after 2) plus observe layer4
# seconds: a read the power cut catches mid-answer waits out HAProxy's server timeout, then another server answers it
SLOW_LIMIT = HAPROXY_PROFILES["tuned"]["timeout_server_ms"] / 1000 + 0.5
ALERT_LIMIT = 15.0  # seconds: scrapes and evaluations every 5 s, a 2 s scrape timeout
FLOATING_POWER_LIMIT = 1.0  # seconds of failed requests when the holder loses power (VRRP 3, adverts every 100 ms)
FLOATING_SERVICE_LIMIT = 2.0  # when HAProxy stops on the holder (keepalived's check runs every second)
PRIMARY_DEAD_LIMIT = 3.0  # seconds: three missed probes of the primary, 100 ms apart, 400 ms each at most
WRITE_OUTAGE_LIMIT = 5.0  # seconds from the power cut to the first write the new primary acknowledges
SHARE_PREDICTED = ("roundrobin", "leastconn")  # the algorithms whose share for a slow server the design predicts

Prediction = Callable[[Figures], Expectation]


@dataclass(frozen=True)
class Consequences:
    """What stops working, by the design, when a fault hits a node."""

    balancers_left: int
    web_out: tuple[str, ...]  # web servers HAProxy should take out of the round robin
    web_left: int
    primary_down: bool
    cut_off: str | None  # a node whose application can no longer reach the primary
    replica_cut: bool  # a replica that stops receiving the primary's changes
    monitored: bool = False  # the design has monitoring: something must alert
    balancer_lost: str | None = None  # a balancer taken out, on a design whose floating address moves
    split_brain: bool = False  # balancers cut off from each other each claim the floating address
    slowed: str | None = None  # a web server that answers slowly but answers
    failover: bool = False  # the drill promotes the replica when the primary is seen dead
    semi_sync: bool = False  # the replication is semi-synchronous: a replica has every acknowledged write
    lag: float = 0.0  # seconds the replica stops receiving before the fault
    semi_sync_timeout: float = 1.0  # seconds a semi-sync primary waits for a replica before it goes on alone
    reads_retried: bool = True  # HAProxy sees the requests and retries a failed read elsewhere (not where TLS passes through)

    @property
    def falls_back(self) -> bool:
        """A semi-sync primary goes on alone before the fault: its replica stopped acknowledging for longer than the timeout."""
        return self.semi_sync and self.lag > self.semi_sync_timeout

    @property
    def loss_possible(self) -> bool:
        """A failover may lose acknowledged writes: asynchronous replication, or semi-sync that fell back."""
        return self.failover and (not self.semi_sync or self.falls_back)


def consequences(
    lab: Lab,
    target: NodeSpec,
    broken: frozenset[str],
    peers: tuple[NodeSpec, ...] = (),
    slowed: bool = False,
    failover: bool = False,
    replication: str | None = None,
    lag: float = 0.0,
    semi_sync_timeout_ms: int | None = None,
) -> Consequences:
    """Follow the design from the broken roles of the target (or its partition from peers, or its slowness) to
    what clients lose; `failover`: the drill promotes the replica, with this replication mode and semi-sync timeout
    (else the design's), after the replica fell behind for `lag` seconds."""

    def down(node: NodeSpec, role: str) -> bool:
        return node == target and role in broken

    def app_out(app: NodeSpec) -> bool:
        reads = lab.read_database(app)
        return down(app, "app") or down(reads, "db_primary") or down(reads, "db_replica")

    web_out = tuple(
        w.name for w in lab.web_nodes if down(w, "web") or all(app_out(a) for a in lab.upstream_apps(w))
    )
    from_primary = lab.primary in peers
    lost = target.name if down(target, "loadbalancer") and lab.floating_address is not None else None
    return Consequences(
        balancers_left=sum(not down(b, "loadbalancer") for b in lab.balancers),
        web_out=web_out,
        web_left=len(lab.web_nodes) - len(web_out),
        primary_down=down(lab.primary, "db_primary"),
        cut_off=target.name if from_primary and target.has_role("app") else None,
        replica_cut=from_primary and target.has_role("db_replica"),
        monitored=lab.has("monitoring"),
        balancer_lost=lost,
        split_brain=target.has_role("loadbalancer") and any(p.has_role("loadbalancer") for p in peers),
        slowed=target.name if slowed else None,
        failover=failover,
        semi_sync=(replication or lab.replication) == "semi-sync",
        lag=lag,
        semi_sync_timeout=(semi_sync_timeout_ms or lab.semi_sync_timeout_ms) / 1000,
        reads_retried=not lab.passes_tls_through,
    )


def predict(c: Consequences, power_cut: bool, balance: str = "roundrobin") -> list[Prediction]:
    """The expectations a drill checks, from what the design says stops working (and HAProxy's algorithm)."""
    rows: list[Prediction] = []
    if c.balancers_left == 0:
        why = "no load balancer: every request fails"
        rows += [lambda f: f.all_failed("read", why), lambda f: f.all_failed("write", why)]
    elif c.balancer_lost is not None:
        lost = c.balancer_lost
        rows.append(lambda f: f.brief_outage(FLOATING_POWER_LIMIT if power_cut else FLOATING_SERVICE_LIMIT))
        rows.append(lambda f: f.address_moved(lost))
    else:
        if c.web_out:
            rows.append(lambda f: f.detected_within(DETECTION_LIMIT))
        if c.web_left and (c.reads_retried or not c.web_out):
            rows.append(lambda f: f.none_failed("read"))
        elif c.web_left:  # TLS passed through: a read caught on the dead server's connection fails, until it is out
            rows.append(lambda f: f.none_failed("read", after_detection=True))
        if power_cut and c.web_out and c.reads_retried:
            rows.append(lambda f: f.none_slower_than(SLOW_LIMIT, "read"))
        if c.primary_down and c.failover:
            rows += [
                lambda f: f.primary_seen_dead_within(PRIMARY_DEAD_LIMIT),
                lambda f: f.write_outage_within(WRITE_OUTAGE_LIMIT),
                lambda f: f.fenced_on_return(),
                lambda f: f.follows_again(),
            ]
        elif c.primary_down:
            rows.append(lambda f: f.all_failed("write", "no primary: every write fails until it is back"))
        elif c.cut_off:
            node = c.cut_off
            rows.append(lambda f: f.all_failed("write", f"writes that reach {node} fail: it cannot reach the primary", node=node))
        else:
            once_out = bool(c.web_out)
            rows.append(lambda f: f.none_failed("write", after_detection=once_out))
    if c.slowed is not None and balance in SHARE_PREDICTED:
        slowed, servers = c.slowed, c.web_left
        rows.append(lambda f: f.share_while_slow(slowed, balance, servers))
    if c.split_brain:
        rows.append(lambda f: f.split_brain())
    if c.replica_cut:
        rows.append(lambda f: f.lag_grew())
    if c.monitored:
        rows.append(lambda f: f.alert_within(ALERT_LIMIT))
        if c.replica_cut:
            rows.append(lambda f: f.alert_within(ALERT_LIMIT, ("ReplicationStopped", "ReplicationLagging"), "a replication alert"))
    if c.failover and c.lag:
        rows += lagging(c)
    if not c.loss_possible:
        rows.append(lambda f: f.no_acknowledged_write_lost())
    return rows


def lagging(c: Consequences) -> list[Prediction]:
    """A failover after the replica fell behind: which acknowledged writes the new primary lacks, or how long writes waited."""
    lag, timeout = c.lag, c.semi_sync_timeout
    if not c.semi_sync:
        return [lambda f: f.lost_as_predicted(f.lead_at, "after the replica stopped receiving")]
    if c.falls_back:
        # The replica received nothing after it stopped: every write acknowledged since is lost, the first ones
        # only later (they waited out the timeout, then the primary acknowledged them alone).
        why = "after the replica stopped receiving (the first once the primary fell back)"
        return [lambda f: f.fell_back_within(timeout), lambda f: f.lost_as_predicted(f.lead_at, why)]
    return [lambda f: f.writes_waited(lag)]
