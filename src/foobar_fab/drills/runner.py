"""Running a drill: check the lab is healthy, send traffic, inject the fault, restore, wait, report.

The lab is always restored, also when the drill is interrupted (Ctrl-C) or the fault cannot be injected.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from .. import haproxy_stats, lab_secrets
from ..executors import RemoteExecutor
from ..providers import ProviderError
from ..resources.files import ConfigFile
from ..roles import inputs_for, loadbalancer
from ..session import LabSession
from ..steps import Runner
from .catalog import Drill, FaultContext
from .databases import Databases
from .figures import Figures
from .observer import Observer
from .report import build_report, print_report, save
from .traffic import Traffic

WARMUP = 3.0  # seconds of traffic before the fault, to show the healthy round robin
TAIL = 3.0  # seconds of traffic after recovery
RECOVERY_TIMEOUT = 120.0
SETTLE = 10.0  # seconds a lab that is still coming up (a server rising in HAProxy) gets before a drill refuses


class DrillRefused(ProviderError):
    """The lab is not healthy enough to start a drill; the message says what is wrong."""


def health_problems(session: LabSession, databases: Databases) -> list[str]:
    """What keeps the lab from being healthy: stopped nodes, servers not UP, replica behind."""
    problems = [f"{s.name} is {s.state}" for s in session.provider.status() if s.state != "running"]
    if problems:
        return problems
    try:
        states = haproxy_stats.server_states(session.lab)
        if not haproxy_stats.all_up(states, session.lab):
            problems.append("HAProxy shows " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    except Exception as err:  # the statistics page is the load balancer's own health
        problems.append(f"HAProxy's statistics do not answer: {type(err).__name__}")
    behind = databases.transactions_behind()
    if behind != 0:
        problems.append("the replica cannot be read" if behind is None else f"the replica is {behind} transactions behind")
    return problems


def wait_until_healthy(session: LabSession, databases: Databases, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not health_problems(session, databases):
            return True
        time.sleep(0.5)
    return False


def use_haproxy_profile(session: LabSession, profile: str) -> None:
    """Render HAProxy's config with a tuning profile and make it live (validated, reloaded only on change)."""
    balancer = session.lab.with_role("loadbalancer")[0]
    secrets = lab_secrets.load_or_create(session.settings.state_dir(session.lab.name))
    inputs = dataclasses.replace(inputs_for(session.lab, balancer, secrets), haproxy_profile=profile)
    steps = [s for s in loadbalancer.steps(inputs) if isinstance(s, ConfigFile)]
    executor = RemoteExecutor(balancer.name, session.provider.ssh_params(balancer.name), session.console)
    try:
        if not Runner(session.console).apply(balancer.name, executor, steps):
            raise ProviderError(f"could not switch HAProxy on {balancer.name} to the {profile} profile")
    finally:
        executor.close()


def run_drill(session: LabSession, drill: Drill, rate: float, duration: float, profile: str = "tuned") -> dict[str, Any]:
    """Run one drill and return its report (also printed and saved)."""
    console, lab = session.console, session.lab
    databases = Databases(lab, lab_secrets.load_or_create(session.settings.state_dir(lab.name)))
    problems = [] if wait_until_healthy(session, databases, SETTLE) else health_problems(session, databases)
    if problems:
        raise DrillRefused(f"the lab is not healthy ({'; '.join(problems)}): run `invoke build`, then the drill again")
    console.heading(f"drill {drill.name}: {drill.title}")
    if profile != "tuned":
        use_haproxy_profile(session, profile)
        wait_until_healthy(session, databases, 30)
    balancer = lab.with_role("loadbalancer")[0]
    run_id = uuid.uuid4().hex[:8]
    traffic = Traffic(f"http://{balancer.address}", lab.domain, rate, run_id)
    observer = Observer(lab, traffic.now, databases)
    events: list[dict[str, Any]] = []

    def event(what: str, detail: str) -> float:
        t = traffic.now()
        events.append({"t": round(t, 2), "what": what, "detail": detail})
        console.note("drill", f"{t:6.1f} s  {what}: {detail}")
        return t

    traffic.start()
    observer.start()
    recovered_at = None
    fault_at = traffic.now() + WARMUP
    try:
        time.sleep(WARMUP)
        fault_at = event("fault", drill.title)
        drill.inject(FaultContext(session))
        time.sleep(max(0.0, fault_at + duration - traffic.now()))
    except KeyboardInterrupt:
        event("interrupted", "Ctrl-C: restoring the lab now")
    finally:
        restore_at = event("restore", f"undoing: {drill.title}")
        try:
            drill.restore(FaultContext(session))
        finally:
            if wait_until_healthy(session, databases, RECOVERY_TIMEOUT):
                recovered_at = event("recovered", "every node up, HAProxy shows all servers UP, replica caught up")
            time.sleep(TAIL)
            traffic.stop()
            observer.stop()
            if profile != "tuned":
                use_haproxy_profile(session, "tuned")
                wait_until_healthy(session, databases, RECOVERY_TIMEOUT)  # a reload starts the checks afresh
    detected_at = observer.first_down(drill.target, fault_at) if drill.target else None
    if detected_at is not None:
        events.append({"t": round(detected_at, 2), "what": "detected", "detail": f"HAProxy marked {drill.target} DOWN"})
        events.sort(key=lambda e: e["t"])
    figures = measure(traffic, observer, databases, run_id, fault_at, restore_at, detected_at, recovered_at, drill.target)
    settings = {"rate": rate, "duration": duration, "warmup": WARMUP, "haproxy": profile, "write_every": traffic.write_every}
    report = build_report(drill, lab.name, settings, figures, events)
    path = save(report, session.settings.state_dir(lab.name) / "drills")
    print_report(report, console)
    console.line(f"report: {path} (plot: {path.with_suffix('.svg').name})")
    return report


def measure(
    traffic: Traffic,
    observer: Observer,
    databases: Databases,
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
    for node in (databases.primary, databases.replica):
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
        peak_lag=observer.peak_lag(),
    )
