"""The databases as they are: queried on each database node with the `mariadb` client as root, over SSH.

No password is needed (Debian's root logs in through the local socket) and no database port has to
be open to the host: the firewall of a secured design lets MariaDB be reached only by the nodes
that use it.
"""

from __future__ import annotations

import shlex

from ..constants import DATABASE
from ..topology import Lab, NodeSpec
from .replication import SHOW_REPLICA_STATUS, gtid_sequences, parse_replica_status
from .shell import NodeShells, NodeUnreachable

QUERY_TIMEOUT = 5.0


def sql_text(value: str) -> str:
    """A string literal for SQL."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Databases:
    """Read-only questions to the design's databases."""

    def __init__(self, lab: Lab, shells: NodeShells, show: bool = True) -> None:
        self.lab = lab
        self.shells = shells
        self.show = show

    def rows(self, node: NodeSpec, statement: str, timeout: float = QUERY_TIMEOUT) -> list[list[str]]:
        """Rows of one SQL statement on a node's database (tab-separated columns)."""
        command = f"mariadb -N -B -e {shlex.quote(statement)}"
        output = self.shells.must(node.name, command, kind="check", timeout=timeout, show=self.show)
        return [line.split("\t") for line in output.splitlines() if line]

    def value(self, node: NodeSpec, statement: str, timeout: float = QUERY_TIMEOUT) -> str:
        rows = self.rows(node, statement, timeout)
        return rows[0][0] if rows and rows[0] else ""

    def writable(self, node: NodeSpec, timeout: float = QUERY_TIMEOUT) -> bool | None:
        """Whether the node's MariaDB takes writes now (not read_only); None: it does not answer."""
        try:
            return self.value(node, "SELECT @@global.read_only", timeout) == "0"
        except NodeUnreachable:
            return None

    def count(self, node: NodeSpec, body: str) -> int:
        """How many messages with exactly this body the node's database holds."""
        return int(self.value(node, f"SELECT COUNT(*) FROM {DATABASE}.messages WHERE body = {sql_text(body)}") or 0)

    def bodies(self, node: NodeSpec, prefix: str) -> set[str]:
        """Message bodies starting with prefix, as this node's database holds them."""
        pattern = sql_text(prefix.replace("%", "\\%").replace("_", "\\_") + "%")
        return {row[0] for row in self.rows(node, f"SELECT body FROM {DATABASE}.messages WHERE body LIKE {pattern}")}

    def replica_status(self, node: NodeSpec) -> dict[str, str]:
        """SHOW REPLICA STATUS of a node, as a dict (empty when it replicates from nobody)."""
        return parse_replica_status(self.shells.must(node.name, SHOW_REPLICA_STATUS, kind="check", timeout=QUERY_TIMEOUT, show=self.show))

    def transactions_behind(self) -> int | None:
        """How many transactions the replicas have not applied yet (the most behind one); None when one cannot be asked."""
        if not self.lab.replicas:
            return 0
        try:
            done = gtid_sequences(self.value(self.lab.primary, "SELECT @@gtid_binlog_pos", timeout=2))
            behind = []
            for replica in self.lab.replicas:
                applied = gtid_sequences(self.value(replica, "SELECT @@gtid_slave_pos", timeout=2))
                behind.append(sum(max(0, seq - applied.get(domain, 0)) for domain, seq in done.items()))
        except (NodeUnreachable, ValueError):
            return None
        return max(behind)
