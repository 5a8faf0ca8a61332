"""The monitoring client on every node of a monitored design: Prometheus exporters, scraped by the
monitoring server (the node with the role monitor), which alone may reach them.

Every node runs the node exporter; database servers also run the MariaDB exporter; the load
balancers' HAProxy and the application servers serve their own metrics, on ports of their own.
Nodes that hold a certificate of the lab's CA publish its end date for the expiry alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..constants import APP_METRICS_PORT, DATABASE, HAPROXY_METRICS_PORT, MYSQLD_EXPORTER_PORT, NODE_EXPORTER_PORT
from ..executors import Outcome
from ..resources.files import Absent, ConfigFile
from ..resources.packages import APT_GET
from ..resources.services import Service
from ..steps import Plan, Run, Step, change, lines, ok
from ..templates import render
from ..topology import Lab, NodeSpec
from .database import HEARTBEAT_TABLE
from .loadbalancer import holds_site_key
from .record import Port, Problem, Role, RoleInputs, Rule
from .web import certificate as served_by_nginx

NODE_EXPORTER = "prometheus-node-exporter"
MYSQLD_EXPORTER = "prometheus-mysqld-exporter"
NODE_DEFAULTS = f"/etc/default/{NODE_EXPORTER}"
MYSQLD_DEFAULTS = f"/etc/default/{MYSQLD_EXPORTER}"
MYSQLD_CNF = "/etc/prometheus/mysqld-exporter.cnf"
TEXTFILES = "/var/lib/prometheus/node-exporter"
CERTIFICATES = f"{TEXTFILES}/foobar_tls.prom"


def monitors(lab: Lab) -> tuple[str, ...]:
    return tuple(n.name for n in lab.with_role("monitor"))


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    """Each metrics endpoint of the node, open to the monitoring server only."""
    reach = monitors(lab)
    found = [Port(NODE_EXPORTER_PORT, NODE_EXPORTER, "node metrics", "any", reach, "/metrics", "node")]
    if node in lab.db_nodes:
        found.append(Port(MYSQLD_EXPORTER_PORT, MYSQLD_EXPORTER, "MariaDB metrics", "any", reach, "/metrics", "mysqld"))
    if node.has_role("loadbalancer"):
        found.append(Port(HAPROXY_METRICS_PORT, "haproxy", "HAProxy metrics", "any", reach, "/metrics", "haproxy"))
    if node.has_role("app"):
        found.append(Port(APP_METRICS_PORT, "foobar-app", "application metrics", "any", reach, "/metrics", "app"))
    return tuple(found)


def node_packages(lab: Lab, node: NodeSpec) -> tuple[str, ...]:
    return (MYSQLD_EXPORTER,) if node in lab.db_nodes else ()


def certificate_metrics(inputs: RoleInputs) -> str | None:
    """The end date of each certificate of the lab's CA this node holds, for the expiry alert (None: none held)."""
    if inputs.tls is None:
        return None
    node, lab = inputs.node, inputs.lab
    held = [("site", inputs.tls.certificates["site"])] if node.has_role("loadbalancer") and holds_site_key(lab) else []
    served = served_by_nginx(inputs) if node.has_role("web") else None
    if served is not None:  # the site's where TLS passes through to Nginx, the server's own where it is re-encrypted
        held.append(("site" if served.name == "site" else "web", served))
    if node in lab.db_nodes:
        held.append(("database", inputs.tls.certificates[f"db-{node.name}"]))
    if not held:
        return None
    rows = ["# HELP foobar_tls_cert_not_after_seconds When a certificate of the lab's CA on this node ends.",
            "# TYPE foobar_tls_cert_not_after_seconds gauge"]
    rows += [f'foobar_tls_cert_not_after_seconds{{cert="{cert.name}",use="{use}"}} {int(cert.not_after.timestamp())}' for use, cert in held]
    return "\n".join(rows) + "\n"


def steps(inputs: RoleInputs) -> list[Step]:
    """The node exporter everywhere (and the MariaDB exporter on database servers), each restarted on a new setting."""
    found: list[Step] = [
        ConfigFile(NODE_DEFAULTS, render("prometheus/node-exporter.default.j2"), on_change=(f"systemctl restart {NODE_EXPORTER}",)),
        Service(NODE_EXPORTER),
    ]
    metrics = certificate_metrics(inputs)
    found.append(ConfigFile(CERTIFICATES, metrics) if metrics else Absent(CERTIFICATES))
    if inputs.node in inputs.lab.db_nodes:
        restart = f"systemctl reset-failed {MYSQLD_EXPORTER}; systemctl restart {MYSQLD_EXPORTER}"
        cnf = render("prometheus/mysqld-exporter.cnf.j2", password=inputs.secrets["db_exporter"])
        found += [
            ConfigFile(MYSQLD_CNF, cnf, mode="0640", owner="root:prometheus", on_change=(restart,)),
            ConfigFile(MYSQLD_DEFAULTS, render("prometheus/mysqld-exporter.default.j2", cnf=MYSQLD_CNF, database=DATABASE, table=HEARTBEAT_TABLE), on_change=(restart,)),
            Service(MYSQLD_EXPORTER),
        ]
    return found


@dataclass
class ExportersGone(Step):
    """No exporter left on a node of a design without monitoring (packages purged, settings removed)."""

    name: str = "monitoring clients (not in this design)"

    def probe(self) -> str:
        return f"dpkg-query -W -f='${{Package}} ${{db:Status-Abbrev}}\\n' {NODE_EXPORTER} {MYSQLD_EXPORTER} 2>/dev/null | grep ' ii' ; true"

    def decide(self, probe: Outcome) -> Plan:
        installed = [row.split()[0] for row in lines(probe.stdout)]
        if not installed:
            return ok("none")
        return change(
            f"removed {', '.join(installed)}",
            Run(f"{APT_GET} purge -y {' '.join(installed)}"),
            Run(f"rm -rf {MYSQLD_CNF} {TEXTFILES}"),
        )


def retire(inputs: RoleInputs) -> list[Step]:
    return [ExportersGone()]


def _monitor_exists(lab: Lab) -> Iterator[Problem]:
    if lab.has("monitoring") and not lab.with_role("monitor"):
        yield Problem("features.monitoring", "no node has the role monitor")


ROLE = Role(
    name="exporter",
    label="exporters (metrics)",
    packages=(NODE_EXPORTER,),
    node_packages=node_packages,
    held=(MYSQLD_EXPORTER,),
    wave=4,
    steps=steps,
    retire=retire,
    ports=ports,
    rules=(Rule("monitoring clients need a monitoring server to scrape them", _monitor_exists),),
)
