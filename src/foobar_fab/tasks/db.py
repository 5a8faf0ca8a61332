"""`invoke db.*`: the database primary: which it is, and moving it (switchover, failover, rejoin, rebuild)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from invoke import Context, task

from .. import build as building
from .. import orphans as orphaned
from .. import promotion
from ..live import LiveLab, live
from ..observe.shell import NodeUnreachable
from ..session import LabSession
from ..topology import NodeSpec
from .common import LAB_HELP, QUIET_HELP, YES_HELP, confirm, session
from .options import FENCED, FLAG, REPLICA, Node, options

NODE_HELP = {**QUIET_HELP, "node": "the database server, e.g. web-01"}
REBUILD_HELP = {**NODE_HELP, **YES_HELP}
REPLICA_OR_FENCED = Node("a database replica or a fenced former primary", lambda lab: lab.replicas + lab.fenced)
ORPHANS_HELP = {
    **QUIET_HELP, **YES_HELP,
    "replay": "apply the saved transactions not replayed yet to the current primary, each file in one transaction",
}
TO_HELP = {**QUIET_HELP, "to": "the replica to promote (default: the one that applied the most)"}


def report(done: promotion.Promotion) -> None:
    print(
        f"{done.how}: {done.new} is the primary (was {done.old}); it took writes {done.writable_after:.2f} s after the start, "
        f"and every application server wrote to it after {done.files_after:.2f} s"
    )


@task(help=LAB_HELP)
@options()
def status(c: Context, lab_file: str | None = None, provider: str | None = None) -> None:
    """Show the database primary and replicas: which takes writes, each one's position, what is fenced."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=True)
    lab = s.lab
    print(f"lab {lab.name}, replication {lab.replication}")
    for line in building.primary_line(s):
        print(line)
    with live(s) as running:
        for node in lab.db_nodes + lab.fenced:
            try:
                read_only, position = running.databases.rows(node, "SELECT @@global.read_only, @@gtid_current_pos")[0]
            except NodeUnreachable:
                print(f"  {node.name:<8} does not answer")
                continue
            part = "primary" if node == lab.primary else ("fenced" if node.name in lab.out else "replica")
            print(f"  {node.name:<8} {part:<8} {'takes writes' if read_only == '0' else 'read-only':<13} at {position}")


def promoted(to: str | None) -> str:
    """The replica a promotion makes the primary, for the line it starts with."""
    return to or "the replica that applied the most"


@task(help=TO_HELP)
@options(to=REPLICA)
def switchover(c: Context, to: str | None = None, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """Planned: make a replica the primary, with no write lost; the old primary follows it."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    s.console.line(f"db.switchover: {promoted(to)} becomes the primary; {s.lab.primary.name} stops taking writes and follows it")
    with live(s, running=[n.name for n in s.lab.db_nodes]) as running:
        report(promotion.switchover(running, s.lab.node(to) if to else None))


@task(help=TO_HELP)
@options(to=REPLICA)
def failover(c: Context, to: str | None = None, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """The primary is dead: promote a replica, point the application servers at it, fence the old primary."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    s.console.line(f"db.failover: {promoted(to)} becomes the primary and takes writes; {s.lab.primary.name} is fenced (read-only until `invoke db.rejoin`)")
    with live(s) as running:
        report(promotion.failover(running, s.lab.node(to) if to else None))
    print(f"the old primary is fenced (read-only when it comes back): `invoke db.rejoin {s.lab.primary.name}` once it is up")


def follow_again(c: Context, node: str, how: Callable[[LiveLab, NodeSpec], LabSession], plan: str, done: str, yes: bool | None = None, **flags: Any) -> None:
    """Bring one database server back under the primary (rejoin or rebuild): say what will be done, ask first
    where data is discarded (yes is not None), then say it was done."""
    s = session(c, **flags)
    s.console.line(plan.format(node=node, primary=s.lab.primary.name))
    if yes is not None:
        confirm(yes)
    with live(s, running=[node]) as running:
        settled = how(running, s.lab.node(node))
    print(done.format(node=node, primary=settled.lab.primary.name))


@task(help=NODE_HELP)
@options(node=FENCED)
def rejoin(c: Context, node: str, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """A fenced former primary follows the new one (refused if it holds transactions the new one lacks)."""
    plan = "db.rejoin: {node} becomes a replica of {primary}, unless it holds transactions {primary} never received"
    follow_again(c, node, promotion.rejoin, plan, "{node} is a replica of {primary} again", lab_file=lab_file, provider=provider, quiet=quiet)


@task(help=REBUILD_HELP)
@options(node=REPLICA_OR_FENCED)
def rebuild(c: Context, node: str, lab_file: str | None = None, provider: str | None = None, quiet: bool = False, yes: bool = False) -> None:
    """Copy a replica (or a fenced former primary, its own transactions saved first) afresh from the primary."""
    plan = (
        "db.rebuild: {node}'s database is dropped and copied afresh from the primary {primary}; transactions only a fenced {node} "
        "holds are saved first in the lab's state folder (`invoke db.orphans`), a replica's are lost"
    )
    done = "{node} was copied afresh from {primary} and follows it"
    follow_again(c, node, promotion.rebuild, plan, done, yes=yes, lab_file=lab_file, provider=provider, quiet=quiet)


@task(help=ORPHANS_HELP)
@options(replay=FLAG)
def orphans(c: Context, replay: bool = False, lab_file: str | None = None, provider: str | None = None, quiet: bool = False, yes: bool = False) -> None:
    """Show the transactions a rebuild saved from a fenced former primary (the new one never had them); --replay applies them."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    found = orphaned.saved(s.folder)
    pending = [f for f in found if not f.replayed]
    for done in (f for f in found if f.replayed):
        print(f"replayed already: {done.path}")
    if not pending:
        print(f"no saved transactions wait to be replayed in {s.folder.orphans} (`invoke db.rebuild` saves a fenced former primary's own)")
        return
    for waiting in pending:
        print(f"== {waiting.path}: {waiting.rows} row(s) to replay")
        print(waiting.path.read_text().rstrip())
    if not replay:
        print(f"`invoke db.orphans --replay` applies them to the primary {s.lab.primary.name}")
        return
    s.console.line(f"db.orphans: {sum(f.rows for f in pending)} row(s) of {len(pending)} file(s) are inserted on the primary {s.lab.primary.name}")
    confirm(yes)
    with live(s, running=[s.lab.primary.name]) as running:
        for waiting in pending:
            rows = orphaned.replay(running, waiting)
            print(f"replayed {waiting.path.name} on {s.lab.primary.name}: {rows} row(s)")
