"""A table of designs, each a row: what the design yields with no lab, from the real templates.

The rows: the designs in configs/, and those in tests/designs/ (tiers mixed both ways, three web
servers, two replicas, one server per tier). For each row, written out by hand from what the design
means: where gunicorn listens, where each Nginx proxies to, HAProxy's servers, where each application
writes and reads, the database accounts and the hosts they are granted to, what each node's firewall
lets in (loaded where the design has a firewall; who must reach what, either way), Prometheus' targets
(where monitored), and the checks `invoke check` makes, with what the round-robin check expects to see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import pytest
import yaml

from foobar_fab import checks, design
from foobar_fab.roles import app, database, firewall, inputs_for, loadbalancer, monitor, web
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.steps import Step
from foobar_fab.topology import Lab

SECRETS = {"db_app": "a", "db_replication": "r", "db_exporter": "e", "db_guard": "g"}
METRICS_PORTS = {"node": 9100, "mysqld": 9104, "haproxy": 8405, "app": 9180}
#: Checks on every node of every design, and of the site on every design.
ON_EVERY_NODE = ("node.running", "node.systemd", "service.ssh")
ON_THE_SITE = ("site.write", "site.round-robin", "db.primary")

Sources = tuple[int, ...] | None  # who may reach a port, by host number on the lab's subnet (None: anyone)


@dataclass(frozen=True)
class Row:
    """One design and what it yields; addresses are host numbers on the design's subnet (1 is the admin host)."""

    file: str
    binds: dict[str, list[str]]  # application node: gunicorn's --bind values
    upstreams: dict[str, list[str]]  # web node: the servers of Nginx's upstream
    backends: list[str]  # HAProxy's servers on every balancer: "web-01 11:80"
    reads: dict[str, int]  # application node: the database it reads from (every one writes to the primary)
    grants: dict[str, list[int | str]]  # database account: the hosts it is granted to
    firewall: dict[str, dict[int, Sources]]  # node: port -> who may reach it
    checks: dict[str, str]  # check id -> who it is made on, beyond ON_EVERY_NODE and ON_THE_SITE
    answering: tuple[str, str]  # the round-robin check: the web servers, and the application servers, it expects
    scrape: dict[str, str] = field(default_factory=dict)  # Prometheus job -> the nodes it scrapes (monitored designs)


def secured_checks(nodes: str, databases: str, monitor_node: str) -> dict[str, str]:
    """The checks the firewall, HTTPS and monitoring add."""
    return {
        "fw.loaded": nodes, "service.prometheus-node-exporter": nodes, "service.prometheus-mysqld-exporter": databases,
        "service.prometheus": monitor_node, "service.prometheus-alertmanager": monitor_node, "mon.targets-up": monitor_node,
        "mon.quiet": monitor_node, "site.https": "site", "site.http-redirects": "site",
    }


SEED_NODES = {
    "lb-01": {22: (1,), 80: None, 8404: (1,)},
    "web-01": {22: (1,), 80: (10,), 3306: (12,)},  # web-02's guard and application (reads stay at home)
    "web-02": {22: (1,), 80: (10,), 3306: (11,)},  # only the primary's guard asks the replica
}
SEED_CHECKS = {
    "service.haproxy": "lb-01", "lb.servers-up": "lb-01", "service.nginx": "web-01 web-02", "service.foobar-app": "web-01 web-02",
    "service.mariadb": "web-01 web-02", "db.has-write": "web-01 web-02", "db.replica-threads": "web-02",
}
TIERS_CHECKS = {
    "service.haproxy": "lb-01 lb-02", "lb.servers-up": "lb-01 lb-02", "service.keepalived": "lb-01 lb-02", "vip.one-holder": "site",
    "service.nginx": "web-01 web-02", "service.foobar-app": "app-01 app-02", "service.mariadb": "db-01 db-02",
    "db.has-write": "db-01 db-02", "db.replica-threads": "db-02",
}
SECURED_EXTRA = {"lb-01": {443: None, 9100: (13,), 8405: (13,)}, "web-01": {9100: (13,), 9104: (13,), 9180: (13,)}}
SECURED_EXTRA["web-02"] = SECURED_EXTRA["web-01"]
MONITOR = {22: (1,), 9090: (1,), 9093: (1,), 9100: (13,)}


def joined(*parts: dict[str, dict[int, Sources]]) -> dict[str, dict[int, Sources]]:
    """Firewall tables merged node by node."""
    merged: dict[str, dict[int, Sources]] = {}
    for part in parts:
        for node, ports in part.items():
            merged[node] = {**merged.get(node, {}), **ports}
    return merged


TIERS_NODES = {
    "lb-01": {22: (1,), 80: None, 8404: (1,), 112: (11,)},  # VRRP from the other balancer
    "lb-02": {22: (1,), 80: None, 8404: (1,), 112: (10,)},
    "web-01": {22: (1,), 80: (10, 11)}, "web-02": {22: (1,), 80: (10, 11)},
    "app-01": {22: (1,), 8000: (21, 22)}, "app-02": {22: (1,), 8000: (21, 22)},
    "db-01": {22: (1,), 3306: (31, 32, 42)},  # both applications write; the replica's guard
    "db-02": {22: (1,), 3306: (31, 32, 41)},  # both applications read here; the primary's guard
}
EXPORTERS = {n: {9100: (13,)} for n in ("lb-01", "lb-02", "web-01", "web-02", "app-01", "app-02", "db-01", "db-02")}
REFERENCE_EXTRA = {
    "lb-01": {443: None, 8405: (13,)}, "lb-02": {443: None, 8405: (13,)}, "app-01": {9180: (13,)}, "app-02": {9180: (13,)},
    "db-01": {9104: (13,)}, "db-02": {9104: (13,)}, "mon-01": MONITOR,
}

ROWS = {
    "lab": Row(
        "configs/lab.yml",
        binds={"web-01": ["127.0.0.1:8000"], "web-02": ["127.0.0.1:8000"]},  # each used by its own Nginx only
        upstreams={"web-01": ["127.0.0.1:8000"], "web-02": ["127.0.0.1:8000"]},
        backends=["web-01 11:80", "web-02 12:80"],
        reads={"web-01": 11, "web-02": 12},
        grants={"foobar_app": [11, 12], "foobar_repl": [12], "foobar_guard": [11, 12], "exporter": []},
        firewall=SEED_NODES,
        checks=SEED_CHECKS,
        answering=("web-01 web-02", ""),
    ),
    "scaled": Row(
        "configs/scaled.yml",
        binds={"app-01": ["31:8000"], "app-02": ["32:8000"]},
        upstreams={"web-01": ["31:8000", "32:8000"], "web-02": ["31:8000", "32:8000"]},
        backends=["web-01 21:80", "web-02 22:80"],
        reads={"app-01": 42, "app-02": 42},
        grants={"foobar_app": [31, 32], "foobar_repl": [42], "foobar_guard": [41, 42], "exporter": []},
        firewall=TIERS_NODES,
        checks=TIERS_CHECKS,
        answering=("web-01 web-02", "app-01 app-02"),
    ),
    "mixed-web-alone": Row(
        "tests/designs/mixed-web-alone.yml",
        binds={"web-01": ["11:8000"]},  # web-02's Nginx comes over the network: web-01's own reaches it there too
        upstreams={"web-01": ["11:8000"], "web-02": ["11:8000"]},
        backends=["web-01 11:80", "web-02 12:80"],
        reads={"web-01": 11},
        grants={"foobar_app": [11], "foobar_repl": [12], "foobar_guard": [11, 12], "exporter": []},
        firewall={
            "lb-01": {22: (1,), 80: None, 8404: (1,)},
            "web-01": {22: (1,), 80: (10,), 3306: (12,), 8000: (12,)},
            "web-02": {22: (1,), 80: (10,), 3306: (11,)},
        },
        checks={**SEED_CHECKS, "service.foobar-app": "web-01"},
        answering=("web-01 web-02", "web-01"),
    ),
    "mixed-app-alone": Row(
        "tests/designs/mixed-app-alone.yml",
        binds={"web-01": ["127.0.0.1:8000"], "app-01": ["31:8000"]},  # web-01's application serves its own Nginx only
        upstreams={"web-01": ["127.0.0.1:8000", "31:8000"]},
        backends=["web-01 11:80"],
        reads={"web-01": 11, "app-01": 31},
        grants={"foobar_app": [11, 31], "foobar_repl": [31], "foobar_guard": [11, 31], "exporter": []},
        firewall={
            "lb-01": {22: (1,), 80: None, 8404: (1,)},
            "web-01": {22: (1,), 80: (10,), 3306: (31,)},
            "app-01": {22: (1,), 8000: (11,), 3306: (11,)},
        },
        checks={
            "service.haproxy": "lb-01", "lb.servers-up": "lb-01", "service.nginx": "web-01", "service.foobar-app": "web-01 app-01",
            "service.mariadb": "web-01 app-01", "db.has-write": "web-01 app-01", "db.replica-threads": "app-01",
        },
        answering=("web-01", "web-01 app-01"),
    ),
    "three-web": Row(
        "tests/designs/three-web.yml",
        binds={"web-01": ["127.0.0.1:8000"], "web-02": ["127.0.0.1:8000"], "web-03": ["127.0.0.1:8000"]},
        upstreams={"web-01": ["127.0.0.1:8000"], "web-02": ["127.0.0.1:8000"], "web-03": ["127.0.0.1:8000"]},
        backends=["web-01 11:80", "web-02 12:80", "web-03 13:80"],
        reads={"web-01": 11, "web-02": 12, "web-03": 12},  # web-03 has no database: it reads from the replica
        grants={"foobar_app": [11, 12, 13], "foobar_repl": [12], "foobar_guard": [11, 12], "exporter": []},
        firewall={
            "lb-01": {22: (1,), 80: None, 8404: (1,)},
            "web-01": {22: (1,), 80: (10,), 3306: (12, 13)},
            "web-02": {22: (1,), 80: (10,), 3306: (11, 13)},
            "web-03": {22: (1,), 80: (10,)},
        },
        checks={
            **SEED_CHECKS, "service.nginx": "web-01 web-02 web-03", "service.foobar-app": "web-01 web-02 web-03",
        },
        answering=("web-01 web-02 web-03", ""),
    ),
    "two-replicas": Row(
        "tests/designs/two-replicas.yml",
        binds={"web-01": ["127.0.0.1:8000"], "web-02": ["127.0.0.1:8000"]},
        upstreams={"web-01": ["127.0.0.1:8000"], "web-02": ["127.0.0.1:8000"]},
        backends=["web-01 21:80", "web-02 22:80"],
        reads={"web-01": 42, "web-02": 43},  # the readers spread over the replicas
        grants={"foobar_app": [21, 22], "foobar_repl": [42, 43], "foobar_guard": [41, 42, 43], "exporter": []},
        firewall={
            "lb-01": {22: (1,), 80: None, 8404: (1,)},
            "web-01": {22: (1,), 80: (10,)}, "web-02": {22: (1,), 80: (10,)},
            "db-01": {22: (1,), 3306: (21, 22, 42, 43)},
            "db-02": {22: (1,), 3306: (21, 41)},
            "db-03": {22: (1,), 3306: (22, 41)},
        },
        checks={
            "service.haproxy": "lb-01", "lb.servers-up": "lb-01", "service.nginx": "web-01 web-02", "service.foobar-app": "web-01 web-02",
            "service.mariadb": "db-01 db-02 db-03", "db.has-write": "db-01 db-02 db-03", "db.replica-threads": "db-02 db-03",
        },
        answering=("web-01 web-02", ""),
    ),
    "one-per-tier": Row(
        "tests/designs/one-per-tier.yml",
        binds={"app-01": ["31:8000", "0.0.0.0:9180"]},
        upstreams={"web-01": ["31:8000"]},
        backends=["web-01 21:80"],
        reads={"app-01": 41},  # no replica: reads go to the primary
        grants={"foobar_app": [31], "foobar_repl": [], "foobar_guard": [41], "exporter": ["localhost"]},
        firewall={
            "lb-01": {22: (1,), 80: None, 443: None, 8404: (1,), 9100: (13,), 8405: (13,)},
            "web-01": {22: (1,), 80: (10,), 9100: (13,)},
            "app-01": {22: (1,), 8000: (21,), 9100: (13,), 9180: (13,)},
            "db-01": {22: (1,), 3306: (31,), 9100: (13,), 9104: (13,)},
            "mon-01": MONITOR,
        },
        checks={
            "service.haproxy": "lb-01", "lb.servers-up": "lb-01", "service.nginx": "web-01", "service.foobar-app": "app-01",
            "service.mariadb": "db-01", "db.has-write": "db-01", **secured_checks("lb-01 web-01 app-01 db-01 mon-01", "db-01", "mon-01"),
        },
        answering=("web-01", "app-01"),
        scrape={"node": "lb-01 web-01 app-01 db-01 mon-01", "mysqld": "db-01", "haproxy": "lb-01", "app": "app-01"},
    ),
}
# The secured and reference designs: the seed's and the scaled one's, with a firewall, HTTPS and monitoring.
ROWS["secured"] = replace(
    ROWS["lab"],
    file="configs/secured.yml",
    binds={"web-01": ["127.0.0.1:8000", "0.0.0.0:9180"], "web-02": ["127.0.0.1:8000", "0.0.0.0:9180"]},
    grants={**ROWS["lab"].grants, "exporter": ["localhost"]},
    firewall=joined(SEED_NODES, SECURED_EXTRA, {"mon-01": MONITOR}),
    checks={**SEED_CHECKS, **secured_checks("lb-01 web-01 web-02 mon-01", "web-01 web-02", "mon-01")},
    scrape={"node": "lb-01 web-01 web-02 mon-01", "mysqld": "web-01 web-02", "haproxy": "lb-01", "app": "web-01 web-02"},
)
# The secured design with TLS carried on to the web servers: Nginx on 443 (re-encrypted, or the clients' own TLS
# passed through), reachable from the balancer only, and port 80 closed on them; each web server's TLS checked.
for mode in ("reencrypt", "passthrough"):
    ROWS[f"secured-{mode}"] = replace(
        ROWS["secured"],
        file=f"configs/secured-{mode}.yml",
        backends=["web-01 11:443", "web-02 12:443"],
        firewall={
            **ROWS["secured"].firewall,
            **{web: {port: who for port, who in {**ROWS["secured"].firewall[web], 443: (10,)}.items() if port != 80} for web in ("web-01", "web-02")},
        },
        checks={**ROWS["secured"].checks, "web.tls": "web-01 web-02"},
    )
ROWS["reference"] = replace(
    ROWS["scaled"],
    file="configs/reference.yml",
    binds={"app-01": ["31:8000", "0.0.0.0:9180"], "app-02": ["32:8000", "0.0.0.0:9180"]},
    grants={**ROWS["scaled"].grants, "exporter": ["localhost"]},
    firewall=joined(TIERS_NODES, EXPORTERS, REFERENCE_EXTRA),
    checks={**TIERS_CHECKS, **secured_checks("lb-01 lb-02 web-01 web-02 app-01 app-02 db-01 db-02 mon-01", "db-01 db-02", "mon-01")},
    scrape={
        "node": "lb-01 lb-02 web-01 web-02 app-01 app-02 db-01 db-02 mon-01", "mysqld": "db-01 db-02",
        "haproxy": "lb-01 lb-02", "app": "app-01 app-02",
    },
)
LABS = {name: design.load(PROJECT_ROOT / row.file) for name, row in ROWS.items()}


def address(lab: Lab, text: str) -> str:
    """'31:8000' -> '192.168.57.31:8000' on the lab's subnet; other text (loopback, any) as it is."""
    host, _, port = text.partition(":")
    if not host.isdigit():
        return text
    return f"{lab.subnet.network_address + int(host)}" + (f":{port}" if port else "")


def names(text: str) -> list[str]:
    return text.split()


def files(steps: list[Step]) -> dict[str, str]:
    """The files a role's steps write, by path."""
    return {getattr(s, "path", ""): getattr(s, "content", "") for s in steps}


def section(text: str, start: str) -> str:
    """The lines of a config from the one starting with `start` to the block's closing brace."""
    found = text[text.index(start):]
    return found[:found.index("\n}")]


def case(name: str) -> tuple[Lab, Row]:
    return LABS[name], ROWS[name]


@pytest.mark.parametrize("name", ROWS)
def test_gunicorn_listens_where_the_design_says_and_its_check_looks_there(name: str) -> None:
    lab, row = case(name)
    assert sorted(n.name for n in lab.app_nodes) == sorted(row.binds)
    for node, binds in row.binds.items():
        wanted = [address(lab, b) for b in binds]
        unit = app.unit(inputs_for(lab, lab.node(node), SECRETS))
        assert re.findall(r"--bind (\S+)", unit) == wanted
        [service] = [c for c in checks.service_checks(lab, lab.node(node)) if c.id == "service.foobar-app"]
        assert service.what == "foobar-app running, listening on " + ", ".join(f"tcp://{b}" for b in wanted)


@pytest.mark.parametrize("name", ROWS)
def test_each_nginx_proxies_to_the_application_servers_where_they_listen(name: str) -> None:
    lab, row = case(name)
    assert sorted(n.name for n in lab.web_nodes) == sorted(row.upstreams)
    for node, upstreams in row.upstreams.items():
        config = web.config(inputs_for(lab, lab.node(node), SECRETS))
        servers = re.findall(r"^\s*server (\S+?)[ ;]", section(config, "upstream foobar_app {"), re.M)
        assert servers == [address(lab, u) for u in upstreams]
        remote = any(address(lab, u).split(":")[0] not in ("127.0.0.1", str(lab.node(node).address)) for u in upstreams)
        assert ("proxy_next_upstream error timeout;" in config) == remote  # a dead remote server: the next one


@pytest.mark.parametrize("name", ROWS)
def test_every_balancer_sends_to_every_web_server(name: str) -> None:
    lab, row = case(name)
    for balancer in lab.balancers:
        config = loadbalancer.config(inputs_for(lab, balancer, SECRETS))
        backend = config[config.index("backend web"):config.index("listen stats")]
        servers = re.findall(r"^\s*server (\S+) (\S+) check", backend, re.M)
        assert [f"{n} {a}" for n, a in servers] == [f"{n} {address(lab, a)}" for n, a in (b.split() for b in row.backends)]


@pytest.mark.parametrize("name", ROWS)
def test_each_application_writes_to_the_primary_and_reads_where_the_design_says(name: str) -> None:
    lab, row = case(name)
    primary = lab.primary.address
    assert sorted(n.name for n in lab.app_nodes) == sorted(row.reads)
    for node, reads in row.reads.items():
        written = files(app.steps(inputs_for(lab, lab.node(node), SECRETS)))
        assert written[app.PRIMARY_FILE] == f"{primary}\n"
        assert written[app.READ_FILE] == f"{address(lab, str(reads))}\n"


@pytest.mark.parametrize("name", ROWS)
def test_database_accounts_are_granted_to_the_nodes_that_use_them(name: str) -> None:
    lab, row = case(name)
    users = {s.user: s for s in database.primary_steps(inputs_for(lab, lab.primary, SECRETS)) if isinstance(s, database.User)}
    assert {user: sorted(s.hosts) for user, s in users.items()} == {
        user: sorted(address(lab, str(h)) for h in hosts) for user, hosts in row.grants.items()
    }
    assert all(users[user].require_ssl == lab.has("https") for user in ("foobar_app", "foobar_repl"))  # over TLS only, with https


def rendered_rules(text: str) -> dict[int, tuple[str, ...] | None]:
    """The accept rules of a rendered nftables file: port (or protocol) -> the sources (None: anyone)."""
    found: dict[int, tuple[str, ...] | None] = {}
    for sources, port in re.findall(r"^\s*(?:ip saddr \{ ([^}]*) \} )?(?:tcp dport|ip protocol) (\d+) accept", text, re.M):
        found[int(port)] = tuple(sorted(sources.split(", "))) if sources else None
    return found


@pytest.mark.parametrize("name", ROWS)
def test_each_firewall_lets_in_exactly_who_the_design_needs(name: str) -> None:
    lab, row = case(name)
    assert sorted(n.name for n in lab.nodes) == sorted(row.firewall)
    assert all(n.has_role("firewall") for n in lab.nodes) == lab.has("firewall")
    for node, ports in row.firewall.items():
        text = firewall.ruleset(inputs_for(lab, lab.node(node), SECRETS))
        wanted = {port: None if hosts is None else tuple(sorted(address(lab, str(h)) for h in hosts)) for port, hosts in ports.items()}
        assert rendered_rules(text) == wanted, node


@pytest.mark.parametrize("name", ROWS)
def test_prometheus_scrapes_every_metrics_port_where_monitored(name: str) -> None:
    lab, row = case(name)
    monitors = lab.with_role("monitor")
    assert bool(monitors) == bool(row.scrape) == lab.has("monitoring")
    for node in monitors:
        written = files(monitor.steps(inputs_for(lab, node, SECRETS)))
        jobs = {job["job_name"]: job for job in yaml.safe_load(written[monitor.CONFIG])["scrape_configs"] if job["job_name"] != "prometheus"}
        targets = {name: [(t["labels"]["node"], t["targets"][0]) for t in job["static_configs"]] for name, job in jobs.items()}
        assert targets == {
            job: [(n, f"{lab.node(n).address}:{METRICS_PORTS[job]}") for n in names(nodes)] for job, nodes in row.scrape.items()
        }


@pytest.mark.parametrize("name", ROWS)
def test_the_checks_a_design_expects(name: str) -> None:
    lab, row = case(name)
    wanted = {(check, n.name) for check in ON_EVERY_NODE for n in lab.nodes} | {(check, "site") for check in ON_THE_SITE}
    wanted |= {(check, who) for check, whom in row.checks.items() for who in names(whom)}
    found = [(check_id, who) for check_id, who, _ in checks.expected(lab)]
    assert len(found) == len(set(found)) and set(found) == wanted
    web_servers, applications = loadbalancer.answering(lab)
    assert (web_servers, applications) == (names(row.answering[0]), names(row.answering[1]))
