"""Which design file a lab runs: recorded by the build, followed by every other command.

A lab is upgraded in place by building another design of the same lab (configs/secured.yml over the
seed's); from then on it runs that design, whatever file a command reads by default. The build records
the file (its path, and a digest of its text so that a copy of it elsewhere is still the same design).
A command given no design file uses the recorded one; one given another design of the same lab refuses,
naming both, unless it changes the design (build) or removes the lab (destroy). `invoke destroy`
removes the record with the rest of the lab's state folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from . import statefolder
from .statefolder import LabFolder
from .topology import TopologyError


@dataclass(frozen=True)
class Recorded:
    """The design file the lab was last built from."""

    path: Path
    digest: str

    def same(self, path: Path) -> bool:
        """Whether `path` is this design: the same file, or a file with the same text."""
        return self.path == path.resolve() or (bool(self.digest) and self.digest == digest(path))


@dataclass(frozen=True)
class Choice:
    """The design file a command uses, and one line for the user when it is not the file it would have read."""

    lab_file: Path
    note: str = ""


def digest(path: Path) -> str:
    """The SHA-256 of the file's text; empty when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def load(folder: LabFolder) -> Recorded | None:
    """The recorded design, or None for a lab never built (or built before designs were recorded)."""
    data = statefolder.read_json(folder.design)
    try:
        return Recorded(Path(data["path"]), str(data.get("digest", "")))
    except (KeyError, TypeError, AttributeError):
        return None


def save(folder: LabFolder, lab_file: Path) -> None:
    """Record the design file a build is making the lab from."""
    record = {"path": str(lab_file.resolve()), "digest": digest(lab_file)}
    statefolder.write(folder.design, statefolder.json_text(record))


def shown(path: Path) -> str:
    """A path as the user gives it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def choose(recorded: Recorded | None, lab_name: str, lab_file: Path, named: bool, any_design: bool = False) -> Choice:
    """The design file a command acts with.

    `lab_file` is the file given (`named`: on the command line or by the caller) or read by default;
    `any_design` is true for the commands that may name any design of the lab: build (which upgrades or
    downgrades it in place), destroy (which removes it whatever it runs) and a listing that only reads the
    file. Raises TopologyError when another design of the lab is named to any other command.
    """
    if recorded is None or recorded.same(lab_file):
        return Choice(lab_file)
    if named:
        if any_design:
            return Choice(lab_file)
        raise TopologyError(
            f"lab {lab_name} runs {shown(recorded.path)}, not {shown(lab_file)}: leave out --lab-file "
            f"(or `invoke build --lab-file {shown(lab_file)}` to change the lab's design)"
        )
    if not recorded.path.is_file():
        return Choice(lab_file, f"lab {lab_name} was built from {shown(recorded.path)}, which is gone: using {shown(lab_file)}")
    return Choice(recorded.path, f"lab {lab_name} runs {shown(recorded.path)}")
