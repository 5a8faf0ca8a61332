"""`invoke sniff`: what an eavesdropper on the lab's network reads while a message is posted.

tcpdump listens on the lab's bridge (every frame between the nodes, and between the host and the
site, crosses it: a mirror port on a switch) while one message is posted through the site and
replicated. Three captures: the clients' side of the load balancer, the load balancer's side (to the
web servers), and replication between the databases. Each says whether the message text was
readable, and shows the readable lines. HTTPS ending at the load balancer protects the first only:
inside the lab, HAProxy speaks plain HTTP to the web servers (a choice the secured design makes, and
says), unless the design re-encrypts to them or passes TLS through (lab.tls_to_servers).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from .constants import DB_PORT, HTTP_PORT, HTTPS_PORT
from .errors import LabError
from .live import LiveLab
from .topology import Lab
from .waiting import wait_until

CAPTURE_SECONDS = 15  # the longest a capture may run
READABLE = re.compile(r"[ -~]{12,}")  # runs of printable text in tcpdump's ASCII view
PACKET = re.compile(r"^\d\d:\d\d:\d\d\.\d+ IP ", re.M)
WORD = re.compile(r"[A-Za-z]{4,}")
SHOWN_LINES = 6


@dataclass(frozen=True)
class Capture:
    """What one capture saw."""

    what: str
    filter: str
    packets: int
    marker_readable: bool
    readable: list[str]  # the first readable lines (the message's, if it showed)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@contextmanager
def tcpdump(bridge: str, capture_filter: str) -> Iterator[list[str]]:
    """tcpdump on the bridge for as long as the block runs (at most CAPTURE_SECONDS); yields its output once stopped."""
    process = subprocess.Popen(
        ["timeout", str(CAPTURE_SECONDS), "tcpdump", "-i", bridge, "-nn", "-l", "-U", "-A", "-s", "0", capture_filter],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
    )
    output: list[str] = []
    try:
        time.sleep(1.0)  # tcpdump needs a moment to attach
        yield output
    finally:
        time.sleep(0.5)
        process.terminate()
        out, _ = process.communicate(timeout=CAPTURE_SECONDS + 5)
        output.append(out)


def readable(run: str) -> bool:
    """Text a person reads, not a header or ciphertext shown as ASCII: words, and few stand-in dots."""
    return bool(WORD.search(run)) and run.count(".") < len(run) * 0.3


def summarise(what: str, capture_filter: str, text: str, marker: str) -> Capture:
    """What a capture holds: the lines with the message first (however noisy), then other readable text."""
    runs = [m.group(0).strip() for m in READABLE.finditer(text)]
    with_marker = [run for run in runs if marker in run]
    others = [run for run in runs if marker not in run and not PACKET.match(run) and readable(run)]
    return Capture(what, capture_filter, len(PACKET.findall(text)), marker in text, (with_marker + others)[:SHOWN_LINES])


def capture_filters(lab: Lab) -> tuple[str, str, str]:
    """tcpdump's filters for the three places: clients and the entry address, the load balancers and the web
    servers (on 80 and 443 both: plain HTTP, or TLS re-encrypted or passed through), and the databases."""
    entry = lab.entry_address
    web = " or ".join(f"host {w.address}" for w in lab.web_nodes)
    to_site = f"dst host {entry} and (dst port {HTTP_PORT} or dst port {HTTPS_PORT})"
    from_site = f"src host {entry} and (src port {HTTP_PORT} or src port {HTTPS_PORT})"
    client = f"tcp and (({to_site}) or ({from_site})) and not ({web})"
    behind = f"tcp and (port {HTTP_PORT} or port {HTTPS_PORT}) and ({' or '.join(f'host {b.address}' for b in lab.balancers)}) and ({web})"
    replicas = " or ".join(f"host {r.address}" for r in lab.replicas) or "host 0.0.0.0"
    replication = f"tcp port {DB_PORT} and host {lab.primary.address} and ({replicas})"
    return client, behind, replication


def sniff(live: LiveLab, bridge: str | None) -> list[Capture]:
    """Post one message through the site while both captures run; return what each saw."""
    if bridge is None:
        raise LabError("sniff listens on the lab's own bridge: it needs the lxc provider (or vagrant with lxc)")
    if shutil.which("tcpdump") is None:
        raise LabError("tcpdump is missing: apt-get install tcpdump (or run `make lab`, which installs it)")
    lab = live.lab
    marker = f"sniffed-{uuid.uuid4().hex[:10]}"
    client, behind, replication = capture_filters(lab)
    body = f"my card number is 4242 4242 4242 4242 {marker}"
    with tcpdump(bridge, client) as seen_client, tcpdump(bridge, behind) as seen_behind, tcpdump(bridge, replication) as seen_replication:
        answer = live.site.post_message(body)
        posted = answer.status_code == 201
        if posted:
            wait_until(lambda: all(live.databases.count(r, body) == 1 for r in lab.replicas), 10, 0.2)
    if not posted:
        raise LabError(f"the message could not be posted (HTTP {answer.status_code}): run `invoke check`")
    return [
        summarise(f"clients and {lab.entry_name} (the Internet side)", client, "".join(seen_client), marker),
        summarise("the load balancer and the web servers (inside the lab)", behind, "".join(seen_behind), marker),
        summarise(f"MariaDB between {lab.primary.name} and {', '.join(r.name for r in lab.replicas)} (replication, remote writes)", replication, "".join(seen_replication), marker),
    ]
