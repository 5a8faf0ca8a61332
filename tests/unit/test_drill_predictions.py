"""What the design predicts for each drill (from the roles the fault takes out), and how each
expectation is judged from recorded requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from foobar_fab import design
from foobar_fab.drills.catalog import DRILLS, by_name
from foobar_fab.drills.figures import Figures
from foobar_fab.drills.predictions import Consequences, consequences, predict
from foobar_fab.drills.traffic import Request
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.topology import Lab

from .conftest import DEFAULT_LAB_FILE

SEED = design.load(DEFAULT_LAB_FILE)

TARGETS = {
    "kill-web1": "web-01", "kill-web2": "web-02", "kill-lb": "lb-01", "stop-nginx-web1": "web-01",
    "stop-app-web2": "web-02", "kill-db-primary": "web-01", "partition-replica": "web-02", "stop-haproxy": "lb-01", "slow-web1": "web-01",
    "failover": "web-01",
}
FAILOVER = ["primary.seen-dead", "writes.outage", "primary.fenced", "primary.follows"]

#: The seed design's predictions, drill by drill, as expectation ids.
SEED_PREDICTIONS = {
    "kill-web1": ["haproxy.marks-down", "reads.none-failed", "reads.none-slow", "writes.all-failed", "writes.none-lost"],
    "kill-web2": ["haproxy.marks-down", "reads.none-failed", "reads.none-slow", "writes.none-failed-once-out", "writes.none-lost"],
    "kill-lb": ["reads.all-failed", "writes.all-failed", "writes.none-lost"],
    "stop-nginx-web1": ["haproxy.marks-down", "reads.none-failed", "writes.none-failed-once-out", "writes.none-lost"],
    "stop-app-web2": ["haproxy.marks-down", "reads.none-failed", "writes.none-failed-once-out", "writes.none-lost"],
    "kill-db-primary": ["haproxy.marks-down", "reads.none-failed", "writes.all-failed", "writes.none-lost"],
    "partition-replica": ["reads.none-failed", "writes.all-failed-on-node", "replica.lag-grew", "writes.none-lost"],
    "stop-haproxy": ["reads.all-failed", "writes.all-failed", "writes.none-lost"],
    # Asynchronous replication (the seed's): what a failover loses is measured, not predicted.
    "failover": ["haproxy.marks-down", "reads.none-failed", "reads.none-slow", *FAILOVER],
    "slow-web1": ["reads.none-failed", "writes.none-failed", "balance.share-kept", "writes.none-lost"],
}

SCALED = design.load(PROJECT_ROOT / "configs/scaled.yml")

#: The same drills on the scaled design: the data is elsewhere, and the floating address moves.
SCALED_PREDICTIONS = {
    ("kill-web1", "web-01"): ["haproxy.marks-down", "reads.none-failed", "reads.none-slow", "writes.none-failed-once-out", "writes.none-lost"],
    ("kill-lb", "lb-01"): ["requests.brief-outage", "vip.moved", "writes.none-lost"],
    ("stop-haproxy", "lb-01"): ["requests.brief-outage", "vip.moved", "writes.none-lost"],
    ("split-brain", "lb-02"): ["reads.none-failed", "writes.none-failed", "vip.split-brain", "writes.none-lost"],
    ("kill-app1", "app-01"): ["reads.none-failed", "writes.none-failed", "writes.none-lost"],
    ("kill-db-primary", "db-01"): ["reads.none-failed", "writes.all-failed", "writes.none-lost"],
    ("partition-replica", "db-02"): ["reads.none-failed", "writes.none-failed", "replica.lag-grew", "writes.none-lost"],
    ("failover", "db-01"): ["reads.none-failed", *FAILOVER],
}


def expected(lab: Lab, drill_name: str, target: str, replication: str | None = None) -> Consequences:
    drill = by_name(drill_name)
    node = lab.node(target)
    return consequences(
        lab, node, drill.fault.breaks(node), drill.fault.peers(lab, node),
        slowed=drill.fault.kind == "slow", failover=drill.response is not None, replication=replication,
    )


def predicted_ids(lab: Lab, drill_name: str, target: str, balance: str = "roundrobin", replication: str | None = None) -> list[str]:
    drill = by_name(drill_name)
    figures = Figures(records=[], fault_at=0.0, restore_at=1.0)
    return [p(figures).id for p in predict(expected(lab, drill_name, target, replication), drill.fault.kind == "power", balance)]


def test_semi_sync_failover_predicts_no_loss() -> None:
    """With semi-synchronous replication a replica holds every acknowledged write: none may be lost."""
    assert predicted_ids(SEED, "failover", "web-01", replication="semi-sync") == [*SEED_PREDICTIONS["failover"], "writes.none-lost"]


def test_the_same_fault_without_failover_predicts_failed_writes() -> None:
    assert "writes.all-failed" in predicted_ids(SEED, "kill-web1", "web-01", replication="semi-sync")


@pytest.mark.parametrize("drill_name", sorted(SEED_PREDICTIONS))
def test_seed_design_predictions(drill_name: str) -> None:
    assert predicted_ids(SEED, drill_name, TARGETS[drill_name]) == SEED_PREDICTIONS[drill_name]


@pytest.mark.parametrize(("drill_name", "target"), sorted(SCALED_PREDICTIONS))
def test_scaled_design_predictions(drill_name: str, target: str) -> None:
    assert predicted_ids(SCALED, drill_name, target) == SCALED_PREDICTIONS[(drill_name, target)]


def test_tls_passed_through_gives_up_the_read_retries() -> None:
    """Re-encrypted, HAProxy still sees every request and retries reads: the secured design's predictions hold.
    Passed through, it sees connections only: a read caught on the dead server fails until HAProxy takes it out,
    and none is promised fast."""
    secured = predicted_ids(design.load(PROJECT_ROOT / "configs/secured.yml"), "kill-web1", "web-01")
    assert predicted_ids(design.load(PROJECT_ROOT / "configs/secured-reencrypt.yml"), "kill-web1", "web-01") == secured
    passed = predicted_ids(design.load(PROJECT_ROOT / "configs/secured-passthrough.yml"), "kill-web1", "web-01")
    assert passed == [p.replace("reads.none-failed", "reads.none-failed-once-out") for p in secured if p != "reads.none-slow"]
    # A slow server is never out: no read may fail there, whatever the balancer sees.
    assert predicted_ids(design.load(PROJECT_ROOT / "configs/secured-passthrough.yml"), "slow-web1", "web-01")[0] == "reads.none-failed"
    assert "no request it could retry" in by_name("kill-web1").lesson_for(design.load(PROJECT_ROOT / "configs/secured-passthrough.yml"))
    assert "option redispatch" in by_name("kill-web1").lesson_for(design.load(PROJECT_ROOT / "configs/secured-reencrypt.yml"))


def test_every_drill_has_predictions_on_some_design() -> None:
    assert {d.name for d in DRILLS} == set(SEED_PREDICTIONS) | {name for name, _ in SCALED_PREDICTIONS}


def test_lessons_follow_the_design() -> None:
    assert "nopreempt" in by_name("kill-lb").lesson_for(SCALED)
    assert "single point" in by_name("kill-lb").lesson_for(SEED)
    assert "Nginx only" in by_name("kill-web1").lesson_for(SCALED)


def test_what_each_fault_takes_out_on_the_seed_design() -> None:
    assert expected(SEED, "kill-web1", "web-01") == Consequences(1, ("web-01",), 1, True, None, False)
    assert expected(SEED, "kill-db-primary", "web-01").web_out == ("web-01",)  # its application reads there
    assert expected(SEED, "stop-nginx-web1", "web-01").primary_down is False
    assert expected(SEED, "partition-replica", "web-02") == Consequences(1, (), 2, False, "web-02", True)
    assert expected(SEED, "kill-lb", "lb-01").balancers_left == 0


def test_the_same_fault_predicts_differently_on_another_design(tmp_path: Path) -> None:
    """Databases on servers of their own: web-01's power cut no longer stops a single write."""
    tiers = tmp_path / "tiers.yml"
    tiers.write_text(
        "lab: {name: tiers, subnet: 10.0.0.0/24}\nnodes:\n"
        "  lb-01: {address: 10.0.0.10, roles: [base, loadbalancer]}\n"
        "  web-01: {address: 10.0.0.11, roles: [base, web, app]}\n"
        "  web-02: {address: 10.0.0.12, roles: [base, web, app]}\n"
        "  db-01: {address: 10.0.0.21, roles: [base, db_primary]}\n"
        "  db-02: {address: 10.0.0.22, roles: [base, db_replica]}\n"
    )
    lab = design.load(tiers)
    assert "writes.all-failed" not in predicted_ids(lab, "kill-web1", "web-01")
    assert predicted_ids(lab, "kill-db-primary", "db-01") == ["reads.none-failed", "writes.all-failed", "writes.none-lost"]


def request(t: float, kind: str = "read", ok: bool = True, latency: float = 0.01, node: str = "web-02") -> Request:
    return Request(t, kind, 200 if ok else None, node if ok else None, latency, None if ok else "ConnectionError")


def figures(records: list[Request], detected_at: float | None = 3.4) -> Figures:
    return Figures(records=records, fault_at=3.0, restore_at=8.0, detected_at=detected_at, target="web-01", lost={"web-01": [], "web-02": []})


@pytest.mark.parametrize(
    ("records", "detected_at", "check", "held"),
    [
        pytest.param([request(4.0)], 3.4, lambda f: f.detected_within(2.0), True, id="detected-in-time"),
        pytest.param([request(4.0)], 5.5, lambda f: f.detected_within(2.0), False, id="detected-late"),
        pytest.param([request(4.0)], None, lambda f: f.detected_within(2.0), False, id="never-detected"),
        pytest.param([request(4.0), request(5.0)], 3.4, lambda f: f.none_failed("read"), True, id="reads-ok"),
        pytest.param([request(4.0, ok=False)], 3.4, lambda f: f.none_failed("read"), False, id="a-read-failed"),
        pytest.param([], 3.4, lambda f: f.none_failed("read"), False, id="nothing-sent-proves-nothing"),
        pytest.param([request(3.2, "write", ok=False), request(4.0, "write")], 3.4, lambda f: f.none_failed("write", after_detection=True), True, id="failed-before-detection-only"),
        pytest.param([request(4.0, "write", ok=False), request(5.0, "write", ok=False)], 3.4, lambda f: f.all_failed("write", "no primary"), True, id="all-writes-failed"),
        pytest.param([request(4.0, "write", ok=False), request(5.0, "write")], 3.4, lambda f: f.all_failed("write", "no primary"), False, id="a-write-got-through"),
        pytest.param([request(4.0, latency=1.5)], 3.4, lambda f: f.none_slower_than(1.0, "read"), False, id="a-slow-read"),
    ],
)
def test_expectations_judged_from_requests(records: list[Request], detected_at: float | None, check: object, held: bool) -> None:
    assert callable(check)
    assert check(figures(records, detected_at)).ok is held


def test_a_lost_write_or_an_unread_database_breaks_the_promise() -> None:
    f = figures([])
    assert f.no_acknowledged_write_lost().ok
    f.lost = {"web-01": [], "web-02": ["drill x 4"]}
    assert not f.no_acknowledged_write_lost().ok
    f.lost = {}
    assert not f.no_acknowledged_write_lost().ok  # nothing was verified


@pytest.mark.parametrize(
    ("records", "limit", "held", "seen"),
    [
        pytest.param([request(3.5, "write", ok=False), request(5.0, "write", latency=0.2), request(6.0, "write")], 5.0, True, "the first 2.2 s", id="back-in-time"),
        pytest.param([request(3.5, "write", ok=False), request(9.0, "write")], 5.0, False, "the first 6.0 s", id="back-late"),
        pytest.param([request(2.0, "write"), request(4.0, "write", ok=False)], 5.0, False, "no write was acknowledged", id="never-back"),
    ],
)
def test_write_outage_counts_from_the_fault_to_the_first_acknowledgement(records: list[Request], limit: float, held: bool, seen: str) -> None:
    result = figures(records).write_outage_within(limit)
    assert (result.ok, result.id) == (held, "writes.outage")
    assert result.seen.startswith(seen)


def test_the_failover_findings_are_judged() -> None:
    f = figures([])
    assert [f.primary_seen_dead_within(3.0).ok, f.fenced_on_return().ok, f.follows_again().ok] == [False, False, False]
    f.failover = {"detected_at": 5.1, "fenced_on_return": True, "rejoined": "rebuild", "errant": ["0-11-7"]}
    assert f.primary_seen_dead_within(3.0).ok and f.primary_seen_dead_within(3.0).seen == "2.1 s after the fault"
    assert not f.primary_seen_dead_within(2.0).ok
    assert f.fenced_on_return().ok
    assert f.follows_again().seen == "rebuilt: it held 1 transaction(s) of its own"
    f.failover["fenced_on_return"] = False
    assert not f.fenced_on_return().ok


@pytest.mark.parametrize(
    ("balance", "prediction"), [("roundrobin", ["balance.share-kept"]), ("leastconn", ["balance.slow-server-avoided"]), ("source", []), ("first", [])]
)
def test_what_a_slow_server_gets_follows_the_algorithm(balance: str, prediction: list[str]) -> None:
    assert predicted_ids(SEED, "slow-web1", "web-01", balance) == ["reads.none-failed", "writes.none-failed", *prediction, "writes.none-lost"]


def slow_traffic(share_of_web01: float) -> Figures:
    """Ten seconds of answers during the fault, web-01's (300 ms each) making the given share."""
    records = [request(3.0 + i * 0.05, latency=0.3 if i % 100 < share_of_web01 * 100 else 0.005,
                       node="web-01" if i % 100 < share_of_web01 * 100 else "web-02") for i in range(100)]
    return figures(records)


@pytest.mark.parametrize(
    ("balance", "share", "held"),
    [("roundrobin", 0.5, True), ("roundrobin", 0.2, False), ("leastconn", 0.2, True), ("leastconn", 0.45, False)],
)
def test_a_slow_servers_share_is_judged_against_its_fair_share(balance: str, share: float, held: bool) -> None:
    judged = slow_traffic(share).share_while_slow("web-01", balance, 2)
    assert judged.ok is held
    assert judged.seen.startswith(f"web-01 answered {round(share * 100)} of 100 ({share:.0%}) in 300 ms (median), the others in 5 ms")
