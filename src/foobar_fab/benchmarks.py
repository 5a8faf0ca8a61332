"""`invoke bench.build`: cold, warm and repeated builds of a lab of its own, an offline rebuild, and idle memory per node.

Figures, not pass/fail: the targets (cold <= 90 s; a warm build from role images at most a third of
a warm build with --fresh; re-run <= 3 s with zero changes) are printed beside them for the reader
to compare.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import build as building
from . import design, reconfiguration, roles, topology
from .console import Console
from .constants import APP_ENV, HTTP_PORT
from .errors import LabError
from .live import LiveLab, live
from .no_network import without_network
from .observe.site import MESSAGES_PATH
from .roles import BuildOptions
from .session import LabSession, open_session
from .settings import PROJECT_ROOT, Settings
from .steps import Runner
from .topology import REPLICATION_MODES

SEED_DESIGN = PROJECT_ROOT / "configs/lab.yml"


@dataclass(frozen=True)
class Figure:
    """One measured line of a benchmark."""

    what: str
    value: str
    target: str = ""


def timed_build(settings: Settings) -> tuple[float, int]:
    """Build quietly; return seconds and the number of changes. A failed build stops the benchmark."""
    output = io.StringIO()
    session = open_session(settings, Console(quiet=True, stream=output), any_design=True)
    session.provider.preflight()
    started = time.monotonic()
    result = building.build(session)
    seconds = time.monotonic() - started
    if not result.ok:
        print(output.getvalue())
        raise LabError(f"the benchmark's build failed: {'; '.join(map(str, result.failures))}")
    return seconds, result.changed


def destroy_quietly(settings: Settings) -> None:
    session = open_session(settings, Console(quiet=True, stream=io.StringIO()), any_design=True)
    if not session.provider.destroy(Runner(session.console)):
        raise LabError(f"could not destroy the benchmark lab {session.lab.name}: run `invoke destroy` on it")


def invoke_command(settings: Settings, *words: str) -> tuple[list[str], dict[str, str]]:
    """`invoke <words>` on the settings' lab, as a command line and its environment."""
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(settings.state_root), "INVOKE_LAB_CACHE_DIR": str(settings.cache_dir), "INVOKE_LAB_MIRROR": settings.mirror}
    return [str(Path(sys.executable).with_name("invoke")), *words, "--lab-file", str(settings.lab_file)], env


def offline_rebuild(settings: Settings) -> float:
    """Seconds for `invoke build` (from its start) with no network at all, after the lab was destroyed; the lab is destroyed again."""
    lab = design.load(settings.lab_file)
    with without_network(f"{lab.name}-offline") as prefix:
        build, env = invoke_command(settings, "build", "--quiet")
        destroy, _ = invoke_command(settings, "destroy", "--quiet", "--yes")
        started = time.monotonic()
        run = subprocess.run(prefix + build, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - started
        gone = subprocess.run(prefix + destroy, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout[-3000:] + run.stderr)
        raise LabError("the offline rebuild failed (see its output above)")
    if gone.returncode != 0:
        raise LabError(f"could not destroy the offline lab {lab.name}: {gone.stderr.strip()[-300:]}")
    return seconds


def node_memory(session: LabSession) -> list[Figure]:
    """Each running container's memory as its cgroup counts it: processes' own, and with page cache."""
    figures: list[Figure] = []
    layout = getattr(session.provider, "layout", None)
    if layout is None:
        return figures
    for node in session.lab.nodes:
        proc = subprocess.run(layout.lxc("cgroup", node.name, "memory.stat"), shell=True, capture_output=True, text=True)
        found = anon_and_cache(proc.stdout)
        value = f"{found[0] / 2**20:.0f} MiB ({sum(found) / 2**20:.0f} with cache)" if found else "unknown"
        figures.append(Figure(f"memory of idle {node.name}", value))
    return figures


def anon_and_cache(memory_stat: str) -> tuple[int, int] | None:
    """A cgroup's memory.stat as bytes of its processes' own memory and of page cache (None if empty)."""
    stat = dict(row.split()[:2] for row in memory_stat.splitlines() if len(row.split()) == 2)
    if not stat:
        return None
    anon = int(stat.get("total_rss", stat.get("anon", 0)))  # cgroup v1, else v2
    return anon, int(stat.get("total_cache", stat.get("file", 0)))


def warm_builds(settings: Settings) -> tuple[float, float]:
    """Seconds of a build from no nodes with role images, then with --fresh (a first build fills the caches)."""
    timed_build(settings)
    destroy_quietly(settings)
    images, _ = timed_build(settings)
    destroy_quietly(settings)
    fresh, _ = timed_build(settings.but(fresh=True))
    return images, fresh


def bench_settings(base: Settings, lab: topology.Lab, folder: Path) -> Settings:
    """Settings for a benchmark lab whose design file and state live in a folder of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    lab_file = folder / "lab.yml"
    lab_file.write_text(topology.to_yaml(lab))
    return base.but(lab_file=lab_file, state_root=folder / "state", quiet=True, fresh=False)


def next_subnet(subnet: str, step: int = 1) -> str:
    """The subnet `step` blocks of the same size after this one."""
    network = ipaddress.IPv4Network(subnet)
    return str(ipaddress.IPv4Network((int(network.network_address) + step * network.num_addresses, network.prefixlen)))


def vm_figures(base: Settings, lab_name: str, subnet: str, folder: Path) -> list[Figure]:
    """The seed design on three real VMs (Vagrant with libvirt): the box made afresh, a build, a re-run, a destroy."""
    from .providers import ProviderError
    from .providers.vagrant import VagrantProvider
    from .providers.vm_box import VmBoxFiles

    seed = topology.relocate(design.load(SEED_DESIGN), f"{lab_name[:10]}v", next_subnet(subnet, 2))
    settings = bench_settings(base, seed, folder).but(provider="vagrant", vagrant_provider="libvirt")
    session = open_session(settings, Console(quiet=True, stream=io.StringIO()), any_design=True)
    provider = session.provider
    if not isinstance(provider, VagrantProvider):
        raise LabError("the VM benchmark needs the vagrant provider")
    try:
        provider.preflight()
    except ProviderError as err:
        print(f"the seed design on VMs is not timed here: {err}")
        return []
    files = VmBoxFiles(provider.layout)
    print(f"the seed design on VMs: lab {seed.name} on {seed.subnet} (Vagrant with libvirt)")
    try:
        destroy_quietly(settings)
        files.stamp.unlink(missing_ok=True)  # the box is made afresh, to be timed
        started = time.monotonic()
        if not Runner(session.console).apply("host", provider.host, [provider.vm_box(roles.images(seed))]):
            raise LabError("the benchmark could not make the VM box")
        box = time.monotonic() - started
        seconds, _ = timed_build(settings)
        accelerator = (files.folder / "accelerator").read_text().splitlines()[1].split()[0]
        rerun, changed = timed_build(settings)
        started = time.monotonic()
        destroy_quietly(settings)
        gone = time.monotonic() - started
    finally:
        destroy_quietly(settings)
    kind = "KVM" if accelerator == "kvm" else "QEMU's emulation, TCG"
    return [
        Figure(f"VMs ({kind}): box made from the base image", f"{box:.1f} s"),
        Figure("VMs: build of the seed design on three VMs", f"{seconds:.1f} s"),
        Figure("VMs: re-run on the built lab", f"{rerun:.1f} s, {changed} changes"),
        Figure("VMs: destroy (machines, network, pool)", f"{gone:.1f} s"),
    ]


def build_benchmark(base: Settings, lab_name: str, subnet: str, cold: bool = True, vms: bool = False) -> list[Figure]:
    """Run the build benchmark on a lab of its own and print the figures; a design other than the seed's is
    timed beside the seed's, in the same run."""
    chosen = design.load(base.lab_file)
    lab = topology.relocate(chosen, lab_name, subnet)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="foobar_fab-bench-") as tmp:
        settings = bench_settings(base, lab, Path(tmp) / "design")
        print(f"benchmark lab {lab_name} on {subnet}, design {chosen.source.name} (state in {tmp})")
        try:
            destroy_quietly(settings)
            if cold:
                cold_settings = settings.but(cache_dir=Path(tmp) / "cache")
                seconds, _ = timed_build(cold_settings)
                figures.append(Figure("cold build (empty cache: base image, role images, nodes)", f"{seconds:.1f} s", "<= 90 s"))
                destroy_quietly(cold_settings)
            images, fresh = warm_builds(settings)
            figures.append(Figure("warm build from role images (no nodes)", f"{images:.1f} s"))
            figures.append(Figure("warm build with --fresh (every node installs)", f"{fresh:.1f} s"))
            figures.append(Figure("role images / --fresh", f"{images / fresh:.2f}", "<= 0.33"))
            seconds, changed = timed_build(settings)
            figures.append(Figure("re-run on the built lab", f"{seconds:.1f} s, {changed} changes", "<= 3 s, 0 changes"))
            time.sleep(5)
            figures += node_memory(open_session(settings, Console(quiet=True, stream=io.StringIO())))
            destroy_quietly(settings)
            seconds = offline_rebuild(settings)
            figures.append(Figure("offline rebuild (destroyed, then `invoke build` with no network)", f"{seconds:.1f} s"))
        finally:
            destroy_quietly(settings)
        if chosen.source.resolve() != SEED_DESIGN.resolve():
            figures += beside_the_seed(base, lab_name, subnet, Path(tmp) / "seed", images, fresh)
        if vms:
            figures += vm_figures(base, lab_name, subnet, Path(tmp) / "vms")
    print_figures(figures)
    return figures


def beside_the_seed(base: Settings, lab_name: str, subnet: str, folder: Path, images: float, fresh: float) -> list[Figure]:
    """The seed design's warm builds in the same run, on the next subnet, and the chosen design's against them."""
    seed_subnet = next_subnet(subnet)
    seed = topology.relocate(design.load(SEED_DESIGN), f"{lab_name[:10]}s", seed_subnet)
    settings = bench_settings(base, seed, folder)
    print(f"the seed design beside it: lab {seed.name} on {seed_subnet}")
    try:
        destroy_quietly(settings)
        seed_images, seed_fresh = warm_builds(settings)
    finally:
        destroy_quietly(settings)
    return [
        Figure("seed design: warm build from role images", f"{seed_images:.1f} s"),
        Figure("seed design: warm build with --fresh", f"{seed_fresh:.1f} s"),
        Figure("this design / seed, from role images", f"{images / seed_images:.2f}", "<= 2"),
        Figure("this design / seed, with --fresh", f"{fresh / seed_fresh:.2f}", "<= 2"),
    ]


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run measured: requests per second, and the mean time a request took."""

    rate: float
    latency_ms: float


def wrk_rate(url: str, host_header: str, seconds: int, connections: int) -> float:
    """Requests per second that wrk reaches against one URL."""
    return wrk_run(url, host_header, seconds, connections).rate


def wrk_run(url: str, host_header: str, seconds: int, connections: int) -> WrkRun:
    """Requests per second that wrk reaches against one URL, and their mean latency."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", f"Host: {host_header}", url]
    print("  $ " + shlex.join(command))
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        print(f"    ({errors.group(1)} answers were not 2xx/3xx)")
    return parse_wrk(output, url)


def parse_wrk(output: str, url: str) -> WrkRun:
    """wrk's rate and mean latency (its 'Latency' line, in us, ms or s)."""
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    latency = re.search(r"Latency\s+([\d.]+)(us|ms|s)\b", output)
    if not found or not latency:
        raise LabError(f"wrk printed no rate for {url}: {output.strip()[:200]}")
    return WrkRun(float(found.group(1)), float(latency.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[latency.group(2)])


#: Run on an application node with its own settings: insert on the primary, then time until its read database has the row.
DELAY_SCRIPT = """
import json, os, sys, time
import pymysql
env = os.environ
tls = {"ssl": {"ca": env["FOOBAR_DB_CA"]}} if env.get("FOOBAR_DB_CA") else {}
def connect(host):
    return pymysql.connect(host=host, port=int(env["FOOBAR_DB_PORT"]), user=env["FOOBAR_DB_USER"],
                           password=env["FOOBAR_DB_PASSWORD"], database=env["FOOBAR_DB_NAME"],
                           autocommit=True, connect_timeout=2, read_timeout=5, **tls)
def host(file_variable, variable):
    return open(env[file_variable]).read().strip() if env.get(file_variable) else env[variable]
writer = connect(host("FOOBAR_PRIMARY_FILE", "FOOBAR_WRITE_DB_HOST"))
reader = connect(host("FOOBAR_READ_FILE", "FOOBAR_READ_DB_HOST"))
commits, delays = [], []
for number in range(int(sys.argv[1])):
    started = time.monotonic()
    with writer.cursor() as cursor:
        cursor.execute("INSERT INTO messages (body, node) VALUES (%s, %s)", (f"bench {number}", "bench"))
        row = cursor.lastrowid
    committed = time.monotonic()
    commits.append(committed - started)
    with reader.cursor() as cursor:
        while not cursor.execute("SELECT id FROM messages WHERE id = %s", (row,)):
            if time.monotonic() - committed > 10:
                sys.exit(f"row {row} not on the replica after 10 s: is replication running?")
    delays.append(time.monotonic() - committed)
print(json.dumps({"commits": commits, "delays": delays}))
"""


def timed_writes(live: LiveLab, writes: int) -> tuple[list[float], list[float]]:
    """Seconds each insert took to commit on the primary, and from then until a replica returned the row,
    timed on an application node."""
    readers = [a for a in live.lab.app_nodes if live.lab.read_database(a) in live.lab.replicas]
    if not readers:
        raise LabError("no application server reads from a replica in this design: no replication delay to time")
    node = readers[0].name
    command = f"set -a && . {APP_ENV} && set +a && python3 -c {shlex.quote(DELAY_SCRIPT)} {writes}"
    print(f"  $ invoke ssh {node} --command 'python3 -c <insert on the primary, poll the replica> {writes}'")
    outcome = live.shells.run(node, command, show=False, timeout=30 + writes * 10)
    if not outcome.ok:
        said = (outcome.stderr.strip().splitlines() or [f"exit status {outcome.exited}"])[-1]
        raise LabError(f"timing replication on {node} failed: {said} (`invoke check` tells why)")
    found = json.loads(outcome.stdout)
    return [float(c) for c in found["commits"]], [float(d) for d in found["delays"]]


def write_figures(session: LabSession, live: LiveLab, writes: int) -> list[Figure]:
    """Write latency with asynchronous and with semi-synchronous replication (the design's mode put back
    after), and how far the replica trails with the design's own mode."""
    figures: list[Figure] = []
    lab = session.lab
    for mode in REPLICATION_MODES:
        switched = mode != lab.replication
        if switched:
            print(f"  ({mode} replication for the measurement, through the build's own steps; {lab.replication} put back after)")
            if not reconfiguration.replication(live, mode):
                raise LabError(f"could not switch to {mode} replication for the measurement (see the failed step above)")
        try:
            commits, delays = timed_writes(live, writes)
        finally:
            if switched and not reconfiguration.replication(live, None):
                print(f"  {lab.replication} replication could not be put back: run `invoke build`")
        figures += [
            Figure(f"write latency, {mode}, median of {writes}", f"{statistics.median(commits) * 1000:.1f} ms"),
            Figure(f"write latency, {mode}, worst of {writes}", f"{max(commits) * 1000:.1f} ms"),
        ]
        if not switched:
            figures += [
                Figure(f"replication delay, {mode}, median of {writes}", f"{statistics.median(delays) * 1000:.1f} ms"),
                Figure(f"replication delay, {mode}, worst of {writes}", f"{max(delays) * 1000:.1f} ms"),
            ]
    return figures


def site_benchmark(session: LabSession, seconds: int, connections: int, writes: int) -> list[Figure]:
    """Requests per second through the entry address, against plain HTTP in the same run, and the replication delay.

    On a design without HTTPS the comparison is one web server straight (the load balancer's cost);
    with HTTPS it is plain HTTP through the same load balancer (TLS's cost), served for the
    measurement only, through the build's own steps, and redirected again afterwards.
    """
    if shutil.which("wrk") is None:
        raise LabError("wrk is missing: apt-get install wrk (or run `make lab`, which installs it)")
    lab = session.lab
    with live(session) as lab_live:
        print(f"site benchmark on lab {lab.name} ({lab.source.name}): {seconds} s per run, {connections} connections, GET {MESSAGES_PATH}")
        run = wrk_run(lab_live.site.url(MESSAGES_PATH), lab.domain, seconds, connections)
        through = run.rate
        if lab.has("https"):
            figures = [
                Figure(f"HTTPS through {lab.entry_name}", f"{through:.0f} req/s"),
                Figure(f"HTTPS through {lab.entry_name}, mean latency", f"{run.latency_ms:.1f} ms"),
                Figure(f"TLS to the web servers ({lab.tls_to_servers})", TLS_BEHIND[lab.tls_to_servers]),
            ]
            if lab.passes_tls_through:
                print(f"  (no plain HTTP to compare: TLS passes through {lab.entry_name}, whose port {HTTP_PORT} only redirects)")
            else:
                plain = plain_http_rate(session, lab_live, seconds, connections)
                figures += [Figure(f"plain HTTP through {lab.entry_name}", f"{plain:.0f} req/s"), Figure("ratio (HTTPS / plain HTTP)", f"{through / plain:.2f}")]
        else:
            web = lab.web_nodes[0]
            direct = wrk_rate(f"http://{web.address}{MESSAGES_PATH}", lab.domain, seconds, connections)
            figures = [
                Figure(f"through {lab.entry_name} (round robin)", f"{through:.0f} req/s"),
                Figure(f"straight to {web.name}", f"{direct:.0f} req/s"),
                Figure("ratio (load balancer / one node)", f"{through / direct:.2f}"),
            ]
        figures += write_figures(session, lab_live, writes)
    print_figures(figures)
    return figures


#: What each way of carrying TLS past the load balancer sends to the web servers (the benchmark says which it measured).
TLS_BEHIND = {"terminate": "plain HTTP", "reencrypt": "TLS again", "passthrough": "the client's TLS"}


def plain_http_rate(session: LabSession, lab_live: LiveLab, seconds: int, connections: int) -> float:
    """Plain HTTP through the same load balancer: its redirect switched off for the run, then put back."""
    print("  (plain HTTP served for the measurement: the balancers' redirect is off until it ends)")
    try:
        if not reconfiguration.haproxy(session, BuildOptions(plain_http=True)):
            raise LabError("could not serve plain HTTP for the measurement (see the failed step above)")
        return wrk_rate(lab_live.site.url(MESSAGES_PATH, scheme="http"), session.lab.domain, seconds, connections)
    finally:
        if not reconfiguration.haproxy(session, BuildOptions()):
            print("  the redirect could not be put back: run `invoke build`")


def print_figures(figures: list[Figure]) -> None:
    width = max(len(f.what) for f in figures) if figures else 0
    for f in figures:
        print(f"  {f.what:<{width}}  {f.value:>18}  {('target ' + f.target) if f.target else ''}")
