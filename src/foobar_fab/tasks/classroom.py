"""`invoke class.*`: a class of students, one lab each on Incus, run by the instructor."""

from __future__ import annotations

import io
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from invoke import Context, task
from invoke.exceptions import Exit

from .. import pki
from ..classroom import classfile, grades, lifecycle
from ..classroom import status as class_status
from ..classroom.classfile import Classroom, Student
from ..classroom.folder import ClassFolder
from ..classroom.labs import on_the_labs_incus, student_session
from ..console import Console
from ..errors import LabError
from ..exercises import runner
from ..exercises.catalog import EXERCISES
from ..live import live
from ..providers.incus import IncusLayout, IncusProvider
from ..providers.incus import cluster as incus_cluster
from ..providers.lxc import LxcLayout
from ..settings import PROJECT_ROOT, Settings
from ..statefolder import LabFolder
from ..web import access, serve
from ..web.app import Snapshots
from ..web.classpage import Rows, create_class_app, student_path
from ..web.lab import lab_page
from ..web.snapshot import Absent, Sampler
from .common import YES_HELP, confirm, settings
from .options import LISTEN, MINUTES, PORT, Choice, FilePath, Number, options

CLASS_FILE = "configs/class.yml"
CLASS_HELP = {"class-file": f"the class file: its name, design, subnet and students (default: {CLASS_FILE})"}
CLASS_FILE_KIND = FilePath("an existing class file, e.g. configs/class.yml", must_exist=True, sample=CLASS_FILE)


def opened(c: Context, class_file: str | None) -> tuple[Settings, Classroom]:
    """The settings and the class, its Incus checked usable (one line if not)."""
    s = settings(c)
    classroom = classfile.load(Path(class_file).resolve() if class_file else PROJECT_ROOT / CLASS_FILE)
    provider = IncusProvider(IncusLayout(LxcLayout.of(s, classroom.lab_of(classroom.students[0]))), Console(quiet=True))
    provider.preflight()  # this host's Incus: the entry point
    if classroom.cluster is not None:
        with on_the_labs_incus(classroom):
            if incus_cluster.answering() is None:
                raise Exit(f"error: {classroom.source}: class.cluster: the Incus that {classroom.cluster} reaches is no cluster, or does not answer", code=2)
    return s, classroom


@task(name="up", help={**CLASS_HELP, "parallel": "how many labs are built at once after the first (default 2)"})
@options(class_file=CLASS_FILE_KIND, parallel=Number("a whole number of labs", 1, 16, whole=True))
def up(c: Context, class_file: str | None = None, parallel: int = 2) -> None:
    """Make (or check) every student's project and lab, the SSH entry point, the firewall and the bundles."""
    s, classroom = opened(c, class_file)
    print(f"class {classroom.name}: {len(classroom.students)} labs of {classroom.design.source.name} on Incus (each build's steps: {ClassFolder.of(s, classroom).path}/logs/)")
    console = Console(quiet=True)
    outcomes = lifecycle.up(s, classroom, console, print, parallel)
    failed = [o.student for o in outcomes if not o.ok]
    if not console.recap() or failed:
        raise Exit(f"class.up: {len(failed)} of {len(outcomes)} labs failed ({', '.join(failed) or 'the entry point'}): fix the cause and run `invoke class.up` again", code=1)
    folder = ClassFolder.of(s, classroom)
    first = classroom.students[0]
    print(f"\nclass {classroom.name} is up: {len(outcomes)} labs, entry point on {classroom.entry_host}:{classroom.entry_port}.")
    print(f"  each student's key and ssh_config: {folder.path}/students/NAME/ (e.g. cd {folder.bundle(first)} && ssh -F ssh_config {classroom.design.nodes[0].name})")
    print("  invoke class.status shows every lab; invoke class.exercise NAME starts an exercise for everyone")


@task(name="status", help={**CLASS_HELP, "json": "print the rows as JSON"})
@options(class_file=CLASS_FILE_KIND)
def status(c: Context, class_file: str | None = None, json_: bool = False) -> None:
    """One row a student: where their lab runs, up or not, its checks, the exercise under way, hints and grade."""
    s, classroom = opened(c, class_file)
    rows = class_status.status(s, classroom)
    if json_:
        print(json.dumps({"class": classroom.name, "students": [r.as_dict() for r in rows]}, indent=2))
        return
    for line in class_status.table(rows):
        print(line)


def start_one(s: Settings, classroom: Classroom, student: Student, name: str) -> str:
    """Start the exercise on one student's lab with a seed of its own; one line either way."""
    said = io.StringIO()
    try:
        session = student_session(s, classroom, student, io.StringIO())
        with live(session) as lab:
            state = runner.start(lab, name, None, lambda line: print(line, file=said))
    except LabError as err:
        return f"  {student.name:<12} NOT started: {err}"
    return f"  {student.name:<12} started (seed {state.seed})"


@task(name="exercise", help={**CLASS_HELP, "name": "the exercise, from invoke exercise.list"})
@options(class_file=CLASS_FILE_KIND, name=Choice(tuple(e.name for e in EXERCISES)))
def exercise(c: Context, name: str, class_file: str | None = None) -> None:
    """Start the same exercise on every student's lab, each with a seed of its own."""
    s, classroom = opened(c, class_file)
    print(f"class {classroom.name}: starting {name} on {len(classroom.students)} labs")
    with on_the_labs_incus(classroom), ThreadPoolExecutor(max_workers=class_status.WORKERS) as pool:
        lines = list(pool.map(lambda student: start_one(s, classroom, student, name), classroom.students))
    for line in lines:
        print(line)
    started = sum(" started " in line for line in lines)
    print(f"{started} of {len(lines)} started; the students see the symptom; invoke class.status follows them")
    if started < len(lines):
        raise Exit(f"class.exercise: {len(lines) - started} labs did not start {name}: see above", code=1)


@task(name="grades", help={**CLASS_HELP, "output": "the CSV file to write (default: <class>-grades.csv here)"})
@options(class_file=CLASS_FILE_KIND, output=FilePath("a file to write, e.g. grades.csv", sample="grades.csv"))
def grades_(c: Context, class_file: str | None = None, output: str | None = None) -> None:
    """Write the class's grades as a CSV a gradebook imports: one row a student, one column an exercise."""
    s, classroom = opened(c, class_file)
    columns, rows = grades.table(s, classroom)
    path = Path(output or f"{classroom.name}-grades.csv")
    path.write_text(grades.as_csv(columns, rows))
    exercises = len(columns) - 4
    print(f"{path}: {len(rows)} students, {exercises} exercise{'' if exercises == 1 else 's'}", file=sys.stderr)


@task(name="down", help={**CLASS_HELP, **YES_HELP})
@options(class_file=CLASS_FILE_KIND)
def down(c: Context, class_file: str | None = None, yes: bool = False) -> None:
    """Remove every student's lab and project, the entry point, the firewall and the class's folder."""
    s, classroom = opened(c, class_file)
    print(f"class.down: removes {len(classroom.students)} labs of class {classroom.name}, their work and exercise results included (`invoke class.grades` first keeps the grades)")
    confirm(yes)
    console = Console(quiet=True)
    if not lifecycle.down(s, classroom, console, print) or not console.recap():
        raise Exit("class.down failed: see the lines above; run `invoke class.down` again", code=1)
    print(f"class {classroom.name} is gone.")


@task(
    name="web",
    help={
        **CLASS_HELP,
        "listen": "the address to serve on (default 127.0.0.1); any other is served over HTTPS with a certificate from the class's CA",
        "port": "the port (default 0: a free one)",
        "minutes": "stop after this many minutes (default 240)",
    },
)
@options(class_file=CLASS_FILE_KIND, listen=LISTEN, port=PORT, minutes=MINUTES)
def web(c: Context, class_file: str | None = None, listen: str | None = None, port: int = 0, minutes: float = 240.0) -> None:
    """Serve the class's pages: one per student (their lab only, their own token) and the instructor's, a row a student."""
    where = serve.listen_on(listen)
    s, classroom = opened(c, class_file)
    folder = ClassFolder.of(s, classroom)
    tls_files = serve.certificate_files(pki.LabCA.open(LabFolder(folder.path))[0], LabFolder(folder.path), where.address) if where.tls else None
    with ExitStack() as held:
        held.enter_context(on_the_labs_incus(classroom))
        pages, tokens = {}, {}
        for student in classroom.students:
            session = student_session(s, classroom, student, io.StringIO())
            tokens[student.name] = access.lab_token(session.folder)
            snapshots: Snapshots
            try:
                sampler = Sampler(held.enter_context(live(session)))
                held.callback(sampler.close)
                snapshots = sampler
            except LabError as err:
                snapshots = Absent(session.lab.name, str(err))
            pages[student.name] = lab_page(session, snapshots, tokens[student.name], where.tls)
        rows = Rows(lambda: [r.as_dict() for r in class_status.status(s, classroom)])
        server = serve.start(create_class_app(classroom.name, access.token_at(folder.web_token), pages, rows, where.tls), where, int(port), tls_files)
        print(f"class {classroom.name}'s pages (Ctrl-C stops; they stop by themselves after {minutes:g} min):", flush=True)
        print(f"  instructor: {serve.url(where, server.server_port, access.token_at(folder.web_token))}", flush=True)
        for student in classroom.students:
            print(f"  {student.name:<12} {serve.url(where, server.server_port, tokens[student.name], student_path(student.name) + '/')}", flush=True)
        try:
            serve.serve(server, minutes * 60)
        except KeyboardInterrupt:
            print("stopped.")
