"""A lab session: the topology, the console and the provider that every task starts from."""

from __future__ import annotations

from dataclasses import dataclass

from . import providers, topology
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


def open_session(settings: Settings, console: Console | None = None) -> LabSession:
    """Load and validate lab.yml, then choose the provider; raises TopologyError or ProviderError."""
    console = console or Console(quiet=settings.quiet)
    lab, provider = providers.make(settings, topology.load(settings.lab_file), console)
    return LabSession(settings, lab, console, provider)
