"""MariaDB: database, users with only their rights, and GTID replication, each probed before changed.

Every SQL statement runs through the `mariadb` client as root over the local socket (Debian's
unix_socket authentication), so no administrator password exists. Users are created with a password
hash computed here, so the command line never carries a password.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from ..executors import Outcome
from ..steps import Plan, Put, Run, Step, StepError, change, lines, ok

WAIT_SECONDS = 30
FINGERPRINT = "/var/lib/mysql/foobar_fab.replication"


def sql(statement: str) -> str:
    """A shell command running one SQL statement as the local root user, tab-separated, no headers."""
    return f"mariadb -N -B -e {shlex.quote(statement)}"


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
    """A user allowed from one network, with this password and exactly these grants."""

    user: str
    host: str
    password: str
    grants: tuple[str, ...]  # e.g. "SELECT, INSERT ON `foobar`.*"
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"user {self.user}"

    @property
    def account(self) -> str:
        return f"'{self.user}'@'{self.host}'"

    def probe(self) -> str:
        check = (
            f"SELECT authentication_string FROM mysql.user WHERE user='{self.user}' AND host='{self.host}'"
        )
        return f"{sql(check)} && {{ echo @@; {sql(f'SHOW GRANTS FOR {self.account}')} 2>/dev/null; true; }}"

    def wanted_grants(self) -> list[str]:
        return [f"GRANT {g} TO {self.account}" for g in self.grants]

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        head, _, grants_text = probe.stdout.partition("@@\n")
        stored_hash = head.strip()
        hashed = password_hash(self.password)
        actions = []
        if not stored_hash:
            actions.append(Run(sql(f"CREATE USER {self.account} IDENTIFIED BY PASSWORD '{hashed}'")))
        elif stored_hash != hashed:
            actions.append(Run(sql(f"ALTER USER {self.account} IDENTIFIED BY PASSWORD '{hashed}'")))
        present = {_normal_grant(g) for g in lines(grants_text)}
        wanted = {_normal_grant(g) for g in self.wanted_grants()}
        usage = {g for g in present if g.startswith("GRANT USAGE ON *.*")}
        extra = present - wanted - usage
        if extra:
            actions.append(Run(sql(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {self.account}")))
        for grant in self.wanted_grants():
            if extra or _normal_grant(grant) not in present:
                actions.append(Run(sql(grant)))
        if not actions:
            return ok(f"{self.account} with {'; '.join(self.grants)}")
        what = "created" if not stored_hash else "brought in line"
        return change(f"{self.account} {what}: {'; '.join(self.grants)}", *actions)


def _normal_grant(text: str) -> str:
    """SHOW GRANTS output without the password clause, with backquotes and spacing folded."""
    text = text.split(" IDENTIFIED BY ")[0]
    return " ".join(text.replace("`", "").replace("'", "").split())


@dataclass
class Replica(Step):
    """This server replicates from the primary with GTID, both threads running.

    A replica that is not set up (or follows another host) gets CHANGE MASTER ... MASTER_USE_GTID=slave_pos
    and a one-second reconnect delay (MariaDB's default waits 60 s); a stopped one is started. Either way
    the step waits until both threads run, so replication is running when the build ends.
    """

    primary: str
    user: str
    password: str
    name: str = "replication"

    def probe(self) -> str:
        return f"mariadb -e 'SHOW REPLICA STATUS\\G' && echo @@ && cat {FINGERPRINT} 2>/dev/null; true"

    @property
    def fingerprint(self) -> str:
        """A hash of the settings CHANGE MASTER was given, password included (which MariaDB never shows)."""
        return hashlib.sha256(f"{self.primary}\0{self.user}\0{self.password}".encode()).hexdigest()

    def decide(self, probe: Outcome) -> Plan:
        if not probe.ok or "@@" not in probe.stdout:
            raise StepError(f"MariaDB does not answer: {probe.error()}")
        shown, _, stored = probe.stdout.partition("@@\n")
        status = parse_replica_status(shown)
        running = status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"
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
            f"MASTER_PASSWORD='{self.password}', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos; START SLAVE"
        )
        remember = Run(f"echo {self.fingerprint} > {FINGERPRINT} && chmod 0600 {FINGERPRINT}")
        return change(f"replicating from {self.primary} with GTID (slave_pos)", Run(sql(setup)), remember, wait)


def wait_for_replication() -> str:
    """Wait until both replication threads run; on timeout, show MariaDB's last errors."""
    status = "mariadb -e 'SHOW REPLICA STATUS\\G'"
    return (
        f"for i in $(seq {WAIT_SECONDS * 5}); do "
        f"s=$({status}); echo \"$s\" | grep -q 'Slave_IO_Running: Yes' && "
        f"echo \"$s\" | grep -q 'Slave_SQL_Running: Yes' && exit 0; sleep 0.2; done; "
        f"echo \"$s\" | grep -E 'Running|Last_.*Error:' >&2; exit 1"
    )


def parse_replica_status(text: str) -> dict[str, str]:
    """SHOW REPLICA STATUS\\G as a dict (empty when the server is no replica)."""
    status = {}
    for row in text.splitlines():
        key, sep, value = row.partition(":")
        if sep and not key.startswith("*"):
            status[key.strip()] = value.strip()
    return status


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
        staged = "/var/tmp/foobar_fab/schema.sql"
        return change(
            f"table {self.table} created",
            Put(staged, self.content, "0600"),
            Run(f"mariadb {self.database} < {staged}"),
        )
