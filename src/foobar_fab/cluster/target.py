"""Which Incus to talk to: the host's own daemon, or a cluster through a client folder of the class's own.

A cluster is reached as an Incus remote recorded in a folder the class owns (INCUS_CONF), never in
the user's ~/.config/incus: its client certificate is trusted by the cluster, the remote is the
folder's default, and the public image remote is removed, so no command through it can fetch a
remote image. The same command words then work on either target.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..console import Console
from ..executors import LocalExecutor, Outcome
from ..providers.incus.layout import incus

CONF_VARIABLE = "INCUS_CONF"


@dataclass(frozen=True)
class IncusTarget:
    """The Incus daemon or cluster a class's commands go to."""

    conf: Path | None = None  # the client folder (INCUS_CONF); None: the local daemon over its unix socket
    remote: str = "local"  # the remote those commands reach (the folder's default remote)

    @classmethod
    def local(cls) -> IncusTarget:
        """The daemon on this machine, as the incus provider reaches it."""
        return cls()

    @classmethod
    def cluster(cls, conf: Path, remote: str) -> IncusTarget:
        """A cluster reached through the remote `remote` of the client folder `conf`."""
        return cls(conf, remote)

    @property
    def is_local(self) -> bool:
        return self.conf is None

    def __str__(self) -> str:
        return "the local Incus daemon" if self.conf is None else f"Incus cluster {self.remote} (client folder {self.conf})"

    def command(self, *words: str) -> str:
        """A shell command line running `incus` with these words on this target."""
        if self.conf is None:
            return incus(*words)
        return f"{CONF_VARIABLE}={shlex.quote(str(self.conf))} {incus(*words)}"

    def shell(self, command: str) -> str:
        """A shell command whose every `incus` goes to this target (the command itself unchanged on the local one)."""
        if self.conf is None:
            return command
        return f"export {CONF_VARIABLE}={shlex.quote(str(self.conf))}; {command}"

    def environment(self) -> dict[str, str]:
        """The environment for a subprocess running `incus` on this target (the caller's INCUS_CONF is never used)."""
        env = {k: v for k, v in os.environ.items() if k != CONF_VARIABLE}
        if self.conf is not None:
            env[CONF_VARIABLE] = str(self.conf)
        return env

    def json(self, *words: str, timeout: float = 60) -> Any:
        """The JSON an `incus` command prints on this target (quietly), None when it fails or says nothing."""
        try:
            proc = subprocess.run(["incus", *words], capture_output=True, text=True, timeout=timeout, env=self.environment())
        except (OSError, subprocess.TimeoutExpired):
            return None
        if proc.returncode != 0 or not proc.stdout.strip():
            return None
        try:
            return json.loads(proc.stdout)
        except ValueError:
            return None


class TargetExecutor(LocalExecutor):
    """Runs host commands whose `incus` goes to a target: the incus provider's steps, unchanged, on a cluster."""

    def __init__(self, label: str, console: Console, target: IncusTarget) -> None:
        super().__init__(label, console)
        self.target = target

    def run(self, command: str, kind: str = "run") -> Outcome:
        return super().run(self.target.shell(command), kind)
