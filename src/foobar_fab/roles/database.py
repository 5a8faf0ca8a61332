"""The database roles: the primary (binary log, GTID, accounts, schema) and its read-only replica.

Debian's MySQL server package is MariaDB 10.11. Accounts are granted to the nodes that use them,
by address, and to nobody else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..constants import APP_USER, DATABASE, DB_PORT, EXPORTER_USER, REPLICATION_USER
from ..expect import eventually, expect
from ..resources.files import Absent, ConfigFile
from ..resources.mariadb import Database, Replica, Schema, User
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Step
from ..templates import render
from ..topology import Lab, NodeSpec
from .app import APP_SOURCE
from .record import NodeCheck, Port, Problem, Role, RoleInputs, Rule, roles_field

if TYPE_CHECKING:
    from ..live import LiveLab

PACKAGES = ("default-mysql-server",)

CONFIG = "/etc/mysql/mariadb.conf.d/60-foobar.cnf"
#: Parse the staged file with the server's own option parser before it goes live.
VALIDATE = "mariadbd --defaults-file={path} --help --verbose > /dev/null"
APP_GRANTS = (f"SELECT, INSERT ON `{DATABASE}`.*", "SLAVE MONITOR ON *.*")
EXPORTER_GRANTS = ("SELECT, PROCESS, BINLOG MONITOR, SLAVE MONITOR ON *.*",)  # what the MariaDB exporter reads
REPLICATION_GRANTS = ("REPLICATION SLAVE ON *.*",)
TLS_DIR = "/etc/mysql/tls"
TLS = {"ca": f"{TLS_DIR}/ca.pem", "cert": f"{TLS_DIR}/server.pem", "key": f"{TLS_DIR}/server.key"}
#: New certificates are taken up without a restart.
FLUSH_SSL = "mariadb -e 'FLUSH SSL'"


def config(inputs: RoleInputs) -> str:
    """The server's settings for this node's part."""
    node = inputs.node
    return render(
        "mariadb/foobar.cnf.j2",
        node=node,
        database=DATABASE,
        db_role="replica" if node.has_role("db_replica") else "primary",
        server_id=int(node.address) & 0xFFFF,
        tls=TLS if inputs.tls is not None else None,
    )


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
    return _server(inputs) + [
        Database(DATABASE),
        User(APP_USER, tuple(str(n.address) for n in lab.app_nodes), inputs.secrets["db_app"], APP_GRANTS, lab.has("https")),
        User(REPLICATION_USER, tuple(str(n.address) for n in lab.replicas), inputs.secrets["db_replication"], REPLICATION_GRANTS, lab.has("https")),
        # The exporters' account, on every database server through replication (none without monitoring).
        User(EXPORTER_USER, ("localhost",) if lab.has("monitoring") else (), inputs.secrets.get("db_exporter", ""), EXPORTER_GRANTS),
        Schema(DATABASE, (APP_SOURCE / "schema.sql").read_text()),
    ]


def replica_steps(inputs: RoleInputs) -> list[Step]:
    """The replica copies everything from the primary (database, accounts, rows) and serves reads."""
    return _server(inputs) + [
        Replica(str(inputs.lab.primary.address), REPLICATION_USER, inputs.secrets["db_replication"], TLS["ca"] if inputs.tls else None),
    ]


def primary_ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    clients = [n.name for n in lab.app_nodes + lab.replicas if n != node]
    return (Port(DB_PORT, "mariadb", "MariaDB, for the application servers and replicas", "node", tuple(dict.fromkeys(clients))),)


def replica_ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    clients = [n.name for n in lab.app_nodes if lab.read_database(n) == node and n != node]
    return (Port(DB_PORT, "mariadb", "MariaDB, for the application servers reading here", "node", tuple(clients)),)


def has_posted_message(live: LiveLab, node: NodeSpec) -> str:
    """The message the site check posted is in this node's database (replicated, on a replica)."""

    def probe() -> str:
        count = live.databases.count(node, live.marker)
        return expect(count == 1, f"{count} row(s) with {live.marker!r}")

    return eventually(probe, 10)


def replica_threads(live: LiveLab, node: NodeSpec) -> str:
    """Both replication threads run on this replica (over TLS, with the primary's certificate checked, with https)."""
    status = live.databases.replica_status(node)
    io_run, sql_run = status.get("Slave_IO_Running", "No"), status.get("Slave_SQL_Running", "No")
    seen = f"IO {io_run}, SQL {sql_run}, {status.get('Seconds_Behind_Master', '?')} s behind {status.get('Master_Host', '?')}"
    if live.lab.has("https"):
        tls = status.get("Master_SSL_Allowed") == "Yes" and status.get("Master_SSL_Verify_Server_Cert") == "Yes"
        return expect(io_run == "Yes" and sql_run == "Yes" and tls, seen + (", TLS, certificate checked" if tls else ", not over TLS"))
    return expect(io_run == "Yes" and sql_run == "Yes", seen)


def _one_primary(lab: Lab) -> Iterator[Problem]:
    primaries = lab.with_role("db_primary")
    for extra in primaries[1:]:
        yield Problem(roles_field(extra), f"{primaries[0].name} has db_primary already")


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
    checks=(HAS_WRITE,),
    rules=(Rule("one database primary (two would each take writes the other never sees)", _one_primary),),
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
