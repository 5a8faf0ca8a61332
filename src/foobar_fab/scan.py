"""`invoke scan`: who can reach what, measured by connecting, not by reading rules.

The rows are the TCP ports each node listens on (read with `ss` on the node, loopback left out); the
columns are vantage points: outside (a client on the lab's network that is neither a node nor the
admin host, made for the scan and removed after it), the admin host, and each node. A cell is what a
connection attempt got within a second: open, closed (refused) or filtered (no answer: dropped).
Beside each cell, the design's policy says what it should be; a mismatch is marked.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from . import parallel, statefolder
from .live import LiveLab
from .observe.shell import NodeUnreachable
from .roles import exposure
from .statefolder import LabFolder
from .topology import Lab, NodeSpec

TIMEOUT = 1  # second per connection attempt
OUTSIDE = "outside"
ADMIN = "admin"
RESULTS = {"0": "open", "124": "filtered"}  # timeout's exit status 124: no answer; anything else: refused


@dataclass(frozen=True)
class Row:
    """One port a node listens on."""

    node: str
    address: str
    port: int
    process: str


@dataclass(frozen=True)
class Cell:
    """What one vantage point got when connecting to one port, and what the design says it should get."""

    seen: str  # open, closed, filtered, self or n/a
    expected: str  # open or closed

    @property
    def agrees(self) -> bool:
        return self.seen in ("self", "n/a") or (self.seen == "open") == (self.expected == "open")


def parse_listening(node: NodeSpec, text: str) -> list[Row]:
    """`ss -Hltnp` output as rows: each port once, bound to anything but loopback."""
    rows: dict[int, Row] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        host, _, port = fields[3].rpartition(":")
        host = host.strip("[]").split("%")[0]
        if host.startswith("127.") or host == "::1":
            continue
        process = fields[5].split('"')[1] if len(fields) > 5 and '"' in fields[5] else "?"
        rows.setdefault(int(port), Row(node.name, str(node.address), int(port), process))
    return sorted(rows.values(), key=lambda r: r.port)


def probe_script(rows: list[Row]) -> str:
    """A bash script trying every port at once (bounded by `timeout`), printing 'address:port status' each."""
    tries = [
        f"(timeout {TIMEOUT} bash -c '</dev/tcp/{r.address}/{r.port}' 2>/dev/null; echo \"{r.address}:{r.port} $?\") &"
        for r in rows
    ]
    return " ".join(tries) + " wait"


def parse_probe(text: str) -> dict[str, str]:
    """'address:port status' lines -> {address:port: open|closed|filtered}."""
    found = {}
    for line in text.splitlines():
        target, _, status = line.strip().partition(" ")
        if target:
            found[target] = RESULTS.get(status, "closed")
    return found


def expected(lab: Lab, row: Row, vantage: str, outside: str) -> str:
    """What the design allows: everything that listens without a firewall; with one, what its records say."""
    node = lab.node(row.node)
    if not node.has_role("firewall"):
        return "open"
    for exposed in exposure(lab):
        if exposed.node == node and exposed.port.protocol == "tcp" and exposed.port.number == row.port:
            sources = exposed.sources(lab)
            address = {OUTSIDE: outside, ADMIN: str(lab.admin_address)}.get(vantage) or str(lab.node(vantage).address)
            return "open" if sources is None or address in sources else "closed"
    return "closed"


def outside_address(lab: Lab) -> str:
    """A free address on the lab's network for the outside client: the last usable one nobody uses."""
    taken = {lab.gateway, *lab.addresses}
    for host in reversed(list(lab.subnet.hosts())):
        if host not in taken:
            return str(host)
    raise ValueError(f"no free address in {lab.subnet} for the scan's outside client")


@contextmanager
def outside_client(bridge: str | None, lab: Lab, address: str) -> Iterator[str | None]:
    """A network namespace on the lab's bridge with a free address: yields the command prefix to run in it."""
    if bridge is None:
        yield None
        return
    namespace, veth = f"{lab.name}-scan", f"{lab.name}-scan0"
    prefix = lab.subnet.prefixlen
    setup = [
        f"ip netns add {namespace}",
        f"ip link add {veth} type veth peer name eth0 netns {namespace}",
        f"ip link set {veth} master {bridge} up",
        f"ip -n {namespace} addr add {address}/{prefix} dev eth0",
        f"ip -n {namespace} link set eth0 up",
        f"ip -n {namespace} link set lo up",
    ]
    try:
        for command in setup:
            subprocess.run(command, shell=True, check=True, capture_output=True, text=True)
        yield f"ip netns exec {namespace}"
    finally:
        subprocess.run(f"ip netns del {namespace} 2>/dev/null; ip link del {veth} 2>/dev/null; true", shell=True, check=False)


def from_host(prefix: str | None, script: str) -> str:
    command = f"{prefix + ' ' if prefix else ''}bash -c {shlex.quote(script)}"
    return subprocess.run(command, shell=True, capture_output=True, text=True, timeout=TIMEOUT + 20, check=False).stdout


def scan(live: LiveLab, bridge: str | None) -> dict[str, object]:
    """Measure the lab's exposure; return the table as data (rows, vantage points, cells)."""
    lab = live.lab
    nodes = [n for n in lab.nodes if live.running(n)]

    def listening(node: NodeSpec) -> list[Row]:
        return parse_listening(node, live.shells.must(node.name, "ss -Hltnp", kind="probe"))

    rows = [row for found in parallel.each(nodes, listening) for row in found]
    script = probe_script(rows)
    address = outside_address(lab)
    vantages = [OUTSIDE, ADMIN, *(n.name for n in nodes)]
    seen: dict[str, dict[str, str]] = {}
    with outside_client(bridge, lab, address) as prefix:
        seen[OUTSIDE] = parse_probe(from_host(prefix, script)) if prefix else {}
    seen[ADMIN] = parse_probe(from_host(None, script))

    def from_node(node: NodeSpec) -> dict[str, str]:
        try:
            return parse_probe(live.shells.run(node.name, script, kind="probe", timeout=TIMEOUT + 20).stdout)
        except NodeUnreachable:
            return {}

    for node, found in zip(nodes, parallel.each(nodes, from_node), strict=True):
        seen[node.name] = found
    cells: dict[str, dict[str, dict[str, str]]] = {}
    for row in rows:
        key = f"{row.node}:{row.port}"
        cells[key] = {}
        for vantage in vantages:
            measured = "self" if vantage == row.node else seen[vantage].get(f"{row.address}:{row.port}", "n/a")
            cells[key][vantage] = asdict(Cell(measured, expected(lab, row, vantage, address)))
    return {
        "lab": lab.name,
        "design": lab.source.name,
        "outside_address": address if seen[OUTSIDE] else None,
        "vantages": vantages,
        "rows": [asdict(r) for r in rows],
        "cells": cells,
    }


def table(result: dict[str, object]) -> list[str]:
    """The scan as lines of a table; a cell that differs from the design's policy is marked with '!'."""
    vantages: list[str] = result["vantages"]  # type: ignore[assignment]
    cells: dict[str, dict[str, dict[str, str]]] = result["cells"]  # type: ignore[assignment]
    rows: list[dict[str, object]] = result["rows"]  # type: ignore[assignment]
    width = max([len(k) for k in cells] + [9])
    lines = [f"{'node:port':<{width}}  {'process':<14}" + "".join(f"{v:>10}" for v in vantages)]
    for row in rows:
        key = f"{row['node']}:{row['port']}"
        marks = []
        for vantage in vantages:
            cell = Cell(**cells[key][vantage])
            marks.append(f"{cell.seen + ('' if cell.agrees else '!'):>10}")
        lines.append(f"{key:<{width}}  {row['process']!s:<14}" + "".join(marks))
    return lines


def disagreements(result: dict[str, object]) -> list[str]:
    """Every cell whose measurement differs from the design's policy, as 'node:port from vantage: seen, expected'."""
    cells: dict[str, dict[str, dict[str, str]]] = result["cells"]  # type: ignore[assignment]
    found = []
    for key, row in cells.items():
        for vantage, cell in row.items():
            if not Cell(**cell).agrees:
                found.append(f"{key} from {vantage}: {cell['seen']}, the design says {cell['expected']}")
    return found


def save(result: dict[str, object], folder: LabFolder) -> Path:
    """Keep the scan in the lab's state folder (scan.json); return its path."""
    statefolder.write(folder.scan, statefolder.json_text(result))
    return folder.scan

