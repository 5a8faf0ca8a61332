"""lab.tls_to_servers with no lab: what HAProxy and Nginx are given in each way of carrying TLS past the load
balancer (terminate, reencrypt, passthrough), which TLS files each node keeps and in what order, the
certificates the lab's CA issues for it, and what the sniff and the benchmark read."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml

from foobar_fab import benchmarks, design, pki, sniff
from foobar_fab.constants import BALANCER_CA
from foobar_fab.exercises import catalog
from foobar_fab.exercises.record import common, fill
from foobar_fab.pki import Certificate, Pki
from foobar_fab.resources.files import Absent, ConfigFile
from foobar_fab.roles import exporter, inputs_for, loadbalancer, monitor, web
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.statefolder import LabFolder
from foobar_fab.steps import Step
from foobar_fab.topology import Lab

SECRETS = {"db_app": "a", "db_replication": "r", "db_exporter": "e", "db_guard": "g"}
MODES = ("terminate", "reencrypt", "passthrough")
DESIGNS = {mode: design.load(PROJECT_ROOT / f"configs/secured{'' if mode == 'terminate' else '-' + mode}.yml") for mode in MODES}
ENDS = datetime.datetime(2027, 12, 1, tzinfo=datetime.UTC)


def certificate(name: str) -> Certificate:
    return Certificate(name, f"CERT {name}\n", f"KEY {name}\n", ENDS)


def issued(lab: Lab) -> Pki:
    """What the build gives the roles: the site's certificate, the databases', and each web server's own."""
    names = ["site", *(f"db-{n.name}" for n in lab.db_nodes), *(pki.web_certificate(n.name) for n in lab.web_nodes)]
    return Pki("CA\n", {name: certificate(name) for name in names})


def steps_of(lab: Lab, node: str) -> list[Step]:
    inputs = inputs_for(lab, lab.node(node), SECRETS, tls=issued(lab))
    return loadbalancer.steps(inputs) if node.startswith("lb") else web.steps(inputs)


def files(steps: list[Step]) -> list[str]:
    """The files a node's steps write or remove, by their last name, in order: 'name' written, '-name' removed."""
    return [("" if isinstance(s, ConfigFile) else "-") + s.path.rsplit("/", 1)[-1] for s in steps if isinstance(s, ConfigFile | Absent)]


def test_the_design_files_differ_only_in_the_setting() -> None:
    terminate = DESIGNS["terminate"]
    for mode in MODES:
        assert DESIGNS[mode].tls_to_servers == mode
        assert (DESIGNS[mode].name, DESIGNS[mode].nodes, DESIGNS[mode].features) == (terminate.name, terminate.nodes, terminate.features)


@pytest.mark.parametrize(
    ("mode", "wanted"),
    [
        # TLS ends at HAProxy: the site's key there, no CA; Nginx's TLS folder removed once its config no longer names it.
        ("terminate", {"lb-01": ["site.pem", "haproxy.cfg", "-ca.pem"], "web-01": ["-default", "foobar.conf", "-tls"]}),
        # Re-encrypted: HAProxy keeps the site's key and checks the web servers' certificates with the lab's CA.
        ("reencrypt", {"lb-01": ["site.pem", "ca.pem", "haproxy.cfg"], "web-01": ["-default", "server.pem", "foobar.conf"]}),
        # Passed through: the site's key leaves lb-01 (after the config that named it) and goes to the web servers.
        ("passthrough", {"lb-01": ["ca.pem", "haproxy.cfg", "-site.pem"], "web-01": ["-default", "server.pem", "foobar.conf"]}),
    ],
)
def test_each_node_holds_the_tls_files_of_the_mode_named_before_they_are_used(mode: str, wanted: dict[str, list[str]]) -> None:
    lab = DESIGNS[mode]
    for node, paths in wanted.items():
        assert files(steps_of(lab, node)) == paths, node


def test_the_web_servers_get_their_own_certificate_or_the_sites() -> None:
    def served(mode: str, node: str) -> str:
        [pem] = [s for s in steps_of(DESIGNS[mode], node) if isinstance(s, ConfigFile) and s.path == web.CERTIFICATE]
        assert pem.mode == "0600"
        return pem.content

    assert served("reencrypt", "web-02") == certificate("nginx-web-02").bundle
    assert served("passthrough", "web-02") == certificate("site").bundle
    [ca] = [s for s in steps_of(DESIGNS["passthrough"], "lb-01") if isinstance(s, ConfigFile) and s.path == BALANCER_CA]
    assert ca.content == "CA\n"


def haproxy(mode: str) -> str:
    lab = DESIGNS[mode]
    return loadbalancer.config(inputs_for(lab, lab.balancers[0], SECRETS))


def nginx(mode: str) -> str:
    lab = DESIGNS[mode]
    return web.config(inputs_for(lab, lab.node("web-01"), SECRETS))


def test_reencrypt_keeps_http_mode_and_checks_each_server_over_tls() -> None:
    config = haproxy("reencrypt")
    assert "mode tcp" not in config and "retry-on all-retryable-errors" in config and "bind *:443 ssl crt" in config
    assert f"server web-01 192.168.56.11:443 check ssl check-ssl verify required ca-file {BALANCER_CA} verifyhost web-01" in config
    site = nginx("reencrypt")
    assert "listen 443 ssl default_server;" in site and "listen 80" not in site and "proxy_protocol" not in site


def test_passthrough_forwards_tcp_with_a_proxy_header_and_checks_the_health_page_over_tls() -> None:
    config = haproxy("passthrough")
    www_tls = config[config.index("frontend www_tls"):config.index("backend web")]
    assert "mode tcp" in www_tls and "bind *:443\n" in www_tls
    backend = config[config.index("\nbackend web"):config.index("listen stats")]
    assert "mode tcp" in backend and "option httpchk" in backend and "http-check send meth GET uri /api/health" in backend
    assert "retry-on" not in backend and "set-timeout" not in backend  # HAProxy sees no request: nothing to retry or time
    server = re.search(r"server web-01 192.168.56.11:443 check (.*)", backend)
    assert server and set(server.group(1).split()) >= {"check-ssl", "verify", "required", "send-proxy-v2", "check-send-proxy", "www.foobar.com"}
    assert " ssl " not in f" {server.group(1)} "  # the traffic stays the client's TLS: HAProxy adds none of its own
    assert "crt " not in config and "redirect scheme https code 301" in config  # no site key; plain HTTP still redirected
    site = nginx("passthrough")
    assert "listen 443 ssl http2 proxy_protocol default_server;" in site
    assert "set_real_ip_from 192.168.56.10;" in site and "real_ip_header proxy_protocol;" in site
    assert 'Strict-Transport-Security "max-age=300"' in site


def test_terminate_is_the_secured_design_as_it_was() -> None:
    config = haproxy("terminate")
    assert "server web-01 192.168.56.11:80 check\n" in config and "www_tls" not in config
    assert "listen 80 default_server;" in nginx("terminate")


def test_the_ca_issues_web_server_certificates_only_when_asked(tmp_path: Path) -> None:
    ca, made = pki.LabCA.open(LabFolder(tmp_path))
    seen: list[str] = []

    def report(what: str, status: str, reason: str) -> None:
        seen.append(what)

    plain = pki.issue_for("www.foobar.com", "foobar.com", [("web-01", "192.168.56.11")], ca, made, report)
    assert set(plain.certificates) == {"site", "db-web-01"}
    again = pki.issue_for("www.foobar.com", "foobar.com", [("web-01", "192.168.56.11")], ca, made, report, [("web-02", "192.168.56.12")])
    assert set(again.certificates) == {"site", "db-web-01", "nginx-web-02"}
    assert "certificate nginx-web-02" in seen


@pytest.mark.parametrize("mode", MODES)
def test_the_sniff_listens_behind_the_balancer_on_both_ports(mode: str) -> None:
    _, behind, _ = sniff.capture_filters(DESIGNS[mode])
    assert behind == "tcp and (port 80 or port 443) and (host 192.168.56.10) and (host 192.168.56.11 or host 192.168.56.12)"


WRK = """Running 5s test @ https://192.168.56.10/api/messages
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    58.43ms   20.11ms 210.00ms   71.00%
    Req/Sec   143.50     30.12   210.00     70.00%
  1433 requests in 5.01s, 6.51MB read
Requests/sec:    286.03
"""


def test_the_benchmark_reads_wrks_rate_and_latency() -> None:
    run = benchmarks.parse_wrk(WRK, "u")
    assert (run.rate, run.latency_ms) == (286.03, 58.43)
    assert benchmarks.parse_wrk(WRK.replace("58.43ms", "1.20s"), "u").latency_ms == 1200.0
    with pytest.raises(benchmarks.LabError, match="wrk printed no rate for u"):
        benchmarks.parse_wrk("connection refused", "u")


@pytest.mark.parametrize(
    ("mode", "held"),
    [
        ("terminate", {"lb-01": ["site"], "web-01": ["db-web-01"]}),
        ("reencrypt", {"lb-01": ["site"], "web-01": ["nginx-web-01", "db-web-01"]}),
        ("passthrough", {"lb-01": [], "web-01": ["site", "db-web-01"]}),
    ],
)
def test_the_expiry_alert_watches_the_certificates_each_node_holds(mode: str, held: dict[str, list[str]]) -> None:
    lab = DESIGNS[mode]
    for node, names in held.items():
        metrics = exporter.certificate_metrics(inputs_for(lab, lab.node(node), SECRETS, tls=issued(lab))) or ""
        assert re.findall(r'cert="([^"]+)"', metrics) == names, node


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("edit", ["SERVER_LINE", "WEIGHT", "SERVER_BY_NAME"])
def test_the_exercises_edit_a_server_line_that_is_there_whatever_the_port(mode: str, edit: str) -> None:
    """nobody-touched-it, uneven-load and server-up-but-idle change a `server` line of HAProxy's config: the text
    they look for names the port the balancer sends to (80, or 443 where TLS goes on to the web servers)."""
    lab = DESIGNS[mode]
    web_01 = lab.node("web-01")
    chosen = {**common(lab, ".lab/x"), "web": "web-01", "web_address": str(web_01.address), "busy_address": str(web_01.address)}
    assert fill(getattr(catalog, edit).old, chosen) in haproxy(mode)


@pytest.mark.parametrize("mode", MODES)
def test_the_error_rate_alert_counts_the_answers_where_they_are_seen(mode: str) -> None:
    """HAProxy's answers where it sees the requests; where TLS passes through it, the application's (its health
    page left out: HAProxy asks for it twice a second)."""
    rules = yaml.safe_load(monitor.rules(DESIGNS[mode]))["groups"][0]["rules"]
    [high] = [r["expr"] for r in rules if r["alert"] == "HighErrorRate"]
    assert ("haproxy_frontend_http_responses_total" in high) == (mode != "passthrough")
    assert ('foobar_http_requests_total{endpoint!="/api/health", status=~"5.."}' in high) == (mode == "passthrough")
