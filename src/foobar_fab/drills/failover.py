"""The failover drill's operator: notice that the primary stopped answering, fail over to the replica, and
once the old primary has power again, check that it came back fenced, then rejoin it (or, when it holds
transactions the new primary never received, name them and rebuild it). After the report, a switchover
puts the design's primary back, so the next drill finds the lab as designed.

Noticing: a replica probes the primary's MariaDB (`mariadb-admin ping`, which counts any answer, even a
refused login, as alive) every 100 ms; three probes in a row without an answer within 400 ms, and the
primary counts as dead. Real sites run this loop in a tool of its own (orchestrator, MaxScale...).
"""

from __future__ import annotations

from .. import design, orphans, promotion
from ..observe.shell import NodeUnreachable
from ..roles.database import GUARD_SERVICE
from ..topology import NodeSpec
from ..waiting import wait_until
from .response import DrillRun, Response

PROBE_EVERY = 0.1  # seconds between two probes of the primary
PROBE_TIMEOUT = 0.4  # a probe without an answer by then counts as failed
PROBES_FAILED = 3  # failed probes in a row before the primary counts as dead
BACK_TIMEOUT = 90.0  # seconds the returned primary gets to start MariaDB and its guard


def probe_loop(address: str, rounds: int) -> str:
    """A shell loop, run on a replica: exits 0 once the primary missed PROBES_FAILED probes in a row, 1 if it
    answered all along for `rounds` probes."""
    ping = f"timeout -s KILL {PROBE_TIMEOUT} mariadb-admin --connect-timeout=1 -h {address} ping >/dev/null 2>&1"
    return (
        f"failed=0; round=0; while [ $round -lt {rounds} ]; do "
        f"if {ping}; then failed=0; else failed=$((failed + 1)); fi; "
        f"[ $failed -ge {PROBES_FAILED} ] && exit 0; round=$((round + 1)); sleep {PROBE_EVERY}; done; exit 1"
    )


def detect(run: DrillRun, within: float) -> NodeSpec | None:
    """Wait (at most `within` seconds) until the primary misses its probes; the replica that saw it, or None."""
    lab = run.live.lab
    watcher = lab.replicas[0]
    rounds = int(within / (PROBE_EVERY + 0.05)) + 1
    outcome = run.live.shells.run(watcher.name, probe_loop(str(lab.primary.address), rounds), kind="probe", timeout=within + 10, show=False)
    return watcher if outcome.ok else None


def fail_over(run: DrillRun, within: float | None = None) -> None:
    """As soon as the primary is seen dead, promote the replica (the fault's duration bounds the wait, unless
    `within` gives another bound: a fault that comes later)."""
    watcher = detect(run, within=run.duration if within is None else within)
    if watcher is None:
        run.event("not detected", f"{run.target.name}'s MariaDB kept answering: no failover")
        return
    run.findings["detected_at"] = run.event("primary dead", f"{run.target.name} missed {PROBES_FAILED} probes from {watcher.name} in a row")
    started = run.clock()
    done = promotion.failover(run.live, options=run.options, seen_dead=True)
    run.findings["writable_at"] = run.event("promoted", f"{done.new} takes writes", at=started + done.writable_after)
    run.event("pointed", f"every application server writes to {done.new}", at=started + done.files_after)
    run.findings["new_primary"] = done.new


def returned(run: DrillRun, node: NodeSpec) -> bool | None:
    """Wait until the node's MariaDB is up and its guard has run; whether it takes writes then (None: it never came)."""
    shells = run.live.shells
    guard_ran = f"test \"$(systemctl show -p ExecMainExitTimestampMonotonic --value {GUARD_SERVICE})\" != 0"
    found: list[bool] = []

    def back() -> bool:
        try:
            if shells.run(node.name, guard_ran, timeout=5.0, show=False).ok:
                writable = run.live.databases.writable(node, timeout=5.0)
                found.extend([] if writable is None else [writable])
        except NodeUnreachable:
            pass
        return bool(found)

    return found[0] if wait_until(back, BACK_TIMEOUT, 1.0) else None


def rejoin(run: DrillRun) -> None:
    """The old primary is back: it must refuse writes; then it follows the new one (rebuilt if it must be)."""
    node = run.target
    if node.name not in run.live.lab.out:
        return  # no failover happened: nothing to rejoin
    writable = returned(run, node)
    if writable is None:
        run.event("not back", f"{node.name}'s MariaDB did not answer within {BACK_TIMEOUT:g} s: `invoke db.rejoin {node.name}` later")
        return
    run.findings["fenced_on_return"] = not writable
    run.event("back", f"{node.name} is up again, " + ("TAKING WRITES: not fenced" if writable else "read-only: fenced"))
    try:
        promotion.rejoin(run.live, node, run.options)
        run.findings["rejoined"] = "rejoin"
        run.event("rejoined", f"{node.name} follows {run.live.lab.primary.name}")
    except promotion.ErrantTransactions as err:
        run.findings["errant"] = err.found
        run.event("refused", f"{node.name} holds {len(err.found)} transaction(s) {run.live.lab.primary.name} never received")
        promotion.rebuild(run.live, run.live.lab.node(node.name), run.options)  # as the lab has it now: fenced
        run.findings["rejoined"] = "rebuild"
        kept = orphans.saved(run.live.session.folder)
        if kept and not kept[-1].replayed:
            run.findings["orphans_file"] = str(kept[-1].path)
        run.event("rebuilt", f"{node.name} was copied afresh from {run.live.lab.primary.name} and follows it, its own transactions saved first")


def put_back(run: DrillRun) -> None:
    """A switchover back to the design's primary (no write lost), so the next drill finds the lab as designed."""
    designed = design.load(run.live.session.settings.lab_file).primary.name
    if run.live.lab.primary.name == designed or run.live.lab.out:
        return
    run.live.console.note("drill", f"the primary goes back to {designed} (a switchover: no write lost)")
    try:
        promotion.switchover(run.live, run.live.lab.node(designed), run.options)
    except promotion.PromotionError as err:
        run.live.console.note("drill", f"{err}: `invoke db.switchover --to {designed}` puts it back")


FAILOVER = Response(during=fail_over, after=rejoin, finish=put_back)
