"""MariaDB: database, users with only their rights, and GTID replication, each probed before changed.

Every SQL statement runs through the `mariadb` client as root over the local socket (Debian's
unix_socket authentication), so no administrator password exists. Users are created with a password
hash computed here, so the command line never carries a password.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from ..constants import STAGING
from ..executors import Outcome
from ..observe.replication import SHOW_REPLICA_STATUS, parse_replica_status, threads_running
from ..steps import Plan, Put, Run, Step, StepError, change, lines, ok

WAIT_SECONDS = 30
FINGERPRINT = "/var/lib/mysql/foobar_fab.replication"


def sql(statement: str) -> str:
    """A shell command running one SQL statement as the local root user, tab-separated, no headers."""
    return f"mariadb -N -B -e {shlex.quote(statement)}"


def sql_file(statements: str, name: str) -> tuple[Put, Run]:
    """Run SQL from a private file (0600, removed afterwards), so nothing secret appears on a command line."""
    staged = f"{STAGING}/{name}"
    return Put(staged, statements, "0600"), Run(f"mariadb < {staged}; status=$?; rm -f {staged}; exit $status")


def password_hash(password: str) -> str:
    """mysql_native_password's hash: '*' + SHA1(SHA1(password)) in upper-case hex."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


@dataclass
class Database(Step):
    """A database in utf8mb4."""

    database: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"database {self.database}"

    def probe(self) -> str:
        return sql(f"SHOW DATABASES LIKE '{self.database}'")

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        if self.database in lines(probe.stdout):
            return ok("exists")
        return change("created", Run(sql(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")))


@dataclass
class User(Step):
    """A user allowed from exactly these hosts (the nodes that use it), with this password and exactly these grants.

    Accounts of the user from any other host (a wider network granted by an older build, a node that
    left the design) are dropped: nothing else may log in as this user. The statements replicate, so they
    say IF [NOT] EXISTS: a replica whose accounts differ (a former primary) must not stop on them.
    """

    user: str
    hosts: tuple[str, ...]
    password: str
    grants: tuple[str, ...]  # e.g. "SELECT, INSERT ON `foobar`.*"
    require_ssl: bool = False  # the account may log in over TLS only
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"user {self.user}"

    def account(self, host: str) -> str:
        return f"'{self.user}'@'{host}'"

    def probe(self) -> str:
        accounts = f"SELECT host, authentication_string, ssl_type FROM mysql.user WHERE user='{self.user}' ORDER BY host"
        show = f"mariadb -N -B -e \"SHOW GRANTS FOR '{self.user}'@'$host'\""
        return (
            f"rows=$({sql(accounts)}) || exit 1; printf '%s\\n' \"$rows\"; "
            f"printf '%s\\n' \"$rows\" | while IFS=$(printf '\\t') read -r host hash tls; do "
            f"[ -n \"$host\" ] || continue; echo \"@@ $host\"; {show} 2>/dev/null; done; true"
        )

    def wanted_grants(self, host: str) -> list[str]:
        return [f"GRANT {g} TO {self.account(host)}" for g in self.grants]

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        hashes, grants, tls = parse_accounts(probe.stdout)
        hashed = password_hash(self.password)
        wanted_tls = "ANY" if self.require_ssl else ""
        actions: list[Run] = []
        done: list[str] = []
        for host in self.hosts:
            account = self.account(host)
            if host not in hashes:
                actions.append(Run(sql(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY PASSWORD '{hashed}'")))
                done.append(f"{account} created")
            elif hashes[host] != hashed:
                actions.append(Run(sql(f"ALTER USER IF EXISTS {account} IDENTIFIED BY PASSWORD '{hashed}'")))
                done.append(f"{account} password set")
            if tls.get(host, "") != wanted_tls:
                actions.append(Run(sql(f"ALTER USER IF EXISTS {account} REQUIRE {'SSL' if self.require_ssl else 'NONE'}")))
                done.append(f"{account} {'requires TLS' if self.require_ssl else 'no longer requires TLS'}")
            present = {_normal_grant(g) for g in grants.get(host, [])}
            wanted = {_normal_grant(g) for g in self.wanted_grants(host)}
            extra = {g for g in present - wanted if not g.startswith("GRANT USAGE ON *.*")}
            if extra:
                actions.append(Run(sql(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}")))
            missing = [g for g in self.wanted_grants(host) if extra or _normal_grant(g) not in present]
            actions += [Run(sql(grant)) for grant in missing]
            if (extra or missing) and host in hashes:
                done.append(f"{account} grants brought in line")
        for host in sorted(set(hashes) - set(self.hosts)):
            actions.append(Run(sql(f"DROP USER IF EXISTS {self.account(host)}")))
            done.append(f"{self.account(host)} dropped")
        if not actions:
            return ok(f"from {', '.join(self.hosts)} with {'; '.join(self.grants)}" + (", TLS required" if self.require_ssl else ""))
        return change("; ".join(done), *actions)


def parse_accounts(text: str) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    """The User probe's output: each host's password hash, its grants, and its TLS requirement ('' or ANY)."""
    hashes: dict[str, str] = {}
    grants: dict[str, list[str]] = {}
    tls: dict[str, str] = {}
    current: str | None = None
    for row in text.splitlines():
        if row.startswith("@@ "):
            current = row[3:].strip()
            grants[current] = []
        elif current is not None:
            if row.strip():
                grants[current].append(row.strip())
        elif row.strip():
            host, hashed, required = ([*row.split("\t"), "", ""])[:3]
            hashes[host.strip()] = hashed.strip()
            tls[host.strip()] = required.strip()
    return hashes, grants, tls


def _normal_grant(text: str) -> str:
    """SHOW GRANTS output without the password clause, with backquotes and spacing folded."""
    text = text.split(" IDENTIFIED BY ", maxsplit=1)[0]
    return " ".join(text.replace("`", "").replace("'", "").split())


@dataclass
class Replica(Step):
    """This server replicates from the primary with GTID, both threads running.

    A replica that is not set up (or follows another host) gets CHANGE MASTER ... MASTER_USE_GTID=slave_pos
    (from what it applied; a former primary's position is set from its own binary log when it is demoted,
    see promotion.py, and a statement run on the replica alone never stops it) and a one-second reconnect
    delay (MariaDB's default waits 60 s); a stopped one is started. Either way the step waits until both
    threads run, so replication is running when the build ends.
    """

    primary: str
    user: str
    password: str
    ssl_ca: str | None = None  # with a CA file: the connection is encrypted and the primary's certificate checked
    name: str = "replication"

    def probe(self) -> str:
        return f"{SHOW_REPLICA_STATUS} && echo @@ && cat {FINGERPRINT} 2>/dev/null; true"

    @property
    def fingerprint(self) -> str:
        """A hash of the settings CHANGE MASTER was given, password included (which MariaDB never shows)."""
        return hashlib.sha256(f"{self.primary}\0{self.user}\0{self.password}\0{self.ssl_ca}".encode()).hexdigest()

    @property
    def ssl_options(self) -> str:
        if self.ssl_ca is None:
            return "MASTER_SSL=0"
        return f"MASTER_SSL=1, MASTER_SSL_CA='{self.ssl_ca}', MASTER_SSL_VERIFY_SERVER_CERT=1"

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok or "@@" not in probe.stdout:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        shown, _, stored = probe.stdout.partition("@@\n")
        status = parse_replica_status(shown)
        running = threads_running(status)
        configured = (
            status.get("Master_Host") == self.primary
            and status.get("Master_User") == self.user
            and status.get("Using_Gtid") == "Slave_Pos"
            and stored.strip() == self.fingerprint
        )
        if configured and running:
            lag = status.get("Seconds_Behind_Master", "?")
            return ok(f"from {self.primary}, IO and SQL threads running, {lag} s behind")
        wait = Run(wait_for_replication())
        if configured:
            return change(f"restarted replication from {self.primary}", Run(sql("START SLAVE")), wait)
        setup = (
            f"STOP SLAVE; CHANGE MASTER TO MASTER_HOST='{self.primary}', MASTER_USER='{self.user}', "
            f"MASTER_PASSWORD='{self.password}', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos, {self.ssl_options}; START SLAVE;\n"
        )
        remember = Run(f"echo {self.fingerprint} > {FINGERPRINT} && chmod 0600 {FINGERPRINT}")
        return change(
            f"replicating from {self.primary} with GTID (slave_pos), " + ("over TLS" if self.ssl_ca else "in clear"),
            *sql_file(setup, "replication.sql"),  # a file, not the command line: the password stays out of `ps`
            remember,
            wait,
        )


def wait_for_replication() -> str:
    """Wait until both replication threads run; on timeout, show MariaDB's last errors."""
    return (
        f"for i in $(seq {WAIT_SECONDS * 5}); do "
        f"s=$({SHOW_REPLICA_STATUS}); echo \"$s\" | grep -q 'Slave_IO_Running: Yes' && "
        f"echo \"$s\" | grep -q 'Slave_SQL_Running: Yes' && exit 0; sleep 0.2; done; "
        f"echo \"$s\" | grep -E 'Running|Last_.*Error:' >&2; exit 1"
    )


@dataclass
class Schema(Step):
    """The application's tables exist in the database (the schema file is idempotent)."""

    database: str
    content: str
    table: str = "messages"
    name: str = "schema"

    def probe(self) -> str:
        return sql(f"SHOW TABLES FROM `{self.database}` LIKE '{self.table}'")

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        if self.table in lines(probe.stdout):
            return ok(f"table {self.table} exists")
        return change(f"table {self.table} created", *sql_file(f"USE `{self.database}`;\n{self.content}", "schema.sql"))


#: The heartbeat's event: made on each database server (not replicated), run by MariaDB's event scheduler.
HEARTBEAT_EVENT = "foobar_heartbeat"
HEARTBEAT_VERSION = "foobar_fab heartbeat 1"


@dataclass
class Heartbeat(Step):
    """Every second, the server that takes writes (the primary) stamps the time in its row of `table`; the
    replicas receive the row like any write, so on each server the age of the newest row is how far behind
    the primary it is: a figure that grows whatever stopped the copy (unlike Seconds_Behind_Master).

    The event is made on every server, unlogged (a promoted replica then has it, enabled), and writes only
    while its server takes writes: a read-only server writes nothing, so it has no transaction of its own.
    Without `wanted`, the event is dropped."""

    table: str
    wanted: bool = True
    name: str = "heartbeat"

    def probe(self) -> str:
        return sql(
            "SELECT @@global.event_scheduler, IFNULL((SELECT CONCAT(STATUS, '/', EVENT_COMMENT) FROM information_schema.EVENTS "
            f"WHERE EVENT_SCHEMA = 'mysql' AND EVENT_NAME = '{HEARTBEAT_EVENT}'), 'none')"
        )

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        scheduler, _, event = probe.stdout.strip().partition("\t")
        if not self.wanted:
            if event == "none":
                return ok("none")
            return change("event dropped", Run(sql(f"SET sql_log_bin = 0; DROP EVENT IF EXISTS mysql.{HEARTBEAT_EVENT}")))
        if scheduler == "ON" and event == f"ENABLED/{HEARTBEAT_VERSION}":
            return ok(f"written every second into {self.table} while this server takes writes")
        event_sql = (
            f"CREATE OR REPLACE DEFINER = root@localhost EVENT mysql.{HEARTBEAT_EVENT} ON SCHEDULE EVERY 1 SECOND "
            f"ON COMPLETION PRESERVE ENABLE COMMENT '{HEARTBEAT_VERSION}' "
            f"DO REPLACE INTO {self.table} (server_id, ts) SELECT @@global.server_id, NOW(6) FROM DUAL WHERE @@global.read_only = 0"
        )
        return change(
            f"event made: every second into {self.table} while this server takes writes",
            Run(sql(f"SET sql_log_bin = 0; {event_sql}; SET GLOBAL event_scheduler = ON")),
        )


@dataclass
class ReadOnly(Step):
    """The server takes writes (the primary) or refuses them (a replica), set live: every server starts
    read-only, and only the lab makes one writable."""

    read_only: bool
    name: str = "read-only"

    def probe(self) -> str:
        return sql("SELECT @@global.read_only")

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        now = lines(probe.stdout) == ["1"]
        if now == self.read_only:
            return ok("refuses writes" if now else "takes writes")
        what = "ON" if self.read_only else "OFF"
        return change("now refuses writes" if self.read_only else "now takes writes", Run(sql(f"SET GLOBAL read_only = {what}")))


SEMI_SYNC_VARIABLES = ("rpl_semi_sync_master_enabled", "rpl_semi_sync_slave_enabled", "rpl_semi_sync_master_timeout")


@dataclass
class SemiSync(Step):
    """Semi-synchronous replication on or off, set live (the configuration file keeps it for restarts).

    On, the primary acknowledges a commit only once a replica has it, or after `timeout_ms` without one
    (then it goes on alone, asynchronously, until a replica catches up). Each side is set only where it
    belongs: the primary waits (`waits`: a primary with a replica to wait for), a replica acknowledges
    (`acknowledges`). A replica that also waited would hold every transaction it applies (it logs them,
    log-slave-updates) for replicas of its own that do not exist. A replica takes a change of mode when its
    IO thread reconnects, so the step restarts that thread.
    """

    waits: bool
    acknowledges: bool
    timeout_ms: int
    replica: bool  # the server replicates (its IO thread can be restarted)
    name: str = "semi-sync replication"

    def probe(self) -> str:
        return sql("SELECT " + ", ".join(f"@@global.{v}" for v in SEMI_SYNC_VARIABLES))

    def decide(self, probe: Outcome) -> Plan:
        found = probe.stdout.split()
        if not probe.ok or len(found) != 3:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        wanted = ["1" if self.waits else "0", "1" if self.acknowledges else "0", str(self.timeout_ms)]
        if found == wanted:
            return ok(self.describe())
        settings = f"SET GLOBAL rpl_semi_sync_master_enabled = {_on(self.waits)}; SET GLOBAL rpl_semi_sync_slave_enabled = {_on(self.acknowledges)}; "
        settings += f"SET GLOBAL rpl_semi_sync_master_timeout = {self.timeout_ms}; SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC"
        actions = [Run(sql(settings))]
        if self.replica and found[1] != wanted[1]:
            actions.append(Run(sql("STOP SLAVE IO_THREAD; START SLAVE IO_THREAD")))
        return change("now " + self.describe(), *actions)

    def describe(self) -> str:
        if self.waits:
            return f"on: waits up to {self.timeout_ms} ms for a replica's acknowledgement"
        return "on: acknowledges what it receives" if self.acknowledges else "off (asynchronous)"


def _on(flag: bool) -> str:
    return "ON" if flag else "OFF"
