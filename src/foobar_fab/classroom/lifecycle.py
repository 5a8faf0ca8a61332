"""`class.up` and `class.down`: every student's project and lab, the entry point, the firewall, the bundles.

Each student's lab is built by the lab's own build (its steps written to the student's log, one line on
the terminal), so a second `class.up` changes nothing and says so, and a student added to the file gets
a lab while the others are only checked.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import build as building
from ..cluster.membership import LostForgotten, lost_members, member_states
from ..cluster.target import IncusTarget
from ..console import Console
from ..errors import LabError
from ..executors import LocalExecutor
from ..exercises.runner import drawer
from ..providers.incus import cluster as incus_cluster
from ..providers.incus.images import IncusImage
from ..providers.incus.instances import IncusBooted, IncusKnownHosts, Instance, InstanceGone, Network, NetworkGone, Running
from ..providers.incus.layout import IncusLayout, IncusPlace
from ..providers.incus.provider import require_daemon
from ..providers.lxc.containers import KeyPair, StateGone
from ..providers.lxc.image import BaseImage
from ..providers.lxc.layout import LxcLayout
from ..session import folder_of
from ..settings import Settings
from ..statefolder import write, write_private
from ..steps import Runner, Step
from ..waiting import wait_until
from . import entry, isolation
from .classfile import Classroom, Student
from .firewall import ClassFirewall, ClassFirewallGone
from .folder import ClassFolder
from .isolation import LabIsolated, LabIsolationGone
from .labs import log_file, on_the_labs_incus, prepare, student_session
from .projects import CLASS_KEY, Project, ProjectGone, project_config

Out = Callable[[str], None]
SETTLE_SECONDS = 90.0  # how long the cluster gets to call the members left online, after a lost one is removed


@dataclass
class LabOutcome:
    """How one student's lab came out of a class command."""

    student: str
    ok: bool
    changed: int
    seconds: float
    why: str = ""


def entry_layout(settings: Settings, classroom: Classroom) -> IncusLayout:
    lab = entry.entry_lab(classroom)
    return IncusLayout(LxcLayout.of(settings, lab), IncusPlace(classroom.project))


def student_project(settings: Settings, classroom: Classroom, student: Student) -> Project:
    lab = classroom.lab_of(student)
    layout = LxcLayout.of(settings, lab)
    config = project_config(classroom.name, layout.bridge, len(lab.nodes), classroom.memory)
    return Project(classroom.project_of(student), classroom.name, config)


def build_lab(settings: Settings, classroom: Classroom, student: Student) -> LabOutcome:
    """The student's project, then their lab, built as `invoke build` builds it (steps to the student's log)."""
    started = time.monotonic()
    prepare(settings, classroom, student)
    log = log_file(settings, classroom, student)
    write(log, "")
    with log.open("a") as stream:
        if not Runner(Console(quiet=True, stream=stream)).apply("host", LocalExecutor("host", Console(quiet=True, stream=stream)), [student_project(settings, classroom, student)]):
            return LabOutcome(student.name, False, 0, time.monotonic() - started, f"its project could not be made (see {log})")
        try:
            session = student_session(settings, classroom, student, stream)
            session.provider.preflight()
            route = IncusPlace.load(session.folder).via
            result = building.build(session)
            if result.ok and IncusPlace.load(session.folder).via != route:
                # Placed by this build on a member: built once more as from this host's address on the route to it,
                # the lab's admin address from now on (the secured design's firewall lets SSH in from there).
                session = student_session(settings, classroom, student, stream)
                again = building.build(session)
                result = dataclasses.replace(again, changed=result.changed + again.changed)
        except LabError as err:
            return LabOutcome(student.name, False, 0, time.monotonic() - started, str(err))
        if result.ok and classroom.cluster is not None and not Runner(session.console).apply("host", LocalExecutor("host", session.console), [kept_apart(classroom, student)]):
            return LabOutcome(student.name, False, result.changed, time.monotonic() - started, f"its network could not be kept apart (see {log})")
    why = "; ".join(str(f) for f in result.failures[:2]) or f"see {log}"
    return LabOutcome(student.name, result.ok, result.changed, time.monotonic() - started, "" if result.ok else why)


def kept_apart(classroom: Classroom, student: Student) -> LabIsolated:
    """On a cluster: the ACL that keeps the student's lab from the other labs and the members."""
    lab = classroom.lab_of(student)
    destination = isolation.elsewhere(classroom.subnet, lab.subnet, incus_cluster.members().values())
    return LabIsolated(acl_name(student), f"{lab.name}-br", classroom.name, destination)


def acl_name(student: Student) -> str:
    return f"{student.lab_name}-apart"


def forget_lost_members(settings: Settings, classroom: Classroom, console: Console, out: Out) -> bool:
    """On a cluster: members it reports offline are removed (their instances with them); the students whose
    labs ran there are named, and their labs are made again on the members left."""
    if classroom.cluster is None:
        return True
    target = IncusTarget(classroom.cluster, "the class's cluster")
    lost = set(lost_members(target))
    for student in classroom.students:
        member = IncusPlace.load(folder_of(settings, student.lab_name)).member
        if member in lost:
            out(f"  {student.name:<12} lab {student.lab_name:<12} was on {member}, which is lost: made again on the members left")
    if not lost:
        return True
    if not Runner(console).apply("cluster", LocalExecutor("cluster", console), [LostForgotten(target)]):
        return False
    # Until its heartbeats settle, the member left may call itself offline, and Incus places nothing on it.
    settled = wait_until(lambda: bool(member_states(target)) and all(m.online for m in member_states(target)), SETTLE_SECONDS, 1.0)
    if not settled:
        out(f"  the cluster did not report its members online within {SETTLE_SECONDS:g} s: run `invoke class.up` again")
    return settled


def entry_steps(settings: Settings, classroom: Classroom) -> list[Step]:
    """The entry point: its network, project, container, sshd and the students' accounts, listening on the host."""
    layout = entry_layout(settings, classroom)
    files = layout.files
    base_alias = layout.image_alias(files.base_stamp.read_text(), None) if files.base_stamp.exists() else ""
    public_key = files.key_file.with_suffix(".pub").read_text() if files.key_file.with_suffix(".pub").exists() else ""
    node = files.lab.node(entry.NODE)
    wanted = {}
    for student in classroom.students:
        key = LxcLayout.of(settings, classroom.lab_of(student)).key_file.with_suffix(".pub")
        if key.exists():
            wanted[student.name] = entry.key_line(classroom, student, key.read_text())
    return [
        Network(layout),
        Project(classroom.project, classroom.name, {CLASS_KEY: classroom.name}),
        IncusImage(layout, base_alias, None),
        Instance(layout, node, public_key, base_alias),
        Running(layout, node.name),
        IncusBooted(files, node.name, place=layout.place),
        IncusKnownHosts(files, files.lab.nodes, place=layout.place),
        entry.EntrySshd(layout),
        entry.EntryAccounts(layout, wanted),
        entry.EntryListens(layout, f"{classroom.entry_host}:{classroom.entry_port}"),
    ]


def build_labs(settings: Settings, classroom: Classroom, out: Out, parallel: int) -> list[LabOutcome]:
    """Every student's lab, `parallel` at a time after the first (which makes what the others share: the
    base image, role images and Incus images); one line a student as each ends, in the file's order after."""
    lock = threading.Lock()

    def one(student: Student) -> LabOutcome:
        outcome = build_lab(settings, classroom, student)
        state = f"up ({'nothing to change' if outcome.changed == 0 else f'{outcome.changed} changes'})" if outcome.ok else f"FAILED: {outcome.why}"
        with lock:
            out(f"  {student.name:<12} lab {student.lab_name:<12} {state} in {outcome.seconds:.1f} s")
        return outcome

    first, *rest = classroom.students
    outcomes = [one(first)]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        outcomes += list(pool.map(one, rest))
    return outcomes


def up(settings: Settings, classroom: Classroom, console: Console, out: Out, parallel: int = 1) -> list[LabOutcome]:
    """Every student's lab, then the entry point, the firewall and the bundles; one line a student."""
    runner = Runner(console)
    host = LocalExecutor("host", console)
    with on_the_labs_incus(classroom):
        require_daemon()
        if not forget_lost_members(settings, classroom, console, out):
            return []
        outcomes = build_labs(settings, classroom, out, parallel)
    files = entry_layout(settings, classroom).files
    if not runner.apply("host", host, [KeyPair(files), BaseImage(files)]):
        return outcomes
    if runner.apply("entry", host, entry_steps(settings, classroom)) and runner.apply("host", host, [ClassFirewall(classroom, ClassFolder.of(settings, classroom))]):
        write_bundles(settings, classroom)
    return outcomes


def write_bundles(settings: Settings, classroom: Classroom) -> None:
    """Each student's folder: their lab's key, an ssh_config through the entry point, and known_hosts."""
    folder = ClassFolder.of(settings, classroom)
    entry_files = entry_layout(settings, classroom).files
    entry_key = " ".join(entry_files.known_hosts.read_text().split()[1:3])
    for student in classroom.students:
        lab_files = LxcLayout.of(settings, classroom.lab_of(student))
        if not lab_files.key_file.exists() or not lab_files.known_hosts.exists():
            continue
        bundle = folder.bundle(student)
        write_private(bundle / "id_ed25519", lab_files.key_file.read_bytes())
        write(bundle / "id_ed25519.pub", lab_files.key_file.with_suffix(".pub").read_text())
        write(bundle / "ssh_config", entry.ssh_config(classroom, student))
        write(bundle / "known_hosts", entry.known_hosts(classroom, entry_key, lab_files.known_hosts.read_text()))


def down(settings: Settings, classroom: Classroom, console: Console, out: Out) -> bool:
    """Every student's lab and project, the entry point, the firewall and the class's folder are removed."""
    runner = Runner(console)
    host = LocalExecutor("host", console)
    ok = True
    with on_the_labs_incus(classroom):
        for student in classroom.students:
            removed = remove_lab(settings, classroom, student)
            ok = ok and removed
            out(f"  {student.name:<12} lab {student.lab_name:<12} {'removed' if removed else f'NOT removed: see {log_file(settings, classroom, student)}'}")
    layout = entry_layout(settings, classroom)
    gone: list[Step] = [
        InstanceGone(layout, entry.NODE),
        ProjectGone(classroom.project, classroom.name),
        NetworkGone(layout),
        StateGone(layout.files),
        ClassFirewallGone(classroom),
    ]
    ok = runner.apply("host", host, gone) and ok
    if ok:
        shutil.rmtree(ClassFolder.of(settings, classroom).path, ignore_errors=True)
    return ok


def remove_lab(settings: Settings, classroom: Classroom, student: Student) -> bool:
    """The student's lab (as `invoke destroy` removes it), then their project."""
    log = log_file(settings, classroom, student)
    write(log, "")
    with log.open("a") as stream:
        console = Console(quiet=True, stream=stream)
        try:
            prepare(settings, classroom, student)
            session = student_session(settings, classroom, student, stream)
            removed = session.provider.destroy(Runner(console))
        except LabError as err:
            stream.write(f"error: {err}\n")
            return False
        if removed:
            drawer(session).discard_key()
        gone: list[Step] = [ProjectGone(classroom.project_of(student), classroom.name), LabIsolationGone(acl_name(student), classroom.name)]
        return removed and Runner(console).apply("host", LocalExecutor("host", console), gone)

