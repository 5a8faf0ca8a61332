"""MariaDB's replication, as it reports it: SHOW REPLICA STATUS, GTID positions and the binary log's row
changes (as `mariadb-binlog` decodes them), parsed here only.

The replication step, the checks, the promotions and the drills read these; nothing here asks a node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SHOW_REPLICA_STATUS = "mariadb -e 'SHOW REPLICA STATUS\\G'"


def parse_replica_status(text: str) -> dict[str, str]:
    """SHOW REPLICA STATUS\\G as a dict (empty when the server is no replica)."""
    status = {}
    for row in text.splitlines():
        key, sep, value = row.partition(":")
        if sep and not key.startswith("*"):
            status[key.strip()] = value.strip()
    return status


def threads_running(status: dict[str, str]) -> bool:
    """Both replication threads (IO and SQL) run."""
    return status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"


@dataclass(frozen=True)
class Gtid:
    """One transaction id of a GTID position: domain-server-sequence ('0-11-42')."""

    domain: str
    server: str
    sequence: int


def gtids(position: str) -> list[Gtid]:
    """'0-11-42,1-12-7' as its ids, one per replication domain (ValueError when it is no position)."""
    found = []
    for part in filter(None, (p.strip() for p in position.split(","))):
        domain, server, sequence = part.split("-")
        found.append(Gtid(domain, server, int(sequence)))
    return found


def gtid_sequences(position: str) -> dict[str, int]:
    """'0-11-42,1-12-7' -> {'0': 42, '1': 7}: the last transaction of each replication domain."""
    return {gtid.domain: gtid.sequence for gtid in gtids(position)}


def errant(promoted_at: str, binlog: str) -> list[str]:
    """The transactions a former primary logged that the new primary never received: its GTIDs past the
    promotion point, in each replication domain ('0-11-42' style ids)."""
    known = gtid_sequences(promoted_at)
    found = []
    for gtid in gtids(binlog):
        found += [f"{gtid.domain}-{gtid.server}-{n}" for n in range(known.get(gtid.domain, 0) + 1, gtid.sequence + 1)]
    return found


BINLOG_GTID = re.compile(r"\tGTID (\d+-\d+-\d+)")
ROW_CHANGE = re.compile(r"^### (INSERT INTO|UPDATE|DELETE FROM) `([^`]+)`\.`([^`]+)`$")
ROW_VALUE = re.compile(r"^###   @(\d+)=(.*)$")
ROW_PART = re.compile(r"^### (WHERE|SET)$")


@dataclass
class RowChange:
    """One row a transaction changed: its GTID, INSERT, UPDATE or DELETE, the table, and the values of the row
    as `mariadb-binlog --verbose` prints them by column position (the new row of an INSERT, the old one of
    an UPDATE or a DELETE; strings unescaped, so fit to read, not to parse further)."""

    gtid: str
    kind: str
    database: str
    table: str
    values: dict[int, str] = field(default_factory=dict)


def row_changes(decoded: str) -> list[RowChange]:
    """The row changes of `mariadb-binlog --base64-output=decode-rows --verbose`, each with its transaction's GTID."""
    changes: list[RowChange] = []
    gtid, part_seen = "", 0
    for line in decoded.splitlines():
        if found := BINLOG_GTID.search(line):
            gtid = found.group(1)
        elif found := ROW_CHANGE.match(line):
            kind = found.group(1).split()[0]
            changes.append(RowChange(gtid, kind, found.group(2), found.group(3)))
            part_seen = 0
        elif ROW_PART.match(line):
            part_seen += 1
        elif (found := ROW_VALUE.match(line)) and changes and part_seen == 1:
            changes[-1].values[int(found.group(1))] = found.group(2)
    return changes
