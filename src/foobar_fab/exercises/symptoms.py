"""What the grader asks to tell that a symptom is gone: each probe returns what it saw, or raises
CheckFailed (or a connection error) while the symptom is still there.

They ask as a user or an administrator would (requests to the site, HAProxy's statistics, the
databases). `settle` is how long a failing answer is asked again: a just-repaired lab needs a few
seconds (HAProxy's `rise`, a replica reconnecting); a just-broken one is asked once.
"""

from __future__ import annotations

import datetime
import re
import ssl
import uuid
from collections.abc import Callable

import requests

from ..constants import APP_PORT, DATABASE, HEALTH_PATH
from ..expect import CheckFailed, eventually, expect
from ..live import LiveLab
from ..observe import vip
from ..observe.haproxy import all_up, describe
from ..observe.shell import NodeUnreachable
from ..observe.site import LabGone, served_by
from ..observe.tls import handshake
from ..roles.app import listen_address
from .faults import Details

SETTLE = 5.0  # seconds a repaired lab gets before the grade
REPLICATION = 3.0  # seconds a posted message gets to reach every replica (it takes milliseconds)

#: What a probe raises while the symptom is there.
#: The alert rule that tells a web server DOWN, and the comparison at the end of a rule's expression.
WATCHING_RULE = "WebServerDown"
COMPARISON = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$")

PROBLEMS = (CheckFailed, NodeUnreachable, requests.RequestException, LabGone, OSError)

Probe = Callable[[LiveLab, Details, float], str]


def _note() -> str:
    return f"exercise check {uuid.uuid4().hex[:10]}"


def servers_up(live: LiveLab, details: Details, settle: float) -> str:
    """Every load balancer shows every web server UP."""

    def probe() -> str:
        seen = []
        for balancer in live.lab.balancers:
            states = live.stats(balancer).server_states(3.0)
            seen.append(expect(all_up(states, live.lab), f"HAProxy on {balancer.name} shows {describe(states)}"))
        return "; ".join(seen)

    return eventually(probe, settle)


def site_answers(live: LiveLab, details: Details, settle: float) -> str:
    """Pages through the site's entry address are answered, by every request."""
    count = 2 * len(live.lab.web_nodes)

    def probe() -> str:
        codes = [live.site.get("/", 3.0).status_code for _ in range(count)]
        return expect(all(code == 200 for code in codes), f"{codes.count(200)} of {count} pages answered (HTTP {', '.join(map(str, codes))})")

    return eventually(probe, settle)


def posts_accepted(live: LiveLab, details: Details, settle: float) -> str:
    """Messages posted through the site are all stored, whichever server takes them."""
    count = 3 * max(len(live.lab.web_nodes), len(live.lab.app_nodes))

    def probe() -> str:
        refused = []
        for _ in range(count):
            answer = live.site.post_message(_note())
            if answer.status_code != 201:
                refused.append(f"HTTP {answer.status_code} via {served_by(answer) or '?'}: {answer.text.strip()[:140]}")
        return expect(not refused, f"{count - len(refused)} of {count} messages accepted" + (f"; refused: {refused[0]}" if refused else ""))

    return eventually(probe, settle)


def behind(live: LiveLab, settle: float) -> dict[str, str]:
    """The replicas that do not hold what their primary holds, each with what it lacks: a message posted through
    the site that has not reached it after a few seconds, or messages that differ from the primary's."""
    lab, databases = live.lab, live.databases
    note = _note()

    def posted() -> str:
        answer = live.site.post_message(note)
        return expect(answer.status_code == 201, f"a message could not be posted: HTTP {answer.status_code}")

    eventually(posted, settle)
    patience = REPLICATION + settle

    def arrived() -> str:
        missing = [r.name for r in lab.replicas if databases.count(r, note) != 1]
        return expect(not missing, ", ".join(missing))

    try:
        eventually(arrived, patience)
    except CheckFailed:
        pass
    statement = f"CHECKSUM TABLE {DATABASE}.messages"
    primary = databases.rows(lab.primary, statement)[0][1]
    lacking: dict[str, str] = {}
    for replica in lab.replicas:
        if databases.count(replica, note) != 1:
            lacking[replica.name] = f"a new message has not reached {replica.name} after {patience:.0f} s"
        elif databases.rows(replica, statement)[0][1] != primary:
            lacking[replica.name] = f"the messages on {replica.name} differ from those on {lab.primary.name}"
    return lacking


def replicas_current(live: LiveLab, details: Details, settle: float) -> str:
    """A message posted through the site reaches every replica, and each replica holds what its primary holds."""
    lacking = behind(live, settle)
    return expect(not lacking, "; ".join(lacking.values()) or f"new message on every replica ({', '.join(r.name for r in live.lab.replicas)}), same messages")


def apps_answer(live: LiveLab, details: Details, settle: float) -> str:
    """Every application server answers its health page, where the web servers reach it."""
    command = "curl -s -o /dev/null -m 2 -w '%{{http_code}}' http://{address}:{port}{path}"

    def probe() -> str:
        silent = []
        for app in live.lab.app_nodes:
            address = listen_address(live.lab, app)
            code = live.shells.run(app.name, command.format(address=address, port=APP_PORT, path=HEALTH_PATH), show=False).stdout.strip()
            if code != "200":
                silent.append(f"the application on {app.name} does not answer ({code or 'no answer'})")
        return expect(not silent, "; ".join(silent) or f"{len(live.lab.app_nodes)} application servers answer")

    return eventually(probe, settle)


def https_valid(live: LiveLab, details: Details, settle: float) -> str:
    """The site's certificate is accepted by a client that trusts the lab's CA, and valid for more than a day."""
    if live.site.ca_file is None:
        raise CheckFailed("this design serves no HTTPS")
    try:
        shook = handshake(live.site.address, live.lab.domain, live.site.ca_file)
    except ssl.SSLCertVerificationError as err:
        raise CheckFailed(f"the certificate is refused: {err.verify_message}") from None
    left = shook.not_after - datetime.datetime.now(datetime.UTC)
    return expect(left > datetime.timedelta(days=1), f"certificate valid until {shook.not_after:%Y-%m-%d}")


def floating_on_first(live: LiveLab, details: Details, settle: float) -> str:
    """The floating address is on the first load balancer of the design (the one keepalived should make master)."""
    master, address = live.lab.balancers[0], live.lab.floating_address

    def probe() -> str:
        held = vip.holds(live.shells, master, str(address), show=False)
        if held is None:
            raise CheckFailed(f"{master.name} cannot be asked whether it holds {address}")
        return expect(held, f"{address} is {'' if held else 'not '}on {master.name}")

    return eventually(probe, settle)


def floating_on_first_only(live: LiveLab, details: Details, settle: float) -> str:
    """The floating address is on the first load balancer, and on no other."""

    def probe() -> str:
        held = vip.holders(live.shells, live.lab)
        return expect(held == [live.lab.balancers[0].name], f"{live.lab.floating_address} held by {', '.join(held) or 'nobody'}")

    return eventually(probe, settle)


def load_shared(live: LiveLab, details: Details, settle: float) -> str:
    """Pages through the site come from every web server, each its share at least half as often as an even
    share would give it (HAProxy's round robin gives them exactly their share)."""
    servers = [n.name for n in live.lab.web_nodes]
    count = 4 * len(servers)

    def probe() -> str:
        seen = [served_by(live.site.get("/", 3.0)) for _ in range(count)]
        shares = {name: seen.count(name) for name in servers}
        told = ", ".join(f"{name} {n}" for name, n in shares.items())
        return expect(all(n >= count // (2 * len(servers)) for n in shares.values()), f"of {count} pages: {told}")

    return eventually(probe, settle)


def web_servers_watched(live: LiveLab, details: Details, settle: float) -> str:
    """The monitoring could tell a web server DOWN: Prometheus scrapes every target of the design, and the
    WebServerDown rule, as Prometheus loaded it and without its comparison, selects every web server on every
    balancer (a rule whose selector matches nothing can never fire)."""
    prometheus = live.prometheus(live.lab.with_role("monitor")[0])
    wanted = {(b.name, w.name) for b in live.lab.balancers for w in live.lab.web_nodes}

    def probe() -> str:
        down = sorted(f"{t.job} on {t.node}" for t in prometheus.targets() if t.health != "up")
        expect(not down, f"targets not up: {', '.join(down)}")
        rule = prometheus.rules().get(WATCHING_RULE)
        if rule is None:
            raise CheckFailed(f"Prometheus has no rule {WATCHING_RULE}")
        selector = COMPARISON.sub("", rule)
        found = {(s.get("node", "?"), s.get("server", "?")) for s in prometheus.series(selector)}
        missing = sorted(f"{server} on {node}" for node, server in wanted - found)
        return expect(not missing, f"{WATCHING_RULE} ({rule}) sees every web server" if not missing else f"{WATCHING_RULE} ({rule}) selects nothing of {', '.join(missing)}")

    return eventually(probe, settle)


def nothing(live: LiveLab, details: Details, settle: float) -> str:
    """No symptom to check: only the lab's own checks, and the cause."""
    return "no symptom of its own"
