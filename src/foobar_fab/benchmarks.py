"""`invoke bench.build`: cold, warm and repeated builds of a lab of its own, and idle memory per node.

Figures, not pass/fail: the targets (cold <= 90 s, warm <= 30 s, re-run <= 5 s with zero changes) are
printed beside them for the reader to compare.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import build as building
from . import topology
from .console import Console
from .providers import ProviderError
from .session import LabSession, open_session
from .settings import Settings
from .steps import Runner


@dataclass(frozen=True)
class Figure:
    """One measured line of a benchmark."""

    what: str
    value: str
    target: str = ""


def timed_build(settings: Settings) -> tuple[float, int]:
    """Build quietly; return seconds and the number of changes. A failed build stops the benchmark."""
    output = io.StringIO()
    session = open_session(settings, Console(quiet=True, stream=output))
    session.provider.preflight()
    started = time.monotonic()
    result = building.build(session)
    seconds = time.monotonic() - started
    if not result.ok:
        print(output.getvalue())
        raise ProviderError(f"the benchmark's build failed: {'; '.join(map(str, result.failures))}")
    return seconds, result.changed


def destroy_quietly(settings: Settings) -> None:
    session = open_session(settings, Console(quiet=True, stream=io.StringIO()))
    if not session.provider.destroy(Runner(session.console)):
        raise ProviderError(f"could not destroy the benchmark lab {session.lab.name}: run `invoke destroy` on it")


def node_memory(session: LabSession) -> list[Figure]:
    """Each running container's memory as its cgroup counts it: processes' own, and with page cache."""
    figures: list[Figure] = []
    layout = getattr(session.provider, "layout", None)
    if layout is None:
        return figures
    for node in session.lab.nodes:
        proc = subprocess.run(layout.lxc("cgroup", node.name, "memory.stat"), shell=True, capture_output=True, text=True)
        stat = dict(row.split()[:2] for row in proc.stdout.splitlines() if len(row.split()) == 2)
        anon = int(stat.get("total_rss", stat.get("anon", 0)))  # cgroup v1, else v2
        cache = int(stat.get("total_cache", stat.get("file", 0)))
        value = f"{anon / 2**20:.0f} MiB ({(anon + cache) / 2**20:.0f} with cache)" if stat else "unknown"
        figures.append(Figure(f"memory of idle {node.name}", value))
    return figures


def build_benchmark(base: Settings, lab_name: str, subnet: str, cold: bool = True) -> list[Figure]:
    """Run the build benchmark on a lab of its own and print the figures."""
    lab = topology.relocate(topology.load(base.lab_file), lab_name, subnet)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="foobar_fab-bench-") as tmp:
        lab_file = Path(tmp) / "lab.yml"
        lab_file.write_text(topology.to_yaml(lab))
        settings = base.but(lab_file=lab_file, state_root=Path(tmp) / "state", quiet=True)
        print(f"benchmark lab {lab_name} on {subnet} (state in {tmp})")
        try:
            destroy_quietly(settings)
            if cold:
                cold_settings = settings.but(cache_dir=Path(tmp) / "cache")
                seconds, _ = timed_build(cold_settings)
                figures.append(Figure("cold build (empty cache, no nodes)", f"{seconds:.1f} s", "<= 90 s"))
                destroy_quietly(cold_settings)
            timed_build(settings)  # makes sure the shared base image is cached before the warm run
            destroy_quietly(settings)
            seconds, _ = timed_build(settings)
            figures.append(Figure("warm build (cached base, no nodes)", f"{seconds:.1f} s", "<= 30 s"))
            seconds, changed = timed_build(settings)
            figures.append(Figure("re-run on the built lab", f"{seconds:.1f} s, {changed} changes", "<= 5 s, 0 changes"))
            time.sleep(5)
            figures += node_memory(open_session(settings, Console(quiet=True, stream=io.StringIO())))
        finally:
            destroy_quietly(settings)
    width = max(len(f.what) for f in figures) if figures else 0
    for f in figures:
        print(f"  {f.what:<{width}}  {f.value:>18}  {('target ' + f.target) if f.target else ''}")
    return figures
