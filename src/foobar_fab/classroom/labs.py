"""Each student's lab: its design file in the class's folder, its Incus place, and a session to act on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ..cluster.target import CONF_VARIABLE
from ..console import Console
from ..providers.incus.layout import IncusPlace
from ..session import LabSession, folder_of, open_session
from ..settings import Settings
from ..statefolder import write
from ..topology import to_yaml
from .classfile import Classroom, Student
from .folder import ClassFolder

PROVIDER = "incus"


def lab_settings(settings: Settings, classroom: Classroom, student: Student) -> Settings:
    """The settings that name the student's lab: its design file, on the incus provider."""
    return settings.but(lab_file=ClassFolder.of(settings, classroom).lab_file(student), provider=PROVIDER, lab_file_named=True)


def place(classroom: Classroom, student: Student, member: str | None = None, via: str | None = None) -> IncusPlace:
    """The student's lab's place in Incus: their project, each node limited to the class's memory (and, on a
    cluster, the member it was placed on, with the address this host routes it through)."""
    return IncusPlace(classroom.project_of(student), member, classroom.memory, via)


def prepare(settings: Settings, classroom: Classroom, student: Student) -> Path:
    """Write the student's design file and Incus place (keeping the member the lab was placed on); return the file."""
    path = ClassFolder.of(settings, classroom).lab_file(student)
    write(path, f"# Made by `invoke class.up` from {classroom.source}: {student.name}'s lab.\n" + to_yaml(classroom.lab_of(student)))
    folder = folder_of(settings, student.lab_name)
    recorded = IncusPlace.load(folder)
    same = recorded.project == classroom.project_of(student)
    place(classroom, student, recorded.member if same else None, recorded.via if same else None).save(folder)
    return path


def student_session(settings: Settings, classroom: Classroom, student: Student, stream: TextIO | None = None) -> LabSession:
    """A session on the student's lab (its console written to `stream`, e.g. the student's log)."""
    console = Console(quiet=True) if stream is None else Console(quiet=True, stream=stream)
    return open_session(lab_settings(settings, classroom, student), console, any_design=True)


def log_file(settings: Settings, classroom: Classroom, student: Student) -> Path:
    """Where the last class command that built or removed the student's lab wrote its steps."""
    return ClassFolder.of(settings, classroom).path / "logs" / f"{student.name}.log"


@contextmanager
def on_the_labs_incus(classroom: Classroom) -> Iterator[None]:
    """While the students' labs are acted on, every `incus` goes to the class's cluster (its client folder as
    INCUS_CONF), if it has one; the entry point and this host's firewall stay on this host's Incus."""
    if classroom.cluster is None:
        yield
        return
    before = os.environ.get(CONF_VARIABLE)
    os.environ[CONF_VARIABLE] = str(classroom.cluster)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CONF_VARIABLE, None)
        else:
            os.environ[CONF_VARIABLE] = before
