"""The stale-reads drill without a lab: its rounds counted per client and judged against the design's predictions,
and the design setting that fixes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from foobar_fab import design, topology
from foobar_fab.drills.staleness import Round, StaleRun
from foobar_fab.roles import RoleInputs, app
from foobar_fab.topology import TopologyError

from .conftest import DEFAULT_LAB_FILE

SEED = design.load(DEFAULT_LAB_FILE)


def run(window_s: int, rounds: list[Round]) -> StaleRun:
    return StaleRun(window_s, rounds, lag_at=2.0, applied_at=7.0)


WITHOUT_FIX = [
    Round(1, 1.0, "web-02", True), Round(1, 3.0, "web-02", False), Round(1, 3.1, "web-01", True),
    Round(2, 4.0, "web-02", False), Round(2, 8.0, "web-02", False),  # after the catch-up: replication is never instant
]


def test_stale_reads_are_counted_per_client_and_by_moment() -> None:
    found = run(0, WITHOUT_FIX)
    assert found.per_client() == {1: {"reads": 3, "stale": 1}, 2: {"reads": 2, "stale": 2}}
    assert len(found.stale(during_lag=True)) == 2 and len(found.stale(during_lag=False)) == 1


def test_without_the_fix_the_replica_serves_stale_reads_while_it_lags() -> None:
    held = {p["id"]: p["ok"] for p in run(0, WITHOUT_FIX).predictions("web-01")}
    assert held == {"reads.primary-fresh": True, "reads.stale-while-lagging": True}
    assert not run(0, [Round(1, 3.0, "web-02", True)]).predictions("web-01")[1]["ok"]  # no stale read: not what the design predicts


@pytest.mark.parametrize(("rounds", "ok"), [([Round(1, 3.0, "web-02", True), Round(1, 3.1, "web-01", True)], True), (WITHOUT_FIX, False), ([], False)])
def test_with_the_fix_every_client_sees_its_own_write(rounds: list[Round], ok: bool) -> None:
    (seen,) = [p for p in run(10, rounds).predictions("web-01") if p["id"] == "reads.own-writes-seen"]
    assert seen["ok"] is ok


def test_the_design_sets_how_long_a_writer_reads_from_the_primary(tmp_path: Path) -> None:
    assert "FOOBAR_READ_OWN_WRITES_S" not in app.environment(RoleInputs(SEED, SEED.node("web-02"), {}))
    path = tmp_path / "fixed.yml"
    path.write_text(topology.to_yaml(SEED).replace("domain: www.foobar.com", "domain: www.foobar.com\n  read_own_writes_s: 5"))
    lab = design.load(path)
    assert lab.read_own_writes_s == 5 and "FOOBAR_READ_OWN_WRITES_S=5" in app.environment(RoleInputs(lab, lab.node("web-02"), {}))
    assert "read_own_writes_s: 5" in topology.to_yaml(lab)
    path.write_text(topology.to_yaml(SEED).replace("domain: www.foobar.com", "domain: www.foobar.com\n  read_own_writes_s: soon"))
    with pytest.raises(TopologyError, match="lab.read_own_writes_s"):
        design.load(path)
