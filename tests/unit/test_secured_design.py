"""The secured design's parts, with no node: the firewall's rules from the roles' ports, the scan's
parsing and policy, the lab's CA, the monitoring's targets and rules, and the design rules of features."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from foobar_fab import design, pki, scan, sniff
from foobar_fab.roles import database, firewall, inputs_for, monitor
from foobar_fab.roles.firewall import FirewallGone, RulesLive
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.statefolder import LabFolder
from foobar_fab.templates import render
from foobar_fab.topology import Lab, TopologyError

from .fakes import probed

SECURED = design.load(PROJECT_ROOT / "configs/secured.yml")
SEED = design.load(PROJECT_ROOT / "configs/lab.yml")
SECRETS = {"db_app": "a", "db_replication": "r", "db_exporter": "e"}


def rules_of(lab: Lab, node: str) -> dict[int, tuple[str, ...] | None]:
    return {rule.port: rule.sources for rule in firewall.allowed(inputs_for(lab, lab.node(node), SECRETS))}


def test_features_give_every_node_the_firewall_and_a_monitoring_client() -> None:
    assert SECURED.features == {"firewall", "https", "monitoring"}
    assert all(n.has_role("firewall") and n.has_role("exporter") for n in SECURED.nodes)
    assert not any(n.has_role("firewall") for n in SEED.nodes)


def test_firewall_rules_follow_who_must_reach_each_port() -> None:
    admin, lb, web1, web2, mon = "192.168.56.1", "192.168.56.10", "192.168.56.11", "192.168.56.12", "192.168.56.13"
    assert rules_of(SECURED, "lb-01") == {22: (admin,), 80: None, 443: None, 8404: (admin,), 9100: (mon,), 8405: (mon,)}
    assert rules_of(SECURED, "web-01") == {22: (admin,), 3306: (web2,), 80: (lb,), 9100: (mon,), 9104: (mon,), 9180: (mon,)}
    assert rules_of(SECURED, "web-02")[80] == (lb,) and rules_of(SECURED, "web-02")[3306] == (web1,)  # only the primary's guard asks it
    assert rules_of(SECURED, "mon-01") == {22: (admin,), 9090: (admin,), 9093: (admin,), 9100: (mon,)}
    assert web1 not in str(rules_of(SECURED, "web-01"))  # a node never lets itself in: it uses loopback


def test_the_ruleset_replaces_only_its_own_table_with_a_drop_policy() -> None:
    text = firewall.ruleset(inputs_for(SECURED, SECURED.node("web-01"), SECRETS))
    lines = [line.strip() for line in text.splitlines()]
    assert lines.index("table inet foobar_fab_fw") < lines.index("delete table inet foobar_fab_fw")
    assert "flush ruleset" not in text
    assert "type filter hook input priority filter; policy drop;" in lines
    assert 'ip saddr { 192.168.56.10 } tcp dport 80 accept comment "nginx: the site, for the load balancers"' in lines


def test_the_live_rules_are_recognised_by_their_fingerprint() -> None:
    inputs = inputs_for(SECURED, SECURED.node("lb-01"), SECRETS)
    comment = firewall.fingerprint(inputs)
    step = RulesLive(comment)
    assert not step.decide(probed(f'comment "{comment}"\n')).changes
    assert step.decide(probed('comment "foobar_fab 000000000000"\n')).changes
    assert step.decide(probed("")).changes
    assert comment != firewall.fingerprint(inputs_for(SECURED, SECURED.node("web-01"), SECRETS))


def test_a_firewall_not_in_the_design_is_taken_away() -> None:
    assert not FirewallGone().decide(probed("")).changes
    plan = FirewallGone().decide(probed("table\nfile\n"))
    assert plan.changes and "removed (table, file)" in plan.reason


SS = """\
LISTEN 0      4096         0.0.0.0:80         0.0.0.0:*    users:(("nginx",pid=1,fd=6))
LISTEN 0      80     192.168.56.11:3306       0.0.0.0:*    users:(("mariadbd",pid=2,fd=20))
LISTEN 0      2048       127.0.0.1:8000       0.0.0.0:*    users:(("gunicorn",pid=3,fd=5))
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=4,fd=3))
LISTEN 0      128             [::]:22            [::]:*    users:(("sshd",pid=4,fd=4))
"""


def test_scan_reads_what_listens_beyond_loopback() -> None:
    rows = scan.parse_listening(SEED.node("web-01"), SS)
    assert [(r.port, r.process) for r in rows] == [(22, "sshd"), (80, "nginx"), (3306, "mariadbd")]
    assert {r.address for r in rows} == {"192.168.56.11"}


def test_scan_tells_open_from_refused_from_dropped() -> None:
    assert scan.parse_probe("1.2.3.4:80 0\n1.2.3.4:22 124\n1.2.3.4:3306 1\n") == {
        "1.2.3.4:80": "open", "1.2.3.4:22": "filtered", "1.2.3.4:3306": "closed",
    }
    script = scan.probe_script(scan.parse_listening(SEED.node("web-01"), SS))
    assert script.count("timeout 1 bash -c '</dev/tcp/192.168.56.11/") == 3 and script.endswith("wait")


@pytest.mark.parametrize(
    ("lab", "row", "vantage", "expected"),
    [
        (SEED, ("web-01", 3306), "outside", "open"),  # no firewall: everything that listens is reachable
        (SECURED, ("web-01", 3306), "outside", "closed"),
        (SECURED, ("web-01", 3306), "web-02", "open"),
        (SECURED, ("lb-01", 443), "outside", "open"),
        (SECURED, ("lb-01", 8404), "admin", "open"),
        (SECURED, ("lb-01", 8404), "mon-01", "closed"),
        (SECURED, ("web-02", 25), "admin", "closed"),  # a port the design does not know stays closed
    ],
)
def test_scan_policy_comes_from_the_design(lab: Lab, row: tuple[str, int], vantage: str, expected: str) -> None:
    node = lab.node(row[0])
    found = scan.Row(node.name, str(node.address), row[1], "?")
    assert scan.expected(lab, found, vantage, scan.outside_address(lab)) == expected


def test_the_outside_client_takes_a_free_address() -> None:
    assert scan.outside_address(SECURED) == "192.168.56.254"


def test_sniff_shows_text_not_headers_or_ciphertext() -> None:
    text = '10:00:00.1 IP 1.2.3.4.5 > 1.2.3.5.80: Flags\nE..<[.@.@.Q.\n{"body": "my card sniffed-x"}\n.s8#kq(.Gz..1..\n'
    capture = sniff.summarise("client", "f", text, "sniffed-x")
    assert capture.marker_readable and capture.packets == 1
    assert capture.readable == ['{"body": "my card sniffed-x"}']


NOW = datetime.datetime(2026, 11, 27, tzinfo=datetime.UTC)


def test_the_lab_ca_is_kept_and_its_certificates_renewed_near_their_end(tmp_path: Path) -> None:
    ca, made = pki.LabCA.open(LabFolder(tmp_path))
    assert made and oct((tmp_path / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"
    first, why = ca.certificate("site", ["www.foobar.com", "foobar.com"], NOW)
    assert why == "new" and first.bundle.startswith("-----BEGIN EC PRIVATE KEY")
    again, why = pki.LabCA.open(LabFolder(tmp_path))[0].certificate("site", ["www.foobar.com", "foobar.com"], NOW + datetime.timedelta(days=300))
    assert why is None and again.cert_pem == first.cert_pem
    late, why = ca.certificate("site", ["www.foobar.com", "foobar.com"], NOW + datetime.timedelta(days=340))
    assert why is not None and "within 30 days" in why and late.cert_pem != first.cert_pem
    _, why = ca.certificate("site", ["www.example.com"], NOW)
    assert why is not None and why.startswith("its names changed")


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_a_lost_ca_key_stops_the_build_and_is_never_replaced(tmp_path: Path, damage: str) -> None:
    pki.LabCA.open(LabFolder(tmp_path))
    key = tmp_path / "tls" / "ca.key"
    if damage == "missing":
        key.unlink()
    else:
        key.write_text("not a key\n")
    with pytest.raises(pki.PkiError, match=r"ca.key: the CA"):
        pki.LabCA.open(LabFolder(tmp_path))
    assert damage == "missing" or key.read_text() == "not a key\n"


def test_prometheus_scrapes_every_metrics_port_of_the_design() -> None:
    jobs = monitor.scrape_jobs(inputs_for(SECURED, SECURED.node("mon-01"), SECRETS))
    assert {job: sorted(t["node"] for t in targets) for job, targets in jobs.items()} == {
        "node": ["lb-01", "mon-01", "web-01", "web-02"],
        "mysqld": ["web-01", "web-02"],
        "haproxy": ["lb-01"],
        "app": ["web-01", "web-02"],
    }
    config = yaml.safe_load(render("prometheus/prometheus.yml.j2", node=SECURED.node("mon-01"), rules="r", jobs=jobs, prometheus_port=9090, alertmanager_port=9093))
    assert config["global"]["scrape_interval"] == "5s" and len(config["scrape_configs"]) == 5


def test_alert_rules_parse_and_match_the_renewal_window() -> None:
    rules = yaml.safe_load(monitor.rules(SECURED))["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"TargetDown", "WebServerDown", "ReplicationStopped", "HighErrorRate", "DiskFilling", "CertificateExpiresSoon"} <= names
    expiry = next(r for r in rules if r["alert"] == "CertificateExpiresSoon")
    assert f"< {pki.RENEW_DAYS} * 86400" in expiry["expr"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    roles: [base, monitor]\n", "    roles: [base]\n", "features.monitoring: exporter: monitoring clients need a monitoring server to scrape them (no node has the role monitor)"),
        ("  monitoring: true", "  monitoring: false", "features.monitoring: monitor: one monitoring server, on a design with monitoring (mon-01 has the role monitor, but monitoring is off: switch it on)"),
        ("  https: true", "  https: yes please", "features.https: expected true or false, got 'yes please'"),
        ("  https: true", "  tls: true", "features.tls: unknown key (known: firewall, https, monitoring)"),
    ],
)
def test_feature_rules(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = (PROJECT_ROOT / "configs/secured.yml").read_text()
    assert old in text
    path = tmp_path / "design.yml"
    path.write_text(text.replace(old, new))
    with pytest.raises(TopologyError) as caught:
        design.load(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_replication_lag_is_alerted_on_the_heartbeats_age_not_on_seconds_behind_master() -> None:
    rules = yaml.safe_load(monitor.rules(SECURED))["groups"][0]["rules"]
    lagging = next(r for r in rules if r["alert"] == "ReplicationLagging")
    assert "seconds_behind_master" not in lagging["expr"]
    assert lagging["expr"].startswith("min by (node) (mysql_heartbeat_now_timestamp_seconds - mysql_heartbeat_stored_timestamp_seconds)")
    args = render("prometheus/mysqld-exporter.default.j2", cnf="c", database="foobar", table="heartbeat")
    assert "--collect.heartbeat --collect.heartbeat.database=foobar --collect.heartbeat.table=heartbeat" in args


def _heartbeat_steps(lab: Lab, node: str) -> list[object]:
    role = database.PRIMARY if lab.node(node) == lab.primary else database.REPLICA
    return [s for s in role.steps(inputs_for(lab, lab.node(node), SECRETS)) if "heartbeat" in s.name]


def test_the_heartbeat_is_written_on_a_monitored_design_only_and_its_table_made_on_the_primary() -> None:
    primary, replica = _heartbeat_steps(SECURED, "web-01"), _heartbeat_steps(SECURED, "web-02")
    assert [type(s).__name__ for s in primary] == ["Schema", "Heartbeat"] and [type(s).__name__ for s in replica] == ["Heartbeat"]
    assert all(s.wanted for s in (primary[1], replica[0]))  # type: ignore[attr-defined]
    seed = design.load(PROJECT_ROOT / "configs/lab.yml")
    assert [(type(s).__name__, s.wanted) for s in _heartbeat_steps(seed, "web-01")] == [("Heartbeat", False)]  # type: ignore[attr-defined]
    assert "event-scheduler   = ON" in database.config(inputs_for(SECURED, SECURED.node("web-02"), SECRETS))
    assert "event-scheduler" not in database.config(inputs_for(seed, seed.node("web-02"), SECRETS))
