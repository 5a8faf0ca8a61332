"""Which database server is the primary now: a fact of the running lab, recorded when a switchover or a
failover promotes a replica, and applied to the design every command loads.

The design file names the primary the lab was built with; after a promotion the lab keeps the new one
(and a failed primary stays fenced, with no database role, until it rejoins). `invoke build` keeps
what is recorded; `invoke db.switchover` is how the primary goes back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from . import statefolder
from .statefolder import LabFolder
from .topology import Lab, TopologyError


@dataclass(frozen=True)
class DbState:
    """The recorded primary, the fenced former primaries, and what the promotion knew."""

    primary: str
    out: tuple[str, ...] = ()  # former primaries fenced after a failover, until they rejoin
    promoted_at: str = ""  # the new primary's replication position when promoted: all it had of the old one
    how: str = ""  # switchover or failover
    when: str = ""  # UTC time of the promotion


def load(folder: LabFolder) -> DbState | None:
    """The recorded state, or None when the lab never changed its primary. Keys this version does not know
    (written by an older one) are left out."""
    data = statefolder.read_json(folder.database)
    if not isinstance(data, dict):
        return None
    known = {f.name for f in fields(DbState)}
    return DbState(**{**{k: v for k, v in data.items() if k in known}, "out": tuple(data.get("out", ()))})


def save(folder: LabFolder, state: DbState, designed: Lab) -> None:
    """Record the state; none is kept once the lab is as designed again (its primary back, nothing fenced)."""
    if state.primary == designed.primary.name and not state.out:
        folder.database.unlink(missing_ok=True)
        return
    statefolder.write(folder.database, statefolder.json_text(asdict(state)))


def apply(lab: Lab, state: DbState | None) -> Lab:
    """The design as the lab runs it now: the recorded primary, the fenced nodes."""
    if state is None or (state.primary == lab.primary.name and not state.out):
        return lab
    try:
        return lab.with_primary(state.primary, state.out)
    except TopologyError:
        return lab  # the recorded primary is not a database server of this design: the design wins


def describe(lab: Lab, designed: Lab, state: DbState | None) -> str:
    """One line for people: the primary now, and how it came to differ from the design's."""
    line = f"database primary: {lab.primary.name}"
    if lab.primary.name == designed.primary.name and not lab.out:
        return line + " (as designed)"
    if state is not None and state.how:
        line += f" since a {state.how} at {state.when} (designed: {designed.primary.name})"
    if lab.out:
        line += f"; fenced: {', '.join(lab.out)} (`invoke db.rejoin <node>` once it is back)"
    return line + f"; `invoke db.switchover --to {designed.primary.name}` puts it back"
