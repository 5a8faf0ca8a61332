"""What a failover loses, on the tests' real lab: acknowledged writes the replica never received are saved
before the rebuild drops them, and replayed on the new primary; the durability drill compares what each
replication mode loses when the replica lags; the stale-reads drill counts the users who miss their own
message while it lags, without and with the design's fix. The lab ends as designed (web-01 primary, asynchronous).

Runs after test_failover (file order).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pytest

from foobar_fab import orphans, promotion
from foobar_fab.drills.durability import MODES, durability, lost_ids
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.drills.staleness import stale_reads
from foobar_fab.live import LiveLab
from foobar_fab.observe.shell import NodeUnreachable
from foobar_fab.resources.mariadb import sql

from .conftest import FirstBuild, build, live_lab, quiet_session
from .test_failover import wait_caught_up

ORPHANED = 4  # writes the replica never receives
RATE = 20.0


def answers(live: LiveLab, node: str) -> bool:
    try:
        return live.databases.writable(live.lab.node(node), timeout=2.0) is not None
    except NodeUnreachable:
        return False


def test_a_rebuild_saves_what_only_the_fenced_primary_held_and_a_replay_restores_it(built_lab: FirstBuild) -> None:
    session, _ = quiet_session(built_lab.settings)
    run_id = uuid.uuid4().hex[:8]
    written = [f"orphan {run_id} {n} it's \"quoted\" \\ done" for n in range(ORPHANED)]
    with live_lab(built_lab.settings) as (live, output):
        live.shells.must("web-02", sql("STOP SLAVE IO_THREAD"))
        assert all(live.site.post_message(body).status_code == 201 for body in written)  # acknowledged, on web-01 only
        session.provider.stop_hard("web-01")
        promotion.failover(live)
        after = f"after {run_id}"
        assert live.site.post_message(after).status_code == 201  # the new primary gives out ids the old one used
        session.provider.start("web-01")
        deadline = time.monotonic() + 90
        while not answers(live, "web-01"):
            assert time.monotonic() < deadline, "web-01's MariaDB did not come back"
            time.sleep(1)
        with pytest.raises(promotion.ErrantTransactions) as refused:
            promotion.rejoin(live, live.lab.node("web-01"))
        assert len(refused.value.found) == ORPHANED and "`invoke db.orphans --replay`" in str(refused.value)
        promotion.rebuild(live, live.lab.node("web-01"))
        (saved,) = orphans.saved(live.session.folder)
        text = saved.path.read_text()
        assert saved.path.stat().st_mode & 0o777 == 0o600 and str(saved.path) in output.getvalue()
        assert all(gtid in text for gtid in refused.value.found), text
        inserts = [line for line in text.splitlines() if line.startswith("INSERT INTO")]
        assert [re.search(r"VALUES \('(orphan \S+ \d+)", line).group(1) for line in inserts] == [b.split(" it's")[0] for b in written], text  # type: ignore[union-attr]
        assert all(live.databases.count(live.lab.node("web-01"), body) == 0 for body in written)  # the rebuild dropped them
        assert orphans.replay(live, saved) == ORPHANED
        wait_caught_up(live)
        held = {n: [live.databases.count(live.lab.node(n), body) for body in [*written, after]] for n in ("web-01", "web-02")}
        assert held == {"web-01": [1] * (ORPHANED + 1), "web-02": [1] * (ORPHANED + 1)}, held
        assert [s.replayed for s in orphans.saved(live.session.folder)] == [True]
        with pytest.raises(orphans.OrphansError):
            orphans.replay(live, orphans.saved(live.session.folder)[0])
        promotion.switchover(live, live.lab.node("web-01"))
        assert live.lab.primary.name == "web-01"


def held(report: dict[str, Any], expectation_id: str) -> bool:
    return next(e["ok"] for e in report["expectations"] if e["id"] == expectation_id)


def test_the_durability_drill_shows_what_each_mode_loses_and_puts_the_lab_back(built_lab: FirstBuild) -> None:
    """The replica stops receiving for 3 s, then the primary loses power: asynchronous replication loses every write
    acknowledged since, semi-sync falls back after its timeout and loses them too, semi-sync that never falls
    back loses none and makes writes wait; the lab is as designed afterwards."""
    with live_lab(built_lab.settings) as (live, output):
        reports = {
            mode.name: run_drill(live, durability(3.0), DrillOptions(RATE, 8.0, replication=mode.replication, semi_sync_timeout_ms=mode.timeout_ms))
            for mode in MODES
        }
        primary_after = live.lab.primary.name
    lost = {name: lost_ids(r) for name, r in reports.items()}
    assert all(r["recovered"] and r["failover"]["new_primary"] == "web-02" for r in reports.values()), output.getvalue()
    assert lost["async"] and held(reports["async"], "writes.lost-as-predicted"), reports["async"]["expectations"]
    assert reports["async"]["failover"]["orphans_file"], reports["async"]["failover"]  # the rebuild kept them
    assert lost["semi-sync"] and held(reports["semi-sync"], "semi-sync.fell-back"), reports["semi-sync"]["expectations"]
    assert held(reports["semi-sync"], "writes.lost-as-predicted"), reports["semi-sync"]["expectations"]
    assert lost["semi-sync-wait"] == [] and held(reports["semi-sync-wait"], "writes.none-lost"), reports["semi-sync-wait"]["lost_writes"]
    assert held(reports["semi-sync-wait"], "writes.waited") and (reports["semi-sync-wait"]["longest_write_wait_seconds"] or 0) >= 3.0
    assert primary_after == "web-01"
    result, text = build(built_lab.settings)  # asynchronous, the design's timeout, web-01 primary: nothing to change
    assert result.ok and result.changed == 0, text


def test_stale_reads_while_the_replica_lags_and_none_with_the_fix(built_lab: FirstBuild) -> None:
    """Clients post and read at once while the replica stops applying: reads web-02 answers miss their own writes;
    with reads sent to the primary after a write, none does; the application is as designed afterwards."""
    with live_lab(built_lab.settings) as (live, output):
        (without, fixed), rows = stale_reads(live, lag=3.0, clients=2)
    assert (without.window_s, fixed.window_s) == (0, 10), output.getvalue()
    assert without.stale(during_lag=True) and {r.read_by for r in without.stale(during_lag=True)} == {"web-02"}, rows
    assert fixed.rounds and not fixed.stale(), rows
    assert all(p["ok"] for r in (without, fixed) for p in r.predictions("web-01")), rows
    result, text = build(built_lab.settings)
    assert result.ok and result.changed == 0, text
