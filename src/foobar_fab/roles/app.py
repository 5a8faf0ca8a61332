"""The application role: gunicorn running the project's application, deployed as a versioned release.

A release is the application's files under /srv/foobar/releases/<id>, where <id> is a checksum of
their content; /srv/foobar/current points at the live one. A re-run uploads and restarts only when
the files changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import foobar_app

from ..executors import Outcome
from ..resources.files import ConfigFile
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Plan, Put, Run, Step, change, ok
from ..templates import render
from .values import APP_ENV, APP_ROOT, RoleInputs

PACKAGES = ("gunicorn", "python3-flask", "python3-pymysql")

APP_SOURCE = Path(foobar_app.__file__).resolve().parent
UNIT = "/etc/systemd/system/foobar-app.service"
#: Restart the application server only if it exists and runs (the Service step starts it the first time).
TRY_RESTART = "if systemctl cat foobar-app >/dev/null 2>&1; then systemctl try-restart foobar-app; fi"
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


def steps(inputs: RoleInputs) -> list[Step]:
    """gunicorn with several workers behind Nginx, as a systemd service."""
    values = inputs.template_values()
    return [
        Packages(PACKAGES),
        SystemUser("foobar", APP_ROOT),
        Release(application_files(), foobar_app.__version__),
        ConfigFile(APP_ENV, render("app/app.env.j2", **values), mode="0640", owner="root:foobar", on_change=(TRY_RESTART,)),
        ConfigFile(
            UNIT,
            render("systemd/foobar-app.service.j2", **values),
            validate="systemd-analyze verify {path}",
            on_change=("systemctl daemon-reload", TRY_RESTART),
        ),
        Service("foobar-app"),
    ]
