"""A class file, loaded and checked: the class's name, the design every student gets, the network the labs
are carved from, each student's limits, where the entry point listens, and the students.

    class:
      name: ops                 # 1-6 lowercase letters or digits: every lab's name starts with it
      design: configs/lab.yml   # the design each student's lab is made from
      subnet: 10.190.0.0/16     # the first block for the entry point, then one block a student, in order
      entry: 127.0.0.1:2222     # where the students' SSH entry point listens (loopback unless set)
      cluster: ~/incus-cluster  # optional: an Incus client folder whose default remote is a cluster (the
                                # labs go there, the entry point stays here); without it, this host's Incus
    limits:                     # each student's Incus project
      memory: 512MiB            # each node's memory; the project allows the design's nodes that much each
    students: [alice, bob]      # their lab is named class + student: opsalice (12 characters at most)

Each failure is one line naming the file, the field and what to write instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import design
from ..errors import LabError
from ..settings import PROJECT_ROOT
from ..topology import Lab, relocate

CLASS_NAME = re.compile(r"[a-z][a-z0-9]{0,5}")
STUDENT_NAME = re.compile(r"[a-z][a-z0-9]*")
MEMORY = re.compile(r"[1-9][0-9]*(MiB|GiB)")
LAB_NAME_MAX = 12  # the lab's bridge is `<lab>-br`, and Linux caps an interface's name at 15 characters
DEFAULT_ENTRY = "127.0.0.1:2222"
DEFAULT_MEMORY = "512MiB"


Failer = Callable[[str, str], "ClassError"]


class ClassError(LabError):
    """The class file cannot be used, or the class cannot be acted on; the message says what to do."""


@dataclass(frozen=True)
class Student:
    """One student: their name, the name of their lab, and the lab's own subnet."""

    name: str
    lab_name: str
    subnet: ipaddress.IPv4Network


@dataclass(frozen=True)
class Classroom:
    """A class as its file describes it."""

    name: str
    source: Path
    design: Lab
    subnet: ipaddress.IPv4Network
    entry_host: str
    entry_port: int
    memory: str
    students: tuple[Student, ...]
    cluster: Path | None = None  # the Incus client folder (INCUS_CONF) of the cluster the labs run on; None: this host's Incus

    @property
    def entry_subnet(self) -> ipaddress.IPv4Network:
        """The entry point's network: the class subnet's first block."""
        return next(self.subnet.subnets(new_prefix=self.design.subnet.prefixlen))

    def student(self, name: str) -> Student:
        for student in self.students:
            if student.name == name:
                return student
        raise ClassError(f"{self.source}: no student named {name!r} (students: {', '.join(s.name for s in self.students)})")

    def lab_of(self, student: Student) -> Lab:
        """The student's lab: the class's design under the student's lab name and subnet."""
        return relocate(self.design, student.lab_name, str(student.subnet))

    @property
    def project(self) -> str:
        """The class's own Incus project (its entry point)."""
        return f"{self.name}-class"

    def project_of(self, student: Student) -> str:
        return f"{self.name}-{student.name}"


def load(path: Path | str) -> Classroom:
    """Read and check a class file; raise ClassError on the first problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ClassError(f"{path}: cannot read the class file: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ClassError(f"{path}: YAML error: {getattr(err, 'problem', None) or 'invalid YAML'}") from None
    return parse(data, path)


def parse(data: Any, source: Path) -> Classroom:
    """Check already-parsed YAML data and make a Classroom of it."""

    def fail(field: str, problem: str) -> ClassError:
        return ClassError(f"{source}: {field}: {problem}")

    if not isinstance(data, dict) or set(data) - {"class", "limits", "students"}:
        raise fail("(top level)", "expected a mapping with 'class', 'students' and optionally 'limits'")
    head = data.get("class")
    if not isinstance(head, dict) or set(head) - {"name", "design", "subnet", "entry", "cluster"}:
        raise fail("class", "expected a mapping with name, design, subnet and optionally entry and cluster")
    name = str(head.get("name", ""))
    if not CLASS_NAME.fullmatch(name):
        raise fail("class.name", f"{name!r} must be 1-6 lowercase letters or digits, starting with a letter")
    lab = _design(head.get("design"), source, fail)
    subnet = _subnet(head.get("subnet"), lab, fail)
    entry_host, entry_port = _entry(str(head.get("entry", DEFAULT_ENTRY)), fail)
    limits = data.get("limits") or {}
    if not isinstance(limits, dict) or set(limits) - {"memory"}:
        raise fail("limits", "expected a mapping with memory (each node's, e.g. 512MiB)")
    memory = str(limits.get("memory", DEFAULT_MEMORY))
    if not MEMORY.fullmatch(memory):
        raise fail("limits.memory", f"{memory!r} is not a memory size such as 512MiB or 1GiB")
    names = data.get("students")
    if not isinstance(names, list) or not names:
        raise fail("students", "expected a list of student names, e.g. [alice, bob]")
    blocks = list(subnet.subnets(new_prefix=lab.subnet.prefixlen))[1:]
    if len(names) > len(blocks):
        raise fail("students", f"{len(names)} students but {subnet} holds {len(blocks)} labs of /{lab.subnet.prefixlen} beside the entry point: widen class.subnet")
    students: list[Student] = []
    for index, (raw, block) in enumerate(zip(names, blocks, strict=False)):
        student = str(raw)
        if not STUDENT_NAME.fullmatch(student):
            raise fail(f"students[{index}]", f"{student!r} must be lowercase letters or digits, starting with a letter")
        if len(name + student) > LAB_NAME_MAX:
            raise fail(f"students[{index}]", f"{student!r} is too long: the lab's name {name + student!r} must be at most {LAB_NAME_MAX} characters (it names its bridge)")
        if any(s.name == student for s in students):
            raise fail(f"students[{index}]", f"{student!r} is listed twice")
        students.append(Student(student, name + student, block))
    return Classroom(name, source, lab, subnet, entry_host, entry_port, memory, tuple(students), _cluster(head.get("cluster"), source, fail))


def _design(value: Any, source: Path, fail: Failer) -> Lab:
    if not isinstance(value, str) or not value:
        raise fail("class.design", "expected the path of a design file, e.g. configs/lab.yml")
    path = Path(value) if Path(value).is_absolute() else _project_path(value, source)
    try:
        return design.load(path)
    except LabError as err:
        raise fail("class.design", str(err)) from None


def _project_path(value: str, source: Path) -> Path:
    """A design path: beside the class file if it is there, else from the project's checkout (configs/...)."""
    beside = source.parent / value
    return beside if beside.exists() else PROJECT_ROOT / value


def _cluster(value: Any, source: Path, fail: Failer) -> Path | None:
    """The cluster's client folder (it must hold the client's config.yml), None when the class runs here."""
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    path = path if path.is_absolute() else source.parent / path
    if not (path / "config.yml").is_file():
        raise fail("class.cluster", f"{path} is no Incus client folder (no config.yml): make it with `INCUS_CONF={path} incus remote add NAME ADDRESS`, then `incus remote switch NAME`")
    return path


def _subnet(value: Any, lab: Lab, fail: Failer) -> ipaddress.IPv4Network:
    try:
        subnet = ipaddress.IPv4Network(str(value))
    except ValueError as err:
        raise fail("class.subnet", f"{value!r} is not an IPv4 network such as 10.190.0.0/16 ({err})") from None
    if subnet.prefixlen >= lab.subnet.prefixlen:
        raise fail("class.subnet", f"{subnet} must be wider than the design's /{lab.subnet.prefixlen} (the entry point and each lab get one block of it)")
    if not subnet.is_private:
        raise fail("class.subnet", f"{subnet} is not a private network: use one of 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
    return subnet


def _entry(value: str, fail: Failer) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        address = ipaddress.IPv4Address(host)
        number = int(port)
    except ValueError:
        raise fail("class.entry", f"{value!r} is not ADDRESS:PORT such as 127.0.0.1:2222") from None
    if not 1024 <= number <= 65535:
        raise fail("class.entry", f"port {number} must be between 1024 and 65535")
    return str(address), number
