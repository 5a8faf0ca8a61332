"""The database roles: the primary (binary log, GTID, accounts, schema) and its read-only replica.

Debian's MySQL server package is MariaDB 10.11. Accounts are granted to the nodes that use them,
by address, and to nobody else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..constants import APP_USER, DATABASE, DB_PORT, EXPORTER_USER, REPLICATION_USER
from ..expect import eventually, expect
from ..observe.replication import threads_running
from ..resources.files import Absent, ConfigFile
from ..resources.mariadb import Database, Heartbeat, ReadOnly, Replica, Schema, SemiSync, User
from ..resources.packages import Packages
from ..resources.services import Service, UnitEnabled, UnitGone
from ..steps import Step
from ..templates import render
from ..topology import Lab, NodeSpec
from .app import APP_SOURCE
from .record import NodeCheck, Port, Problem, Role, RoleInputs, Rule, SiteCheck, roles_field

if TYPE_CHECKING:
    from ..observe.view import LabView

PACKAGES = ("default-mysql-server",)

CONFIG = "/etc/mysql/mariadb.conf.d/60-foobar.cnf"
SEMI_SYNC_CONFIG = "/etc/mysql/mariadb.conf.d/62-foobar-semi-sync.cnf"
GUARD_USER = "foobar_guard"
GUARD_CNF = "/etc/mysql/foobar-guard.cnf"
GUARD_SCRIPT = "/usr/local/lib/foobar/primary-guard"
GUARD_SERVICE = "foobar-primary-guard"
GUARD_UNIT = f"/etc/systemd/system/{GUARD_SERVICE}.service"
#: Parse the staged file with the server's own option parser before it goes live.
VALIDATE = "mariadbd --defaults-file={path} --help --verbose > /dev/null"
APP_GRANTS = (f"SELECT, INSERT ON `{DATABASE}`.*", "SLAVE MONITOR ON *.*")
EXPORTER_GRANTS = ("SELECT, PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.*",)  # what the MariaDB exporter reads
REPLICATION_GRANTS = ("REPLICATION SLAVE ON *.*",)
TLS_DIR = "/etc/mysql/tls"
TLS = {"ca": f"{TLS_DIR}/ca.pem", "cert": f"{TLS_DIR}/server.pem", "key": f"{TLS_DIR}/server.key"}
#: The heartbeat's table (a design with monitoring): one row a primary, its server id and when it last wrote.
HEARTBEAT_TABLE = "heartbeat"
HEARTBEAT_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {HEARTBEAT_TABLE} (server_id INT UNSIGNED NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL) ENGINE = InnoDB;\n"
)
#: New certificates are taken up without a restart.
FLUSH_SSL = "mariadb -e 'FLUSH LOCAL SSL'"  # LOCAL: not written to the binary log (a replica's would be a transaction of its own)


def config(inputs: RoleInputs) -> str:
    """The server's settings, the same for a primary and a replica (the lab sets which, live)."""
    node = inputs.node
    return render(
        "mariadb/foobar.cnf.j2",
        node=node,
        database=DATABASE,
        server_id=int(node.address) & 0xFFFF,
        tls=TLS if inputs.tls is not None else None,
        heartbeat=inputs.lab.has("monitoring"),
    )


def replication_mode(inputs: RoleInputs) -> tuple[bool, int]:
    """Semi-sync on or off, and its timeout (the design's, unless build options say otherwise)."""
    lab, options = inputs.lab, inputs.options
    mode = options.replication or lab.replication
    return mode == "semi-sync", options.semi_sync_timeout_ms or lab.semi_sync_timeout_ms


def semi_sync(inputs: RoleInputs) -> list[Step]:
    """The replication mode, live and in a file of its own (a change of mode restarts nothing): with semi-sync,
    the primary waits for a replica's acknowledgement (if it has a replica: after a failover it may have none
    until the old primary is rebuilt) and a replica acknowledges."""
    enabled, timeout = replication_mode(inputs)
    node = inputs.node
    waits = enabled and node.has_role("db_primary") and bool(inputs.lab.replicas)
    acknowledges = enabled and node.has_role("db_replica")
    text = render(
        "mariadb/semi-sync.cnf.j2", node=node, mode="semi-synchronous" if enabled else "asynchronous", waits=waits, acknowledges=acknowledges, timeout_ms=timeout
    )
    return [ConfigFile(SEMI_SYNC_CONFIG, text), SemiSync(waits, acknowledges, timeout, replica=node.has_role("db_replica"))]


def peers(lab: Lab, node: NodeSpec) -> tuple[NodeSpec, ...]:
    """The other database servers of the design, the fenced former primaries included."""
    return tuple(n for n in lab.db_nodes + lab.fenced if n != node)


def guard(inputs: RoleInputs) -> list[Step]:
    """On the primary: each time MariaDB starts, writable again unless another server already takes writes."""
    others = [str(n.address) for n in peers(inputs.lab, inputs.node)]
    script = render("mariadb/primary-guard.sh.j2", node=inputs.node, peers=others, cnf=GUARD_CNF)
    cnf = render("mariadb/guard.cnf.j2", user=GUARD_USER, password=inputs.secrets.get("db_guard", ""))
    reload = "systemctl daemon-reload"
    return [
        ConfigFile(GUARD_CNF, cnf, mode="0600"),
        ConfigFile(GUARD_SCRIPT, script, mode="0755"),
        ConfigFile(GUARD_UNIT, render("systemd/foobar-primary-guard.service.j2", script=GUARD_SCRIPT), validate="systemd-analyze verify {path}", on_change=(reload,)),
        UnitEnabled(GUARD_SERVICE),
    ]


def no_guard() -> list[Step]:
    return [UnitGone(GUARD_SERVICE, GUARD_UNIT), Absent(GUARD_SCRIPT), Absent(GUARD_CNF)]


def tls_files(inputs: RoleInputs) -> list[Step]:
    """The CA, the server's certificate and its key (readable by MariaDB only); or none of them without https."""
    if inputs.tls is None:
        return [Absent(TLS_DIR)]
    certificate = inputs.tls.certificates[f"db-{inputs.node.name}"]
    return [
        ConfigFile(TLS["ca"], inputs.tls.ca_pem, on_change=(FLUSH_SSL,)),
        ConfigFile(TLS["cert"], certificate.cert_pem, on_change=(FLUSH_SSL,)),
        ConfigFile(TLS["key"], certificate.key_pem, mode="0600", owner="mysql:mysql", on_change=(FLUSH_SSL,)),
    ]


def _server(inputs: RoleInputs) -> list[Step]:
    """Debian's MySQL server (MariaDB 10.11), configured for this node's part, running; its TLS files in place
    before a config that names them (and removed after one that no longer does)."""
    files = tls_files(inputs)
    before, after = (files, []) if inputs.tls is not None else ([], files)
    return [
        Packages(PACKAGES),
        *before,
        ConfigFile(CONFIG, config(inputs), validate=VALIDATE, on_change=("systemctl restart mariadb",)),
        *after,
        Service("mariadb"),
    ]


def primary_steps(inputs: RoleInputs) -> list[Step]:
    """The primary takes every write; what it logs, the replicas replay. Accounts replicate with it."""
    lab = inputs.lab
    return _server(inputs) + guard(inputs) + [
        ReadOnly(False),
        *semi_sync(inputs),
        Database(DATABASE),
        User(APP_USER, tuple(str(n.address) for n in lab.app_nodes), inputs.secrets["db_app"], APP_GRANTS, lab.has("https")),
        User(REPLICATION_USER, tuple(str(n.address) for n in lab.replicas), inputs.secrets["db_replication"], REPLICATION_GRANTS, lab.has("https")),
        # The exporters' account, on every database server through replication (none without monitoring).
        User(EXPORTER_USER, ("localhost",) if lab.has("monitoring") else (), inputs.secrets.get("db_exporter", ""), EXPORTER_GRANTS),
        # The primary's guard asks the other servers whether they take writes; it may ask nothing else.
        User(GUARD_USER, tuple(str(n.address) for n in lab.db_nodes + lab.fenced), inputs.secrets.get("db_guard", ""), ()),
        Schema(DATABASE, (APP_SOURCE / "schema.sql").read_text()),
        *heartbeat(inputs),
    ]


def replica_steps(inputs: RoleInputs) -> list[Step]:
    """The replica copies everything from the primary (database, accounts, rows) and serves reads."""
    return _server(inputs) + no_guard() + [
        ReadOnly(True),
        Replica(str(inputs.lab.primary.address), REPLICATION_USER, inputs.secrets["db_replication"], TLS["ca"] if inputs.tls else None),
        *semi_sync(inputs),
        *heartbeat(inputs),
    ]


def heartbeat(inputs: RoleInputs) -> list[Step]:
    """On a design with monitoring, the heartbeat that tells how far behind each server is: its table (made on the
    primary, replicated) and the event that writes it on whichever server takes writes; on another design, no event."""
    monitored = inputs.lab.has("monitoring")
    table = [Schema(DATABASE, HEARTBEAT_SCHEMA, table=HEARTBEAT_TABLE, name="heartbeat table")] if monitored and inputs.node == inputs.lab.primary else []
    return [*table, Heartbeat(f"{DATABASE}.{HEARTBEAT_TABLE}", wanted=monitored)]


def primary_ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    clients = [n.name for n in lab.app_nodes + peers(lab, node) if n != node]
    return (Port(DB_PORT, "mariadb", "MariaDB, for the application servers and the other database servers", "node", tuple(dict.fromkeys(clients))),)


def replica_ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    clients = [n.name for n in lab.app_nodes if lab.read_database(n) == node and n != node] + [lab.primary.name]
    return (Port(DB_PORT, "mariadb", "MariaDB, for the application servers reading here and the primary's guard", "node", tuple(clients)),)


def has_posted_message(live: LabView, node: NodeSpec) -> str:
    """The message the site check posted is in this node's database (replicated, on a replica)."""

    def probe() -> str:
        count = live.databases.count(node, live.marker)
        return expect(count == 1, f"{count} row(s) with {live.marker!r}")

    return eventually(probe, 10)


def replica_threads(live: LabView, node: NodeSpec) -> str:
    """Both replication threads run on this replica (over TLS, with the primary's certificate checked, with https)."""
    status = live.databases.replica_status(node)
    io_run, sql_run = status.get("Slave_IO_Running", "No"), status.get("Slave_SQL_Running", "No")
    seen = f"IO {io_run}, SQL {sql_run}, {status.get('Seconds_Behind_Master', '?')} s behind {status.get('Master_Host', '?')}"
    if live.lab.has("https"):
        tls = status.get("Master_SSL_Allowed") == "Yes" and status.get("Master_SSL_Verify_Server_Cert") == "Yes"
        return expect(threads_running(status) and tls, seen + (", TLS, certificate checked" if tls else ", not over TLS"))
    return expect(threads_running(status), seen)


def one_writer(live: LabView) -> str:
    """The primary takes writes, and every other database server (a fenced former primary too) refuses them."""
    lab = live.lab
    fenced = lab.fenced
    seen, wrong = [], []
    for node in lab.db_nodes + fenced:
        writable = live.databases.writable(node, timeout=3)
        if writable is None:
            seen.append(f"{node.name} does not answer")
            if node not in fenced:  # a fenced former primary may well be without power
                wrong.append(node.name)
            continue
        seen.append(f"{node.name} {'takes writes' if writable else 'read-only'}" + (" (fenced)" if node in fenced else ""))
        if writable != (node == lab.primary):
            wrong.append(node.name)
    return expect(not wrong, f"primary {lab.primary.name}: " + "; ".join(seen))


def _one_primary(lab: Lab) -> Iterator[Problem]:
    primaries = lab.with_role("db_primary")
    for extra in primaries[1:]:
        yield Problem(roles_field(extra), f"{primaries[0].name} has db_primary already")


def _semi_sync_has_replica(lab: Lab) -> Iterator[Problem]:
    if lab.replication == "semi-sync" and not lab.replicas:
        yield Problem("lab.replication", "semi-sync with no replica: every write would wait out the timeout for nobody")


def _replica_has_primary(lab: Lab) -> Iterator[Problem]:
    primaries = lab.with_role("db_primary")
    for replica in lab.replicas:
        if not primaries:
            yield Problem(roles_field(replica), "no node has the role db_primary")
        elif replica in primaries:
            yield Problem(roles_field(replica), "this node is the primary itself")


HAS_WRITE = NodeCheck("db.has-write", "the posted message is in this database", has_posted_message, phase="data")

PRIMARY = Role(
    name="db_primary",
    label="MariaDB primary",
    packages=PACKAGES,
    wave=2,
    steps=primary_steps,
    ports=primary_ports,
    checks=(HAS_WRITE, SiteCheck("db.primary", "one database server takes writes, the others refuse them", one_writer, phase="data")),
    rules=(
        Rule("one database primary (two would each take writes the other never sees)", _one_primary),
        Rule("semi-synchronous replication needs a replica to acknowledge writes", _semi_sync_has_replica),
    ),
)

REPLICA = Role(
    name="db_replica",
    label="MariaDB replica (read-only)",
    packages=PACKAGES,
    wave=3,
    steps=replica_steps,
    ports=replica_ports,
    checks=(HAS_WRITE, NodeCheck("db.replica-threads", "replication threads running", replica_threads, phase="data")),
    rules=(Rule("a replica needs a primary on another node", _replica_has_primary),),
)
