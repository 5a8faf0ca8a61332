"""MariaDB's replication, as it reports it: SHOW REPLICA STATUS and GTID positions, parsed here only.

The replication step, the checks, the promotions and the drills read these; nothing here asks a node.
"""

from __future__ import annotations

from dataclasses import dataclass

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
