"""Messages and health probes in MariaDB, through PyMySQL.

Two databases matter to a node: the *write* database (FOOBAR_WRITE_DB_HOST, the primary on web-01),
which takes every INSERT, and the *read* database (FOOBAR_READ_DB_HOST, or the address in the file
FOOBAR_READ_FILE names; the node's own: the primary
on web-01, the read-only replica on web-02), which serves every SELECT. A message posted on web-02
therefore goes to web-01 and shows up on web-02 once the replica has applied it (usually at once).

Connections: one per operation, opened when a method starts and closed when it ends. That costs a
TCP handshake and a login per call (about a millisecond on the lab's bridge), and buys simplicity:
no pool to size for gunicorn's workers, no stale connection after a database restart or a failover,
nothing shared between threads. Short timeouts (0.5 s to connect, 2 s to read or write) make a dead
primary fail a request quickly instead of hanging a worker. The health check's probe of the primary
is shorter still (0.3 s each), because HAProxy wants the whole answer within its check interval
(every 500 ms, answered within 1 s) even while the primary is powered off, or it would take the replica's node out too.

The application depends only on the `Storage` protocol, so tests hand it a fake.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import pymysql
import pymysql.cursors

from foobar_app.config import Settings

CONNECT_TIMEOUT = 0.5  # seconds to open a connection: a dead primary fails writes fast
IO_TIMEOUT = 2  # seconds to wait for a query to be sent or answered
PROBE_TIMEOUT = 0.3  # seconds to connect, then to be answered, when the health check probes the primary
LATEST = 50  # how many messages the board shows

Side = Literal["read", "write"]
NOT_REPLICATING = "replication is not configured on this server"


class StorageError(Exception):
    """A database could not do what was asked; the message says which one and why."""


@dataclass(frozen=True)
class Message:
    """One posted message; `created_at` is in UTC."""

    id: int
    body: str
    node: str  # the node that took the message
    created_at: datetime


@dataclass(frozen=True)
class Replication:
    """The replica's replication threads, as SHOW REPLICA STATUS reports them."""

    io_running: bool  # the IO thread is connected to the primary and fetching its binary log
    sql_running: bool  # the SQL thread is applying what was fetched
    seconds_behind: int | None  # lag behind the primary; None when the SQL thread is stopped
    last_error: str | None
    gtid_io_pos: str | None = None  # the last GTID fetched from the primary

    @classmethod
    def unknown(cls, reason: str) -> Replication:
        """A state for when the replica could not be asked."""
        return cls(io_running=False, sql_running=False, seconds_behind=None, last_error=reason)

    @classmethod
    def from_status(cls, row: Mapping[str, Any] | None) -> Replication:
        """Read one row of SHOW REPLICA STATUS (MariaDB still names its columns Slave_*)."""
        if row is None:
            return cls.unknown(NOT_REPLICATING)
        errors = [
            f"{thread} thread: {row[f'Last_{thread}_Error']} (error {row.get(f'Last_{thread}_Errno')})"
            for thread in ("IO", "SQL")
            if row.get(f"Last_{thread}_Error")
        ]
        lag = row.get("Seconds_Behind_Master")
        return cls(
            io_running=row.get("Slave_IO_Running") == "Yes",
            sql_running=row.get("Slave_SQL_Running") == "Yes",
            seconds_behind=None if lag in (None, "") else int(lag),
            last_error="; ".join(errors) or None,
            gtid_io_pos=row.get("Gtid_IO_Pos") or None,
        )


class Storage(Protocol):
    """What the application needs from its databases; every method may raise StorageError."""

    def add_message(self, body: str, node: str) -> int:
        """Store a message on the write database; return its id."""

    def latest_messages(self, side: Side = "read") -> list[Message]:
        """The latest messages on the read database (or the write one: a client reading its own write), newest first."""

    def check_readable(self) -> None:
        """Raise StorageError unless the read database answers a SELECT."""

    def check_writable(self) -> None:
        """Raise StorageError unless the write database answers and is not read-only."""

    def replication_status(self) -> Replication:
        """The read database's replication state (meaningful on a replica)."""


class MySQLStorage:
    """`Storage` on MariaDB; `connect` is pymysql.connect, replaceable in tests."""

    def __init__(self, settings: Settings, connect: Callable[..., Any] = pymysql.connect) -> None:
        self._settings = settings
        self._connect = connect

    def add_message(self, body: str, node: str) -> int:
        with self._cursor("write", io_timeout=self._settings.write_timeout or IO_TIMEOUT) as cursor:
            cursor.execute("INSERT INTO messages (body, node) VALUES (%s, %s)", (body, node))
            return int(cursor.lastrowid)

    def latest_messages(self, side: Side = "read") -> list[Message]:
        with self._cursor(side) as cursor:
            cursor.execute(
                "SELECT id, body, node, created_at FROM messages ORDER BY id DESC LIMIT %s", (LATEST,)
            )
            rows = cursor.fetchall()
        # The session's time zone is UTC (see _cursor), so the naive values are UTC.
        return [
            Message(row["id"], row["body"], row["node"], row["created_at"].replace(tzinfo=UTC))
            for row in rows
        ]

    def check_readable(self) -> None:
        with self._cursor("read") as cursor:
            cursor.execute("SELECT 1")

    def check_writable(self) -> None:
        # Asking is enough: a health check must not add rows.
        with self._cursor("write", connect_timeout=PROBE_TIMEOUT, io_timeout=PROBE_TIMEOUT) as cursor:
            cursor.execute("SELECT @@global.read_only AS read_only")
            read_only = cursor.fetchone()["read_only"]
        if read_only:
            raise StorageError(f"write database {self._address('write')}: is read-only")

    def replication_status(self) -> Replication:
        # Needs MariaDB's SLAVE MONITOR (alias REPLICA MONITOR) privilege.
        with self._cursor("read") as cursor:
            cursor.execute("SHOW REPLICA STATUS")
            return Replication.from_status(cursor.fetchone())

    def _host(self, side: Side) -> str:
        """The read database's host, or the primary's: read from its file at every use, if there is one."""
        settings = self._settings
        path, host = (settings.read_file, settings.read_db_host) if side == "read" else (settings.primary_file, settings.write_db_host)
        if path is None:
            return host
        try:
            with open(path) as handle:
                return handle.read().strip() or host
        except OSError as exc:
            raise StorageError(f"{side} database: cannot read {path}: {exc.strerror}") from exc

    def _address(self, side: Side) -> str:
        return f"{self._host(side)}:{self._settings.db_port}"

    @contextlib.contextmanager
    def _cursor(
        self, side: Side, connect_timeout: float = CONNECT_TIMEOUT, io_timeout: float = IO_TIMEOUT
    ) -> Iterator[Any]:
        """A cursor on a new connection to the read or write database, closed afterwards.

        Any database or network error becomes a StorageError naming the database.
        """
        settings = self._settings
        host = self._host(side)
        try:
            connection = self._connect(
                host=host,
                port=settings.db_port,
                user=settings.db_user,
                password=settings.db_password,
                database=settings.db_name,
                charset="utf8mb4",
                autocommit=True,
                connect_timeout=connect_timeout,
                read_timeout=io_timeout,
                write_timeout=io_timeout,
                init_command="SET time_zone = '+00:00'",
                cursorclass=pymysql.cursors.DictCursor,
                **_tls(settings),
            )
            try:
                with connection.cursor() as cursor:
                    yield cursor
            finally:
                # Closing a connection the server already dropped raises; that is not news.
                with contextlib.suppress(pymysql.MySQLError, OSError):
                    connection.close()
        except (pymysql.MySQLError, OSError) as exc:
            raise StorageError(f"{side} database {host}:{settings.db_port}: {_reason(exc)}") from exc


def _tls(settings: Settings) -> dict[str, Any]:
    """TLS to the database, its certificate checked against the CA and the server's name or address."""
    if settings.db_ca is None:
        return {}
    return {"ssl_ca": settings.db_ca, "ssl_verify_cert": True, "ssl_verify_identity": True}


def _reason(exc: BaseException) -> str:
    """A PyMySQL error as 'message (error code)', anything else as its text."""
    if isinstance(exc, pymysql.MySQLError) and len(exc.args) == 2:
        code, message = exc.args
        return f"{message} (error {code})"
    return str(exc) or type(exc).__name__
