"""MySQLStorage against a fake pymysql.connect: which database, which SQL, which errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest

from foobar_app.storage import MySQLStorage, Replication, StorageError

from .conftest import PRIMARY, REPLICA


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.lastrowid = 7

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.connection.executed.append((sql, params))
        if self.connection.fail_on_execute:
            raise self.connection.fail_on_execute

    def fetchone(self) -> dict[str, Any] | None:
        return self.connection.rows[0] if self.connection.rows else None

    def fetchall(self) -> list[dict[str, Any]]:
        return self.connection.rows


class FakeConnection:
    def __init__(self, rows: list[dict[str, Any]], fail_on_execute: Exception | None) -> None:
        self.rows = rows
        self.fail_on_execute = fail_on_execute
        self.executed: list[tuple[str, tuple[Any, ...]]] = []
        self.closed = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def close(self) -> None:
        if self.closed:
            raise pymysql.err.Error("Already closed")
        self.closed = True


class FakeConnect:
    """Stands for pymysql.connect: records each call's arguments and the connection it made."""

    def __init__(
        self,
        rows: list[dict[str, Any]] | None = None,
        error: Exception | None = None,
        fail_on_execute: Exception | None = None,
    ) -> None:
        self.rows = rows or []
        self.error = error
        self.fail_on_execute = fail_on_execute
        self.calls: list[dict[str, Any]] = []
        self.connections: list[FakeConnection] = []

    def __call__(self, **kwargs: Any) -> FakeConnection:
        self.calls.append(kwargs)
        if self.error:
            raise self.error
        connection = FakeConnection(self.rows, self.fail_on_execute)
        self.connections.append(connection)
        return connection


def storage(connect: FakeConnect) -> MySQLStorage:
    return MySQLStorage(REPLICA, connect=connect)


def test_writes_go_to_the_primary_with_short_timeouts() -> None:
    connect = FakeConnect()
    assert storage(connect).add_message("hello", "web-02") == 7
    (call,) = connect.calls
    assert call["host"] == "192.168.56.11"
    assert (call["port"], call["database"], call["user"], call["password"]) == (3306, "foobar", "foobar", "secret")
    assert (call["connect_timeout"], call["read_timeout"], call["write_timeout"]) == (0.5, 2, 2)
    assert call["autocommit"] is True and call["charset"] == "utf8mb4"
    assert call["cursorclass"] is pymysql.cursors.DictCursor
    sql, params = connect.connections[0].executed[0]
    assert (sql, params) == ("INSERT INTO messages (body, node) VALUES (%s, %s)", ("hello", "web-02"))
    assert connect.connections[0].closed


def test_a_write_waits_as_long_as_the_settings_say() -> None:
    """FOOBAR_WRITE_TIMEOUT_MS: a semi-sync primary may hold a commit longer than any other query takes."""
    connect = FakeConnect()
    MySQLStorage(replace(REPLICA, write_timeout=3.5), connect=connect).add_message("hello", "web-02")
    assert (connect.calls[0]["read_timeout"], connect.calls[0]["write_timeout"]) == (3.5, 3.5)


def test_reads_come_from_the_nodes_own_database_in_utc() -> None:
    created = datetime(2024, 5, 1, 12, 0, 0, 500000)
    connect = FakeConnect(rows=[{"id": 3, "body": "hi", "node": "web-01", "created_at": created}])
    (message,) = storage(connect).latest_messages()
    assert connect.calls[0]["host"] == "127.0.0.1"
    assert "time_zone = '+00:00'" in connect.calls[0]["init_command"]
    sql, params = connect.connections[0].executed[0]
    assert "ORDER BY id DESC LIMIT %s" in sql and params == (50,)
    assert message.created_at == created.replace(tzinfo=UTC)
    assert (message.id, message.body, message.node) == (3, "hi", "web-01")


def test_a_refused_connection_becomes_a_storage_error_naming_the_database() -> None:
    refused = pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '192.168.56.11' (timed out)")
    connect = FakeConnect(error=refused)
    with pytest.raises(StorageError) as caught:
        storage(connect).add_message("hello", "web-02")
    assert str(caught.value) == (
        "write database 192.168.56.11:3306: "
        "Can't connect to MySQL server on '192.168.56.11' (timed out) (error 2003)"
    )


def test_a_failed_query_closes_the_connection_and_keeps_its_reason() -> None:
    missing = pymysql.err.ProgrammingError(1146, "Table 'foobar.messages' doesn't exist")
    connect = FakeConnect(fail_on_execute=missing)
    reason = r"^read database 127.0.0.1:3306: Table 'foobar.messages' doesn't exist \(error 1146\)$"
    with pytest.raises(StorageError, match=reason):
        storage(connect).latest_messages()
    assert connect.connections[0].closed


def test_writable_asks_the_primary_without_writing() -> None:
    connect = FakeConnect(rows=[{"read_only": 0}])
    storage(connect).check_writable()
    assert connect.calls[0]["host"] == "192.168.56.11"
    # Well within HAProxy's 1 s check interval, even with the primary powered off.
    assert (connect.calls[0]["connect_timeout"], connect.calls[0]["read_timeout"]) == (0.3, 0.3)
    assert connect.connections[0].executed == [("SELECT @@global.read_only AS read_only", ())]


def test_a_read_only_write_database_is_not_writable() -> None:
    with pytest.raises(StorageError, match="write database 192.168.56.11:3306: is read-only"):
        storage(FakeConnect(rows=[{"read_only": 1}])).check_writable()


def test_readable_runs_a_select_on_the_read_database() -> None:
    connect = FakeConnect()
    storage(connect).check_readable()
    assert connect.calls[0]["host"] == "127.0.0.1"
    assert connect.connections[0].executed == [("SELECT 1", ())]


def test_replication_status_of_a_running_replica() -> None:
    row = {
        "Slave_IO_Running": "Yes",
        "Slave_SQL_Running": "Yes",
        "Seconds_Behind_Master": 3,
        "Last_IO_Errno": 0,
        "Last_IO_Error": "",
        "Last_SQL_Errno": 0,
        "Last_SQL_Error": "",
        "Gtid_IO_Pos": "0-1-42",
    }
    connect = FakeConnect(rows=[row])
    assert storage(connect).replication_status() == Replication(True, True, 3, None, "0-1-42")
    assert connect.connections[0].executed == [("SHOW REPLICA STATUS", ())]


def test_replication_status_of_a_broken_replica() -> None:
    row = {
        "Slave_IO_Running": "Connecting",
        "Slave_SQL_Running": "No",
        "Seconds_Behind_Master": None,
        "Last_IO_Errno": 2003,
        "Last_IO_Error": "error connecting to master",
        "Last_SQL_Errno": 1062,
        "Last_SQL_Error": "Duplicate entry",
        "Gtid_IO_Pos": "",
    }
    assert Replication.from_status(row) == Replication(
        io_running=False,
        sql_running=False,
        seconds_behind=None,
        last_error="IO thread: error connecting to master (error 2003); "
        "SQL thread: Duplicate entry (error 1062)",
        gtid_io_pos=None,
    )


def test_replication_status_where_replication_is_not_configured() -> None:
    state = storage(FakeConnect(rows=[])).replication_status()
    assert (state.io_running, state.sql_running) == (False, False)
    assert state.last_error == "replication is not configured on this server"


def test_writes_go_to_the_address_in_the_primary_file(tmp_path: Path) -> None:
    """A failover rewrites the primary file; the next write connects there, with no restart."""
    primary = tmp_path / "primary"
    primary.write_text("192.168.56.12\n")
    connect = FakeConnect(rows=[{"read_only": 0}])
    store = MySQLStorage(replace(PRIMARY, primary_file=str(primary)), connect)
    store.check_writable()
    assert connect.calls[-1]["host"] == "192.168.56.12"
    primary.write_text("192.168.56.11\n")
    store.check_writable()
    assert connect.calls[-1]["host"] == "192.168.56.11"
    primary.unlink()
    with pytest.raises(StorageError, match="cannot read"):
        store.check_writable()


def test_reads_go_to_the_address_in_the_read_file(tmp_path: Path) -> None:
    """A promotion may move where a node reads; the next read connects there, with no restart."""
    read = tmp_path / "read-database"
    read.write_text("192.168.57.22\n")
    connect = FakeConnect(rows=[])
    store = MySQLStorage(replace(PRIMARY, read_file=str(read)), connect)
    store.latest_messages()
    assert connect.calls[-1]["host"] == "192.168.57.22"
    read.unlink()
    with pytest.raises(StorageError, match="read database: cannot read"):
        store.latest_messages()
