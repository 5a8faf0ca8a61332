"""The figures of a drill, computed from every recorded request, and the design's predictions checked on them."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .traffic import Request

EDGE_WRITES = 2  # writes under way when the replica stopped, or the primary fell back, may land on either side
FALLBACK_EARLY = 0.2  # seconds: the status is read every 100 ms, over SSH
FALLBACK_LATE = 1.0  # seconds: the first write after the replica stopped may come a write interval later, then waits the timeout


@dataclass(frozen=True)
class Expectation:
    """What the design predicts (with a stable id), whether it held, and what was seen."""

    id: str
    what: str
    ok: bool
    seen: str


@dataclass
class Figures:
    """Requests and moments of one drill (seconds since traffic started)."""

    records: list[Request]
    fault_at: float
    restore_at: float
    lead_at: float | None = None  # when what went wrong before the fault began (a replica stopped receiving)
    detected_at: float | None = None
    recovered_at: float | None = None
    target: str | None = None
    acknowledged: int = 0
    lost: dict[str, list[str]] = field(default_factory=dict)  # database node -> acknowledged bodies missing
    failed_but_stored: list[str] = field(default_factory=list)  # writes the client saw fail that a database holds all the same
    peak_lag: int | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)  # what the monitoring fired: name, node, fired_at, resolved_at
    takeovers: list[dict[str, Any]] = field(default_factory=list)  # who held the floating address from when: t, holders
    interval: float = 0.05  # seconds between two requests (1 / rate)
    failover: dict[str, Any] = field(default_factory=dict)  # what a failover drill's operator saw and did (drills/failover.py)

    def during_outage(self, kind: str, start: float | None = None) -> list[Request]:
        begin = self.fault_at if start is None else start
        return [r for r in self.records if r.kind == kind and begin <= r.t < self.restore_at]

    @property
    def detection_seconds(self) -> float | None:
        return None if self.detected_at is None else self.detected_at - self.fault_at

    @property
    def write_outage_seconds(self) -> float | None:
        """From the fault to the first acknowledgement of a write sent after it (None: none was)."""
        acknowledged = [r.t + r.latency for r in self.records if r.kind == "write" and r.ok and r.t >= self.fault_at]
        return min(acknowledged) - self.fault_at if acknowledged else None

    def write_gap(self, since: float) -> float | None:
        """The longest time without an acknowledged write from `since` to the restore: how long writes waited or
        failed (None: no write was sent)."""
        if not any(r.kind == "write" and r.t >= since for r in self.records):
            return None
        acks = sorted(r.t + r.latency for r in self.records if r.kind == "write" and r.ok and since <= r.t + r.latency <= self.restore_at)
        moments = [since, *acks, self.restore_at]
        return max(b - a for a, b in itertools.pairwise(moments))

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.restore_at

    def totals(self) -> dict[str, dict[str, int]]:
        """Sent, ok, failed and slow requests, and the slowest answer (ms), for reads and writes, over the whole drill."""
        result = {}
        for kind in ("read", "write"):
            mine = [r for r in self.records if r.kind == kind]
            ok = [r for r in mine if r.ok]
            slowest = round(max((r.latency for r in ok), default=0.0) * 1000)
            result[kind + "s"] = {"sent": len(mine), "ok": len(ok), "failed": len(mine) - len(ok), "slow": sum(r.slow for r in mine), "slowest_ms": slowest}
        return result

    def timeline(self) -> list[dict[str, Any]]:
        """Per second: successful answers by serving node, failures and slow answers."""
        if not self.records:
            return []
        last = int(max(r.t for r in self.records))
        rows = []
        for second in range(last + 1):
            mine = [r for r in self.records if int(r.t) == second]
            by_node = Counter(r.node or "?" for r in mine if r.ok)
            failed = [r for r in mine if not r.ok]
            rows.append(
                {
                    "second": second,
                    "by_node": dict(sorted(by_node.items())),
                    "failed": len(failed),
                    "failed_reads": sum(r.kind == "read" for r in failed),
                    "failed_writes": sum(r.kind == "write" for r in failed),
                    "slow": sum(r.slow for r in mine),
                }
            )
        return rows

    # What the design predicts -------------------------------------------------------------------

    def detected_within(self, limit: float) -> Expectation:
        what = f"HAProxy marks {self.target} DOWN within {limit:g} s"
        # Rounded as the report rounds it, so that its two lines say the same figure.
        seconds = None if self.detection_seconds is None else round(self.detection_seconds, 2)
        return _within("haproxy.marks-down", what, seconds, limit, "never marked down")

    def none_failed(self, kind: str, after_detection: bool = False) -> Expectation:
        start = self.detected_at if after_detection and self.detected_at is not None else None
        window = self.during_outage(kind, start)
        failed = [r for r in window if not r.ok]
        when = "once the server is out" if after_detection else "during the outage"
        expectation_id = f"{kind}s.none-failed" + ("-once-out" if after_detection else "")
        return Expectation(expectation_id, f"no {kind} fails {when}", not failed and bool(window), _count(failed, window, kind))

    def all_failed(self, kind: str, why: str, node: str | None = None) -> Expectation:
        """No request of this kind (served by this node, if given) got a successful answer during the outage."""
        sent = [r for r in self.during_outage(kind, self.fault_at + 0.5) if node is None or r.node in (node, None)]
        served = [r for r in sent if r.ok and r.t + r.latency < self.restore_at and (node is None or r.node == node)]
        late = [r for r in sent if r.ok and r.t + r.latency >= self.restore_at]
        failed = [r for r in sent if not r.ok]
        seen = f"{len(sent)} {kind}s sent: {len(failed)} failed, {len(served)} served, {len(late)} answered only after the restore"
        expectation_id = f"{kind}s.all-failed" + ("-on-node" if node else "")
        return Expectation(expectation_id, why, not served and bool(sent), seen)

    def none_slower_than(self, limit: float, kind: str) -> Expectation:
        window = self.during_outage(kind)
        slowest = max((r.latency for r in window if r.ok), default=0.0)
        slow = [r for r in window if r.ok and r.latency > limit]
        return Expectation(f"{kind}s.none-slow", f"no {kind} slower than {limit:g} s", not slow, f"slowest {slowest * 1000:.0f} ms")

    def no_acknowledged_write_lost(self) -> Expectation:
        missing = {node: bodies for node, bodies in self.lost.items() if bodies}
        seen = f"{self.acknowledged} acknowledged, " + (
            "all on both databases" if not missing else "; ".join(f"{len(b)} missing on {n}" for n, b in missing.items())
        )
        return Expectation("writes.none-lost", "no acknowledged write is lost", not missing and bool(self.lost), seen)

    def alert_within(self, limit: float, names: tuple[str, ...] = (), what: str = "an alert") -> Expectation:
        """The monitoring fired an alert (one of these names, if given) at most `limit` seconds after the fault."""
        fired = [a for a in self.alerts if a["fired_at"] >= self.fault_at - 1.0 and (not names or a["alert"] in names)]
        first = min(fired, key=lambda a: a["fired_at"], default=None)
        expectation_id = "alerts.fired" if not names else f"alerts.{names[0]}"
        claim = f"the monitoring fires {what} within {limit:g} s"
        if first is None:
            return Expectation(expectation_id, claim, False, "no alert fired")
        after = float(first["after_fault"])  # the report's own figure, rounded once, so both print the same
        return Expectation(expectation_id, claim, after <= limit, f"{first['alert']} ({first['node']}) {after:.1f} s after the fault")

    def brief_outage(self, limit: float) -> Expectation:
        """Failed requests (reads and writes) span at most `limit` seconds of sending: the outage clients saw."""
        failed = [r for r in self.records if not r.ok and r.t >= self.fault_at - 0.5]
        claim = f"at most {limit:g} s of failed requests"
        if not failed:
            return Expectation("requests.brief-outage", claim, True, "no request failed")
        span = failed[-1].t - failed[0].t + self.interval
        seen = f"{len(failed)} failed, sent over {span:.2f} s (from {failed[0].t - self.fault_at:+.2f} s after the fault)"
        return Expectation("requests.brief-outage", claim, span <= limit, seen)

    def address_moved(self, lost: str) -> Expectation:
        """Another balancer took the floating address after the fault."""
        claim = f"another balancer takes the floating address from {lost}"
        for sample in self.takeovers:
            others = [h for h in sample["holders"] if h != lost]
            if sample["t"] >= self.fault_at and others:
                return Expectation("vip.moved", claim, True, f"{', '.join(others)} from {sample['t'] - self.fault_at:+.2f} s after the fault")
        return Expectation("vip.moved", claim, False, "no other balancer took it")

    def split_brain(self) -> Expectation:
        """Both balancers claimed the floating address while they could not see each other."""
        both = [s for s in self.takeovers if self.fault_at <= s["t"] < self.restore_at and len(s["holders"]) > 1]
        claim = "cut off from each other, both balancers claim the floating address"
        if not both:
            return Expectation("vip.split-brain", claim, False, "never both at once")
        return Expectation("vip.split-brain", claim, True, f"{' and '.join(both[0]['holders'])} from {both[0]['t'] - self.fault_at:+.2f} s after the fault")

    def primary_seen_dead_within(self, limit: float) -> Expectation:
        seen_at = self.failover.get("detected_at")
        seconds = None if seen_at is None else seen_at - self.fault_at
        return _within("primary.seen-dead", f"the primary is seen dead within {limit:g} s", seconds, limit, "never seen dead")

    def write_outage_within(self, limit: float) -> Expectation:
        what = f"writes are acknowledged again within {limit:g} s of the fault (by the new primary)"
        never = "no write was acknowledged after the fault"
        return _within("writes.outage", what, self.write_outage_seconds, limit, never, "the first {:.1f} s after the fault")

    def fenced_on_return(self) -> Expectation:
        what = "the old primary comes back read-only (fenced)"
        fenced = self.failover.get("fenced_on_return")
        seen = "it did not come back" if fenced is None else ("read-only" if fenced else "it took writes")
        return Expectation("primary.fenced", what, fenced is True, seen)

    def follows_again(self) -> Expectation:
        what = "the old primary follows the new one again (rejoined, or rebuilt if it held writes of its own)"
        how = self.failover.get("rejoined")
        errant = self.failover.get("errant", [])
        seen = {"rejoin": "rejoined", "rebuild": f"rebuilt: it held {len(errant)} transaction(s) of its own"}.get(how or "", "neither")
        return Expectation("primary.follows", what, how is not None, seen)

    def share_while_slow(self, node: str, balance: str, servers: int) -> Expectation:
        """The slow server's share of the answers during the fault: round robin keeps its turn for it,
        leastconn gives it less (it holds each request longer, so it has more under way)."""
        answered = [r for r in self.records if self.fault_at <= r.t < self.restore_at and r.ok]
        mine = [r for r in answered if r.node == node]
        share = len(mine) / len(answered) if answered else 0.0
        fair = 1 / servers
        seen = (f"{node} answered {len(mine)} of {len(answered)} ({share:.0%}) in {_median_ms(mine)} ms (median), "
                f"the others in {_median_ms([r for r in answered if r.node != node])} ms")
        if balance == "leastconn":
            below = fair * 2 / 3
            return Expectation("balance.slow-server-avoided", f"leastconn gives {node} less than {below:.0%} while it is slow", bool(answered) and share < below, seen)
        near = abs(share - fair) <= 0.1
        return Expectation("balance.share-kept", f"round robin gives {node} its turn ({fair:.0%}), slow or not", bool(answered) and near, seen)

    def lost_as_predicted(self, since: float | None, why: str) -> Expectation:
        """The acknowledged writes the new primary lacks are those acknowledged from `since` to the power cut
        (a write under way at either moment may fall on either side: EDGE_WRITES of them may differ)."""
        new = self.failover.get("new_primary")
        claim = f"the writes lost are those acknowledged {why}"
        if since is None or new not in self.lost:
            return Expectation("writes.lost-as-predicted", claim, False, "no moment to count from" if since is None else "no failover")
        predicted = {r.body for r in self.records if r.kind == "write" and r.ok and r.body and since <= r.t + r.latency <= self.fault_at}
        lost = set(self.lost[new])
        differ = len(predicted ^ lost)
        seen = f"predicted {len(predicted)}, lost {len(lost)} on {new}" + (f", {differ} differ (under way at an edge)" if differ else ", the same writes")
        return Expectation("writes.lost-as-predicted", claim, differ <= EDGE_WRITES, seen)

    def fell_back_within(self, timeout: float) -> Expectation:
        """A semi-sync primary whose replica stopped acknowledging falls back to asynchronous once a write waited
        out its timeout (MariaDB's own status says when: Rpl_semi_sync_master_status turns OFF)."""
        at, since = self.failover.get("fell_back_at"), self.lead_at
        claim = f"the primary falls back to asynchronous {timeout:g} s after the replica stops acknowledging"
        if at is None or since is None:
            return Expectation("semi-sync.fell-back", claim, False, "it never fell back: Rpl_semi_sync_master_status stayed ON")
        after = at - since
        seen = f"{after:.2f} s after (Rpl_semi_sync_master_status OFF; {self.failover.get('no_tx', '?')} transaction(s) acknowledged with no replica)"
        return Expectation("semi-sync.fell-back", claim, timeout - FALLBACK_EARLY <= after <= timeout + FALLBACK_LATE, seen)

    def writes_waited(self, lag: float) -> Expectation:
        """Semi-sync that does not fall back: no write is acknowledged from the lag until the new primary takes writes."""
        since = self.lead_at
        acks = [r.t + r.latency for r in self.records if r.kind == "write" and r.ok and since is not None and r.t + r.latency > since]
        gap = None if since is None or not acks else min(acks) - since
        claim = f"writes wait instead: none is acknowledged from the lag until the new primary takes them (over {lag:g} s)"
        seen = "no write acknowledged after it" if gap is None else f"no write acknowledged for {round(gap, 2):.1f} s"  # as the report rounds it
        return Expectation("writes.waited", claim, gap is not None and gap >= lag, seen)

    def lag_grew(self) -> Expectation:
        seen = "lag unknown" if self.peak_lag is None else f"peak {self.peak_lag} transactions behind"
        return Expectation("replica.lag-grew", "the replica falls behind while cut off", bool(self.peak_lag), seen)


def _within(expectation_id: str, what: str, seconds: float | None, limit: float, never: str, seen: str = "{:.1f} s after the fault") -> Expectation:
    """A moment the design predicts within a limit (None: it never came)."""
    if seconds is None:
        return Expectation(expectation_id, what, False, never)
    return Expectation(expectation_id, what, seconds <= limit, seen.format(seconds))


def _median_ms(requests: list[Request]) -> str:
    return f"{statistics.median(r.latency for r in requests) * 1000:.0f}" if requests else "-"


def _count(failed: list[Request], window: list[Request], kind: str) -> str:
    if not window:
        return f"no {kind}s were sent"
    reasons = Counter(r.error or "?" for r in failed)
    detail = f" ({', '.join(f'{n} {e}' for e, n in reasons.most_common())})" if failed else ""
    return f"{len(failed)} of {len(window)} failed{detail}"
