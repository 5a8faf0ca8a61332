"""Existing servers (a course's lb-01, web-01, web-02 or cloud VMs), reached over SSH from an inventory.

Nothing is created or destroyed: the servers exist. A drill's power cut cannot be done safely on a
real server, so the closest safe fault stands in for it: a firewall table on the node that drops all
its traffic except SSH, removed again by start().
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import paramiko

from .. import parallel
from ..console import Console
from ..executors import Outcome, RemoteExecutor, SshParams
from ..inventory import Inventory
from ..resources.packages import NodeImage
from ..statefolder import LabFolder
from ..steps import Failure, Runner
from ..topology import Lab
from .base import NodeStatus, Provider, ProviderError

CUT_TABLE = "foobar_powercut"


def cut_rules(ssh_port: int) -> str:
    """nft commands for the stand-in power cut: drop everything but SSH on the port the lab logs in through."""
    return (
        f"add table inet {CUT_TABLE}; "
        f"add chain inet {CUT_TABLE} input {{ type filter hook input priority -10; policy drop; }}; "
        f"add rule inet {CUT_TABLE} input iif lo accept; "
        f"add rule inet {CUT_TABLE} input tcp dport {ssh_port} accept; "
        f"add chain inet {CUT_TABLE} output {{ type filter hook output priority -10; policy drop; }}; "
        f"add rule inet {CUT_TABLE} output oif lo accept; "
        f"add rule inet {CUT_TABLE} output tcp sport {ssh_port} accept"
    )


class SshProvider(Provider):
    """The lab's nodes are servers that already exist; the inventory says how to reach them."""

    name = "ssh"

    def __init__(self, lab: Lab, inventory: Inventory, state_dir: Path, console: Console) -> None:
        self.lab = lab
        self.inventory = inventory
        self.state_dir = state_dir
        self.console = console

    def preflight(self) -> None:
        """The inventory was validated when it was loaded (addresses, users, key files)."""

    def network_present(self) -> bool:
        """Existing servers are reached however this host routes to them: that is where they are."""
        return True

    def ssh_params(self, node: str) -> SshParams:
        host = self.inventory.hosts[node]
        return SshParams(
            host=str(host.address), user=host.user, key_file=host.key_file, port=host.port, sudo=host.sudo,
            known_hosts=LabFolder(self.state_dir).known_hosts, trust_new_hosts=True,
        )

    def up(self, runner: Runner, images: Mapping[str, NodeImage]) -> bool:
        self.console.heading(f"host: lab {self.lab.name} on existing servers (inventory {self.inventory.source})")
        return all(parallel.each([n.name for n in self.lab.nodes], lambda n: self._reachable(runner, n)))

    def _reachable(self, runner: Runner, node: str) -> bool:
        try:
            self._run(node, "systemctl is-system-running --wait >/dev/null 2>&1 || systemctl is-system-running")
        except ProviderError as err:
            runner.console.result(node, "reachable", "failed", str(err))
            runner.failures.append(Failure(node, "reachable", str(err)))
            return False
        params = self.ssh_params(node)
        runner.console.result(node, "reachable", "ok", f"{params.user}@{params.host}:{params.port}" + (" with sudo" if params.sudo else ""))
        return True

    def _run(self, node: str, command: str, console: Console | None = None) -> Outcome:
        """Run a command on a node; any way of failing becomes one line naming the host."""
        params = self.ssh_params(node)
        where = f"{node} ({params.user}@{params.host}:{params.port})"
        try:
            executor = RemoteExecutor(node, params, console or self.console)
        except paramiko.AuthenticationException:
            raise ProviderError(f"{where}: the key {params.key_file} was refused: check `key` and `user` in {self.inventory.source}") from None
        except (TimeoutError, OSError, paramiko.SSHException) as err:
            raise ProviderError(f"{where}: unreachable over SSH: {err}") from None
        try:
            if params.sudo and not executor.connection.run("sudo -n true", hide=True, warn=True, in_stream=False).ok:
                raise ProviderError(f"{where}: {params.user} cannot use sudo without a password: allow it, or log in as root")
            outcome = executor.run(command)
        finally:
            executor.close()
        if not outcome.ok:
            raise ProviderError(f"{where}: {outcome.error()}")
        return outcome

    def stop_hard(self, node: str) -> None:
        self.console.note(node, "existing server: the power cut is a firewall table on the node dropping all but SSH")
        self._run(node, f"nft '{cut_rules(self.ssh_params(node).port)}'")

    def start(self, node: str) -> None:
        self._run(node, f"nft delete table inet {CUT_TABLE}")

    def what_destroy_removes(self) -> str:
        return "the existing servers are left as they are; only their host keys known to this lab are forgotten"

    def destroy(self, runner: Runner) -> bool:
        self.console.note("host", f"existing servers are left as they are; forgetting their host keys in {self.state_dir}")
        LabFolder(self.state_dir).known_hosts.unlink(missing_ok=True)
        return True

    def status(self) -> list[NodeStatus]:
        def one(node: str) -> NodeStatus:
            address = str(self.lab.node(node).address)
            try:
                probe = f"nft list table inet {CUT_TABLE} >/dev/null 2>&1 && echo cut; true"
                cut = self._run(node, probe, Console(quiet=True, stream=io.StringIO()))
            except ProviderError:
                return NodeStatus(node, "unreachable", address, address)
            return NodeStatus(node, "isolated" if "cut" in cut.stdout else "running", address, address)

        return parallel.each([n.name for n in self.lab.nodes], one)
