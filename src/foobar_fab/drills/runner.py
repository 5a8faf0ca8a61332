"""Running a drill, in named phases: prepare, fault window, restore, measure, report.

Prepare refuses a lab that is not whole and switches to what the drill runs with (another HAProxy profile
or algorithm, another replication mode: through the build, see reconfiguration.py); the fault window
sends traffic, injects the fault and watches; restore undoes it, waits for the lab to recover and puts
HAProxy's profile back; measure counts what clients saw and what the databases kept; report prints and
saves it. The lab is always restored, also when the drill is interrupted (Ctrl-C) or the fault cannot be
injected, and the design's replication mode is put back at the end.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import reconfiguration
from ..console import Console
from ..errors import LabError
from ..live import LiveLab
from ..observe.databases import Databases
from ..observe.shell import NodeShells, NodeUnreachable
from ..roles import BuildOptions
from ..topology import Lab, NodeSpec
from .catalog import Drill, DrillRefused, entry_balancer
from .figures import Figures
from .health import Health
from .observer import Floating, Observer
from .predictions import Consequences, consequences, predict
from .progress import Progress
from .report import DrillReport, DrillSettings, EventRow, build_report, print_report, save
from .response import Act, DrillRun
from .restoring import restoring
from .traffic import Traffic

WARMUP = 3.0  # seconds of traffic before the fault, to show the healthy round robin
TAIL = 3.0  # seconds of traffic after recovery
RECOVERY_TIMEOUT = 120.0
SETTLE = 10.0  # seconds a lab that is still coming up (a server rising in HAProxy) gets before a drill refuses
QUIET = 60.0  # seconds, on a monitored design: for the last drill's alerts to resolve before, and this one's after
SWITCHED = 30.0  # seconds the lab gets to be whole again after a switch of HAProxy's profile or the replication mode


@dataclass(frozen=True)
class DrillOptions:
    """How a drill runs: requests per second, seconds the fault lasts, HAProxy's profile, an algorithm
    (None: the one HAProxy runs), a replication mode (None: the design's), where a copy of the plot goes, and a
    semi-sync timeout (None: the design's)."""

    rate: float
    duration: float
    profile: str = "tuned"
    balance: str | None = None
    replication: str | None = None
    plot_to: Path | None = None
    semi_sync_timeout_ms: int | None = None  # another semi-sync timeout than the design's (None: the design's)


@dataclass(frozen=True)
class Setup:
    """What the prepare phase settled: the fault, what the design predicts of it, and the build options the
    drill runs with (HAProxy's as a class chose them before, to be put back after)."""

    target: NodeSpec
    title: str
    expected: Consequences
    mode: str  # the replication mode of the drill
    chosen: BuildOptions  # HAProxy's options before the drill
    haproxy: BuildOptions  # HAProxy's options during the drill
    timeout_ms: int | None = None  # the drill's semi-sync timeout, where it is not the design's

    @property
    def options(self) -> BuildOptions:
        return dataclasses.replace(self.haproxy, replication=self.mode, semi_sync_timeout_ms=self.timeout_ms)

    @property
    def detect(self) -> str | None:
        """The web server HAProxy should mark DOWN, if any."""
        return self.expected.web_out[0] if self.expected.web_out else None


@dataclass
class Timeline:
    """The drill's events on the traffic's clock; those recorded while it runs are also printed then."""

    console: Console
    now: Callable[[], float]
    events: list[EventRow] = field(default_factory=list)

    def event(self, what: str, detail: str, at: float | None = None) -> float:
        t = self.now() if at is None else at
        self.add(round(t, 2), what, detail)
        self.console.note("drill", f"{t:6.1f} s  {what}: {detail}")
        return t

    def add(self, t: float, what: str, detail: str) -> None:
        self.events.append({"t": t, "what": what, "detail": detail})


@dataclass
class Window:
    """The fault window and its restore as they ran: traffic and observers on one clock, the response's view,
    the moments that count, and whether Ctrl-C cut it short."""

    traffic: Traffic
    observer: Observer
    timeline: Timeline
    run: DrillRun
    operator: threading.Thread | None
    progress: Progress | None = None  # the drill as it goes, for the lab's page
    fault_at: float = 0.0
    lead_at: float | None = None  # when what goes wrong before the fault began (a lagging replica)
    restore_at: float = 0.0
    recovered_at: float | None = None
    interrupted: bool = False

    def start(self) -> None:
        self.traffic.start()
        self.observer.start()
        self.fault_at = self.traffic.now() + WARMUP
        if self.progress is not None:
            self.progress.start()

    def stop(self) -> None:
        self.traffic.stop()
        self.observer.stop()
        if self.progress is not None:
            self.progress.stop()

    def moments(self) -> dict[str, float]:
        return {"fault_at": round(self.fault_at, 2), "restore_at": round(self.restore_at, 2)}


def run_drill(live: LiveLab, drill: Drill, options: DrillOptions) -> DrillReport:
    """Run one drill and return its report (also printed and saved, its plot also copied to `options.plot_to` if
    given); report['interrupted'] tells a Ctrl-C. What the options switch (HAProxy's profile or algorithm, the
    replication mode) is for the drill only: what ran before is put back."""
    target = drill.target(live)
    balancer = entry_balancer(live)
    quiet_shells = live.more_shells()
    monitors = live.lab.with_role("monitor")
    prometheus = live.prometheus(monitors[0]) if monitors else None
    health = Health(live, live.stats(balancer), Databases(live.lab, quiet_shells, show=False), prometheus)
    try:
        with prepared(live, drill, target, health, options) as setup:
            window = open_window(live, drill, setup, health, quiet_shells, options)
            window.start()
            try:
                fault_window(live, drill, setup, window, options.duration)
            finally:
                restore(live, drill, setup, window, health)
            figures = measure(window, setup, health, live.lab, options.rate)
            report = write_report(live, drill, options, setup, window, figures)
            if drill.response is not None:
                respond(drill.response.finish, window.run, health)
            return report
    finally:
        quiet_shells.close()


@contextmanager
def prepared(live: LiveLab, drill: Drill, target: NodeSpec, health: Health, options: DrillOptions) -> Iterator[Setup]:
    """Prepare: refuse a lab that is not whole, say what the drill does, and switch HAProxy's profile and the
    replication mode to the drill's; the design's replication mode is put back when the drill ends."""
    lab = live.lab
    refuse_unless_whole(health)
    mode = options.replication or lab.replication
    timeout = options.semi_sync_timeout_ms if options.semi_sync_timeout_ms != lab.semi_sync_timeout_ms else None
    title = drill.fault.title(target, live)
    lead = drill.fault.lead
    expected = consequences(
        lab, target, drill.fault.breaks(target), drill.fault.peers(lab, target),
        slowed=drill.fault.kind == "slow", failover=drill.response is not None, replication=mode,
        lag=lead.seconds if lead is not None else 0.0, semi_sync_timeout_ms=timeout or lab.semi_sync_timeout_ms,
    )
    waits = f", {timeout or lab.semi_sync_timeout_ms} ms timeout" if mode == "semi-sync" and (timeout or lead) else ""
    live.console.heading(f"drill {drill.name}: {title}" + (f" ({mode} replication{waits})" if lab.replicas else ""))
    chosen = reconfiguration.running_options(live)  # what a class may have chosen with `invoke lb.*`: kept, and reported
    haproxy = dataclasses.replace(chosen, haproxy_profile=options.profile, balance=options.balance or chosen.balance)
    if haproxy != chosen:
        use_haproxy(live, haproxy)
        health.wait(SWITCHED)
    switched = mode != lab.replication or timeout is not None
    try:
        if switched:
            if not reconfiguration.replication(live, mode, timeout):
                raise DrillRefused(f"could not switch to {mode} replication (see the failed step above)")
            health.wait(SWITCHED)
        yield Setup(target, title, expected, mode, chosen, haproxy, timeout)
    finally:
        if switched:
            put_back(live, health)


def refuse_unless_whole(health: Health) -> None:
    """A drill starts on a whole lab only: every node up, every server UP, the replicas caught up, no alert firing."""
    problems = [] if health.wait(SETTLE) else health.problems()
    if problems:
        raise DrillRefused(f"the lab is not healthy ({'; '.join(problems)}): run `invoke build`, then the drill again")
    if not health.quiet(QUIET):
        raise DrillRefused(f"alerts are firing ({', '.join(health.firing())}): see `invoke alerts`, fix the cause, then the drill again")


def open_window(live: LiveLab, drill: Drill, setup: Setup, health: Health, quiet_shells: NodeShells, options: DrillOptions) -> Window:
    """The traffic, the observers and the drill's response (an operator that watches from before the fault), not started yet."""
    lab = live.lab
    traffic = Traffic(live.site, options.rate, uuid.uuid4().hex[:8])
    floating = Floating(quiet_shells, lab.balancers, str(lab.floating_address)) if lab.floating_address else None
    observer = Observer(health.stats, traffic.now, health.databases, health.prometheus, floating)
    timeline = Timeline(live.console, traffic.now)
    run = DrillRun(live, setup.target, timeline.event, traffic.now, setup.options, options.duration)
    operator = None
    if drill.response is not None:
        operator = threading.Thread(target=respond, args=(drill.response.during, run, health), name="operator", daemon=True)
    window = Window(traffic, observer, timeline, run, operator)
    window.progress = Progress(live.session.folder.drill_running, drill.name, setup.title, traffic.snapshot, traffic.now, timeline.events, window.moments)
    return window


def fault_window(live: LiveLab, drill: Drill, setup: Setup, window: Window, duration: float) -> None:
    """Fault window: healthy traffic first, then the fault, held for `duration` seconds; Ctrl-C ends it early."""
    try:
        time.sleep(WARMUP)
        if window.operator is not None:
            window.operator.start()  # it watches from before the fault, as a real one would
        lead = drill.fault.lead
        if lead is not None:
            lead.act(live, setup.target)
            window.lead_at = window.timeline.event("lagging", lead.title(setup.target, live))
            time.sleep(max(0.0, window.lead_at + lead.seconds - window.traffic.now()))
        window.fault_at = window.timeline.event("fault", setup.title)
        drill.fault.inject(live, setup.target)
        time.sleep(max(0.0, window.fault_at + duration - window.traffic.now()))
    except KeyboardInterrupt:
        window.interrupted = True
        window.timeline.event("interrupted", "Ctrl-C: restoring the lab now")


def restore(live: LiveLab, drill: Drill, setup: Setup, window: Window, health: Health) -> None:
    """Restore: undo the fault (with Ctrl-C held back once), wait for the lab to recover, stop the traffic and
    the observers, and put HAProxy's profile back."""
    event, operator = window.timeline.event, window.operator
    with restoring(setup.title, window.traffic.now) as presses:
        try:
            if operator is not None and operator.is_alive():
                operator.join(RECOVERY_TIMEOUT)  # a failover under way finishes before the old primary returns
            window.restore_at = event("restore", f"undoing: {setup.title}")
            try:
                drill.fault.restore(live, setup.target)
                if drill.response is not None:
                    respond(drill.response.after, window.run, health)
            finally:
                if health.wait(RECOVERY_TIMEOUT):
                    window.recovered_at = event("recovered", "every node up, HAProxy shows all servers UP, replicas caught up")
                time.sleep(TAIL)
                window.traffic.stop()
                if window.recovered_at is not None:
                    health.quiet(QUIET)  # the alerts of this fault resolve too: the report gives when
                window.observer.stop()
                if setup.haproxy != setup.chosen:
                    use_haproxy(live, setup.chosen)
                    health.wait(RECOVERY_TIMEOUT)  # a reload starts the checks afresh
        finally:
            window.stop()  # (again, at once) also when the restore was abandoned: no request is sent after
    if presses and not window.interrupted:
        window.interrupted = True
        event("interrupted", "Ctrl-C during the restore, which went on to its end", at=presses[0])


def measure(window: Window, setup: Setup, health: Health, lab: Lab, rate: float) -> Figures:
    """Measure: the drill's figures (requests, moments, acknowledged writes each database holds after recovery,
    the observers' findings), and what the observers saw added to its events in order."""
    observer, timeline, detect = window.observer, window.timeline, setup.detect
    detected_at = observer.first_down(detect, window.fault_at) if detect else None
    if detected_at is not None:
        timeline.add(round(detected_at, 2), "detected", f"HAProxy marked {detect} DOWN")
    records = window.traffic.snapshot()
    acknowledged = {r.body for r in records if r.kind == "write" and r.ok and r.body}
    failed = {r.body for r in records if r.kind == "write" and not r.ok and r.body}
    held = bodies_held(health.databases, lab.db_nodes, window.traffic.run_id)
    figures = Figures(
        records=records,
        fault_at=window.fault_at,
        lead_at=window.lead_at,
        restore_at=window.restore_at,
        detected_at=detected_at,
        recovered_at=window.recovered_at,
        target=detect,
        acknowledged=len(acknowledged),
        lost=lost_writes(acknowledged, held),
        failed_but_stored=stored_anyway(failed, held),
        peak_lag=observer.peak_lag(),
        interval=1.0 / rate,
        failover=window.run.findings,
        takeovers=list(observer.takeovers),
    )
    for before, after in itertools.pairwise(figures.takeovers):
        if after["t"] < window.fault_at:
            continue  # the first answers of each balancer, not a move
        for taker in sorted(set(after["holders"]) - set(before["holders"])):
            timeline.add(after["t"], "address", f"{taker} takes {lab.floating_address}")
    figures.alerts = [
        {"alert": a.name, "node": a.node, "summary": a.summary, "fired_at": round(a.fired_at, 2),
         "after_fault": round(a.fired_at - window.fault_at, 2), "resolved_at": None if a.resolved_at is None else round(a.resolved_at, 2)}
        for a in sorted(observer.alerts.values(), key=lambda a: a.fired_at)
    ]
    for alert in figures.alerts:
        timeline.add(alert["fired_at"], "alert", f"{alert['alert']} ({alert['node']}) fired")
        if alert["resolved_at"] is not None:
            timeline.add(alert["resolved_at"], "resolved", f"{alert['alert']} ({alert['node']})")
    timeline.events.sort(key=lambda e: e["t"])
    return figures


def bodies_held(databases: Databases, db_nodes: tuple[NodeSpec, ...], run_id: str) -> dict[str, set[str] | str]:
    """The messages of this run each database server holds after recovery (or why it could not be read)."""
    held: dict[str, set[str] | str] = {}
    for node in db_nodes:
        try:
            held[node.name] = databases.bodies(node, f"drill {run_id} ")
        except Exception as err:  # a database still down after the drill: nothing it holds is verified
            held[node.name] = f"(cannot read {node.name}: {type(err).__name__})"
    return held


def stored_anyway(failed: set[str], held: dict[str, set[str] | str]) -> list[str]:
    """The writes a client saw fail that some database server holds all the same (a client that tried again
    would have stored them twice)."""
    return sorted(b for b in failed if any(isinstance(present, set) and b in present for present in held.values()))


def lost_writes(acknowledged: set[str], held: dict[str, set[str] | str]) -> dict[str, list[str]]:
    """The acknowledged writes of this run that each database server does not hold after recovery."""
    return {node: sorted(acknowledged - present) if isinstance(present, set) else [present] for node, present in held.items()}


def write_report(live: LiveLab, drill: Drill, options: DrillOptions, setup: Setup, window: Window, figures: Figures) -> DrillReport:
    """Report: the figures beside what the design predicts, printed, saved with its plot (and the plot copied where asked)."""
    console, haproxy = live.console, setup.haproxy
    settings: DrillSettings = {
        "rate": options.rate, "duration": options.duration, "warmup": WARMUP, "haproxy": options.profile, "balance": haproxy.balance,
        "backups": list(haproxy.backups), "write_every": window.traffic.write_every, "replication": setup.mode,
        "semi_sync_timeout_ms": setup.timeout_ms or live.lab.semi_sync_timeout_ms, "lag": drill.fault.lead.seconds if drill.fault.lead else 0.0,
    }
    expectations = [p(figures) for p in predict(setup.expected, drill.fault.kind == "power", haproxy.balance)]
    loss_possible = setup.expected.loss_possible
    report = build_report(drill, setup.title, live.lab, settings, figures, window.timeline.events, expectations, window.interrupted, loss_possible)
    path = save(report, live.session.folder.drills)
    print_report(report, console)
    console.line(f"report: {path} (plot: {path.with_suffix('.svg').name})")
    if options.plot_to is not None:
        options.plot_to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path.with_suffix(".svg"), options.plot_to)
        console.line(f"plot also in {options.plot_to}")
    return report


def use_haproxy(live: LiveLab, options: BuildOptions) -> None:
    """Make HAProxy's config with other build options live (a tuning profile, an algorithm), through the build's
    own steps; the report says so in one line (the build's own lines only if it fails)."""
    said = io.StringIO()
    quiet = dataclasses.replace(live.session, console=Console(quiet=True, stream=said, secrets=live.console.secrets))
    what = f"HAProxy {options.haproxy_profile}, balance {options.balance}"
    if not reconfiguration.haproxy(quiet, options):
        live.console.line(said.getvalue().rstrip())
        raise DrillRefused(f"could not switch to {what} (see the failed step above)")
    live.console.note("drill", f"{what}: through the build (haproxy.cfg written, HAProxy reloaded)")


def respond(act: Act, run: DrillRun, health: Health) -> None:
    """Let the drill's response act (its build steps shown only where they change something); what fails
    is an event of the report, not the end of the drill."""
    try:
        with run.live.console.briefly():
            act(run)
    except (LabError, NodeUnreachable) as err:
        run.event("response failed", str(err))
    finally:
        health.follow()


def put_back(live: LiveLab, health: Health) -> None:
    """The design's replication mode again, after a drill that changed it."""
    if reconfiguration.replication(live, None):
        health.wait(RECOVERY_TIMEOUT)
    else:
        live.console.note("drill", "the design's replication mode could not be put back: run `invoke build`")
