"""A lab session: the design, the console and the provider that every task starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import dbstate, design, designstate, lab_secrets, pki, providers
from .console import Console
from .dbstate import DbState
from .providers import Provider
from .settings import Settings
from .statefolder import LabFolder
from .topology import Lab


@dataclass
class LabSession:
    """Everything a task needs to act on one lab, with what its state folder holds, read once: the design
    file it runs, its primary after a promotion, its passwords, and (when first asked for) its CA."""

    settings: Settings
    lab: Lab
    console: Console
    provider: Provider
    note: str = ""  # one line when the design used is not the file the command would have read ("lab foobar runs ...")
    db_state: DbState | None = None  # the recorded primary and fenced nodes (None: as designed)
    secrets: dict[str, str] = field(default_factory=dict)  # the lab's passwords (empty before the first build)
    _ca: pki.LabCA | None = field(default=None, repr=False)
    ca_made: bool = False  # the CA was made by this command (its first build with https)

    @property
    def folder(self) -> LabFolder:
        """The lab's state folder: keys, known_hosts, secrets, reports."""
        return folder_of(self.settings, self.lab.name)

    @property
    def state_dir(self) -> Path:
        """The lab's own folder, as a path (for messages and the drills' reports)."""
        return self.folder.path

    def ca(self) -> pki.LabCA:
        """The lab's CA, opened once (made if the lab has none yet); raises PkiError."""
        if self._ca is None:
            self._ca, self.ca_made = pki.LabCA.open(self.folder)
        return self._ca


def folder_of(settings: Settings, lab_name: str) -> LabFolder:
    """A lab's state folder under these settings."""
    return LabFolder(settings.state_dir(lab_name))


def running_design(settings: Settings, any_design: bool = False) -> tuple[Settings, Lab, str]:
    """The design the command acts with (see designstate.choose), the settings naming its file, and the line
    that says so when it is not the file the command would have read; raises TopologyError."""
    given = design.load(settings.lab_file)
    recorded = designstate.load(folder_of(settings, given.name))
    choice = designstate.choose(recorded, given.name, settings.lab_file, settings.lab_file_named, any_design)
    chosen = given if choice.lab_file == settings.lab_file else design.load(choice.lab_file)
    if chosen.name != given.name:
        note = f"lab {given.name} was built from {designstate.shown(choice.lab_file)}, which now describes lab {chosen.name}: using {designstate.shown(settings.lab_file)}"
        return settings.but(lab_file_named=True), given, note
    return settings.but(lab_file=choice.lab_file, lab_file_named=True), chosen, choice.note


def current_design(settings: Settings, any_design: bool = False) -> Lab:
    """The design as the lab runs it now: the file it runs (see running_design), checked, with the recorded
    primary and fenced nodes applied; raises TopologyError. Nothing is reached: no node, no provider."""
    resolved, designed, _ = running_design(settings, any_design)
    return dbstate.apply(designed, dbstate.load(folder_of(resolved, designed.name)))


def open_session(settings: Settings, console: Console | None = None, any_design: bool = False) -> LabSession:
    """Load and check the design the lab runs, apply the lab's recorded primary (after a promotion), then choose
    the provider; raises TopologyError or ProviderError. `any_design`: the command may name another design of
    the lab than the one it runs (build, destroy).

    The lab's passwords, where a build made them, are masked in everything the session prints.
    """
    console = console or Console(quiet=settings.quiet)
    settings, designed, note = running_design(settings, any_design)
    folder = folder_of(settings, designed.name)
    state = dbstate.load(folder)
    lab, provider = providers.make(settings, dbstate.apply(designed, state), console)
    secrets = lab_secrets.load(folder)
    console.secrets = list(secrets.values())
    return LabSession(settings, lab, console, provider, note, state, secrets)
