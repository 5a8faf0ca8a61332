"""The one way the lab's tools run a command on a node: an SSH connection per node, opened when first
needed, checked against the lab's known_hosts, and closed together.

A connection that breaks or a command that times out (a node that just lost power) is dropped and
opened again on the next command, so one dead node never hangs an observer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import testinfra.backend
from testinfra.host import Host

from ..console import Console
from ..executors import Outcome, RemoteExecutor, SshParams

COMMAND_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0


class NodeUnreachable(RuntimeError):
    """A node did not answer over SSH, or a command on it timed out; the message names the node."""


class NodeShells:
    """SSH connections to the lab's nodes, one per node, shared by the threads of one command."""

    def __init__(self, ssh_params: Callable[[str], SshParams], console: Console, network_present: Callable[[], bool]) -> None:
        self.ssh_params = ssh_params
        self.console = console
        self.network_present = network_present
        self._executors: dict[str, RemoteExecutor] = {}
        self._hosts: dict[str, Host] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, node: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(node, threading.Lock())

    def _executor(self, node: str) -> RemoteExecutor:
        if not self.network_present():
            self._drop(node)
            raise NodeUnreachable(f"{node}: the lab's network is gone: no SSH to its addresses")
        if node not in self._executors:
            params = self.ssh_params(node)
            try:
                self._executors[node] = RemoteExecutor(node, params, self.console, connect_timeout=CONNECT_TIMEOUT)
            except Exception as err:  # paramiko raises many kinds; all mean "cannot reach the node"
                raise NodeUnreachable(f"{node}: cannot reach {params.user}@{params.host}:{params.port} over SSH: {type(err).__name__}: {err}") from None
        return self._executors[node]

    def run(self, node: str, command: str, kind: str = "probe", timeout: float = COMMAND_TIMEOUT, show: bool = True) -> Outcome:
        """Run a command on a node and return its outcome (a failing command is an outcome, not an error)."""
        with self._lock(node):
            executor = self._executor(node)
            try:
                return executor.run(command, kind, timeout=timeout, show=show)
            except Exception as err:  # a lost connection or a timeout: forget it, report the node
                self._drop(node)
                raise NodeUnreachable(f"{node}: `{command}` did not complete: {type(err).__name__}: {err}") from None

    def put(self, node: str, path: str, content: str, mode: str = "0600") -> None:
        """Write a whole file on a node (private by default); raise NodeUnreachable if it cannot be written. A
        connection that failed to write is forgotten and the write tried once more on a new one (a node that
        lost power and came back leaves a connection that looks open until it is used)."""
        error = ""
        for _ in range(2):
            with self._lock(node):
                outcome = self._executor(node).put(path, content, mode)
                if outcome.ok:
                    return
                error = outcome.error()
                self._drop(node)
        raise NodeUnreachable(f"{node}: {error}")

    def must(self, node: str, command: str, kind: str = "run", timeout: float = COMMAND_TIMEOUT, show: bool = True) -> str:
        """Run a command that must succeed; return its output, or raise NodeUnreachable with its error."""
        outcome = self.run(node, command, kind, timeout, show)
        if not outcome.ok:
            raise NodeUnreachable(f"{node}: {outcome.error()}")
        return outcome.stdout

    @contextmanager
    def host(self, node: str) -> Iterator[Host]:
        """A testinfra Host on the node's connection, printing each command it runs.

        One per connection: what testinfra learns about the node (its system, where commands are) is
        learnt once, not again for every check.
        """
        with self._lock(node):
            executor = self._executor(node)
            params = executor.params
            host = self._hosts.get(node)
        if host is None:
            host = self._testinfra_host(node, executor, params)
            with self._lock(node):
                self._hosts[node] = host
        yield host

    def _testinfra_host(self, node: str, executor: RemoteExecutor, params: SshParams) -> Host:
        backend = testinfra.backend.get_backend(f"paramiko://{params.user}@{params.host}:{params.port}", sudo=params.sudo)
        backend.__dict__["client"] = executor.connection.client  # testinfra's cached_property, filled with ours
        plain_run = backend.run

        def visible_run(command: str, *args: str, **kwargs: Any) -> Any:
            self.console.command(node, "check", backend.get_command(command, *args))
            with self._lock(node):
                return plain_run(command, *args, **kwargs)

        backend.run = visible_run
        return Host(backend)

    def _drop(self, node: str) -> None:
        self._hosts.pop(node, None)
        executor = self._executors.pop(node, None)
        if executor is not None:
            try:
                executor.close()
            except Exception:  # closing a dead connection may fail; it is gone either way
                pass

    def close(self) -> None:
        for node in list(self._executors):
            self._drop(node)
