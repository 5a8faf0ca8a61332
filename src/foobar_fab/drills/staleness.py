"""The stale-reads drill: does a user see their own message? Clients post through the balancer and read the
board at once, round after round, while the replica stops applying the primary's changes for a while
(`STOP SLAVE SQL_THREAD`: it still receives them). In the seed design web-02 reads its own replica, so a
client whose read lands there may miss the message it has just posted: a read-your-writes failure, counted
per client. Run again with the design's fix (`lab.read_own_writes_s`: for that long after a client's
write, the application sends its reads to the primary), and the failures should be gone.

Phases as in the other drills: prepare (a whole lab, the application with or without the fix), the window
(clients, then the replica lags, then it applies again), restore (always: the replica applies, the
application as the design has it), measure, report.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from .. import reconfiguration, statefolder
from ..errors import LabError
from ..live import LiveLab
from ..observe.databases import Databases
from ..observe.site import MESSAGES_PATH, LabGone, Site, served_by
from ..resources.mariadb import sql
from ..roles import BuildOptions
from .catalog import DrillRefused

LAG = 5.0  # seconds the replica stops applying, by default
CLIENTS = 4
FIX_SECONDS = 10  # the read-your-writes window the fix runs with when the design sets none
WARMUP = 2.0  # seconds of rounds before the replica lags, and after it applies again
PAUSE = 0.2  # seconds between two rounds of one client
READS = 2  # reads after each write (a page, then a reload): with round robin, one of two in a row reaches each web server
MAX_ROUNDS = 1000  # a client's rounds at most, whatever the clock says
REQUEST_TIMEOUT = 3.0
CATCH_UP = 30.0  # seconds the replica gets to apply everything before and after


@dataclass(frozen=True)
class Round:
    """One client's write and the read right after it: who served the read, and whether it showed the write."""

    client: int
    t: float  # seconds since the clients started, when the read was sent
    read_by: str | None
    saw_own: bool


@dataclass
class StaleRun:
    """One run's rounds and moments."""

    window_s: int  # the read-your-writes window the application ran with (0: none)
    rounds: list[Round] = field(default_factory=list)
    lag_at: float = 0.0
    applied_at: float = 0.0  # when the replica had caught up again

    def stale(self, during_lag: bool | None = None) -> list[Round]:
        """Reads that missed the client's own write (only those during the lag, or only those outside it, if asked)."""
        return [r for r in self.rounds if not r.saw_own and (during_lag is None or (self.lag_at <= r.t < self.applied_at) == during_lag)]

    def per_client(self) -> dict[int, dict[str, int]]:
        """Rounds and stale reads of each client."""
        found: dict[int, dict[str, int]] = {}
        for r in self.rounds:
            mine = found.setdefault(r.client, {"reads": 0, "stale": 0})
            mine["reads"] += 1
            mine["stale"] += not r.saw_own
        return dict(sorted(found.items()))

    def predictions(self, primary: str) -> list[dict[str, Any]]:
        """What the design predicts: a read the primary's server answers always shows the client's write; without
        the fix, reads the replica's server answers miss it while the replica lags; with the fix, no read misses it."""
        on_primary = [r for r in self.rounds if r.read_by == primary]
        rows = [{"id": "reads.primary-fresh", "what": f"reads {primary} answers (from the primary) show the client's write",
                 "ok": bool(on_primary) and all(r.saw_own for r in on_primary), "seen": f"{sum(not r.saw_own for r in on_primary)} of {len(on_primary)} stale"}]
        if self.window_s:
            rows.append({"id": "reads.own-writes-seen", "what": "every client sees its own write (read-your-writes)",
                         "ok": bool(self.rounds) and not self.stale(), "seen": f"{len(self.stale())} of {len(self.rounds)} reads stale"})
        else:
            lagging = [r for r in self.rounds if self.lag_at <= r.t < self.applied_at]
            during = self.stale(during_lag=True)
            rows.append({"id": "reads.stale-while-lagging", "what": "clients whose read reaches the replica miss their own write while it lags",
                         "ok": bool(during), "seen": f"{len(during)} of {len(lagging)} reads during the lag"})
        return rows


def client(site: Site, number: int, run_id: str, clock: Any, stop: threading.Event, into: list[Round], lock: threading.Lock) -> None:
    """One user: post a message, read the board at once, again and again (its own cookies, as a browser keeps them)."""
    mine = dataclasses.replace(site, _session=requests.Session())
    for n in range(MAX_ROUNDS):
        if stop.is_set():
            return
        body = f"stale {run_id} {number} {n}"
        try:
            if mine.post_message(body, timeout=REQUEST_TIMEOUT).status_code == 201:
                for _ in range(READS):
                    t = clock()
                    answer = mine.get(MESSAGES_PATH, timeout=REQUEST_TIMEOUT)
                    if answer.status_code == 200:
                        seen = {m["body"] for m in answer.json()["messages"]}
                        with lock:
                            into.append(Round(number, t, served_by(answer), body in seen))
        except (requests.RequestException, LabGone, ValueError, KeyError):
            pass  # a round that failed shows nothing about staleness
        stop.wait(PAUSE)


@contextmanager
def application_with(live: LiveLab, window_s: int) -> Iterator[None]:
    """The application servers with this read-your-writes window (through the build), the design's after."""
    switched = window_s != live.lab.read_own_writes_s
    if switched and not reconfiguration.reconfigure(live.session, ("app",), BuildOptions(read_own_writes_s=window_s)):
        raise DrillRefused("could not set the application's read-your-writes window (see the failed step above)")
    try:
        yield
    finally:
        if switched:
            reconfiguration.reconfigure(live.session, ("app",), BuildOptions())


def wait_caught_up(databases: Databases) -> bool:
    deadline = time.monotonic() + CATCH_UP
    while time.monotonic() < deadline:
        if databases.transactions_behind() == 0:
            return True
        time.sleep(0.5)
    return False


def run(live: LiveLab, window_s: int, lag: float, clients: int) -> StaleRun:
    """One run: the clients, the replica lagging for `lag` seconds in the middle, every round recorded."""
    lab = live.lab
    if not lab.replicas:
        raise DrillRefused(f"this design ({lab.source.name}) has no replica to lag")
    databases = Databases(lab, live.shells, show=False)
    if not wait_caught_up(databases):
        raise DrillRefused("the replica is behind the primary: run `invoke check`, then the drill again")
    live.console.heading(f"drill stale-reads: the replica stops applying for {lag:g} s; " + (f"reads go to the primary {window_s} s after a write" if window_s else "reads stay where the design has them"))
    found = StaleRun(window_s)
    run_id, stop, lock = uuid.uuid4().hex[:8], threading.Event(), threading.Lock()
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    with application_with(live, window_s):
        threads = [threading.Thread(target=client, args=(live.site, n, run_id, clock, stop, found.rounds, lock), daemon=True) for n in range(1, clients + 1)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(WARMUP)
            for replica in lab.replicas:
                live.shells.must(replica.name, sql("STOP SLAVE SQL_THREAD"), kind="run")
            found.lag_at = clock()
            live.console.note("drill", f"{found.lag_at:6.1f} s  lagging: {', '.join(r.name for r in lab.replicas)} stops applying the primary's changes")
            time.sleep(lag)
        finally:
            for replica in lab.replicas:
                live.shells.must(replica.name, sql("START SLAVE SQL_THREAD"), kind="run")
            wait_caught_up(databases)
            found.applied_at = clock()
            live.console.note("drill", f"{found.applied_at:6.1f} s  caught up: the replica applied what it had received")
            time.sleep(WARMUP)
            stop.set()
            for thread in threads:
                thread.join(REQUEST_TIMEOUT * 2 + PAUSE)
    return found


def report(live: LiveLab, runs: list[StaleRun], lag: float) -> list[str]:
    """The runs side by side, per client, with the predictions; saved as JSON in the lab's drills folder."""
    primary = live.lab.primary.name
    rows = [f"{'reads after a write':<28}{'client':>7}{'reads':>8}{'stale':>7}{'stale while lagging':>21}"]
    for r in runs:
        label = f"read-own-writes {r.window_s} s" if r.window_s else "as designed (no fix)"
        during = {c: sum(1 for x in r.stale(during_lag=True) if x.client == c) for c in r.per_client()}
        for number, counts in r.per_client().items():
            rows.append(f"{label:<28}{number:>7}{counts['reads']:>8}{counts['stale']:>7}{during[number]:>21}")
        lagging = [x for x in r.rounds if r.lag_at <= x.t < r.applied_at]
        nodes = sorted({x.read_by or "?" for x in lagging})
        served = [f"{n} {sum(not x.saw_own for x in lagging if (x.read_by or '?') == n)} of {sum((x.read_by or '?') == n for x in lagging)}" for n in nodes]
        rows.append(f"{label:<28}  stale reads while lagging, by the server that answered: " + (", ".join(served) or "no reads"))
        outside = r.stale(during_lag=False)
        rows.append(f"{label:<28}  stale reads outside the lag: {len(outside)} (asynchronous replication is never instant)")
        for p in r.predictions(primary):
            rows.append(f"{label:<28}  {'yes' if p['ok'] else 'NO '} {p['what']}: {p['seen']}  [{p['id']}]")
    folder = live.session.folder.drills
    statefolder.make_folder(folder)
    data = {"drill": "stale-reads", "lab": live.lab.name, "lag": lag, "runs": [
        {"read_own_writes_s": r.window_s, "lag_at": round(r.lag_at, 2), "applied_at": round(r.applied_at, 2), "per_client": r.per_client(),
         "stale": [dataclasses.asdict(x) for x in r.stale()], "expectations": r.predictions(primary)} for r in runs]}
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-stale-reads.json"
    statefolder.write(path, statefolder.json_text(data))
    rows.append(f"report: {path}")
    return rows


def stale_reads(live: LiveLab, lag: float = LAG, clients: int = CLIENTS) -> tuple[list[StaleRun], list[str]]:
    """Without the fix, then with it (the design's window, or FIX_SECONDS): the runs and the report's lines."""
    window = live.lab.read_own_writes_s or FIX_SECONDS
    runs = []
    for window_s in (0, window):
        try:
            runs.append(run(live, window_s, lag, clients))
        except LabError:
            if not runs:
                raise
            break
    return runs, report(live, runs, lag)
