"""The drill's view into both databases, from the host with the application's account."""

from __future__ import annotations

from collections.abc import Mapping

import pymysql

from ..roles.values import APP_USER, DATABASE
from ..topology import Lab, NodeSpec


def gtid_sequences(position: str) -> dict[str, int]:
    """'0-11-42,1-12-7' -> {'0': 42, '1': 7}: the last transaction of each replication domain."""
    found = {}
    for part in filter(None, (p.strip() for p in position.split(","))):
        domain, _server, sequence = part.split("-")
        found[domain] = int(sequence)
    return found


class Databases:
    """Short-lived connections to the primary and the replica (the host is inside the lab's subnet)."""

    def __init__(self, lab: Lab, secrets: Mapping[str, str]) -> None:
        self.primary = lab.with_role("db_primary")[0]
        self.replica = lab.with_role("db_replica")[0]
        self.password = secrets["db_app"]

    def connect(self, node: NodeSpec, connect_timeout: float = 0.5) -> pymysql.connections.Connection:
        """A connection to a node's database as the application's user, autocommitting."""
        return pymysql.connect(
            host=str(node.address), user=APP_USER, password=self.password, database=DATABASE,
            connect_timeout=connect_timeout, read_timeout=2, autocommit=True,
        )

    def _query(self, node: NodeSpec, sql: str, *args: object) -> list[tuple[object, ...]]:
        connection = self.connect(node)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def transactions_behind(self) -> int | None:
        """How many transactions the replica has not applied yet; None when either side cannot be asked."""
        try:
            done = gtid_sequences(str(self._query(self.primary, "SELECT @@gtid_binlog_pos")[0][0]))
            applied = gtid_sequences(str(self._query(self.replica, "SELECT @@gtid_slave_pos")[0][0]))
        except (pymysql.MySQLError, OSError, ValueError):
            return None
        return sum(max(0, seq - applied.get(domain, 0)) for domain, seq in done.items())

    def bodies(self, node: NodeSpec, prefix: str) -> set[str]:
        """Message bodies starting with prefix, as this node's database holds them."""
        rows = self._query(node, "SELECT body FROM messages WHERE body LIKE %s", prefix + "%")
        return {str(row[0]) for row in rows}
