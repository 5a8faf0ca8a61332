"""The application role: gunicorn running the project's application, deployed as a versioned release.

A release is the application's files under /srv/foobar/releases/<id>, where <id> is a checksum of
their content; /srv/foobar/current points at the live one. A re-run uploads and restarts only when
the files changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import foobar_app

from .. import write_timeouts
from ..constants import (
    APP_DELAY_FILE,
    APP_ENV,
    APP_METRICS_PORT,
    APP_PORT,
    APP_ROOT,
    APP_SERVICE,
    APP_SYSTEM_USER,
    APP_USER,
    APP_WORKERS,
    DATABASE,
    DB_PORT,
)
from ..executors import Outcome
from ..expect import expect
from ..observe.site import served_by
from ..resources.files import Absent, ConfigFile
from ..resources.packages import Packages
from ..resources.services import Service, try_restart
from ..steps import Plan, Put, Run, Step, change, ok
from ..templates import render
from ..topology import Lab, NodeSpec
from .record import Port, Role, RoleInputs, Rule, SiteCheck, problems_where

if TYPE_CHECKING:
    from ..observe.view import LabView

PACKAGES = ("gunicorn", "python3-flask", "python3-pymysql", "python3-prometheus-client")

APP_SOURCE = Path(foobar_app.__file__).resolve().parent
UNIT = f"/etc/systemd/system/{APP_SERVICE}.service"
TLS_DIR = "/etc/foobar/tls"
PRIMARY_FILE = "/etc/foobar/primary"
READ_FILE = "/etc/foobar/read-database"
DB_CA = f"{TLS_DIR}/ca.pem"
TRY_RESTART = try_restart(APP_SERVICE)
KEEP_RELEASES = 3


def application_files() -> dict[str, str]:
    """The application's files by path relative to its package's parent, compiled files left out."""
    files = {}
    for path in sorted(APP_SOURCE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".sql", ".html", ".css"):
            files[str(path.relative_to(APP_SOURCE.parent))] = path.read_text()
    return files


def release_id(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, content in sorted(files.items()):
        digest.update(name.encode() + b"\0" + content.encode() + b"\0")
    return digest.hexdigest()[:12]


@dataclass
class SystemUser(Step):
    """A system account without a login, for the application server."""

    user: str
    home: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"user {self.user}"

    def probe(self) -> str:
        return f"id -u {self.user} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        if probe.stdout.strip():
            return ok(f"exists (uid {probe.stdout.strip()})")
        return change("created", Run(f"useradd --system --user-group --home-dir {self.home} --shell /usr/sbin/nologin {self.user}"))


@dataclass
class Release(Step):
    """The application's current release holds exactly these files."""

    files: dict[str, str]
    version: str
    root: str = APP_ROOT
    name: str = "release"
    release: str = field(init=False)

    def __post_init__(self) -> None:
        self.release = release_id(self.files)

    def probe(self) -> str:
        return f"cat {self.root}/current/RELEASE 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        wanted = f"{self.version} {self.release}"
        found = probe.stdout.strip()
        if found == wanted:
            return ok(f"version {self.version}, release {self.release} is live")
        folder = f"{self.root}/releases/{self.release}"
        puts = [Put(f"{folder}/{name}", content) for name, content in self.files.items()]
        return change(
            f"release {self.release} (version {self.version}) deployed, was {found or 'none'}",
            *puts,
            Put(f"{folder}/RELEASE", wanted + "\n"),
            Run(f"ln -sfn {folder} {self.root}/current.new && mv -T {self.root}/current.new {self.root}/current"),
            Run(f"cd {self.root}/releases && ls -1t | tail -n +{KEEP_RELEASES + 1} | xargs -r rm -rf"),
            Run(TRY_RESTART),
        )


def web_clients(lab: Lab, node: NodeSpec) -> tuple[NodeSpec, ...]:
    """The web servers that proxy to this application server."""
    return tuple(w for w in lab.web_nodes if node in lab.upstream_apps(w))


def listen_address(lab: Lab, node: NodeSpec) -> str:
    """Loopback when only the node's own web server uses it; else the node's address (its own web server
    then reaches it there too)."""
    others = [w for w in web_clients(lab, node) if w != node]
    return str(node.address) if others else "127.0.0.1"


def endpoint(lab: Lab, node: NodeSpec) -> str:
    """host:port where the application server on this node answers: what gunicorn binds, what Nginx proxies to."""
    return f"{listen_address(lab, node)}:{APP_PORT}"


def environment(inputs: RoleInputs) -> str:
    """The application's settings (a secret file, 0640): where it writes, where it reads, its account."""
    lab, node = inputs.lab, inputs.node
    return render(
        "app/app.env.j2",
        node=node,
        primary_file=PRIMARY_FILE,
        read_file=READ_FILE,
        db_port=DB_PORT,
        database=DATABASE,
        app_user=APP_USER,
        app_password=inputs.secrets.get("db_app", ""),
        db_ca=DB_CA if inputs.tls is not None else None,
        metrics_port=APP_METRICS_PORT if lab.has("monitoring") else None,
        write_timeout_ms=write_timeouts.app_write_ms(lab),
        read_own_writes_s=lab.read_own_writes_s if inputs.options.read_own_writes_s is None else inputs.options.read_own_writes_s,
    )


def unit(inputs: RoleInputs) -> str:
    """The systemd unit that runs gunicorn."""
    return render(
        "systemd/foobar-app.service.j2",
        node=inputs.node,
        domain=inputs.lab.domain,
        system_user=APP_SYSTEM_USER,
        app_root=APP_ROOT,
        app_env=APP_ENV,
        app_workers=APP_WORKERS,
        binds=[endpoint(inputs.lab, inputs.node)] + ([f"0.0.0.0:{APP_METRICS_PORT}"] if inputs.lab.has("monitoring") else []),
    )


def steps(inputs: RoleInputs) -> list[Step]:
    """gunicorn with several workers behind Nginx, as a systemd service."""
    ca: list[Step] = [ConfigFile(DB_CA, inputs.tls.ca_pem)] if inputs.tls is not None else []
    return [
        Packages(PACKAGES),
        SystemUser(APP_SYSTEM_USER, APP_ROOT),
        Release(application_files(), foobar_app.__version__),
        *ca,
        ConfigFile(APP_ENV, environment(inputs), mode="0640", owner=f"root:{APP_SYSTEM_USER}", on_change=(TRY_RESTART,)),
        ConfigFile(PRIMARY_FILE, f"{inputs.lab.primary.address}\n", name="the primary's address"),
        ConfigFile(READ_FILE, f"{inputs.lab.read_database(inputs.node).address}\n", name="the read database's address"),
        *([] if inputs.tls is not None else [Absent(TLS_DIR)]),
        ConfigFile(UNIT, unit(inputs), validate="systemd-analyze verify {path}", on_change=("systemctl daemon-reload", TRY_RESTART)),
        Service(APP_SERVICE),
        Absent(APP_DELAY_FILE, name="no drill's delay"),
    ]


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    clients = tuple(w.name for w in web_clients(lab, node) if w != node)
    return (Port(APP_PORT, APP_SERVICE, "application server", "node" if clients else "loopback", clients),)


def post_message(live: LabView) -> str:
    """A message posted through the site is acknowledged (stored on the primary)."""
    answer = live.site.post_message(live.marker)
    expect(answer.status_code == 201, f"HTTP {answer.status_code} {answer.text.strip()[:120]}")
    return f"HTTP 201 via {served_by(answer) or '?'}: {live.marker!r}"


ROLE = Role(
    name="app",
    label="gunicorn + the application",
    packages=PACKAGES,
    wave=2,
    steps=steps,
    ports=ports,
    checks=(SiteCheck("site.write", "a message posted through the site", post_message),),
    rules=(
        Rule(
            "an application server needs a database primary to write to",
            lambda lab: problems_where(lab.app_nodes, lambda n: None if lab.with_role("db_primary") else "no node has the role db_primary"),
        ),
    ),
)
