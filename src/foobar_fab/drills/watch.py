"""`invoke watch`: a live view of requests through lb-01 and HAProxy's state of each server.

Meant for a second terminal during a drill or a lesson: round robin and failover, as they happen.
"""

from __future__ import annotations

import time

import requests

from .. import haproxy_stats
from ..console import Console
from ..topology import Lab


def watch(lab: Lab, console: Console, seconds: float, interval: float) -> None:
    """Print one line per request through the load balancer, for a bounded time."""
    balancer = lab.with_role("loadbalancer")[0]
    url = f"http://{balancer.address}/api/health"
    headers = {"Host": lab.domain, "Connection": "close"}
    console.line(f"watching {url} every {interval:g} s for {seconds:g} s (Ctrl-C stops)")
    started = time.monotonic()
    states, states_at = "", 0.0
    while time.monotonic() - started < seconds:
        began = time.monotonic()
        try:
            answer = requests.get(url, headers=headers, timeout=2)
            node, outcome = answer.headers.get("X-Served-By", "?"), str(answer.status_code)
            status = "ok" if answer.status_code == 200 else "failed"
        except requests.RequestException as err:
            node, outcome, status = "-", type(err).__name__, "failed"
        latency = (time.monotonic() - began) * 1000
        if time.monotonic() - states_at >= 0.5:
            states, states_at = server_line(lab), time.monotonic()
        stamp = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 10) % 10}"
        console.line(f"{stamp}  {console.paint(status, f'{node:<8}')} {outcome:<18} {latency:6.0f} ms   HAProxy: {states}")
        time.sleep(max(0.0, interval - (time.monotonic() - began)))


def server_line(lab: Lab) -> str:
    try:
        states = haproxy_stats.server_states(lab, timeout=0.5)
    except requests.RequestException:
        return "statistics do not answer"
    return ", ".join(f"{name} {state}" for name, state in sorted(states.items()))
