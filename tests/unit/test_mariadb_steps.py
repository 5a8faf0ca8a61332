"""Decisions of the MariaDB steps from captured `mariadb` output: users, grants, replication."""

from __future__ import annotations

from foobar_fab.resources.mariadb import (
    Replica,
    User,
    parse_replica_status,
    password_hash,
)
from foobar_fab.steps import Run

from .fakes import probed

ACCOUNT = "192.168.56.0/255.255.255.0"
GRANTS = ("SELECT, INSERT ON `foobar`.*", "SLAVE MONITOR ON *.*")


def app_user(password: str = "s3cret") -> User:
    return User("foobar_app", ACCOUNT, password, GRANTS)


def shown_grants(password: str) -> str:
    return (
        f"{password_hash(password)}\n@@\n"
        f"GRANT SLAVE MONITOR ON *.* TO `foobar_app`@`{ACCOUNT}` IDENTIFIED BY PASSWORD '{password_hash(password)}'\n"
        f"GRANT SELECT, INSERT ON `foobar`.* TO `foobar_app`@`{ACCOUNT}`\n"
    )


def test_password_hash_matches_mysql_native_password() -> None:
    assert password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"


def test_missing_user_is_created_with_a_hash_never_the_password() -> None:
    plan = app_user().decide(probed("\n@@\n"))
    commands = [a.command for a in plan.actions if isinstance(a, Run)]
    assert "CREATE USER" in commands[0] and "foobar_app" in commands[0] and password_hash("s3cret") in commands[0]
    assert not any("s3cret" in c for c in commands)
    assert len(commands) == 3  # create, then both grants


def test_user_as_wanted_is_left_alone() -> None:
    assert not app_user().decide(probed(shown_grants("s3cret"))).changes


def test_changed_password_is_altered() -> None:
    plan = app_user("new-one").decide(probed(shown_grants("s3cret")))
    assert [a.command for a in plan.actions if isinstance(a, Run)][0].startswith("mariadb -N -B -e 'ALTER USER")


def test_extra_grant_is_revoked_and_wanted_ones_given_again() -> None:
    extra = shown_grants("s3cret") + f"GRANT ALL PRIVILEGES ON *.* TO `foobar_app`@`{ACCOUNT}`\n"
    commands = [a.command for a in app_user().decide(probed(extra)).actions if isinstance(a, Run)]
    assert "REVOKE ALL PRIVILEGES" in commands[0] and len(commands) == 3


STATUS = """*************************** 1. row ***************************
                Slave_IO_State: Waiting for master to send event
                   Master_Host: 192.168.56.11
                   Master_User: foobar_repl
              Slave_IO_Running: {io}
             Slave_SQL_Running: Yes
         Seconds_Behind_Master: 0
                    Using_Gtid: Slave_Pos
"""


def replica(password: str = "r3pl") -> Replica:
    return Replica("192.168.56.11", "foobar_repl", password)


def shown(io: str, fingerprint: str = replica().fingerprint) -> str:
    """SHOW REPLICA STATUS, then the fingerprint the step left on the node."""
    return STATUS.format(io=io) + f"@@\n{fingerprint}\n"


def test_running_replica_is_ok() -> None:
    plan = replica().decide(probed(shown("Yes")))
    assert not plan.changes and "0 s behind" in plan.reason


def test_stopped_replica_is_started_and_waited_for() -> None:
    plan = replica().decide(probed(shown("No")))
    commands = [a.command for a in plan.actions if isinstance(a, Run)]
    assert "START SLAVE" in commands[0] and "CHANGE MASTER" not in commands[0]
    assert "Slave_IO_Running: Yes" in commands[1]


def test_unconfigured_replica_gets_gtid_replication_with_quick_retry() -> None:
    plan = replica().decide(probed("@@\n"))
    setup = plan.actions[0].command  # type: ignore[union-attr]
    assert "MASTER_USE_GTID=slave_pos" in setup and "MASTER_CONNECT_RETRY=1" in setup


def test_parse_replica_status() -> None:
    status = parse_replica_status(STATUS.format(io="Yes"))
    assert status["Master_Host"] == "192.168.56.11" and status["Using_Gtid"] == "Slave_Pos"
    assert parse_replica_status("") == {}


def test_a_changed_replication_password_sets_replication_up_again() -> None:
    plan = replica("new-password").decide(probed(shown("Yes")))
    assert "CHANGE MASTER" in plan.actions[0].command  # type: ignore[union-attr]
    assert "echo " + replica("new-password").fingerprint in plan.actions[1].command  # type: ignore[union-attr]
