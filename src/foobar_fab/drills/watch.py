"""`invoke watch`: a live view of requests to the site and HAProxy's state of each server.

Meant for a second terminal during a drill or a lesson: round robin and failover, as they happen.
Bounded in time; it stops by itself if the lab's network disappears.
"""

from __future__ import annotations

import time
from collections import Counter

import requests

from ..constants import HEALTH_PATH
from ..live import LiveLab
from ..observe.haproxy import HaproxyStats, describe_rows
from ..observe.site import LabGone, served_by


def watch(live: LiveLab, seconds: float, interval: float) -> None:
    """Print one line per request to the site's entry address, for a bounded time, then who served how many."""
    console, lab = live.console, live.lab
    stats = [live.stats(b) for b in lab.balancers]
    console.line(f"watching {live.site.url(HEALTH_PATH)} every {interval:g} s for {seconds:g} s (Ctrl-C stops)")
    started = time.monotonic()
    states, states_at = "", 0.0
    served: Counter[str] = Counter()
    try:
        while time.monotonic() - started < seconds:
            if not live.network_present():
                console.line("the lab's network is gone: stopped.")
                return
            began = time.monotonic()
            stamp = clock_stamp(time.time())
            try:
                answer = live.site.get(HEALTH_PATH, timeout=2)
                node, outcome = served_by(answer) or "?", str(answer.status_code)
                status = "ok" if answer.status_code == 200 else "failed"
            except (requests.RequestException, LabGone) as err:
                node, outcome, status = "-", type(err).__name__, "failed"
            served[node if status == "ok" else "failed"] += 1
            latency = (time.monotonic() - began) * 1000
            if time.monotonic() - states_at >= 0.5:
                states, states_at = "; ".join(server_line(s) for s in stats), time.monotonic()
            console.line(f"{stamp}  {console.paint(status, f'{node:<8}')} {outcome:<18} {latency:6.0f} ms   HAProxy: {states}")
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
    finally:
        console.line(f"{sum(served.values())} requests: " + (", ".join(f"{who} {n}" for who, n in sorted(served.items())) or "none sent"))


def clock_stamp(now: float) -> str:
    """HH:MM:SS.d of one reading of the clock (read once, so stamps never run backwards)."""
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 10) % 10}"


def server_line(stats: HaproxyStats) -> str:
    """One balancer's view of its servers, for a watch line."""
    try:
        return describe_rows(stats.server_rows(timeout=0.5))
    except (requests.RequestException, LabGone):
        return f"{stats.balancer.name}'s statistics do not answer"
