"""Steady client traffic to the site: reads and writes at a fixed rate, every request recorded.

Requests are started on a fixed schedule (not one after another), so a request that hangs does not slow
the rate down: clients keep arriving, as real ones would. The traffic stops by itself if the lab's
network disappears (nothing is ever sent through the host's default route).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from ..observe.site import MESSAGES_PATH, LabGone, Site, served_by

if TYPE_CHECKING:
    from ..live import LiveLab

REQUEST_TIMEOUT = 5.0
RATE = 20.0  # requests per second a drill sends by default
#: ... where the nodes run under CPU emulation: at 20, web-02 alone cannot answer its health checks in time
#: and HAProxy takes it out too (measured on three emulated VMs: 141 of 320 reads failed during the outage).
EMULATED_RATE = 5.0
SLOW = 1.0  # seconds: an answer slower than this counts as slow


@dataclass(frozen=True)
class Request:
    """One client request and what came back."""

    t: float  # seconds since traffic started
    kind: str  # read or write
    status: int | None  # HTTP status; None when no answer came
    node: str | None  # which web server answered (the header each adds)
    latency: float
    error: str | None
    body: str | None = None  # the message written, for writes

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)

    @property
    def slow(self) -> bool:
        return self.ok and self.latency > SLOW


class Traffic:
    """Sends GET /api/messages (reads) and POST /api/messages (writes) to the site at a fixed rate.

    One request in `write_every` is a write. The number is odd on purpose: round robin alternates the
    web nodes request by request, so with an even one every write would land on the same node.
    """

    def __init__(self, site: Site, rate: float, run_id: str, write_every: int = 5) -> None:
        self.site = site
        self.interval = 1.0 / rate
        self.run_id = run_id
        self.write_every = write_every
        self.records: list[Request] = []
        self.started = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(8, int(rate * REQUEST_TIMEOUT) + 4))
        self._thread = threading.Thread(target=self._schedule, name="traffic", daemon=True)

    def now(self) -> float:
        """Seconds since traffic started: the drill's clock."""
        return time.monotonic() - self.started

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Stop sending, and wait for the requests still under way."""
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _schedule(self) -> None:
        number = 0
        while not self._stop.is_set():
            due = self.started + number * self.interval
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            if not self.site.network_present():
                break  # the lab is gone: its addresses must not be tried through the default route
            kind = "write" if number % self.write_every == self.write_every - 1 else "read"
            try:
                self._pool.submit(self._send, kind, number)
            except RuntimeError:
                break  # the pool is shut down (the interpreter is exiting): nothing more is sent
            number += 1

    def _send(self, kind: str, number: int) -> None:
        started = self.now()
        body = f"drill {self.run_id} {number}" if kind == "write" else None
        status = node = error = None
        try:
            if body is not None:
                answer = self.site.post_message(body, timeout=REQUEST_TIMEOUT)
            else:
                answer = self.site.get(MESSAGES_PATH, timeout=REQUEST_TIMEOUT)
            status, node = answer.status_code, served_by(answer)
            if status not in (200, 201):
                error = f"HTTP {status}"
        except (requests.RequestException, LabGone) as err:
            error = type(err).__name__
        record = Request(started, kind, status, node, self.now() - started, error, body)
        with self._lock:
            self.records.append(record)

    def snapshot(self) -> list[Request]:
        with self._lock:
            return sorted(self.records, key=lambda r: r.t)


def drill_rate(chosen: float | None, live: LiveLab) -> float:
    """The rate a drill sends: the one chosen, else 20 requests/s, or 5 where the nodes are emulated (said once)."""
    if chosen is not None:
        return chosen
    if not live.session.provider.emulated():
        return RATE
    live.console.note("drill", f"the nodes run under CPU emulation: {EMULATED_RATE:g} requests/s, not {RATE:g} (--rate to choose)")
    return EMULATED_RATE
