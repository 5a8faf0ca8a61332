"""Moving the primary on the tests' real lab: a switchover round trip under writes, the failover drill with
semi-synchronous replication, a failover by hand with the old primary fenced until it rejoins, and a build
on a failed-over lab. The lab ends as designed (web-01 primary, asynchronous).

Runs after test_site_drills (file order) and before test_secured.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from foobar_fab import build as building
from foobar_fab import dbstate, lesson_start, promotion
from foobar_fab.drills.catalog import by_name
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.drills.traffic import Traffic
from foobar_fab.live import LiveLab
from foobar_fab.observe.databases import Databases
from foobar_fab.observe.shell import NodeUnreachable
from foobar_fab.statefolder import LabFolder

from .conftest import TEST_LAB, FirstBuild, build, live_lab, quiet_session

RATE = 20.0


def acknowledged_writes(traffic: Traffic) -> tuple[set[str], list[float]]:
    """The bodies of the acknowledged writes, and when the failed ones were sent."""
    records = traffic.snapshot()
    acknowledged = {r.body for r in records if r.kind == "write" and r.ok and r.body}
    failed = [r.t for r in records if r.kind == "write" and not r.ok]
    return acknowledged, failed


def everywhere(live: LiveLab, run_id: str) -> dict[str, set[str]]:
    """The drill messages of this run on every database server of the lab now."""
    databases = Databases(live.lab, live.shells, show=False)
    return {n.name: databases.bodies(n, f"drill {run_id} ") for n in live.lab.db_nodes}


def wait_caught_up(live: LiveLab, timeout: float = 30.0) -> None:
    databases = Databases(live.lab, live.shells, show=False)
    deadline = time.monotonic() + timeout
    while databases.transactions_behind() != 0:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.5)


def test_a_switchover_round_trip_under_writes_loses_nothing(built_lab: FirstBuild) -> None:
    with live_lab(built_lab.settings) as (live, output):
        run_id = uuid.uuid4().hex[:8]
        traffic = Traffic(live.site, RATE, run_id)
        traffic.start()
        try:
            time.sleep(2)
            there = promotion.switchover(live, live.lab.node("web-02"))
            assert (there.new, live.lab.primary.name) == ("web-02", "web-02"), output.getvalue()
            time.sleep(2)
            back = promotion.switchover(live, live.lab.node("web-01"))
            assert live.lab.primary.name == "web-01", output.getvalue()
            time.sleep(2)
        finally:
            traffic.stop()
        wait_caught_up(live)
        acknowledged, failed = acknowledged_writes(traffic)
        held = everywhere(live, run_id)
    assert there.writable_after < 1.0 and back.writable_after < 1.0
    assert acknowledged and all(acknowledged <= bodies for bodies in held.values()), {n: len(acknowledged - b) for n, b in held.items()}
    assert len(failed) <= 2 * RATE / traffic.write_every, failed  # at most a second of writes failed, per move
    assert dbstate.load(LabFolder(built_lab.settings.state_dir(TEST_LAB))) is None  # back as designed: nothing recorded


def expectation(report: dict[str, Any], expectation_id: str) -> dict[str, Any]:
    return next(e for e in report["expectations"] if e["id"] == expectation_id)


def test_a_semi_sync_failover_loses_no_acknowledged_write(built_lab: FirstBuild) -> None:
    with live_lab(built_lab.settings) as (live, output):
        report = run_drill(live, by_name("failover"), DrillOptions(RATE, 8.0, replication="semi-sync"))
        primary_after = live.lab.primary.name
    assert report["settings"]["replication"] == "semi-sync" and report["recovered"], output.getvalue()
    assert report["acknowledged_writes"] > 0 and report["acknowledged_writes_lost"] == 0, report["lost_writes"]
    assert all(e["ok"] for e in report["expectations"]), [e for e in report["expectations"] if not e["ok"]]
    assert expectation(report, "writes.outage")["ok"] and report["write_outage_seconds"] <= 5.0
    assert report["failover"]["new_primary"] == "web-02" and report["failover"]["fenced_on_return"] is True
    assert primary_after == "web-01"  # put back by a switchover after the report
    result, text = build(built_lab.settings)  # asynchronous again, as the design has it: nothing to change
    assert result.ok and result.changed == 0, text


def rows(live: LiveLab, node: str) -> int:
    return int(live.databases.value(live.lab.node(node), "SELECT COUNT(*) FROM foobar.messages"))


def fingerprint(live: LiveLab, node: str, upto: int) -> str:
    """The messages up to an id, summed up: equal fingerprints, equal rows."""
    return live.databases.value(live.lab.node(node), f"SELECT CONCAT(COUNT(*), '/', COALESCE(SUM(CRC32(CONCAT(id, body))), 0)) FROM foobar.messages WHERE id <= {upto}")


def write_as_the_application(live: LiveLab, node: str) -> str:
    """Insert a row on the node's own database with the application's account; what the client said."""
    address = live.lab.node(node).address
    command = (
        "set -a && . /etc/foobar/app.env && set +a && MYSQL_PWD=\"$FOOBAR_DB_PASSWORD\" "
        f"mariadb -h {address} -u \"$FOOBAR_DB_USER\" \"$FOOBAR_DB_NAME\" -e \"INSERT INTO messages (body, node) VALUES ('fenced?', 'test')\" 2>&1"
    )
    try:
        outcome = live.shells.run(node, command, show=False)
    except NodeUnreachable as err:
        return f"unreachable {err}"
    return ("ok " if outcome.ok else "refused ") + outcome.stdout


def test_a_failed_over_primary_comes_back_fenced_until_it_rejoins(built_lab: FirstBuild) -> None:
    session, _ = quiet_session(built_lab.settings)
    with live_lab(built_lab.settings) as (live, output):
        session.provider.stop_hard("web-01")
        done = promotion.failover(live)
        assert (done.how, done.new, live.lab.out) == ("failover", "web-02", ("web-01",)), output.getvalue()
        assert live.site.post_message("after the failover").status_code == 201
        session.provider.start("web-01")
        deadline = time.monotonic() + 90
        while not (said := write_as_the_application(live, "web-01")).startswith("refused") or "read-only" not in said:
            assert time.monotonic() < deadline, said
            time.sleep(1)
        # Fenced: MariaDB answers, and refuses the application's writes with --read-only.
        promotion.rejoin(live, live.lab.node("web-01"))
        assert live.lab.out == () and [r.name for r in live.lab.replicas] == ["web-01"]
        wait_caught_up(live)
        assert rows(live, "web-01") == rows(live, "web-02")
        assert write_as_the_application(live, "web-01").startswith("refused")  # a replica refuses them too


def test_a_build_after_a_failover_keeps_the_primary_and_the_data(built_lab: FirstBuild) -> None:
    with live_lab(built_lab.settings) as (live, _):
        upto = int(live.databases.value(live.lab.primary, "SELECT MAX(id) FROM foobar.messages"))
        before = {n: fingerprint(live, n, upto) for n in ("web-01", "web-02")}
    assert before["web-01"] == before["web-02"]
    result, text = build(built_lab.settings)
    assert result.ok, text
    said = "\n".join(building.summary(quiet_session(built_lab.settings)[0]))  # what `invoke build` ends with
    assert "database primary: web-02 since a failover" in said and "db.switchover --to web-01" in said, said
    with live_lab(built_lab.settings) as (live, output):
        assert live.lab.primary.name == "web-02"
        assert {n: fingerprint(live, n, upto) for n in ("web-01", "web-02")} == before  # the build's checks add rows, change none
        promotion.switchover(live, live.lab.node("web-01"))
        assert live.lab.primary.name == "web-01", output.getvalue()
    result, text = build(built_lab.settings)
    assert result.ok and result.changed == 0, text
    assert "database primary: web-01 (as designed)" in building.summary(quiet_session(built_lab.settings)[0])


def test_lesson_start_puts_a_failed_over_lab_back_where_lesson_9_starts(built_lab: FirstBuild) -> None:
    """From a failover with the old primary fenced: lesson.start 9 copies it afresh, gives it the primary back,
    builds the design, and every check passes; a build afterwards has nothing to change."""
    session, _ = quiet_session(built_lab.settings)
    with live_lab(built_lab.settings) as (live, _):
        session.provider.stop_hard("web-01")
        promotion.failover(live)
    session.provider.start("web-01")
    said: list[str] = []
    lesson_start.start(built_lab.settings, lesson_start.LESSONS[9], said.append)
    assert "  web-01 copied afresh from web-02 (it was fenced after a failover)" in said, said
    assert "  web-01 is the primary again (a switchover, no write lost)" in said, said
    assert said[-1].startswith(f"lab {TEST_LAB} is where lesson 9 starts"), said
    with live_lab(built_lab.settings) as (live, _):
        assert live.lab.primary.name == "web-01" and live.lab.out == ()
    result, text = build(built_lab.settings)
    assert result.ok and result.changed == 0, text
