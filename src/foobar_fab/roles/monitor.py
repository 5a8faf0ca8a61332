"""The monitoring server (mon-01): Prometheus scrapes every metrics endpoint the design's records list,
evaluates the lab's alert rules, and Alertmanager delivers each alert to a receiver that logs it.

It stands for a hosted monitoring service. It pulls: Prometheus asks each exporter on the servers for its
figures every few seconds (nothing is sent to it), and only it may reach them. Prometheus and
Alertmanager answer the admin host only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..constants import ALERT_LOG, ALERTMANAGER_PORT, PROMETHEUS_PORT
from ..expect import eventually, expect
from ..resources.files import ConfigFile
from ..resources.services import Service, try_restart
from ..steps import Step
from ..templates import render
from ..topology import Lab, NodeSpec
from .record import ADMIN, NodeCheck, Port, Problem, Role, RoleInputs, Rule, roles_field

if TYPE_CHECKING:
    from ..observe.view import LabView

PACKAGES = ("prometheus", "prometheus-alertmanager")
CONFIG = "/etc/prometheus/prometheus.yml"
RULES = "/etc/prometheus/rules/foobar.rules.yml"
ALERTMANAGER_CONFIG = "/etc/prometheus/alertmanager.yml"
ALERTMANAGER_DEFAULTS = "/etc/default/prometheus-alertmanager"
RECEIVER = "/usr/local/lib/foobar/alert-log.py"
RECEIVER_SERVICE = "foobar-alert-log"
RECEIVER_PORT = 9099
RELOAD_PROMETHEUS = "systemctl reload prometheus"
RESTART_ALERTMANAGER = "systemctl restart prometheus-alertmanager"


def rules(lab: Lab) -> str:
    """The alert rules: the error rate from HAProxy's answers, or, where TLS passes through it, from the application's."""
    return render("prometheus/foobar.rules.yml.j2", balancers_see_requests=not lab.passes_tls_through)


def scrape_jobs(inputs: RoleInputs) -> dict[str, list[dict[str, str]]]:
    """Every metrics endpoint of the design, by job: the records' ports that serve metrics."""
    jobs: dict[str, list[dict[str, str]]] = {}
    for exposed in inputs.exposure:
        port = exposed.port
        if port.metrics is not None:
            jobs.setdefault(port.job, []).append({"address": f"{exposed.node.address}:{port.number}", "node": exposed.node.name})
    return jobs


def steps(inputs: RoleInputs) -> list[Step]:
    """Rules and scrape targets checked by promtool, Alertmanager's route by amtool, then the services."""
    node = inputs.node
    prometheus = render(
        "prometheus/prometheus.yml.j2",
        node=node, rules=RULES, jobs=scrape_jobs(inputs), prometheus_port=PROMETHEUS_PORT, alertmanager_port=ALERTMANAGER_PORT,
    )
    alertmanager = render("prometheus/alertmanager.yml.j2", node=node, log=ALERT_LOG, receiver_port=RECEIVER_PORT)
    receiver = render("prometheus/alert-log.py.j2", node=node, log=ALERT_LOG, port=RECEIVER_PORT)
    unit = render("systemd/foobar-alert-log.service.j2", log=ALERT_LOG, script=RECEIVER)
    restart_receiver = f"systemctl daemon-reload && {try_restart(RECEIVER_SERVICE)}"
    return [
        ConfigFile(RECEIVER, receiver, mode="0755", on_change=(restart_receiver,)),
        ConfigFile(f"/etc/systemd/system/{RECEIVER_SERVICE}.service", unit, validate="systemd-analyze verify {path}", on_change=(restart_receiver,)),
        Service(RECEIVER_SERVICE),
        ConfigFile(ALERTMANAGER_DEFAULTS, render("prometheus/alertmanager.default.j2"), on_change=(RESTART_ALERTMANAGER,)),
        ConfigFile(ALERTMANAGER_CONFIG, alertmanager, validate="amtool check-config {path}", on_change=(RESTART_ALERTMANAGER,)),
        Service("prometheus-alertmanager"),
        ConfigFile(RULES, rules(inputs.lab), validate="promtool check rules {path}", on_change=(RELOAD_PROMETHEUS,)),
        ConfigFile(CONFIG, prometheus, validate="promtool check config --syntax-only {path}", on_change=(RELOAD_PROMETHEUS,)),
        Service("prometheus"),
    ]


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    return (
        Port(PROMETHEUS_PORT, "prometheus", "Prometheus", "any", (ADMIN,)),
        Port(ALERTMANAGER_PORT, "prometheus-alertmanager", "Alertmanager", "any", (ADMIN,)),
    )


def targets_up(live: LabView, node: NodeSpec) -> str:
    """Prometheus scrapes every target of the design, and each answers."""
    prometheus = live.prometheus(node)

    def probe() -> str:
        targets = prometheus.targets()
        down = sorted(f"{t.job} on {t.node}" for t in targets if t.health != "up")
        return expect(bool(targets) and not down, f"{len(targets) - len(down)} of {len(targets)} targets up" + (f"; not up: {', '.join(down)}" if down else ""))

    return eventually(probe, 30)


QUIET_WAIT = 45.0  # seconds: an error-rate alert looks back 30 s before it resolves


def quiet(live: LabView, node: NodeSpec) -> str:
    """No alert is firing (alerts of a fault just repaired get the time they need to resolve)."""
    prometheus = live.prometheus(node)

    def probe() -> str:
        firing = list(prometheus.firing())
        return expect(not firing, "none firing" if not firing else "firing: " + ", ".join(firing))

    return eventually(probe, QUIET_WAIT)


def _one_monitor(lab: Lab) -> Iterator[Problem]:
    monitors = lab.with_role("monitor")
    for extra in monitors[1:]:
        yield Problem(roles_field(extra), f"{monitors[0].name} has the role monitor already")
    for node in monitors:
        if not lab.has("monitoring"):
            yield Problem("features.monitoring", f"{node.name} has the role monitor, but monitoring is off: switch it on")


ROLE = Role(
    name="monitor",
    label=f"Prometheus :{PROMETHEUS_PORT}, Alertmanager :{ALERTMANAGER_PORT}",
    packages=PACKAGES,
    wave=4,
    steps=steps,
    ports=ports,
    checks=(
        NodeCheck("mon.targets-up", "Prometheus scrapes every exporter of the design", targets_up, phase="site"),
        NodeCheck("mon.quiet", "no alert firing", quiet, phase="data"),
    ),
    rules=(Rule("one monitoring server, on a design with monitoring", _one_monitor),),
)
