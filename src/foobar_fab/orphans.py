"""What only a fenced former primary holds: the transactions the new primary never received, saved as SQL in
the lab's state folder before `db.rebuild` drops them, then shown and replayed by `invoke db.orphans`.

They are found by comparing GTID positions (the node's binary log past the promotion point, see
`replication.errant`), their rows read from the node's binary log (`mariadb-binlog`, which rows each
transaction changed) and from its tables (the rows themselves, quoted by MariaDB's QUOTE(), so any text
replays exactly). A row a transaction inserted is replayed without its AUTO_INCREMENT id: the new primary
has given those ids to other rows since. An update or a delete is listed for a person to judge, not replayed.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import statefolder
from .constants import STAGING
from .dbstate import DbState
from .errors import LabError
from .live import LiveLab
from .observe.replication import RowChange, errant, row_changes
from .topology import NodeSpec

REPLAYED = ".replayed"  # added to a saved file's name once it was replayed on the primary
INSERT_MARK = "INSERT INTO "
UTC = "SET SESSION time_zone = '+00:00'"  # timestamps read and replayed in UTC, whatever the servers' zone
TEXT = "SET NAMES utf8mb4"  # the file is UTF-8 (the mariadb client would read it as latin1)


class OrphansError(LabError):
    """Saved transactions cannot be shown or replayed; the message says why and what to do."""


@dataclass(frozen=True)
class Saved:
    """One rebuild's saved transactions, and whether they were replayed on the primary since."""

    path: Path

    @property
    def replayed(self) -> bool:
        return self.path.name.endswith(REPLAYED)

    @property
    def rows(self) -> int:
        """How many rows the file replays."""
        return sum(line.startswith(INSERT_MARK) for line in self.path.read_text().splitlines())


def decoded_binlog(live: LiveLab, node: NodeSpec, since: str) -> str:
    """The node's binary log past a GTID position, its row events decoded (`mariadb-binlog --verbose`)."""
    base = live.databases.value(node, "SELECT @@log_bin_basename")
    start = f"--start-position={since} " if since else ""
    return live.shells.must(node.name, f"mariadb-binlog {start}--base64-output=decode-rows --verbose {base}.[0-9]*", timeout=60, show=False)


def columns(live: LiveLab, node: NodeSpec, database: str, table: str) -> list[tuple[str, bool, bool]]:
    """A table's columns in order: name, part of the primary key, AUTO_INCREMENT."""
    rows = live.databases.rows(
        node,
        "SELECT COLUMN_NAME, COLUMN_KEY = 'PRI', EXTRA LIKE '%auto_increment%' FROM information_schema.COLUMNS "
        f"WHERE TABLE_SCHEMA = '{database}' AND TABLE_NAME = '{table}' ORDER BY ORDINAL_POSITION",
    )
    return [(name, key == "1", auto == "1") for name, key, auto in rows]


def row_inserts(live: LiveLab, node: NodeSpec, database: str, table: str, keys: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """INSERT statements for the rows with these primary keys as the node holds them now, its AUTO_INCREMENT
    column left out (MariaDB quotes each value; the text comes back hex-encoded, so nothing is mangled)."""
    found = columns(live, node, database, table)
    key_names = [name for name, key, _ in found if key]
    kept = [name for name, _, auto in found if not auto]
    wanted = sorted(set(keys))
    if not wanted or not key_names or not all(k.lstrip("-").isdigit() for key in wanted for k in key):
        return {}
    listed = ", ".join(f"`{n}`" for n in kept)
    values = ", ".join(f"QUOTE(`{n}`)" for n in kept)
    matches = " OR ".join("(" + " AND ".join(f"`{n}` = {v}" for n, v in zip(key_names, key, strict=True)) + ")" for key in wanted)
    statement = (
        f"SELECT {', '.join(f'`{n}`' for n in key_names)}, HEX(CONCAT('{INSERT_MARK}`{database}`.`{table}` ({listed}) VALUES (', "
        f"CONCAT_WS(', ', {values}), ');')) FROM `{database}`.`{table}` WHERE {matches}"
    )
    return {tuple(row[:-1]): bytes.fromhex(row[-1]).decode() for row in live.databases.rows(node, f"{UTC}; {statement}")}


def statements(live: LiveLab, node: NodeSpec, changes: list[RowChange]) -> list[str]:
    """SQL for a person and for the primary: a comment naming each change, and the INSERT that replays it."""
    inserts: dict[tuple[str, str, tuple[str, ...]], str] = {}
    keys_of: dict[tuple[str, str], list[int]] = {}
    for (database, table), group in itertools.groupby(sorted(changes, key=lambda c: (c.database, c.table)), key=lambda c: (c.database, c.table)):
        keys_of[(database, table)] = [i for i, (_, key, _) in enumerate(columns(live, node, database, table), 1) if key]
        keys = [tuple(c.values.get(i, "") for i in keys_of[(database, table)]) for c in group if c.kind == "INSERT"]
        for key, text in row_inserts(live, node, database, table, keys).items():
            inserts[(database, table, key)] = text
    lines = []
    for change in changes:
        key = tuple(change.values.get(i, "") for i in keys_of[(change.database, change.table)])
        shown = ", ".join(f"@{i}={change.values.get(i, '?')}" for i in keys_of[(change.database, change.table)])
        where = f"{change.database}.{change.table} ({shown} on {node.name})"
        replay = inserts.get((change.database, change.table, key)) if change.kind == "INSERT" else None
        if replay is not None:
            lines += [f"-- {change.gtid}: a row inserted into {where}; replayed with a new id", replay]
        elif change.kind == "INSERT":
            lines.append(f"-- {change.gtid}: a row inserted into {where}, no longer there: nothing to replay")
        else:
            lines.append(f"-- {change.gtid}: {change.kind} of a row of {where}: not replayed, judge it by hand (`mariadb-binlog` on {node.name})")
    return lines


def stamp(now: datetime.datetime) -> str:
    return now.strftime("%Y%m%d-%H%M%S")


def save(live: LiveLab, node: NodeSpec, state: DbState) -> Path | None:
    """Save what only this fenced former primary holds (None: nothing), before it is copied afresh."""
    now = datetime.datetime.now(datetime.UTC)
    position = live.databases.value(node, "SELECT @@gtid_binlog_pos")
    found = errant(state.promoted_at, position)
    if not found:
        return None
    wanted = set(found)
    changes = [c for c in row_changes(decoded_binlog(live, node, state.promoted_at)) if c.gtid in wanted]
    header = [
        f"-- What {node.name} alone held when it was copied afresh from {state.primary} (lab {live.lab.name}, {now:%Y-%m-%d %H:%M:%S} UTC).",
        f"-- {state.primary} was promoted at {state.promoted_at or 'the start'}; {node.name} had logged {position}: "
        f"{len(found)} transaction(s) {state.primary} never received:",
        *(f"--   {', '.join(found[i:i + 8])}" for i in range(0, len(found), 8)),
        "-- Replay on the primary: `invoke db.orphans --replay` (or `mariadb < this file`), all or nothing.",
        f"{TEXT};",
        f"{UTC};",
        "START TRANSACTION;",
    ]
    path = live.session.folder.orphans_file(node.name, stamp(now))
    statefolder.make_folder(path.parent)
    statefolder.write_private(path, "\n".join([*header, *statements(live, node, changes), "COMMIT;", ""]))
    return path


def saved(folder: statefolder.LabFolder) -> list[Saved]:
    """Every rebuild's saved transactions, oldest first, replayed or not."""
    if not folder.orphans.is_dir():
        return []
    return [Saved(p) for p in sorted(folder.orphans.iterdir(), key=lambda p: p.name) if p.name.endswith((".sql", ".sql" + REPLAYED))]


def replay(live: LiveLab, file: Saved) -> int:
    """Apply saved transactions on the current primary, in one transaction, and mark the file replayed; the rows applied."""
    if file.replayed:
        raise OrphansError(f"{file.path.name} was replayed already: nothing done")
    primary, rows = live.lab.primary, file.rows
    staged = f"{STAGING}/orphans.sql"
    live.shells.put(primary.name, staged, file.path.read_text())
    live.shells.must(primary.name, f"mariadb < {staged}; status=$?; rm -f {staged}; exit $status", kind="run", timeout=60)
    file.path.rename(file.path.with_name(file.path.name + REPLAYED))
    return rows
