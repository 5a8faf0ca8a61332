"""The durability drill without a lab: what each replication mode predicts after the replica lagged, how the
lost writes and the waits are judged from recorded requests, and MariaDB's semi-sync status read."""

from __future__ import annotations

import pytest

from foobar_fab import design
from foobar_fab.drills.durability import MODES, WAIT_FOREVER_MS, comparison, durability, parse_status
from foobar_fab.drills.figures import Figures
from foobar_fab.drills.predictions import consequences, predict
from foobar_fab.drills.runner import lost_writes, stored_anyway
from foobar_fab.drills.traffic import Request

from .conftest import DEFAULT_LAB_FILE

SEED = design.load(DEFAULT_LAB_FILE)
FAILOVER = ["haproxy.marks-down", "reads.none-failed", "reads.none-slow", "primary.seen-dead", "writes.outage", "primary.fenced", "primary.follows"]


def predicted(replication: str, timeout_ms: int | None, lag: float = 3.0) -> tuple[list[str], bool]:
    drill, node = durability(lag), SEED.primary
    c = consequences(SEED, node, drill.fault.breaks(node), failover=True, replication=replication, lag=lag, semi_sync_timeout_ms=timeout_ms)
    return [p(Figures(records=[], fault_at=0.0, restore_at=1.0)).id for p in predict(c, True)], c.loss_possible


@pytest.mark.parametrize(
    ("replication", "timeout_ms", "lag", "ids", "loss_possible"),
    [
        pytest.param("async", None, 3.0, ["writes.lost-as-predicted"], True, id="async-loses-what-came-after-the-lag"),
        pytest.param("semi-sync", None, 3.0, ["semi-sync.fell-back", "writes.lost-as-predicted"], True, id="semi-sync-falls-back-after-its-timeout"),
        pytest.param("semi-sync", None, 0.5, ["writes.waited", "writes.none-lost"], False, id="a-lag-shorter-than-the-timeout-loses-nothing"),
        pytest.param("semi-sync", WAIT_FOREVER_MS, 3.0, ["writes.waited", "writes.none-lost"], False, id="never-falls-back"),
    ],
)
def test_each_mode_predicts_its_own_loss(replication: str, timeout_ms: int | None, lag: float, ids: list[str], loss_possible: bool) -> None:
    assert predicted(replication, timeout_ms, lag) == ([*FAILOVER, *ids], loss_possible)


def write(n: int, sent: float, latency: float = 0.01, ok: bool = True) -> Request:
    return Request(sent, "write", 201 if ok else 503, "web-01", latency, None if ok else "HTTP 503", f"drill r {n}")


def lagged(records: list[Request], lost: list[int], **found: object) -> Figures:
    f = Figures(records=records, fault_at=6.0, restore_at=12.0, lead_at=3.0, lost={"web-01": [], "web-02": [f"drill r {n}" for n in lost]})
    f.failover = {"new_primary": "web-02", **found}
    return f


WRITES = [write(n, 2.0 + n * 0.25) for n in range(16)]  # acknowledged from 2.0 to 5.75 s: 4 before the lag, 12 after


@pytest.mark.parametrize(
    ("lost", "held", "seen"),
    [
        pytest.param(list(range(4, 16)), True, "predicted 12, lost 12 on web-02, the same writes", id="exactly"),
        pytest.param(list(range(3, 16)), True, "predicted 12, lost 13 on web-02, 1 differ", id="one-under-way"),
        pytest.param([], False, "predicted 12, lost 0 on web-02, 12 differ", id="nothing-lost-is-not-what-async-predicts"),
    ],
)
def test_the_writes_lost_are_those_acknowledged_after_the_lag(lost: list[int], held: bool, seen: str) -> None:
    judged = lagged(WRITES, lost).lost_as_predicted(3.0, "after the replica stopped receiving")
    assert (judged.ok, judged.id) == (held, "writes.lost-as-predicted")
    assert judged.seen.startswith(seen)


def test_the_fallback_is_judged_from_mariadbs_status() -> None:
    assert not lagged(WRITES, []).fell_back_within(1.0).ok
    judged = lagged(WRITES, [], fell_back_at=4.3, no_tx=7).fell_back_within(1.0)
    assert judged.ok and judged.seen.startswith("1.30 s after (Rpl_semi_sync_master_status OFF; 7 transaction(s)")
    assert not lagged(WRITES, [], fell_back_at=3.1).fell_back_within(1.0).ok  # sooner than the timeout: not a timeout


def test_writes_that_wait_are_measured_from_the_lag_until_the_next_acknowledgement() -> None:
    waited = [write(0, 2.5), write(1, 3.2, latency=2.0, ok=False), write(2, 7.0, latency=0.5), write(3, 8.0)]
    judged = lagged(waited, []).writes_waited(3.0)
    assert judged.ok and judged.seen == "no write acknowledged for 4.5 s"
    assert not lagged(WRITES, []).writes_waited(3.0).ok  # acknowledged all along: they did not wait


def test_semi_sync_status_is_read_by_name() -> None:
    text = "RPL_SEMI_SYNC_MASTER_NO_TX\t12\nRPL_SEMI_SYNC_MASTER_STATUS\tOFF\nRPL_SEMI_SYNC_MASTER_YES_TX\t40\n"
    assert parse_status(text) == {"Rpl_semi_sync_master_status": "OFF", "Rpl_semi_sync_master_no_tx": "12", "Rpl_semi_sync_master_yes_tx": "40"}


def test_one_table_for_the_modes() -> None:
    def report(lost: list[str], fell: float | None, ok: bool) -> dict[str, object]:
        return {
            "settings": {"semi_sync_timeout_ms": 1000}, "acknowledged_writes": 80, "lost_writes": {"web-02": [f"drill r {n}" for n in lost]},
            "failover": {"new_primary": "web-02", **({"fell_back_at": fell} if fell else {})}, "events": [{"t": 3.0, "what": "lagging", "detail": ""}],
            "longest_write_wait_seconds": 2.1, "expectations": [{"id": "writes.lost-as-predicted", "what": "w", "seen": "s", "ok": ok}],
        }

    rows = comparison([(MODES[0], report(["10", "9"], None, True)), (MODES[1], report(["12"], 4.2, False))])  # type: ignore[list-item]
    assert rows[1].split() == ["async", "-", "80", "2", "-", "2.1", "s", "1/1", "held"]
    assert rows[2].split()[:6] == ["semi-sync", "1000", "ms", "80", "1", "+1.2"]
    assert rows[3] == "async: lost 9, 10; w: s (held)" and rows[4].endswith("(did NOT hold)")


def test_lost_and_failed_but_stored_writes_are_read_from_what_each_database_holds() -> None:
    held: dict[str, set[str] | str] = {"web-01": {"drill r 1", "drill r 2", "drill r 3"}, "web-02": {"drill r 1"}, "db-03": "(cannot read db-03: NodeUnreachable)"}
    assert lost_writes({"drill r 1", "drill r 2"}, held) == {"web-01": [], "web-02": ["drill r 2"], "db-03": ["(cannot read db-03: NodeUnreachable)"]}
    assert stored_anyway({"drill r 3", "drill r 4"}, held) == ["drill r 3"]  # answered with an error, stored all the same
