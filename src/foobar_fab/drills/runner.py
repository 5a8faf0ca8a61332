"""Running a drill: check the lab is healthy, send traffic, inject the fault, restore, wait, report.

The lab is always restored, also when the drill is interrupted (Ctrl-C) or the fault cannot be
injected. Drills break and observe; switching HAProxy to another profile goes through the build.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from .. import build as building
from ..balancer import running_options
from ..console import Console
from ..errors import LabError
from ..live import LiveLab
from ..observe.databases import Databases
from ..observe.haproxy import HaproxyStats, all_up, describe
from ..observe.prometheus import Prometheus
from ..observe.shell import NodeUnreachable
from ..observe.site import LabGone
from ..roles import BuildOptions
from ..topology import DB_ROLES, NodeSpec
from ..waiting import wait_until
from .catalog import Drill, DrillRefused, entry_balancer
from .figures import Figures
from .observer import Floating, Observer
from .predictions import consequences, predict
from .report import build_report, print_report, save
from .response import Act, DrillRun
from .restoring import restoring
from .traffic import Traffic

WARMUP = 3.0  # seconds of traffic before the fault, to show the healthy round robin
TAIL = 3.0  # seconds of traffic after recovery
RECOVERY_TIMEOUT = 120.0
SETTLE = 10.0  # seconds a lab that is still coming up (a server rising in HAProxy) gets before a drill refuses
QUIET = 60.0  # seconds, on a monitored design: for the last drill's alerts to resolve before, and this one's after


@dataclass(frozen=True)
class Health:
    """What a drill watches to tell that the lab is whole: the nodes, HAProxy's view, the replicas
    (and on a monitored design, that no alert is firing before a drill starts)."""

    live: LiveLab
    stats: HaproxyStats
    databases: Databases
    prometheus: Prometheus | None = None

    def firing(self) -> list[str]:
        """The alerts firing now (none where there is no monitoring, or it does not answer)."""
        if self.prometheus is None:
            return []
        try:
            return list(self.prometheus.firing(timeout=2.0))
        except (requests.RequestException, LabGone, ValueError, KeyError):
            return []

    def quiet(self, timeout: float) -> bool:
        """Wait until no alert fires; True if none was left at the end."""
        return wait_until(lambda: not self.firing(), timeout, 1.0)

    def problems(self) -> list[str]:
        """What keeps the lab from being healthy: stopped nodes, servers not UP, replicas behind."""
        session = self.live.session
        problems = [f"{s.name} is {s.state}" for s in session.provider.status() if s.state != "running"]
        if problems:
            return problems
        try:
            states = self.stats.server_states()
            if not all_up(states, self.live.lab):
                problems.append(f"HAProxy on {self.stats.balancer.name} shows {describe(states)}")
        except Exception as err:  # the statistics page is the load balancer's own health
            problems.append(f"HAProxy's statistics on {self.stats.balancer.name} do not answer: {type(err).__name__}")
        behind = self.databases.transactions_behind()
        if behind != 0:
            problems.append("a replica cannot be read" if behind is None else f"the replicas are {behind} transactions behind")
        return problems

    def follow(self) -> None:
        """After a promotion: watch the replicas of the new primary."""
        self.databases.lab = self.live.lab

    def wait(self, timeout: float) -> bool:
        return wait_until(lambda: not self.problems(), timeout, 0.5)


def use_haproxy(live: LiveLab, options: BuildOptions) -> None:
    """Make HAProxy's config with other build options live (a tuning profile, an algorithm), through the build's
    own steps; the report says so in one line (the build's own lines only if it fails)."""
    said = io.StringIO()
    quiet = dataclasses.replace(live.session, console=Console(quiet=True, stream=said, secrets=live.console.secrets))
    what = f"HAProxy {options.haproxy_profile}, balance {options.balance}"
    if not building.reconfigure(quiet, ["loadbalancer"], options):
        live.console.line(said.getvalue().rstrip())
        raise DrillRefused(f"could not switch to {what} (see the failed step above)")
    live.console.note("drill", f"{what}: through the build (haproxy.cfg written, HAProxy reloaded)")


def use_replication(live: LiveLab, mode: str | None) -> bool:
    """Make the database servers replicate in another mode (None: the design's), through the build's own
    steps, showing only what changes; False if a step failed."""
    with live.console.briefly():
        return building.reconfigure(live.session, DB_ROLES, BuildOptions(replication=mode))


def run_drill(
    live: LiveLab,
    drill: Drill,
    rate: float,
    duration: float,
    profile: str = "tuned",
    balance: str | None = None,
    plot_to: Path | None = None,
    replication: str | None = None,
) -> dict[str, Any]:
    """Run one drill and return its report (also printed and saved, its plot also copied to `plot_to` if given);
    report['interrupted'] tells a Ctrl-C. Another profile or algorithm (default: the one HAProxy runs), or
    another replication mode than the design's, is used for the drill only, and what ran before is put back."""
    console, lab = live.console, live.lab
    mode = replication or lab.replication
    switched = False  # the replication mode was changed for the drill: put back at the end
    target = drill.target(live)
    balancer = entry_balancer(live)
    quiet_shells = live.more_shells()
    monitors = lab.with_role("monitor")
    prometheus = live.prometheus(monitors[0]) if monitors else None
    health = Health(live, live.stats(balancer), Databases(lab, quiet_shells, show=False), prometheus)
    try:
        problems = [] if health.wait(SETTLE) else health.problems()
        if problems:
            raise DrillRefused(f"the lab is not healthy ({'; '.join(problems)}): run `invoke build`, then the drill again")
        if not health.quiet(QUIET):
            raise DrillRefused(f"alerts are firing ({', '.join(health.firing())}): see `invoke alerts`, fix the cause, then the drill again")
        title = drill.fault.title(target, live)
        expected = consequences(
            lab, target, drill.fault.breaks(target), drill.fault.peers(lab, target),
            slowed=drill.fault.kind == "slow", failover=drill.response is not None, replication=mode,
        )
        detect_target = expected.web_out[0] if expected.web_out else None
        console.heading(f"drill {drill.name}: {title}" + (f" ({mode} replication)" if lab.replicas else ""))
        chosen = running_options(live)  # what a class may have chosen with `invoke lb.*`: kept, and reported
        haproxy = dataclasses.replace(chosen, haproxy_profile=profile, balance=balance or chosen.balance)
        options = dataclasses.replace(haproxy, replication=mode)
        if haproxy != chosen:
            use_haproxy(live, haproxy)
            health.wait(30)
        if mode != lab.replication:
            switched = True
            if not use_replication(live, mode):
                raise DrillRefused(f"could not switch to {mode} replication (see the failed step above)")
            health.wait(30)
        run_id = uuid.uuid4().hex[:8]
        traffic = Traffic(live.site, rate, run_id)
        floating = Floating(quiet_shells, lab.balancers, str(lab.floating_address)) if lab.floating_address else None
        observer = Observer(health.stats, traffic.now, health.databases, prometheus, floating)
        events: list[dict[str, Any]] = []

        def event(what: str, detail: str, at: float | None = None) -> float:
            t = traffic.now() if at is None else at
            events.append({"t": round(t, 2), "what": what, "detail": detail})
            console.note("drill", f"{t:6.1f} s  {what}: {detail}")
            return t

        run = DrillRun(live, target, event, traffic.now, options, duration)
        operator = None
        if drill.response is not None:
            operator = threading.Thread(target=respond, args=(drill.response.during, run, health), name="operator", daemon=True)

        traffic.start()
        observer.start()
        recovered_at = None
        interrupted = False
        fault_at = traffic.now() + WARMUP
        try:
            time.sleep(WARMUP)
            if operator is not None:
                operator.start()  # it watches from before the fault, as a real one would
            fault_at = event("fault", title)
            drill.fault.inject(live, target)
            time.sleep(max(0.0, fault_at + duration - traffic.now()))
        except KeyboardInterrupt:
            interrupted = True
            event("interrupted", "Ctrl-C: restoring the lab now")
        finally:
            with restoring(title, traffic.now) as presses:
                try:
                    if operator is not None and operator.is_alive():
                        operator.join(RECOVERY_TIMEOUT)  # a failover under way finishes before the old primary returns
                    restore_at = event("restore", f"undoing: {title}")
                    try:
                        drill.fault.restore(live, target)
                        if drill.response is not None:
                            respond(drill.response.after, run, health)
                    finally:
                        if health.wait(RECOVERY_TIMEOUT):
                            recovered_at = event("recovered", "every node up, HAProxy shows all servers UP, replicas caught up")
                        time.sleep(TAIL)
                        traffic.stop()
                        if recovered_at is not None:
                            health.quiet(QUIET)  # the alerts of this fault resolve too: the report gives when
                        observer.stop()
                        if haproxy != chosen:
                            use_haproxy(live, chosen)
                            health.wait(RECOVERY_TIMEOUT)  # a reload starts the checks afresh
                finally:
                    traffic.stop()  # (again, at once) also when the restore was abandoned: no request is sent after
                    observer.stop()
            if presses and not interrupted:
                interrupted = True
                event("interrupted", "Ctrl-C during the restore, which went on to its end", at=presses[0])
        detected_at = observer.first_down(detect_target, fault_at) if detect_target else None
        if detected_at is not None:
            events.append({"t": round(detected_at, 2), "what": "detected", "detail": f"HAProxy marked {detect_target} DOWN"})
            events.sort(key=lambda e: e["t"])
        figures = measure(traffic, health.databases, lab.db_nodes, run_id, fault_at, restore_at, detected_at, recovered_at, detect_target)
        figures.peak_lag = observer.peak_lag()
        figures.interval = 1.0 / rate
        figures.failover = run.findings
        figures.takeovers = list(observer.takeovers)
        for before, after in itertools.pairwise(figures.takeovers):
            if after["t"] < fault_at:
                continue  # the first answers of each balancer, not a move
            for taker in sorted(set(after["holders"]) - set(before["holders"])):
                events.append({"t": after["t"], "what": "address", "detail": f"{taker} takes {lab.floating_address}"})
        figures.alerts = [
            {"alert": a.name, "node": a.node, "summary": a.summary, "fired_at": round(a.fired_at, 2),
             "after_fault": round(a.fired_at - fault_at, 2), "resolved_at": None if a.resolved_at is None else round(a.resolved_at, 2)}
            for a in sorted(observer.alerts.values(), key=lambda a: a.fired_at)
        ]
        for alert in figures.alerts:
            events.append({"t": alert["fired_at"], "what": "alert", "detail": f"{alert['alert']} ({alert['node']}) fired"})
            if alert["resolved_at"] is not None:
                events.append({"t": alert["resolved_at"], "what": "resolved", "detail": f"{alert['alert']} ({alert['node']})"})
        events.sort(key=lambda e: e["t"])
        settings = {
            "rate": rate, "duration": duration, "warmup": WARMUP, "haproxy": profile, "balance": haproxy.balance, "backups": list(haproxy.backups),
            "write_every": traffic.write_every, "replication": mode,
        }
        expectations = [p(figures) for p in predict(expected, drill.fault.kind == "power", haproxy.balance)]
        report = build_report(drill, title, lab, settings, figures, events, expectations)
        report["interrupted"] = interrupted
        report["loss_possible"] = expected.failover and not expected.semi_sync
        path = save(report, live.session.state_dir / "drills")
        print_report(report, console)
        console.line(f"report: {path} (plot: {path.with_suffix('.svg').name})")
        if plot_to is not None:
            plot_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path.with_suffix(".svg"), plot_to)
            console.line(f"plot also in {plot_to}")
        if drill.response is not None:
            respond(drill.response.finish, run, health)
        return report
    finally:
        quiet_shells.close()
        if switched:
            put_back(live, health)


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
    if use_replication(live, None):
        health.wait(RECOVERY_TIMEOUT)
    else:
        live.console.note("drill", "the design's replication mode could not be put back: run `invoke build`")


def measure(
    traffic: Traffic,
    databases: Databases,
    db_nodes: tuple[NodeSpec, ...],
    run_id: str,
    fault_at: float,
    restore_at: float,
    detected_at: float | None,
    recovered_at: float | None,
    target: str | None,
) -> Figures:
    """Figures of the drill, including which acknowledged writes each database holds after recovery."""
    records = traffic.snapshot()
    acknowledged = {r.body for r in records if r.kind == "write" and r.ok and r.body}
    lost: dict[str, list[str]] = {}
    for node in db_nodes:
        try:
            present = databases.bodies(node, f"drill {run_id} ")
            lost[node.name] = sorted(acknowledged - present)
        except Exception as err:  # a database still down after the drill: every acknowledged write is unverified
            lost[node.name] = [f"(cannot read {node.name}: {type(err).__name__})"]
    return Figures(
        records=records,
        fault_at=fault_at,
        restore_at=restore_at,
        detected_at=detected_at,
        recovered_at=recovered_at,
        target=target,
        acknowledged=len(acknowledged),
        lost=lost,
    )
