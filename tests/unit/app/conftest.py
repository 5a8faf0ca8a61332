"""A fake storage and Flask test clients for the application's tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from foobar_app.app import create_app
from foobar_app.config import Settings
from foobar_app.storage import Message, Replication, StorageError

PRIMARY = Settings(
    node="web-01",
    db_role="primary",
    write_db_host="127.0.0.1",
    read_db_host="127.0.0.1",
    db_port=3306,
    db_name="foobar",
    db_user="foobar",
    db_password="secret",
)
REPLICA = replace(PRIMARY, node="web-02", db_role="replica", write_db_host="192.168.56.11")

POSTED_AT = datetime(2024, 5, 1, 12, 0, 0, 123456, UTC)  # every fake message's time
HEALTHY_REPLICATION = Replication(
    io_running=True, sql_running=True, seconds_behind=0, last_error=None, gtid_io_pos="0-1-42"
)


@dataclass
class FakeStorage:
    """Storage in a list; set `read_error` or `write_error` to make that database fail."""

    messages: list[Message] = field(default_factory=list)
    read_error: str | None = None
    write_error: str | None = None
    replication: Replication = HEALTHY_REPLICATION
    replication_error: str | None = None
    sides: list[str] = field(default_factory=list)  # which database each read asked: read or write

    def add_message(self, body: str, node: str) -> int:
        self._fail_if(self.write_error)
        message = Message(len(self.messages) + 1, body, node, POSTED_AT)
        self.messages.append(message)
        return message.id

    def latest_messages(self, side: str = "read") -> list[Message]:
        self.sides.append(side)
        self._fail_if(self.read_error)
        return list(reversed(self.messages))[:50]

    def check_readable(self) -> None:
        self._fail_if(self.read_error)

    def check_writable(self) -> None:
        self._fail_if(self.write_error)

    def replication_status(self) -> Replication:
        self._fail_if(self.replication_error)
        return self.replication

    @staticmethod
    def _fail_if(error: str | None) -> None:
        if error is not None:
            raise StorageError(error)


@pytest.fixture
def storage() -> FakeStorage:
    return FakeStorage()


@pytest.fixture
def client(storage: FakeStorage) -> FlaskClient:
    """A client of web-01, whose database is the primary."""
    return create_app(PRIMARY, storage).test_client()


@pytest.fixture
def replica_client(storage: FakeStorage) -> FlaskClient:
    """A client of web-02, whose database is the replica."""
    return create_app(REPLICA, storage).test_client()
