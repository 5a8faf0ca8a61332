"""The provider interface: where nodes come from. Roles, checks and drills use only this."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass

from ..executors import Outcome, SshParams
from ..steps import Runner


class ProviderError(RuntimeError):
    """The provider cannot do what was asked; the message says what to do."""


def must(outcome: Outcome) -> None:
    """Raise ProviderError with the command's error when a provider's own command failed."""
    if not outcome.ok:
        raise ProviderError(outcome.error())


@dataclass(frozen=True)
class NodeStatus:
    """One node as the provider sees it."""

    name: str
    state: str  # running, stopped or missing
    address: str
    machine: str  # the provider's own name for it (container, VM or host)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class Provider(ABC):
    """Makes the lab's nodes exist, cuts their power, and tells how to reach them."""

    name: str = "provider"

    @abstractmethod
    def preflight(self) -> None:
        """Raise ProviderError (one line) when this machine cannot run the provider."""

    @abstractmethod
    def up(self, runner: Runner) -> bool:
        """Create what is missing and start every node; False when a step failed."""

    @abstractmethod
    def stop_hard(self, node: str) -> None:
        """Cut a node's power: no clean shutdown."""

    @abstractmethod
    def start(self, node: str) -> None:
        """Start a stopped node and wait until it is up."""

    @abstractmethod
    def destroy(self, runner: Runner) -> bool:
        """Remove every node and everything the lab made on the host; safe to repeat."""

    @abstractmethod
    def status(self) -> list[NodeStatus]:
        """Each node's state and address."""

    @abstractmethod
    def ssh_params(self, node: str) -> SshParams:
        """How to reach a node over SSH."""
