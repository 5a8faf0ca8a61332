"""Decisions of the MariaDB steps from captured `mariadb` output: users, grants, replication."""

from __future__ import annotations

from dataclasses import replace

import pytest

from foobar_fab import design
from foobar_fab.observe.replication import parse_replica_status
from foobar_fab.resources.mariadb import (
    HEARTBEAT_VERSION,
    Database,
    Heartbeat,
    Replica,
    Schema,
    SemiSync,
    User,
    parse_accounts,
    password_hash,
    sql,
)
from foobar_fab.roles import RoleInputs, database
from foobar_fab.steps import Plan, Put, Run, StepError

from .conftest import DEFAULT_LAB_FILE
from .fakes import probed

HOSTS = ("192.168.56.11", "192.168.56.12")
GRANTS = ("SELECT, INSERT ON `foobar`.*", "SLAVE MONITOR ON *.*")


def app_user(password: str = "s3cret", hosts: tuple[str, ...] = HOSTS) -> User:
    return User("foobar_app", hosts, password, GRANTS)


def shown_account(host: str, password: str, extra: str = "") -> str:
    """One account's part of the probe: its grants as SHOW GRANTS prints them."""
    return (
        f"@@ {host}\n"
        f"GRANT SLAVE MONITOR ON *.* TO `foobar_app`@`{host}` IDENTIFIED BY PASSWORD '{password_hash(password)}'\n"
        f"GRANT SELECT, INSERT ON `foobar`.* TO `foobar_app`@`{host}`\n{extra}"
    )


def shown(accounts: dict[str, str], extra: str = "", tls: str = "") -> str:
    """The whole probe: host, hash and TLS rows, then each account's grants (extra grants on the last)."""
    rows = "".join(f"{host}\t{password_hash(password)}\t{tls}\n" for host, password in accounts.items())
    parts = [shown_account(host, password) for host, password in accounts.items()]
    if parts and extra:
        parts[-1] += extra
    return rows + "".join(parts)


def run_commands(plan: Plan) -> list[str]:
    return [a.command for a in plan.actions if isinstance(a, Run)]


def test_password_hash_matches_mysql_native_password() -> None:
    assert password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"


def test_missing_accounts_are_created_for_each_node_with_a_hash_never_the_password() -> None:
    commands = run_commands(app_user().decide(probed("\n")))
    assert [c.split("'\"'\"'")[3] for c in commands if "CREATE USER" in c] == list(HOSTS)
    assert all(password_hash("s3cret") in c for c in commands if "CREATE USER" in c)
    assert not any("s3cret" in c for c in commands)
    assert len(commands) == 6  # per node: create, then both grants


def test_user_as_wanted_is_left_alone() -> None:
    plan = app_user().decide(probed(shown(dict.fromkeys(HOSTS, "s3cret"))))
    assert not plan.changes and plan.reason.startswith("from 192.168.56.11, 192.168.56.12 with")


def test_changed_password_is_altered_on_every_account() -> None:
    commands = run_commands(app_user("new-one").decide(probed(shown(dict.fromkeys(HOSTS, "s3cret")))))
    assert len(commands) == 2 and all(c.startswith("mariadb -N -B -e 'ALTER USER IF EXISTS") for c in commands)


def test_extra_grant_is_revoked_and_wanted_ones_given_again() -> None:
    extra = "GRANT ALL PRIVILEGES ON *.* TO `foobar_app`@`192.168.56.12`\n"
    commands = run_commands(app_user().decide(probed(shown(dict.fromkeys(HOSTS, "s3cret"), extra))))
    assert "REVOKE ALL PRIVILEGES" in commands[0] and "192.168.56.12" in commands[0] and len(commands) == 3


def test_an_account_for_a_whole_network_is_dropped() -> None:
    """An older build granted the lab's subnet; only the nodes that use the account may log in now."""
    accounts = {**dict.fromkeys(HOSTS, "s3cret"), "192.168.56.0/255.255.255.0": "s3cret"}
    plan = app_user().decide(probed(shown(accounts)))
    assert run_commands(plan) == ["mariadb -N -B -e 'DROP USER IF EXISTS '\"'\"'foobar_app'\"'\"'@'\"'\"'192.168.56.0/255.255.255.0'\"'\"''"]
    assert "'foobar_app'@'192.168.56.0/255.255.255.0' dropped" in plan.reason


def test_a_node_that_left_the_design_loses_its_account() -> None:
    plan = app_user(hosts=HOSTS[:1]).decide(probed(shown(dict.fromkeys(HOSTS, "s3cret"))))
    assert run_commands(plan) == [sql("DROP USER IF EXISTS 'foobar_app'@'192.168.56.12'")]


def test_parse_accounts_reads_hashes_grants_and_tls() -> None:
    hashes, grants, tls = parse_accounts(shown({"10.0.0.1": "a"}, tls="ANY"))
    assert hashes == {"10.0.0.1": password_hash("a")}
    assert len(grants["10.0.0.1"]) == 2
    assert tls == {"10.0.0.1": "ANY"}


@pytest.mark.parametrize(("required", "shown_tls", "command"), [(True, "", "REQUIRE SSL"), (False, "ANY", "REQUIRE NONE")])
def test_tls_requirement_is_brought_in_line(required: bool, shown_tls: str, command: str) -> None:
    user = User("foobar_app", HOSTS[:1], "s3cret", GRANTS, require_ssl=required)
    commands = run_commands(user.decide(probed(shown({HOSTS[0]: "s3cret"}, tls=shown_tls))))
    assert commands == [sql(f"ALTER USER IF EXISTS 'foobar_app'@'{HOSTS[0]}' {command}")]
    assert not user.decide(probed(shown({HOSTS[0]: "s3cret"}, tls="ANY" if required else ""))).changes


def test_replication_over_tls_checks_the_primary_certificate() -> None:
    plan = Replica("192.168.56.11", "foobar_repl", "r3pl", ssl_ca="/etc/mysql/tls/ca.pem").decide(probed("@@\n"))
    staged = plan.actions[0]
    assert isinstance(staged, Put)
    assert "MASTER_SSL=1, MASTER_SSL_CA='/etc/mysql/tls/ca.pem', MASTER_SSL_VERIFY_SERVER_CERT=1" in staged.content
    assert replica().fingerprint != Replica("192.168.56.11", "foobar_repl", "r3pl", ssl_ca="/x").fingerprint


def test_a_database_that_does_not_answer_is_a_step_error() -> None:
    with pytest.raises(StepError, match="MariaDB does not answer"):
        app_user().decide(probed("", exited=1, stderr="Can't connect to local server through socket"))


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


def shown_status(io: str, fingerprint: str = replica().fingerprint) -> str:
    """SHOW REPLICA STATUS, then the fingerprint the step left on the node."""
    return STATUS.format(io=io) + f"@@\n{fingerprint}\n"


def test_running_replica_is_ok() -> None:
    plan = replica().decide(probed(shown_status("Yes")))
    assert not plan.changes and "0 s behind" in plan.reason


def test_stopped_replica_is_started_and_waited_for() -> None:
    plan = replica().decide(probed(shown_status("No")))
    commands = [a.command for a in plan.actions if isinstance(a, Run)]
    assert "START SLAVE" in commands[0] and "CHANGE MASTER" not in commands[0]
    assert "Slave_IO_Running: Yes" in commands[1]


def test_unconfigured_replica_gets_gtid_replication_with_quick_retry_from_a_private_file() -> None:
    plan = replica().decide(probed("@@\n"))
    staged, load = plan.actions[0], plan.actions[1]
    assert isinstance(staged, Put) and isinstance(load, Run)
    assert staged.mode == "0600" and "MASTER_USE_GTID=slave_pos" in staged.content and "MASTER_CONNECT_RETRY=1" in staged.content
    assert load.command == f"mariadb < {staged.path}; status=$?; rm -f {staged.path}; exit $status"
    assert not any("r3pl" in a.command for a in plan.actions if isinstance(a, Run))  # never on a command line


def test_parse_replica_status() -> None:
    status = parse_replica_status(STATUS.format(io="Yes"))
    assert status["Master_Host"] == "192.168.56.11" and status["Using_Gtid"] == "Slave_Pos"
    assert parse_replica_status("") == {}


def test_a_changed_replication_password_sets_replication_up_again() -> None:
    plan = replica("new-password").decide(probed(shown_status("Yes")))
    staged, remember = plan.actions[0], plan.actions[2]
    assert isinstance(staged, Put) and "CHANGE MASTER" in staged.content and "new-password" in staged.content
    assert isinstance(remember, Run) and "echo " + replica("new-password").fingerprint in remember.command


def test_schema_loads_from_a_private_file_when_the_table_is_missing() -> None:
    step = Schema("foobar", "CREATE TABLE IF NOT EXISTS messages (id INT);")
    assert not step.decide(probed("messages\n")).changes
    plan = step.decide(probed(""))
    staged = plan.actions[0]
    assert isinstance(staged, Put) and staged.content.startswith("USE `foobar`;\nCREATE TABLE")
    with pytest.raises(StepError):
        step.decide(probed("", exited=1))


def test_database_is_created_once() -> None:
    step = Database("foobar")
    assert not step.decide(probed("foobar\n")).changes
    assert "CREATE DATABASE foobar CHARACTER SET utf8mb4" in run_commands(step.decide(probed("")))[0]


def semi_sync_steps(lab_replication: str, node: str, fenced: bool = False) -> SemiSync:
    lab = replace(design.load(DEFAULT_LAB_FILE), replication=lab_replication)
    if fenced:
        lab = lab.with_primary("web-02", ("web-01",))
    (step,) = [s for s in database.semi_sync(RoleInputs(lab, lab.node(node), {})) if isinstance(s, SemiSync)]
    return step


@pytest.mark.parametrize(
    ("node", "fenced", "waits", "acknowledges"),
    [
        pytest.param("web-01", False, True, False, id="the-primary-waits"),
        pytest.param("web-02", False, False, True, id="a-replica-acknowledges-and-waits-for-nobody"),
        pytest.param("web-02", True, False, False, id="a-primary-with-no-replica-waits-for-nobody"),
    ],
)
def test_semi_sync_sides_belong_to_the_primary_and_the_replicas(node: str, fenced: bool, waits: bool, acknowledges: bool) -> None:
    """A replica that also waited would hold each transaction it applies (it logs them) for replicas it does not have."""
    step = semi_sync_steps("semi-sync", node, fenced)
    assert (step.waits, step.acknowledges) == (waits, acknowledges)


def test_a_replica_that_waited_stops_waiting_and_reconnects_to_acknowledge() -> None:
    plan = SemiSync(waits=False, acknowledges=True, timeout_ms=1000, replica=True).decide(probed("1\t0\t1000\n"))
    commands = [a.command for a in plan.actions if isinstance(a, Run)]
    assert "rpl_semi_sync_master_enabled = OFF" in commands[0] and "rpl_semi_sync_slave_enabled = ON" in commands[0]
    assert "START SLAVE IO_THREAD" in commands[1]
    assert SemiSync(waits=False, acknowledges=True, timeout_ms=1000, replica=True).decide(probed("0\t1\t1000\n")).actions == ()
    primary = SemiSync(waits=True, acknowledges=False, timeout_ms=1000, replica=False).decide(probed("1\t1\t1000\n"))
    assert len(primary.actions) == 1  # no replication threads to restart on the primary


def test_the_heartbeat_event_is_made_unlogged_writing_only_where_the_server_takes_writes() -> None:
    step = Heartbeat("foobar.heartbeat")
    assert not step.decide(probed(f"ON\tENABLED/{HEARTBEAT_VERSION}\n")).changes
    for shown in ("OFF\tnone\n", f"OFF\tENABLED/{HEARTBEAT_VERSION}\n", f"ON\tDISABLED/{HEARTBEAT_VERSION}\n", "ON\tENABLED/foobar_fab heartbeat 0\n"):
        plan = step.decide(probed(shown))
        (made,) = plan.actions
        assert isinstance(made, Run) and made.command.startswith("mariadb -N -B -e 'SET sql_log_bin = 0; CREATE OR REPLACE ")
        assert "EVERY 1 SECOND" in made.command and "WHERE @@global.read_only = 0" in made.command and "SET GLOBAL event_scheduler = ON" in made.command
    with pytest.raises(StepError):
        step.decide(probed("", exited=1))


def test_a_design_without_monitoring_drops_the_heartbeat_event() -> None:
    step = Heartbeat("foobar.heartbeat", wanted=False)
    assert not step.decide(probed("OFF\tnone\n")).changes
    (dropped,) = step.decide(probed(f"ON\tENABLED/{HEARTBEAT_VERSION}\n")).actions
    assert isinstance(dropped, Run) and "SET sql_log_bin = 0; DROP EVENT IF EXISTS mysql.foobar_heartbeat" in dropped.command
