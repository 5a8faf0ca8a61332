"""The class's folder on the host, beside the labs' state folders: `<state_dir>/class-<name>/` (0700).

It keeps each student's design file (so any `invoke` command can act on one student's lab with
`--lab-file`), the firewall rules last loaded, the instructor page's token, and each student's bundle: the key, ssh_config and
known_hosts that reach their lab through the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..settings import Settings
from .classfile import Classroom, Student


@dataclass(frozen=True)
class ClassFolder:
    """Where a class keeps what it made on the host."""

    path: Path

    @classmethod
    def of(cls, settings: Settings, classroom: Classroom) -> ClassFolder:
        return cls(settings.state_root / f"class-{classroom.name}")

    def lab_file(self, student: Student) -> Path:
        """The student's design: the class's design under their lab's name and subnet."""
        return self.path / "labs" / f"{student.lab_name}.yml"

    def bundle(self, student: Student) -> Path:
        """What the student is given: their key, ssh_config and known_hosts."""
        return self.path / "students" / student.name

    @property
    def web_token(self) -> Path:
        """The token of the instructor's page (`invoke class.web`), 0600."""
        return self.path / "web-token"

    @property
    def firewall(self) -> Path:
        return self.path / "firewall.nft"
