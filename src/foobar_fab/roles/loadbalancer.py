"""The load balancer role: HAProxy, round robin over the web servers, health-checked, statistics on 8404."""

from __future__ import annotations

import datetime
import itertools
from typing import TYPE_CHECKING, Any

from .. import write_timeouts
from ..constants import APP_NODE, BALANCER_CA, HAPROXY_METRICS_PORT, HEALTH_PATH, HSTS_MAX_AGE, HTTP_PORT, HTTPS_PORT, STATS_PORT
from ..executors import Outcome
from ..expect import eventually, expect
from ..observe.haproxy import ADMIN_SOCKET, BACKEND, all_up, describe, parse_servers_state, runtime_command
from ..observe.site import served_by
from ..observe.tls import handshake, refuses_old_tls
from ..resources.files import Absent, ConfigFile
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Plan, Run, Step, StepError, change, ok
from ..templates import render
from ..topology import Lab, NodeSpec
from .record import ADMIN, ANYONE, NodeCheck, Port, Problem, Role, RoleInputs, Rule, SiteCheck, roles_field
from .web import ports as web_ports
from .web import proxies_elsewhere, serves_tls

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..observe.view import LabView

PACKAGES = ("haproxy", "socat")  # socat: to talk to HAProxy's runtime API (its admin socket)
#: The algorithms a class can choose between (`invoke lb.balance`); the design's is round robin.
ALGORITHMS = ("roundrobin", "leastconn", "source", "first")
CONFIG = "/etc/haproxy/haproxy.cfg"
CERTIFICATE = "/etc/haproxy/certs/site.pem"
RELOAD = "systemctl reload-or-restart haproxy"
HTTP_TIMEOUT = 3.0
RENEW_DAYS = 30

#: HAProxy's tuning: how fast a dead server is noticed and what clients see meanwhile.
HAPROXY_PROFILES: dict[str, dict[str, Any]] = {
    # The lab's default: a dead web node is taken out within about a second and reads never fail.
    "tuned": {
        "profile": "tuned",
        "redispatch": True,
        "retries": 2,
        "retry_on": "all-retryable-errors",
        "timeout_connect": "300ms",
        "timeout_server_ms": 800,
        "timeout_check": "1s",
        "check_interval": "500ms",
        "check_fall": 2,
        "check_rise": 2,
        "observe": True,
    },
    # The defaults of a widely used community role: no redispatch, slow checks, long timeouts.
    "untuned": {
        "profile": "untuned",
        "redispatch": False,
        "retries": 3,
        "retry_on": "",
        "timeout_connect": "5s",
        "timeout_server_ms": 50_000,
        "timeout_check": "5s",
        "check_interval": "2s",
        "check_fall": 3,
        "check_rise": 2,
        "observe": False,
    },
}


def config(inputs: RoleInputs) -> str:
    """haproxy.cfg for one balancer: only what HAProxy needs (of the database, how long a write may wait)."""
    profile = HAPROXY_PROFILES[inputs.options.haproxy_profile]
    return render(
        "haproxy/haproxy.cfg.j2",
        node=inputs.node,
        domain=inputs.lab.domain,
        web_nodes=inputs.lab.web_nodes,
        http_port=HTTP_PORT,
        https=inputs.lab.has("https"),
        https_port=HTTPS_PORT,
        tls=inputs.lab.tls_to_servers if serves_tls(inputs.lab) else "terminate",
        server_port=HTTPS_PORT if serves_tls(inputs.lab) else HTTP_PORT,
        ca_file=BALANCER_CA,
        plain_http=inputs.options.plain_http,
        certificate=CERTIFICATE,
        hsts_max_age=HSTS_MAX_AGE,
        stats_port=STATS_PORT,
        metrics_port=HAPROXY_METRICS_PORT if inputs.lab.has("monitoring") else None,
        health_path=HEALTH_PATH,
        haproxy=profile,
        balance=inputs.options.balance,
        backups=inputs.options.backups,
        semi_sync_timeout_ms=inputs.lab.semi_sync_timeout_ms,
        write_timeout_ms=max(profile["timeout_server_ms"], write_timeouts.balancer_write_ms(inputs.lab)),
    )


class RuntimeState(Step):
    """What HAProxy's runtime API changed since it started (a weight, a drained server, one in
    maintenance) put back as the config says: a build undoes what `invoke lb.*` did live."""

    name = "HAProxy's runtime state"

    def probe(self) -> str:
        # Right after a reload the old process may still answer on the socket (without this backend, the
        # first time), or nobody yet: ask again until the answer is the state's format (version 1).
        ask = runtime_command(f"show servers state {BACKEND}")
        return f'for i in $(seq 20); do out=$({ask} 2>&1); case "$out" in 1*) break;; esac; sleep 0.3; done; echo "$out"'

    def decide(self, probe: Outcome) -> Plan:
        servers = parse_servers_state(probe.stdout)
        if not servers:
            raise StepError(f"HAProxy's runtime API ({ADMIN_SOCKET}) listed no server of backend {BACKEND}: {probe.stdout.strip()[:200]!r}")
        actions, undone = [], []
        for server in servers:
            where = f"{BACKEND}/{server.name}"
            if server.admin_state != "ready":
                actions.append(Run(runtime_command(f"set server {where} state ready")))
                undone.append(f"{server.name} {server.admin_state} -> ready")
            if server.weight != server.configured_weight:
                actions.append(Run(runtime_command(f"set server {where} weight {server.configured_weight}")))
                undone.append(f"{server.name} weight {server.weight} -> {server.configured_weight}")
        if not actions:
            return ok("as the config says: every server ready, weights as configured")
        return change("put back as the config says: " + ", ".join(undone), *actions)


def holds_site_key(lab: Lab) -> bool:
    """Whether the load balancers end the clients' TLS (and so hold the site's key): not where it passes through."""
    return lab.has("https") and not lab.passes_tls_through


def tls_files(inputs: RoleInputs) -> tuple[list[Step], list[Step]]:
    """The files HAProxy's TLS needs, in place before the config that names them, and those it no longer needs,
    removed after it: the site's certificate and key where TLS ends here, the lab's CA where it checks the web
    servers' certificates."""
    wanted: list[Step] = []
    gone: list[Step] = []
    if inputs.tls is not None and holds_site_key(inputs.lab):
        wanted.append(ConfigFile(CERTIFICATE, inputs.tls.certificates["site"].bundle, mode="0600", on_change=(RELOAD,)))
    else:
        gone.append(Absent(CERTIFICATE))
    if inputs.tls is not None and serves_tls(inputs.lab):
        wanted.append(ConfigFile(BALANCER_CA, inputs.tls.ca_pem, on_change=(RELOAD,)))
    else:
        gone.append(Absent(BALANCER_CA))
    return wanted, gone


def steps(inputs: RoleInputs) -> list[Step]:
    """HAProxy with the lab's config (and its TLS files, with HTTPS), checked with `haproxy -c` before it goes live."""
    wanted, gone = tls_files(inputs)
    return [
        Packages(PACKAGES),
        *wanted,
        ConfigFile(CONFIG, config(inputs), validate="haproxy -c -q -f {path}", on_change=(RELOAD,)),
        *gone,
        Service("haproxy"),
        RuntimeState(),
    ]


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    https = (Port(HTTPS_PORT, "haproxy", "the site over HTTPS", "any", (ANYONE,)),) if lab.has("https") else ()
    return (
        Port(HTTP_PORT, "haproxy", "the site", "any", (ANYONE,)),
        *https,
        Port(STATS_PORT, "haproxy", "statistics page", "any", (ADMIN,)),
    )


def servers_up(live: LabView, balancer: NodeSpec) -> str:
    """HAProxy on this balancer shows every web server of the design UP."""
    stats = live.stats(balancer)

    def probe() -> str:
        states = stats.server_states(HTTP_TIMEOUT)
        return expect(all_up(states, live.lab), describe(states))

    return eventually(probe)


def answering(lab: Lab) -> tuple[list[str], list[str]]:
    """Who the round-robin check expects to answer: every web server, and, where some web server proxies to
    an application server on another node, every application server the web servers proxy to (else none
    is named: each web server's own application answers for it)."""
    web = [n.name for n in lab.web_nodes]
    if not any(proxies_elsewhere(lab, w) for w in lab.web_nodes):
        return web, []
    return web, list(dict.fromkeys(a.name for w in lab.web_nodes for a in lab.upstream_apps(w)))


def round_robin(live: LabView) -> str:
    """Requests through the entry address are answered in turn by every web server (and, where the
    application servers are not only the web servers' own, by every application server too)."""
    web, apps = answering(live.lab)

    def probe() -> str:
        answers = [live.site.get(HEALTH_PATH, HTTP_TIMEOUT) for _ in range(2 * max(len(web), len(apps)))]
        served = [served_by(a) or "?" for a in answers]
        by_app = [a.headers.get(APP_NODE) or "?" for a in answers]
        in_turn = len(web) == 1 or all(a != b for a, b in itertools.pairwise(served))
        seen = " -> ".join(served) + (f"; applications: {' '.join(by_app)}" if apps else "")
        return expect(in_turn and set(web) <= set(served) and set(apps) <= set(by_app), seen)

    return eventually(probe)


def https_served(live: LabView) -> str:
    """HTTPS answers with a certificate of the lab's CA for the site's name, TLS 1.2 or newer, HTTP/2 offered."""
    assert live.site.ca_file is not None
    shook = handshake(live.site.address, live.lab.domain, live.site.ca_file)
    old = refuses_old_tls(live.site.address, live.lab.domain)
    answer = live.site.get(HEALTH_PATH, HTTP_TIMEOUT)
    hsts = answer.headers.get("Strict-Transport-Security", "none")
    seen = f"{shook.version}, ALPN {shook.alpn}, valid until {shook.not_after:%Y-%m-%d}, TLS 1.1 {'refused' if old is None else 'accepted'}, HSTS {hsts}"
    days_left = (shook.not_after - datetime.datetime.now(datetime.UTC)).days
    return expect(shook.alpn == "h2" and old is None and answer.status_code == 200 and days_left > RENEW_DAYS, seen)


def http_redirects(live: LabView) -> str:
    """Plain HTTP is answered with a permanent redirect to the same page over HTTPS."""
    answer = live.site.get(HEALTH_PATH, HTTP_TIMEOUT, scheme="http")
    location = answer.headers.get("Location", "")
    return expect(answer.status_code == 301 and location == f"https://{live.lab.domain}{HEALTH_PATH}", f"HTTP {answer.status_code} -> {location or 'nowhere'}")


def _has_https(lab: Lab) -> bool:
    return lab.has("https")


def _balancer_rules(lab: Lab) -> Iterator[Problem]:
    if not lab.balancers:
        yield Problem("nodes", "no node has the role loadbalancer")


def _web_behind(lab: Lab) -> Iterator[Problem]:
    if lab.balancers and not lab.web_nodes:
        yield Problem(f"nodes.{lab.balancers[0].name}.roles", "no node has the role web")


def _ports_to_itself(lab: Lab) -> Iterator[Problem]:
    for balancer in lab.balancers:
        if balancer.has_role("web"):
            shared = sorted({p.number for p in ports(lab, balancer)} & {p.number for p in web_ports(lab, balancer)})
            yield Problem(roles_field(balancer), f"{balancer.name} has web too: HAProxy and Nginx would both listen on {', '.join(map(str, shared))}")


def _floating_needed(lab: Lab) -> Iterator[Problem]:
    if len(lab.balancers) > 1 and lab.floating_address is None:
        yield Problem("lab.floating_address", f"missing, with {len(lab.balancers)} load balancers")


def _floating_has_balancers(lab: Lab) -> Iterator[Problem]:
    if lab.floating_address is not None and len(lab.balancers) < 2:
        yield Problem("lab.floating_address", f"{lab.floating_address} with {len(lab.balancers)} load balancer(s)")


ROLE = Role(
    name="loadbalancer",
    label=f"HAProxy :{HTTP_PORT} (stats :{STATS_PORT})",
    packages=PACKAGES,
    wave=2,
    steps=steps,
    ports=ports,
    checks=(
        NodeCheck("lb.servers-up", "HAProxy shows every web server UP", servers_up, phase="site"),
        SiteCheck("site.round-robin", "requests answered in turn by the web servers", round_robin),
        SiteCheck("site.https", "HTTPS with the lab's certificate, TLS 1.2+, HTTP/2", https_served, when=_has_https),
        SiteCheck("site.http-redirects", "plain HTTP redirected to HTTPS", http_redirects, when=_has_https),
    ),
    rules=(
        Rule("the design needs a load balancer in front of the site", _balancer_rules),
        Rule("a load balancer needs web servers to send requests to", _web_behind),
        Rule("a load balancer needs the site's ports to itself: put the web server on another node", _ports_to_itself),
        Rule("two or more load balancers need lab.floating_address for clients to reach them by", _floating_needed),
        Rule("a floating address needs two or more load balancers to move between", _floating_has_balancers),
    ),
)
