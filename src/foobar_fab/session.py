"""A lab session: the design, the console and the provider that every task starts from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import dbstate, design, designstate, lab_secrets, providers
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
    note: str = ""  # one line when the design used is not the file the command would have read ("lab foobar runs ...")

    @property
    def state_dir(self) -> Path:
        """The lab's own folder: keys, known_hosts, secrets, reports."""
        return self.settings.state_dir(self.lab.name)


def running_design(settings: Settings, any_design: bool = False) -> tuple[Settings, Lab, str]:
    """The design the command acts with (see designstate.choose), the settings naming its file, and the line
    that says so when it is not the file the command would have read; raises TopologyError."""
    given = design.load(settings.lab_file)
    recorded = designstate.load(settings.state_dir(given.name))
    choice = designstate.choose(recorded, given.name, settings.lab_file, settings.lab_file_named, any_design)
    chosen = given if choice.lab_file == settings.lab_file else design.load(choice.lab_file)
    if chosen.name != given.name:
        note = f"lab {given.name} was built from {designstate.shown(choice.lab_file)}, which now describes lab {chosen.name}: using {designstate.shown(settings.lab_file)}"
        return settings.but(lab_file_named=True), given, note
    return settings.but(lab_file=choice.lab_file, lab_file_named=True), chosen, choice.note


def with_primary(settings: Settings, designed: Lab) -> Lab:
    """The design with the lab's recorded primary and fenced nodes applied (after a promotion)."""
    return dbstate.apply(designed, dbstate.load(settings.state_dir(designed.name)))


def current_design(settings: Settings, any_design: bool = False) -> Lab:
    """The design as the lab runs it now: the file it runs (see running_design), checked, with the recorded
    primary and fenced nodes applied; raises TopologyError. Nothing is reached: no node, no provider."""
    resolved, designed, _ = running_design(settings, any_design)
    return with_primary(resolved, designed)


def open_session(settings: Settings, console: Console | None = None, any_design: bool = False) -> LabSession:
    """Load and check the design the lab runs, apply the lab's recorded primary (after a promotion), then choose
    the provider; raises TopologyError or ProviderError. `any_design`: the command may name another design of
    the lab than the one it runs (build, destroy).

    The lab's passwords, where a build made them, are masked in everything the session prints.
    """
    console = console or Console(quiet=settings.quiet)
    settings, designed, note = running_design(settings, any_design)
    lab, provider = providers.make(settings, with_primary(settings, designed), console)
    console.secrets = list(lab_secrets.load(settings.state_dir(lab.name)).values())
    return LabSession(settings, lab, console, provider, note)
