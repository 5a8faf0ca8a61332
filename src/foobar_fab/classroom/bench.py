"""`invoke bench.class`: what a class costs on this machine, measured on a class of its own.

Time to bring up N labs from images (class.up, the entry point included), class.status's time for them,
each lab's memory as its nodes' cgroups count it, and for each design the memory of one lab and how
many such labs fit in 24 GiB. The class is removed at the end, also when a step failed.
"""

from __future__ import annotations

import io
import ipaddress
import os
import tempfile
import time
from pathlib import Path

from ..benchmarks import Figure, anon_and_cache, print_figures
from ..console import Console
from ..errors import LabError
from ..settings import Settings
from . import classfile, lifecycle
from . import status as class_status
from .classfile import Classroom, Student
from .labs import student_session

BUDGET = 24 * 2**30  # the memory the question asks about: a 24 GiB host
SETTLE = 10.0  # seconds the labs idle before their memory is read


def cgroup_memory(project: str, instance: str) -> tuple[int, int] | None:
    """An Incus instance's memory (processes', page cache), read from its cgroup (v1 or v2)."""
    name = f"lxc.payload.{project}_{instance}" if project != "default" else f"lxc.payload.{instance}"
    for path in (Path("/sys/fs/cgroup/memory") / name / "memory.stat", Path("/sys/fs/cgroup") / name / "memory.stat"):
        try:
            return anon_and_cache(path.read_text())
        except OSError:
            continue
    return None


def lab_memory(settings: Settings, classroom: Classroom, student: Student) -> tuple[int, int]:
    """The student's lab's memory: its nodes' processes' and page cache, summed."""
    session = student_session(settings, classroom, student, io.StringIO())
    layout = getattr(session.provider, "layout", None)
    if layout is None:
        raise LabError("bench.class needs the incus provider")
    found = [cgroup_memory(layout.place.project, layout.instance(n.name)) for n in session.lab.nodes]
    if any(f is None for f in found):
        raise LabError(f"the memory of lab {student.lab_name}'s nodes cannot be read from their cgroups")
    return sum(f[0] for f in found if f), sum(f[1] for f in found if f)


def bench_class(settings: Settings, name: str, design: Path, subnet: str, students: int) -> Classroom:
    """A class file of the benchmark's own, in its folder."""
    folder = Path(tempfile.mkdtemp(prefix="foobar-bench-class-"))
    names = [f"s{i:02d}" for i in range(1, students + 1)]
    path = folder / "class.yml"
    path.write_text(f"class:\n  name: {name}\n  design: {design}\n  subnet: {subnet}\n  entry: 127.0.0.1:2298\nstudents: [{', '.join(names)}]\n")
    return classfile.load(path)


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"


def measure(settings: Settings, classroom: Classroom, parallel: int, out: list[str]) -> tuple[float, float, list[tuple[int, int]]]:
    """Bring the class up (seconds), time class.status, read each lab's memory; the class is removed after."""
    console = Console(quiet=True, stream=io.StringIO())
    try:
        started = time.monotonic()
        outcomes = lifecycle.up(settings, classroom, console, out.append, parallel)
        up_seconds = time.monotonic() - started
        if not all(o.ok for o in outcomes) or not console.recap():
            raise LabError(f"the benchmark class did not come up: {'; '.join(o.why for o in outcomes if not o.ok) or 'the entry point failed'}")
        started = time.monotonic()
        rows = class_status.status(settings, classroom)
        status_seconds = time.monotonic() - started
        if any(r.lab_up != "up" or r.checks_failed for r in rows):
            raise LabError("a benchmark lab is not healthy: " + "; ".join(f"{r.student}: {r.lab_up}, {r.failed}" for r in rows if r.lab_up != "up" or r.checks_failed))
        time.sleep(SETTLE)
        return up_seconds, status_seconds, [lab_memory(settings, classroom, s) for s in classroom.students]
    finally:
        lifecycle.down(settings, classroom, Console(quiet=True, stream=io.StringIO()), out.append)


def class_benchmark(settings: Settings, labs: int, designs: list[Path], subnet: str, parallel: int) -> list[Figure]:
    """Print and return the figures: N labs of the first design, then one lab of each other design."""
    blocks = list(ipaddress.IPv4Network(subnet).subnets(new_prefix=19))
    log: list[str] = []
    first = bench_class(settings, "bench", designs[0], str(blocks[0]), labs)
    up_seconds, status_seconds, memories = measure(settings, first, parallel, log)
    figures = [
        Figure(f"class.up: {labs} labs of {designs[0].name} from images, {parallel} at a time, {os.cpu_count()} cores", f"{up_seconds:.0f} s"),
        Figure("  a lab, on average", f"{up_seconds / labs:.1f} s"),
        Figure(f"class.status on {labs} labs", f"{status_seconds:.1f} s"),
    ]
    for index, design in enumerate(designs):
        if index:
            _, _, memories = measure(settings, bench_class(settings, f"bench{index}", design, str(blocks[index]), 1), parallel, log)
        anon = max(m[0] for m in memories)
        total = max(sum(m) for m in memories)
        figures += [
            Figure(f"memory of a lab of {design.name} (largest of {len(memories)})", f"{mib(anon)} ({mib(total)} with cache)"),
            Figure(f"  labs of {design.name} in 24 GiB", f"{BUDGET // total} to {BUDGET // anon}"),
        ]
    print_figures(figures)
    return figures

