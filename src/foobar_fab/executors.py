"""Where commands run: on the host (subprocess) or on a node (one Fabric connection per node).

Both print each command through the Console before it runs, so the learner sees every command.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paramiko
from fabric import Config, Connection

from . import statefolder
from .console import Console


@dataclass(frozen=True)
class Outcome:
    """What a command returned."""

    command: str
    exited: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exited == 0

    def error(self) -> str:
        """One line for a failure report: the exit status and the line that says what went wrong
        (the last one that mentions an error, else the last line)."""
        lines = [line.strip() for line in (self.stderr.strip() or self.stdout.strip()).splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        tail = (errors or lines or ["no output"])[-1]
        return f"`{self.command}` exited {self.exited}: {tail}"


@dataclass(frozen=True)
class SshParams:
    """How to reach a node over SSH, as a provider reports it."""

    host: str
    user: str
    key_file: Path
    port: int = 22
    known_hosts: Path | None = None
    sudo: bool = False
    trust_new_hosts: bool = False  # record a host key never seen before (existing servers), else refuse it


class Executor(Protocol):
    """Runs shell commands and writes files somewhere, printing them first."""

    label: str

    def run(self, command: str, kind: str = "run") -> Outcome: ...

    def put(self, path: str, content: str, mode: str = "0644") -> Outcome: ...


class LocalExecutor:
    """Runs commands on this machine (the host of the lab)."""

    def __init__(self, label: str, console: Console) -> None:
        self.label = label
        self.console = console

    def run(self, command: str, kind: str = "run") -> Outcome:
        self.console.command(self.label, kind, command)
        proc = subprocess.run(
            command, shell=True, capture_output=True, text=True, stdin=subprocess.DEVNULL, executable="/bin/bash"
        )
        return Outcome(command, proc.returncode, proc.stdout, proc.stderr)

    def put(self, path: str, content: str, mode: str = "0644") -> Outcome:
        self.console.command(self.label, "put", f"{path} (mode {mode}, {len(content.splitlines())} lines)")
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            with os.fdopen(fd, "w") as handle:
                handle.write(content)
            os.chmod(tmp, int(mode, 8))
            os.replace(tmp, target)
        except OSError as err:
            return Outcome(f"write {path}", 1, "", str(err))
        return Outcome(f"write {path}", 0, "", "")


class RemoteExecutor:
    """Runs commands on a node over one SSH connection, checking the node's host key."""

    def __init__(self, label: str, params: SshParams, console: Console, connect_timeout: float = 10.0) -> None:
        self.label = label
        self.console = console
        self.params = params
        self.connection = connect(params, connect_timeout)

    def run(self, command: str, kind: str = "run", timeout: float | None = None, show: bool = True) -> Outcome:
        """Run a shell command (as root through sudo where the login is not root); a timeout raises CommandTimedOut."""
        if show:
            self.console.command(self.label, kind, command)
        wrapped = f"sudo -n sh -c {shlex.quote(command)}" if self.params.sudo else command
        result = self.connection.run(wrapped, hide=True, warn=True, in_stream=False, timeout=timeout)
        return Outcome(command, result.exited, result.stdout, result.stderr)

    def put(self, path: str, content: str, mode: str = "0644") -> Outcome:
        """Upload to a private staging file (0600 before a byte is written), then install it with its mode."""
        self.console.command(self.label, "put", f"{path} (mode {mode}, {len(content.splitlines())} lines)")
        staging = f"/tmp/.foobar_fab.{os.getpid()}.{threading.get_ident()}.{Path(path).name}"
        try:
            sftp = self.connection.sftp()
            with sftp.open(staging, "wb") as handle:
                handle.chmod(0o600)
                handle.write(content.encode())
        except (OSError, paramiko.SSHException) as err:
            return Outcome(f"upload {path}", 1, "", str(err))
        install = f"install -D -m {mode} {shlex.quote(staging)} {shlex.quote(path)} && rm -f {shlex.quote(staging)}"
        wrapped = f"sudo -n sh -c {shlex.quote(install)}" if self.params.sudo else install
        result = self.connection.run(wrapped, hide=True, warn=True, in_stream=False)
        return Outcome(f"install {path}", result.exited, result.stdout, result.stderr)

    def close(self) -> None:
        self.connection.close()


def connect(params: SshParams, timeout: float = 10.0) -> Connection:
    """Open a Fabric connection that trusts only the lab's known_hosts (when the provider gives one)."""
    connection = Connection(
        params.host,
        user=params.user,
        port=params.port,
        config=Config(overrides={"load_ssh_configs": False}),
        connect_timeout=timeout,
        connect_kwargs={"key_filename": str(params.key_file), "look_for_keys": False, "allow_agent": False},
    )
    if params.known_hosts is not None:
        if params.known_hosts.exists():
            connection.client.load_host_keys(str(params.known_hosts))
        policy = paramiko.AutoAddPolicy() if params.trust_new_hosts else paramiko.RejectPolicy()
        connection.client.set_missing_host_key_policy(policy)
    connection.open()
    # Each command is a small request and a small answer: without TCP_NODELAY, Nagle's algorithm and
    # delayed ACKs hold every channel open for about 40 ms; with it, a command takes a few ms.
    connection.client.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if params.known_hosts is not None and params.trust_new_hosts:
        statefolder.make_folder(params.known_hosts.parent)
        connection.client.save_host_keys(str(params.known_hosts))
        statefolder.protect(params.known_hosts)
    return connection
