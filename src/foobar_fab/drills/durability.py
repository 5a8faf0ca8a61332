"""The durability drill: what a failover loses when the replica lags. The replica stops receiving the primary's
changes (its IO thread stopped: MariaDB's own command) for `lag` seconds while writes go on; then the primary
loses power; then the failover. Run with asynchronous replication, semi-sync with the design's timeout, and
semi-sync that never falls back, it shows the trade-off between durability and availability.

While it runs, the operator also reads the primary's semi-sync status every 100 ms (MariaDB's
Rpl_semi_sync_master_status and Rpl_semi_sync_master_no_tx): the moment the primary gave up waiting for the
replica and went on alone is when acknowledged writes began to exist on one server only.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ..live import LiveLab
from ..observe.shell import NodeUnreachable
from ..resources.mariadb import sql
from ..topology import NodeSpec
from .catalog import Drill, Fault, Lead, power_cut, primary_with_replica
from .failover import PROBE_EVERY, fail_over, put_back, rejoin
from .report import DrillReport
from .response import Act, DrillRun, Response

LAG = 3.0  # seconds the replica stops receiving, by default
WAIT_FOREVER_MS = 3_600_000  # an hour, the longest semi-sync timeout a design may set: in a drill, never
STATUS = ("Rpl_semi_sync_master_status", "Rpl_semi_sync_master_no_tx", "Rpl_semi_sync_master_yes_tx")
STATUS_SQL = f"SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ({', '.join(repr(s.upper()) for s in STATUS)})"
STATUS_TIMEOUT = 1.0  # seconds a status read may take: a primary without power never answers


@dataclass(frozen=True)
class Mode:
    """One way to replicate the drill compares: a name, MariaDB's mode, and a semi-sync timeout (None: the design's)."""

    name: str
    replication: str
    timeout_ms: int | None = None


MODES = (Mode("async", "async"), Mode("semi-sync", "semi-sync"), Mode("semi-sync-wait", "semi-sync", WAIT_FOREVER_MS))


def replica_stops_receiving(seconds: float) -> Lead:
    """Each replica stops fetching the primary's binary log (STOP SLAVE IO_THREAD): it falls behind, and a
    semi-sync primary gets no acknowledgement any more."""

    def act(live: LiveLab, node: NodeSpec) -> None:
        shells = live.more_shells()  # the operator's probes hold the replica's own connection from before
        try:
            for replica in live.lab.replicas:
                shells.must(replica.name, "true", kind="probe", show=False)  # connected first: the stop is then at once
                shells.must(replica.name, sql("STOP SLAVE IO_THREAD"), kind="run")
        finally:
            shells.close()

    def title(node: NodeSpec, live: LiveLab) -> str:
        return f"{', '.join(r.name for r in live.lab.replicas)} stops receiving {node.name}'s changes for {seconds:g} s"

    return Lead(act, seconds, title)


def lagging_power_cut(lag: float) -> Fault:
    """The replica falls behind, then the primary loses power; undone by power, and by the replicas that are
    still replicas (no failover happened) fetching again."""
    cut = power_cut()

    def restore(live: LiveLab, node: NodeSpec) -> None:
        cut.restore(live, node)
        for replica in live.lab.replicas:
            if replica != node:
                live.shells.must(replica.name, sql("START SLAVE IO_THREAD"), kind="run")

    return Fault(kind=cut.kind, breaks=cut.breaks, inject=cut.inject, restore=restore, title=cut.title, lead=replica_stops_receiving(lag))


def parse_status(text: str) -> dict[str, str]:
    """`STATUS_SQL`'s rows (name, value) as a dict by MariaDB's names."""
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition("\t")
        found[name.strip().lower()] = value.strip()
    return {s: found[s.lower()] for s in STATUS if s.lower() in found}


def watch_semi_sync(run: DrillRun, primary: NodeSpec, stop: threading.Event, rounds: int) -> None:
    """Read the primary's semi-sync status every 100 ms until it stops answering (or `stop`, or `rounds` reads):
    the moment it turns OFF is an event, with how many transactions it acknowledged with no replica."""
    shells = run.live.more_shells()
    was_on = False
    try:
        for _ in range(rounds):
            if stop.is_set():
                return
            try:
                outcome = shells.run(primary.name, sql(STATUS_SQL), kind="probe", timeout=STATUS_TIMEOUT, show=False)
            except NodeUnreachable:
                return
            if not outcome.ok:
                return
            status = parse_status(outcome.stdout)
            on = status.get(STATUS[0]) == "ON"
            run.findings["no_tx"] = int(status.get(STATUS[1], "0") or 0)
            if was_on and not on and "fell_back_at" not in run.findings:
                run.findings["fell_back_at"] = run.event(
                    "fell back", f"{primary.name} stops waiting for a replica: Rpl_semi_sync_master_status OFF, {run.findings['no_tx']} acknowledged with none"
                )
            was_on = was_on or on
            stop.wait(PROBE_EVERY)
    finally:
        shells.close()


def operator(lag: float) -> Response:
    """The failover drill's operator, who also watches the primary's semi-sync status from before the lag."""

    def during(run: DrillRun) -> None:
        stop = threading.Event()
        watcher = None
        if run.options.replication == "semi-sync":
            rounds = int((lag + run.duration) / PROBE_EVERY) + 1
            watcher = threading.Thread(target=watch_semi_sync, args=(run, run.target, stop, rounds), name="semi-sync status", daemon=True)
            watcher.start()
        try:
            fail_over(run, within=lag + run.duration)
        finally:
            stop.set()
            if watcher is not None:
                watcher.join(STATUS_TIMEOUT + 5)

    return Response(during=during, after=with_designs_timeout(rejoin), finish=with_designs_timeout(put_back))


def with_designs_timeout(act: Act) -> Act:
    """The act with the design's semi-sync timeout. Once the fault is over the lab is set up again (a rebuild, a
    switchover), and a primary that never falls back would wait forever on the build's own first write (an
    account for the replica) for a replica that cannot connect without it."""

    def act_with(run: DrillRun) -> None:
        act(dataclasses.replace(run, options=dataclasses.replace(run.options, semi_sync_timeout_ms=None)))

    return act_with


def durability(lag: float = LAG) -> Drill:
    """The drill, with the replica behind for `lag` seconds before the power cut."""
    return Drill(
        name="durability",
        summary="the replica falls behind, then the primary loses power and the replica is promoted",
        target=primary_with_replica,
        fault=lagging_power_cut(lag),
        response=operator(lag),
        lesson=(
            "The replica stopped receiving while the primary went on taking writes; then the primary lost power "
            "and the replica was promoted with what it had. With asynchronous replication every write acknowledged "
            "after the replica stopped existed on the dead server only: the failover lost them all. Semi-sync "
            "with a timeout held the writes for the timeout, then fell back to asynchronous (MariaDB says so: "
            "Rpl_semi_sync_master_status OFF) and acknowledged them alone: it lost the same writes, only later. Its "
            "promise lasts as long as a replica keeps up. Semi-sync that never falls back lost nothing, and paid "
            "with availability: no write was acknowledged from the moment the replica stopped until the new "
            "primary took over. The old primary's own transactions were saved by the rebuild (`invoke db.orphans`)."
        ),
        lesson_link="docs/lessons/09-when-the-primary-dies.md",
    )


def lost_ids(report: DrillReport) -> list[str]:
    """The numbers of the acknowledged writes the new primary lacks (of the drill's messages `drill <run> <n>`)."""
    new = report["failover"].get("new_primary")
    bodies = report["lost_writes"].get(new, []) if new else []
    return sorted((b.rsplit(" ", 1)[-1] for b in bodies), key=lambda n: (len(n), n))


def comparison(reports: Sequence[tuple[Mode, DrillReport]]) -> list[str]:
    """One table for the modes run: acknowledged writes lost against the time without an acknowledged write."""
    rows = [f"{'replication':<16}{'timeout':>10}{'acknowledged':>14}{'lost':>6}{'fell back':>11}{'no write acked':>16}  predictions"]
    for mode, r in reports:
        timeout = "-" if mode.replication == "async" else ("never" if mode.timeout_ms == WAIT_FOREVER_MS else f"{r['settings']['semi_sync_timeout_ms']} ms")
        fell = r["failover"].get("fell_back_at")
        lead = next((e["t"] for e in r["events"] if e["what"] == "lagging"), None)
        fell_back = "-" if fell is None or lead is None else f"+{fell - lead:.1f} s"
        gap = r.get("longest_write_wait_seconds")
        held = sum(e["ok"] for e in r["expectations"])
        rows.append(
            f"{mode.name:<16}{timeout:>10}{r['acknowledged_writes']:>14}{len(lost_ids(r)):>6}{fell_back:>11}"
            f"{'-' if gap is None else f'{gap:.1f} s':>16}  {held}/{len(r['expectations'])} held"
        )
    for mode, r in reports:
        ids = lost_ids(r)
        rows.append(f"{mode.name}: lost " + (", ".join(ids) if ids else "none") + next(
            (f"; {e['what']}: {e['seen']} ({'held' if e['ok'] else 'did NOT hold'})" for e in r["expectations"] if e["id"] in ("writes.lost-as-predicted", "writes.waited")), ""
        ))
    return rows
