"""Promoting a replica to primary: a switchover (the primary is up), a failover (it is not), and bringing
a former primary back as a replica (rejoin), or copying it afresh from the new primary (rebuild).

How the application servers find the primary: each reads its address from /etc/foobar/primary at every
write, so a promotion rewrites that file on every application server and restarts nothing. The write
outage is then the time to notice the fault, promote, and rewrite the files; the rest of the build
(accounts, the guard, firewall rules) follows while writes already flow.

A failed primary is fenced: every server starts read-only, and the primary's guard makes it writable
again only if no other server takes writes. It stays out of the design (no database role) until it
rejoins; if it holds transactions the new primary never received, rejoining refuses and names them.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import time
from dataclasses import dataclass

from . import dbstate, design, orphans, parallel, reconfiguration
from .constants import APP_USER, DATABASE, EXPORTER_USER, REPLICATION_USER, STAGING
from .dbstate import DbState
from .errors import LabError
from .live import LiveLab
from .observe.replication import errant, gtid_sequences
from .observe.shell import NodeUnreachable
from .resources.mariadb import sql
from .roles import BuildOptions
from .roles.app import PRIMARY_FILE
from .roles.database import GUARD_USER
from .session import LabSession, open_session
from .topology import NodeSpec
from .waiting import wait_until

SETTLED_ROLES = ("db_primary", "db_replica", "app", "firewall", "exporter", "monitor")  # what a new primary changes
CATCH_UP_SECONDS = 10.0  # how long a switchover waits for the replica to apply everything
# Stopping a semi-sync replica connects to its primary (to end its session there), which waits when the
# primary has no power: one second at most (MariaDB's default is five), the shortest it allows.
PROMOTE = "SET GLOBAL rpl_semi_sync_slave_kill_conn_timeout = 1; STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF"
DEMOTE = "STOP SLAVE; SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos"
LAB_USERS = (APP_USER, REPLICATION_USER, EXPORTER_USER, GUARD_USER)  # the accounts the lab makes
LAB_USERS_SQL = ", ".join(f"'{u}'" for u in LAB_USERS)
LAB_ACCOUNT = re.compile("|".join(f"`{u}`@`" for u in LAB_USERS))
DUMP_POSITION = re.compile(r"gtid_slave_pos\s*=\s*'([0-9,-]*)'")


class PromotionError(LabError):
    """A promotion or a rejoin cannot go on; the message says why and what to do."""


class ErrantTransactions(PromotionError):
    """A former primary holds transactions the new primary never received: it cannot simply rejoin."""

    def __init__(self, message: str, found: list[str]) -> None:
        super().__init__(message)
        self.found = found


@dataclass(frozen=True)
class Promotion:
    """What a switchover or a failover did, with its moments (seconds since it started)."""

    how: str
    old: str
    new: str
    writable_after: float  # seconds from the start until the new primary took writes
    files_after: float  # seconds until every reachable application server wrote to it


def value(live: LiveLab, node: NodeSpec, statement: str, timeout: float = 3.0) -> str:
    """One value of one SQL statement on a node, as root over SSH."""
    return live.databases.value(node, statement, timeout=timeout)




def best_replica(live: LiveLab, candidates: tuple[NodeSpec, ...]) -> NodeSpec:
    """The replica that has applied the most of the primary's transactions (the first on a tie)."""
    applied: list[tuple[int, int, NodeSpec]] = []
    for order, node in enumerate(candidates):
        try:
            position = gtid_sequences(value(live, node, "SELECT @@gtid_slave_pos", timeout=2.0))
        except NodeUnreachable:
            continue
        applied.append((sum(position.values()), -order, node))
    if not applied:
        raise PromotionError("no replica answers: there is nothing to promote")
    return max(applied, key=lambda found: found[:2])[2]


def point_files(live: LiveLab, primary: NodeSpec, skip: tuple[str, ...]) -> None:
    """Every reachable application server writes to the new primary from its next write on."""
    command = f"printf '%s\\n' {primary.address} > {PRIMARY_FILE}.new && mv {PRIMARY_FILE}.new {PRIMARY_FILE}"

    def one(node: NodeSpec) -> None:
        try:
            live.shells.must(node.name, command, kind="run", timeout=5.0)
        except NodeUnreachable as err:
            live.console.note(node.name, f"not told where the primary is ({err}): the next build will")

    parallel.each([n for n in live.lab.app_nodes if n.name not in skip], one)


def demote(live: LiveLab, old: NodeSpec) -> None:
    """A former primary will follow the new one from the end of its own binary log: all it ever had."""
    live.shells.must(old.name, sql(DEMOTE), kind="run")


def promote(live: LiveLab, new: NodeSpec) -> None:
    """The replica stops replicating and takes writes."""
    live.shells.must(new.name, sql(PROMOTE), kind="run", timeout=10.0)


def settle(live: LiveLab, state: DbState, skip: tuple[str, ...], options: BuildOptions) -> LabSession:
    """Record the new primary, then bring every reachable node in line with it through the build's steps
    (with the build options in force: a drill's replication mode); the live lab follows the new design."""
    session = live.session
    dbstate.save(session.folder, state, design.load(session.settings.lab_file))
    settled = open_session(session.settings, session.console)  # the design again, as the provider sees it, with the new primary
    live.follow(settled)
    if not reconfiguration.reconfigure(settled, SETTLED_ROLES, options, skip=skip):
        raise PromotionError(f"{state.primary} is the primary, but some nodes could not be brought in line (see the failed steps above)")
    return settled


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def switchover(live: LiveLab, to: NodeSpec | None = None, options: BuildOptions = BuildOptions()) -> Promotion:
    """A planned change of primary: the old one stops taking writes, the new one catches up and takes them,
    the old one follows it. No acknowledged write can be lost."""
    lab = live.lab
    old = lab.primary
    new = to or best_replica(live, lab.replicas)
    if new == old or new not in lab.replicas:
        raise PromotionError(f"{new.name} is not a replica of {old.name}: choose one of {', '.join(r.name for r in lab.replicas)}")
    started = time.monotonic()
    live.shells.must(old.name, sql("SET GLOBAL read_only = ON"), kind="run")
    target = value(live, old, "SELECT @@gtid_binlog_pos")
    if not wait_until(lambda: value(live, new, "SELECT @@gtid_slave_pos") == target, CATCH_UP_SECONDS, 0.05):
        live.shells.must(old.name, sql("SET GLOBAL read_only = OFF"), kind="run")
        raise PromotionError(f"{new.name} did not catch up with {old.name} in {CATCH_UP_SECONDS:g} s: the primary takes writes again")
    promote(live, new)
    writable = time.monotonic() - started
    demote(live, old)
    point_files(live, new, ())
    files = time.monotonic() - started
    state = DbState(primary=new.name, promoted_at=target, how="switchover", when=now())
    settle(live, state, (), options)
    return Promotion("switchover", old.name, new.name, writable, files)


def failover(live: LiveLab, to: NodeSpec | None = None, options: BuildOptions = BuildOptions(), seen_dead: bool = False) -> Promotion:
    """The primary is dead: promote the most advanced replica, point the application servers at it, and keep
    the old primary out (fenced) until it rejoins. `seen_dead`: the caller just saw it stop answering (a
    drill's probes), so it is not asked again (asking a server without power costs a timeout)."""
    lab = live.lab
    old = lab.primary
    if not seen_dead and live.databases.writable(old, timeout=2.0):
        raise PromotionError(f"{old.name} still takes writes: a failover would make two primaries; use `invoke db.switchover`")
    new = to or best_replica(live, lab.replicas)
    started = time.monotonic()
    promoted_at = value(live, new, "SELECT @@gtid_slave_pos")
    promote(live, new)
    writable = time.monotonic() - started
    out = tuple(dict.fromkeys((*lab.out, old.name)))
    point_files(live, new, out)
    files = time.monotonic() - started
    state = DbState(primary=new.name, out=out, promoted_at=promoted_at, how="failover", when=now())
    settle(live, state, out, options)
    return Promotion("failover", old.name, new.name, writable, files)


def rejoin(live: LiveLab, node: NodeSpec, options: BuildOptions = BuildOptions()) -> LabSession:
    """A fenced former primary follows the new one, unless it holds transactions the new one never had."""
    state = live.session.db_state
    if state is None or node.name not in state.out:
        raise PromotionError(f"{node.name} is not a fenced former primary: nothing to rejoin")
    binlog = value(live, node, "SELECT @@gtid_binlog_pos")
    extra = errant(state.promoted_at, binlog)
    if extra:
        shown = ", ".join(extra[:10]) + (" ..." if len(extra) > 10 else "")
        raise ErrantTransactions(
            f"{node.name} holds {len(extra)} transaction(s) {state.primary} never received ({shown}): "
            f"rejoining would fork the data; `invoke db.rebuild {node.name}` saves them in the lab's state folder and copies it "
            f"afresh from {state.primary}, then `invoke db.orphans` shows them and `invoke db.orphans --replay` applies them to {state.primary}",
            extra,
        )
    demote(live, node)
    remaining = tuple(n for n in state.out if n != node.name)
    return settle(live, dataclasses.replace(state, out=remaining), remaining, options)


def lab_accounts(live: LiveLab, primary: NodeSpec, node: NodeSpec) -> str:
    """SQL that gives the node exactly the primary's accounts of the lab (CREATE USER and GRANT lines of
    `mariadb-dump --system=users`), its own dropped first. Accounts replicate as statements, so a server
    rebuilt from a copy of the data alone could lack one the primary made while it was away."""
    mine = value(live, node, f"SELECT GROUP_CONCAT(CONCAT(QUOTE(user), '@', QUOTE(host))) FROM mysql.user WHERE user IN ({LAB_USERS_SQL})")
    drops = [f"DROP USER IF EXISTS {account};" for account in filter(None, mine.split(","))] if mine != "NULL" else []
    dumped = live.shells.must(primary.name, "mariadb-dump --system=users", timeout=60)
    kept = [line for line in dumped.splitlines() if LAB_ACCOUNT.search(line) and line.startswith(("CREATE USER", "GRANT "))]
    return "\n".join(drops + kept) + "\n"


def forget_replication(live: LiveLab, node: NodeSpec) -> None:
    """The server follows nobody, holds no copy of the site's database and has logged nothing: a database server
    as it stands before it is made a replica (or copied afresh)."""
    # A former primary may come back still waiting for semi-sync acknowledgements (with no replica of its own, any
    # write it logs would wait out the timeout): a server being copied afresh waits for nobody, and logs nothing.
    reset = (
        "SET GLOBAL rpl_semi_sync_master_enabled = OFF; SET SESSION sql_log_bin = 0; STOP SLAVE; RESET SLAVE ALL; "
        f"SET GLOBAL read_only = ON; DROP DATABASE IF EXISTS {DATABASE}; RESET MASTER; SET GLOBAL gtid_slave_pos = ''"
    )
    live.shells.must(node.name, sql(reset), kind="run")


def copy_from_primary(live: LiveLab, node: NodeSpec) -> None:
    """The primary's database and the lab's accounts copied onto the node (`mariadb-dump --gtid`), which is left at
    the copy's GTID position (gtid_slave_pos), ready to follow the primary from there."""
    primary = live.lab.primary
    dump = live.shells.must(primary.name, f"mariadb-dump --single-transaction --gtid --master-data=2 --databases {DATABASE}", timeout=120)
    position = DUMP_POSITION.search(dump)
    if position is None:
        raise PromotionError(f"the copy of {primary.name} names no replication position: `mariadb-dump --gtid` said nothing")
    forget_replication(live, node)
    staged = f"{STAGING}/rebuild.sql"
    live.shells.put(node.name, staged, "SET SESSION sql_log_bin = 0;\n" + dump + lab_accounts(live, primary, node))
    live.shells.must(node.name, f"mariadb < {staged}; status=$?; rm -f {staged}; exit $status", kind="run", timeout=120)
    live.shells.must(node.name, sql(f"SET GLOBAL gtid_slave_pos = '{position.group(1)}'"), kind="run")


def rebuild(live: LiveLab, node: NodeSpec, options: BuildOptions = BuildOptions()) -> LabSession:
    """A replica or a fenced former primary copied afresh from the primary, its data and the lab's accounts,
    then following it from the copy's position. A fenced former primary's own transactions (those the new
    primary never received) are saved as SQL in the lab's state folder first (see orphans.py). Nothing of
    the copy goes to the node's binary log: it holds no transaction the others lack."""
    primary = live.lab.primary
    if node not in live.lab.replicas + live.lab.fenced:  # checked before anything runs: the copy starts by dropping
        what = "the primary" if node == primary else "no database replica and no fenced former primary"
        raise PromotionError(f"{node.name} is {what}: rebuild a replica or a fenced former primary")
    state = live.session.db_state or DbState(primary=primary.name)
    if node in live.lab.fenced:
        kept = orphans.save(live, node, state)
        if kept is not None:
            live.console.note(node.name, f"its transactions {primary.name} never received are saved in {kept}: `invoke db.orphans` shows them")
    copy_from_primary(live, node)
    remaining = tuple(n for n in state.out if n != node.name)
    return settle(live, dataclasses.replace(state, out=remaining), remaining, options)
