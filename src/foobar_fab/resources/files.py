"""Files by checksum, validated before they go live, reloading their service only when they changed."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass

from ..constants import STAGING
from ..executors import Outcome
from ..steps import Plan, Put, Run, Step, change, ok


@dataclass
class ConfigFile(Step):
    """A file with exactly this content and mode.

    The new content is uploaded to a staging path first, checked with `validate` (a command with
    `{path}` for the staged file) and only then moved into place; `on_change` commands (a reload)
    run only when the file changed.
    """

    path: str
    content: str
    mode: str = "0644"
    validate: str | None = None
    on_change: tuple[str, ...] = ()
    owner: str = "root:root"
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.content.encode()).hexdigest()

    def probe(self) -> str:
        return f"sha256sum {self.path} 2>/dev/null; stat -c '%a %U:%G' {self.path} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        found = probe.stdout.split()
        same_content = bool(found) and found[0] == self.checksum
        same_mode = found[2:4] == [self.mode.lstrip("0") or "0", self.owner] if len(found) >= 4 else False
        if same_content and same_mode:
            return ok(f"up to date (sha256 {self.checksum[:12]})")
        if same_content:
            return change(
                f"mode set to {self.mode} {self.owner}",
                Run(f"chown {self.owner} {self.path} && chmod {self.mode} {self.path}"),
            )
        staged = posixpath.join(STAGING, self.path.strip("/").replace("/", "_"))
        actions: list[Run | Put] = [Put(staged, self.content, self.mode)]
        if self.validate:
            actions.append(Run(self.validate.format(path=staged)))
        actions.append(Run(f"chown {self.owner} {staged} && mkdir -p {posixpath.dirname(self.path)} && mv {staged} {self.path}"))
        actions += [Run(command) for command in self.on_change]
        what = "written" if not found else "updated"
        return change(f"{what} (sha256 {self.checksum[:12]})", *actions)


@dataclass
class Absent(Step):
    """A path that must not exist (e.g. a distribution's default site)."""

    path: str
    on_change: tuple[str, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.path} absent"

    def probe(self) -> str:
        return f"test -e {self.path} -o -L {self.path} && echo present; true"

    def decide(self, probe: Outcome) -> Plan:
        if "present" not in probe.stdout:
            return ok("absent")
        return change("removed", Run(f"rm -rf {self.path}"), *(Run(c) for c in self.on_change))
