"""Benchmarks that print figures: how long builds take and what the idle lab costs in memory."""

from __future__ import annotations

from pathlib import Path

from invoke import Context, task
from invoke.exceptions import Exit

from .. import benchmarks
from ..classroom import bench as class_bench
from ..settings import PROJECT_ROOT
from .common import LAB_HELP, session, settings
from .options import FLAG, LAB_NAME_TEXT, SUBNET, Number, Text, is_subnet, options


@task(
    help={
        "lab-name": "the benchmark's own lab name (a user's lab is left alone)",
        "subnet": "the benchmark lab's subnet",
        "cold": "also time a cold build, with an empty cache of its own: base image, role images, package files (adds about 90 s)",
        "lab-file": "the design to time (default: configs/lab.yml); another design is timed beside the seed's, in the same run",
        "vms": "also time the seed design on three real VMs (Vagrant with libvirt, on the subnet two after --subnet): box, build, re-run, destroy",
    }
)
@options(lab_name=LAB_NAME_TEXT, subnet=SUBNET, cold=FLAG, vms=FLAG)
def build(c: Context, lab_name: str = "fbbench", subnet: str = "10.181.56.0/24", cold: bool = True, lab_file: str | None = None, vms: bool = True) -> None:
    """Time cold, warm (from role images, and --fresh), repeated and offline builds, the idle nodes' memory, and the same lab on VMs."""
    benchmarks.build_benchmark(settings(c, lab_file=lab_file), lab_name, subnet, cold=cold, vms=vms)


@task(
    help={
        **LAB_HELP,
        "seconds": "how long each wrk run lasts",
        "connections": "wrk's open connections",
        "writes": "how many writes time the replication delay",
    }
)
@options(
    seconds=Number("a whole number of seconds", 1, 600, whole=True),
    connections=Number("a number of connections (wrk runs 2 threads)", 2, 1000, whole=True),
    writes=Number("a number of writes", 1, 10000, whole=True),
)
def site(
    c: Context,
    seconds: int = 10,
    connections: int = 16,
    writes: int = 50,
    lab_file: str | None = None,
    provider: str | None = None,
) -> None:
    """Requests per second through the site's entry address and straight to one web server, and the replication delay."""
    benchmarks.site_benchmark(session(c, lab_file=lab_file, provider=provider, quiet=True), seconds, connections, writes)


@task(
    name="class",
    help={
        "labs": "how many labs the class has (1-30)",
        "designs": "the designs to weigh, comma-separated; the first is the class's (default: the seed, secured and scaled designs)",
        "subnet": "the benchmark classes' network (a /16: one /19 a class)",
        "parallel": "labs built at once after the first",
    },
)
@options(
    labs=Number("a whole number of labs", 1, 30, whole=True),
    designs=Text("design files, comma-separated, e.g. configs/lab.yml,configs/secured.yml", "configs/lab.yml"),
    subnet=Text("a /16 IPv4 subnet, e.g. 10.191.0.0/16", "10.191.0.0/16", lambda t: is_subnet(t) and t.endswith("/16")),
    parallel=Number("a whole number of labs", 1, 16, whole=True),
)
def class_(c: Context, labs: int = 10, designs: str = "configs/lab.yml,configs/secured.yml,configs/scaled.yml", subnet: str = "10.191.0.0/16", parallel: int = 2) -> None:
    """A class of its own on Incus: time to bring up N labs and to look at them, each design's memory, labs in 24 GiB."""
    files = [Path(d) if Path(d).is_absolute() else PROJECT_ROOT / d for d in designs.split(",") if d.strip()]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise Exit(f"error: --designs: no such design file: {', '.join(missing)}", code=2)
    class_bench.class_benchmark(settings(c), labs, files, subnet, parallel)
