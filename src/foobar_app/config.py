"""The application's settings, read from FOOBAR_* environment variables.

On a node, systemd passes them to gunicorn from the unit's EnvironmentFile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ROLES = ("primary", "replica", "auto")  # auto: the read database says, by replicating or not
MAX_NODE_LENGTH = 64  # the width of messages.node in schema.sql

# Each setting and the environment variable it comes from, in the order the errors list them.
VARIABLES = {
    "node": "FOOBAR_NODE",
    "db_role": "FOOBAR_DB_ROLE",
    "write_db_host": "FOOBAR_WRITE_DB_HOST",
    "read_db_host": "FOOBAR_READ_DB_HOST",
    "db_port": "FOOBAR_DB_PORT",
    "db_name": "FOOBAR_DB_NAME",
    "db_user": "FOOBAR_DB_USER",
    "db_password": "FOOBAR_DB_PASSWORD",
}


#: Optional: a file holding the primary's address, read at every write (a failover rewrites it, and no
#: restart is needed); FOOBAR_WRITE_DB_HOST may then be left out.
PRIMARY_FILE_VARIABLE = "FOOBAR_PRIMARY_FILE"
#: Optional: a file holding the read database's address, read at every read (a promotion may change which
#: server a node reads from, restarting nothing); FOOBAR_READ_DB_HOST may then be left out.
READ_FILE_VARIABLE = "FOOBAR_READ_FILE"
#: Optional: the CA file that signs the databases' certificates; when set, connections use TLS and check them.
DB_CA_VARIABLE = "FOOBAR_DB_CA"
#: Optional: how long (ms) a write waits for the primary's answer; a semi-sync primary may hold a commit for
#: its whole timeout, and a write given up before then is reported failed but stored. Default: IO_TIMEOUT.
WRITE_TIMEOUT_VARIABLE = "FOOBAR_WRITE_TIMEOUT_MS"
#: Optional: for this many seconds after a client's write, its reads go to the primary (a cookie marks the
#: client), so it sees its own write although the replica may lag. 0 or unset: reads stay where they are.
READ_OWN_WRITES_VARIABLE = "FOOBAR_READ_OWN_WRITES_S"
#: Optional: the port on which the application answers /metrics (and nothing else) for the monitoring server.
METRICS_PORT_VARIABLE = "FOOBAR_METRICS_PORT"


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    """Who this node is and where its databases are."""

    node: str  # this node's hostname, shown in pages, JSON and the X-App-Node header
    db_role: str  # "primary" or "replica": the role of this node's own database
    write_db_host: str  # the primary, which takes every write
    read_db_host: str  # this node's own database, which serves every read
    db_port: int
    db_name: str
    db_user: str
    db_password: str = field(repr=False)
    db_ca: str | None = None  # connect over TLS, checking the server's certificate against this CA
    primary_file: str | None = None  # where the primary's address is read at every write, if set
    read_file: str | None = None  # where the read database's address is read at every read, if set
    metrics_port: int | None = None  # where /metrics is answered, for the monitoring server
    write_timeout: float | None = None  # seconds a write waits for the primary (None: as long as any query)
    read_own_writes: int = 0  # seconds a client's reads go to the primary after its write (0: never)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the settings from `environ`; raise ConfigError naming any missing or bad variable."""
        primary_file = environ.get(PRIMARY_FILE_VARIABLE, "").strip() or None
        read_file = environ.get(READ_FILE_VARIABLE, "").strip() or None
        in_files = {"write_db_host": primary_file, "read_db_host": read_file}
        missing = [name for key, name in VARIABLES.items() if not environ.get(name, "").strip() and not in_files.get(key)]
        if missing:
            raise ConfigError(
                f"missing environment variable{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
                " (foobar_app reads its settings from FOOBAR_* variables, see foobar_app/config.py)"
            )
        value = {key: environ.get(name, "").strip() for key, name in VARIABLES.items()}
        if value["db_role"] not in ROLES:
            raise ConfigError(f"FOOBAR_DB_ROLE must be one of {', '.join(ROLES)}, not {value['db_role']!r}")
        if len(value["node"]) > MAX_NODE_LENGTH:
            raise ConfigError(f"FOOBAR_NODE is longer than {MAX_NODE_LENGTH} characters")
        return cls(
            node=value["node"],
            db_role=value["db_role"],
            write_db_host=value["write_db_host"],
            read_db_host=value["read_db_host"],
            db_port=_port(value["db_port"]),
            db_name=value["db_name"],
            db_user=value["db_user"],
            db_password=environ["FOOBAR_DB_PASSWORD"],  # used exactly as given, spaces included
            db_ca=environ.get(DB_CA_VARIABLE, "").strip() or None,
            primary_file=primary_file,
            read_file=read_file,
            metrics_port=_port(environ[METRICS_PORT_VARIABLE].strip(), METRICS_PORT_VARIABLE) if environ.get(METRICS_PORT_VARIABLE, "").strip() else None,
            write_timeout=_milliseconds(environ.get(WRITE_TIMEOUT_VARIABLE, "").strip()),
            read_own_writes=_seconds(environ.get(READ_OWN_WRITES_VARIABLE, "").strip()),
        )


def _milliseconds(value: str) -> float | None:
    """FOOBAR_WRITE_TIMEOUT_MS in seconds (None when unset)."""
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{WRITE_TIMEOUT_VARIABLE} must be a number of milliseconds (1 or more), not {value!r}")
    return int(value) / 1000


def _seconds(value: str) -> int:
    """FOOBAR_READ_OWN_WRITES_S as a number of seconds (0 when unset)."""
    if not value:
        return 0
    if not value.isdigit():
        raise ConfigError(f"{READ_OWN_WRITES_VARIABLE} must be a whole number of seconds (0 or more), not {value!r}")
    return int(value)


def _port(value: str, variable: str = "FOOBAR_DB_PORT") -> int:
    """A variable's value as a TCP port number."""
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ConfigError(f"{variable} must be a TCP port number (1-65535), not {value!r}")
    return int(value)
