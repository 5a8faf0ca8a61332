"""A lab session: the design, the console and the provider that every task starts from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import dbstate, design, lab_secrets, providers
from .console import Console
from .providers import Provider
from .settings import Settings
from .topology import Lab


@dataclass
class LabSession:
    """Everything a task needs to act on one lab."""

    settings: Settings
    lab: Lab
    console: Console
    provider: Provider

    @property
    def state_dir(self) -> Path:
        """The lab's own folder: keys, known_hosts, secrets, reports."""
        return self.settings.state_dir(self.lab.name)


def current_design(settings: Settings) -> Lab:
    """The design as the lab runs it now: the file, checked, with the recorded primary and fenced nodes
    applied (after a promotion); raises TopologyError. Nothing is reached: no node, no provider."""
    designed = design.load(settings.lab_file)
    return dbstate.apply(designed, dbstate.load(settings.state_dir(designed.name)))


def open_session(settings: Settings, console: Console | None = None) -> LabSession:
    """Load and check the design, apply the lab's recorded primary (after a promotion), then choose the
    provider; raises TopologyError or ProviderError.

    The lab's passwords, where a build made them, are masked in everything the session prints.
    """
    console = console or Console(quiet=settings.quiet)
    lab, provider = providers.make(settings, current_design(settings), console)
    console.secrets = list(lab_secrets.load(settings.state_dir(lab.name)).values())
    return LabSession(settings, lab, console, provider)
