"""MariaDB roles: the primary on web-01 (binary log, GTID, users, schema) and its read-only replica."""

from __future__ import annotations

from ..resources.files import ConfigFile
from ..resources.mariadb import Database, Replica, Schema, User
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Step
from ..templates import render
from .app import APP_SOURCE
from .values import APP_USER, DATABASE, REPLICATION_USER, RoleInputs

PACKAGES = ("default-mysql-server",)

CONFIG = "/etc/mysql/mariadb.conf.d/60-foobar.cnf"
#: Parse the staged file with the server's own option parser before it goes live.
VALIDATE = "mariadbd --defaults-file={path} --help --verbose > /dev/null"


def _server(inputs: RoleInputs) -> list[Step]:
    """Debian's MySQL server (MariaDB 10.11), configured for this node's part, running."""
    return [
        Packages(PACKAGES),
        ConfigFile(
            CONFIG,
            render("mariadb/foobar.cnf.j2", **inputs.template_values()),
            validate=VALIDATE,
            on_change=("systemctl restart mariadb",),
        ),
        Service("mariadb"),
    ]


def primary(inputs: RoleInputs) -> list[Step]:
    """The primary takes every write; what it logs, the replica replays."""
    return _server(inputs) + [
        Database(DATABASE),
        User(APP_USER, inputs.db_network, inputs.secrets["db_app"], (f"SELECT, INSERT ON `{DATABASE}`.*", "SLAVE MONITOR ON *.*")),
        User(REPLICATION_USER, inputs.db_network, inputs.secrets["db_replication"], ("REPLICATION SLAVE ON *.*",)),
        Schema(DATABASE, (APP_SOURCE / "schema.sql").read_text()),
    ]


def replica(inputs: RoleInputs) -> list[Step]:
    """The replica copies everything from the primary (database, users, rows) and serves reads."""
    return _server(inputs) + [
        Replica(str(inputs.primary.address), REPLICATION_USER, inputs.secrets["db_replication"]),
    ]
