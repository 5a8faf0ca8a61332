"""The build-it labs: for each, the design it runs the lab on, what the student builds, the hints and the criteria.

The criteria are the lab's own measurements (HAProxy's statistics, requests through the entry address, the
scan, `invoke check`), each told in the student's terms: "web-02:3306 reachable from lb-01".
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import replace
from typing import Any

from .. import checks, parallel, promotion
from .. import scan as scanning
from ..constants import DATABASE, HEALTH_PATH, HTTPS_PORT, REPLICATION_USER
from ..exercises import symptoms
from ..live import LiveLab
from ..observe import vip
from ..observe.haproxy import BACKEND, describe
from ..observe.shell import NodeUnreachable
from ..observe.site import served_by
from ..observe.tls import handshake
from ..roles import exposure, firewall, inputs_for, keepalived, loadbalancer, monitor
from ..topology import DB_ROLES, Lab, implied_roles
from ..waiting import wait_until
from .record import BuildIt, Criterion, Details

PROBLEMS = (NodeUnreachable, OSError, ValueError)  # a measure that cannot be made is a criterion that fails
REQUESTS = 3  # requests per web server when looking at who answers


def without_node(lab: Lab, name: str) -> Lab:
    """The design without one node (what HAProxy's config was written from before it came)."""
    return replace(lab, nodes=tuple(n for n in lab.nodes if n.name != name))


def without_role(lab: Lab, name: str, role: str) -> Lab:
    """The design with one node lacking one role (the build then takes it away there)."""
    return replace(lab, nodes=tuple(replace(n, roles=tuple(r for r in n.roles if r != role)) if n.name == name else n for n in lab.nodes))


def balancers_owned(lab: Lab, details: Details) -> list[tuple[str, str]]:
    """HAProxy on every balancer is the student's."""
    return [(b.name, "loadbalancer") for b in lab.balancers]


# -- every check of the lab -------------------------------------------------------------------------


def every_check(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """`invoke check` on the lab's design: each failing check, as it says it."""
    results = checks.check(live)
    failed = [f"{c.who}: {c.what}: {c.seen}" for c in results if not c.ok]
    return failed, f"{len(results) - len(failed)} of {len(results)} checks ok"


EVERY_CHECK = Criterion("lab.checks", "every check of the lab passes (`invoke check`): the site, the databases, every service", every_check, last=True)


# -- web-03 into the balancer ---------------------------------------------------------------------------


def next_address(lab: Lab, after: ipaddress.IPv4Address) -> ipaddress.IPv4Address:
    """The first address past `after` that no node, floating address or the host uses (the scan's outside client
    takes the last one)."""
    taken = {lab.gateway, *lab.addresses}
    hosts = list(lab.subnet.hosts())[:-1]
    for host in hosts:
        if host > after and host not in taken:
            return host
    raise ValueError(f"{lab.subnet} has no free address for another web server")


def _new_web_details(lab: Lab) -> Details:
    last = lab.web_nodes[-1]
    name = f"web-{len(lab.web_nodes) + 1:02d}"
    roles = [r for r in last.roles if r not in DB_ROLES and r not in implied_roles(last, lab.features, lab.floating_address)]
    balancer = lab.balancers[0]
    return {
        "new": name, "new_address": str(next_address(lab, max(n.address for n in lab.web_nodes))), "new_roles": " ".join(roles),
        "like": last.name, "lb": balancer.name, "lbs": ", ".join(b.name for b in lab.balancers), "entry_name": lab.entry_name, "backend": BACKEND,
    }


def _can_add_web(lab: Lab) -> bool:
    return bool(lab.balancers and lab.web_nodes) and not lab.has_node(f"web-{len(lab.web_nodes) + 1:02d}")


def _add_web_node(data: dict[str, Any], details: Details) -> None:
    data["nodes"][details["new"]] = {"address": details["new_address"], "roles": details["new_roles"].split()}


def in_backend(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """Each balancer's HAProxy knows the new server and its health check finds it UP."""
    wrong, seen = [], []
    for balancer in live.lab.balancers:
        states = live.stats(balancer).server_states(3.0)
        seen.append(f"{balancer.name}: {describe(states)}")
        state = states.get(details["new"])
        if state is None:
            wrong.append(f"{details['new']} is no server of backend {BACKEND} in {balancer.name}'s HAProxy")
        elif state == "no check":
            wrong.append(f"{details['new']} has no health check in {balancer.name}'s HAProxy: `check` on its server line")
        elif state != "UP":
            wrong.append(f"{details['new']} is {state} in {balancer.name}'s HAProxy (its health check, GET {HEALTH_PATH}, fails)")
    return wrong, "; ".join(seen)


def reaches(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """Requests through the entry address are answered by the new server too."""
    answers = [served_by(live.site.get(HEALTH_PATH, 3.0)) or "?" for _ in range(REQUESTS * len(live.lab.web_nodes))]
    seen = "answered by " + " -> ".join(answers)
    if details["new"] in answers:
        return [], seen
    return [f"no request through {details['entry_name']} reached {details['new']} ({len(answers)} requests, {seen})"], seen


ADD_WEB = BuildIt(
    name="add-web-server",
    layer="load balancer",
    summary="a new web server is ready: put it into HAProxy's backend, health-checked",
    task=(
        "{new} ({new_address}) is built: Nginx and the application run there like on {like}, but no request reaches it: "
        "HAProxy on {lbs} does not know it. Add it to the backend {backend} in /etc/haproxy/haproxy.cfg, health-checked like the "
        "others, and reload HAProxy without dropping a request. You own haproxy.cfg on {lbs} until the lab ends: `invoke build` "
        "leaves it to you."
    ),
    designs="any design with a load balancer",
    applies=_can_add_web,
    details=_new_web_details,
    change=_add_web_node,
    owned=balancers_owned,
    before=lambda lab, details: without_node(lab, details["new"]),
    criteria=(
        Criterion("backend.has-server", "HAProxy on {lbs} has {new} in backend {backend}, and its health check finds it UP", in_backend, settle=5.0),
        Criterion("site.reaches-server", "requests through {entry_name} reach {new}", reaches),
        EVERY_CHECK,
    ),
    hints=(
        "Look at what HAProxy sees: its statistics page (http://<balancer>:8404/) lists each server of backend {backend}. "
        "Then read the backend's `server` lines in /etc/haproxy/haproxy.cfg on {lb}.",
        "A server line names the server, its address and port, and `check` for the health check: the `default-server` "
        "line above gives every server the same check timing. Test the file before reloading: `haproxy -c -f /etc/haproxy/haproxy.cfg`.",
        "Solution: on {lbs}, add `server {new} {new_address}:80 check` to backend {backend} in /etc/haproxy/haproxy.cfg, "
        "`haproxy -c -f /etc/haproxy/haproxy.cfg`, then `systemctl reload haproxy` (a reload keeps the connections open).",
    ),
)


# -- web-02's firewall ------------------------------------------------------------------------------------


def needs(lab: Lab, name: str) -> str:
    """What the design lets into a node, as the firewall role derives it: 'tcp 80 from 10.0.0.10; tcp 22 from anyone'."""
    allowed = firewall.allowed(inputs_for(lab, lab.node(name), {}))
    return "; ".join(f"{a.protocol} {a.port} from {', '.join(a.sources) if a.sources else 'anyone'}" for a in allowed)


def _firewall_details(lab: Lab) -> Details:
    node = lab.web_nodes[-1]
    return {
        "node": node.name, "node_address": str(node.address), "rules": firewall.RULES, "service": firewall.SERVICE, "unit": firewall.UNIT, "table": firewall.TABLE,
        "needs": needs(lab, node.name),
    }


def _firewall_on(data: dict[str, Any], details: Details) -> None:
    data.setdefault("features", {})["firewall"] = True


def _where(vantage: str) -> str:
    return {scanning.OUTSIDE: "outside", scanning.ADMIN: "the admin host"}.get(vantage, vantage)


def exposure_wrong(result: dict[str, object], node: str) -> list[str]:
    """The scan's cells of one node that differ from the design's policy, in the student's terms."""
    cells: dict[str, dict[str, dict[str, str]]] = result["cells"]  # type: ignore[assignment]
    wrong = []
    for key, row in cells.items():
        if not key.startswith(f"{node}:"):
            continue
        for vantage, cell in row.items():
            if scanning.Cell(**cell).agrees:
                continue
            if cell["expected"] == "open":
                wrong.append(f"{key} not reachable from {_where(vantage)} ({cell['seen']}), which the design needs")
            else:
                wrong.append(f"{key} reachable from {_where(vantage)}")
    return wrong


def scanned(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """The scan (a connection to each port from outside, the admin host and each node) agrees with the design on the node."""
    result = scanning.scan(live, live.session.provider.bridge)
    rows = [key for key in result["cells"] if key.startswith(f"{details['node']}:")]  # type: ignore[attr-defined]
    return exposure_wrong(result, details["node"]), f"{len(rows)} port(s) listening on {details['node']}"


def at_boot(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """The node's rules are in the file its unit loads at boot, the file is valid and the unit enabled."""
    node, wrong = details["node"], []
    enabled = live.shells.run(node, f"systemctl is-enabled {firewall.SERVICE}", kind="check").stdout.strip() or "not installed"
    if enabled != "enabled":
        wrong.append(f"{node}: {firewall.SERVICE} is {enabled}: the rules would be gone after a reboot")
    valid = live.shells.run(node, f"test -s {firewall.RULES} && nft -c -f {firewall.RULES}", kind="check")
    if not valid.ok:
        wrong.append(f"{node}: {firewall.RULES} is missing, empty or not valid nftables ({(valid.stderr or valid.stdout).strip()[:120] or 'nft -c failed'})")
    return wrong, f"{firewall.SERVICE} {enabled}"


WEB_FIREWALL = BuildIt(
    name="web-firewall",
    layer="firewall",
    summary="a web server has no firewall: write its nftables rules so the scan shows only what the design needs",
    task=(
        "The design puts a firewall on every node, and every node has one but {node} ({node_address}): there everything that "
        "listens is open to anyone. Write {node}'s rules in {rules} (nftables): drop what comes in unless the design needs it, "
        "from whom it needs it; and have them loaded at boot by a unit {service} like the other nodes' ({unit}). `invoke scan` measures it. "
        "You own {node}'s firewall until the lab ends: `invoke build` leaves it to you."
    ),
    designs="any design with a web server",
    applies=lambda lab: bool(lab.web_nodes),
    details=_firewall_details,
    change=_firewall_on,
    owned=lambda lab, details: [(details["node"], "firewall")],
    before=lambda lab, details: without_role(lab, details["node"], "firewall"),
    criteria=(
        Criterion("scan.only-needed", "the scan shows on {node} only what the design needs: each port open to whom needs it, closed to the rest", scanned),
        Criterion("firewall.at-boot", "{node}'s rules are in {rules}, valid, and loaded at boot by {service}", at_boot),
        EVERY_CHECK,
    ),
    hints=(
        "Run `invoke scan`: the rows of {node} marked `!` are what the design does not want. Which ports listen there, "
        "and who must reach each one (the load balancer? the other database server? the admin host for SSH)?",
        "Another node's rules are a model: `invoke ssh web-01 --command 'cat {rules}'`. A table of your own (`table inet {table}`), "
        "an input chain with `policy drop`, established traffic and loopback accepted, then one accept rule a port and source. "
        "web-01's unit, {unit}, is how its rules come back after a reboot.",
        "Solution: the design lets into {node} exactly this: {needs}. Write {rules} like web-01's with one accept rule each, "
        "check it with `nft -c -f {rules}`; copy web-01's {unit} to {node}, then `systemctl daemon-reload` and "
        "`systemctl enable --now {service}`: it loads the rules now and at every boot.",
    ),
)


# -- HTTPS at the load balancer ---------------------------------------------------------------------------


def _https_details(lab: Lab) -> Details:
    return {"lbs": ", ".join(b.name for b in lab.balancers), "entry_name": lab.entry_name, "certificate": loadbalancer.CERTIFICATE}


def _https_on(data: dict[str, Any], details: Details) -> None:
    data.setdefault("features", {})["https"] = True


def without_https(lab: Lab, details: Details) -> Lab:
    """The design without HTTPS (HAProxy's config and certificate as the build wrote them before)."""
    return replace(lab, features=lab.features - {"https"})


def https_answers(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """A TLS handshake with the entry address for the site's name, verified against the lab's CA."""
    where = f"{details['entry_name']}:{HTTPS_PORT}"
    try:
        shook = handshake(live.site.address, live.lab.domain, live.session.folder.ca_cert)
    except ConnectionRefusedError:
        return [f"nothing answers on {where}: HAProxy has no `bind *:{HTTPS_PORT} ssl crt ...` line"], ""
    except ssl.SSLCertVerificationError as err:
        return [f"{where} shows a certificate that is not the lab CA's for {live.lab.domain} ({err.verify_message})"], ""
    except (ssl.SSLError, OSError) as err:
        return [f"no TLS handshake with {where} ({type(err).__name__}: {err})"], ""
    return [], f"{shook.version}, ALPN {shook.alpn or 'none'}, valid until {shook.not_after:%Y-%m-%d}"


def redirects(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """Plain HTTP answers with a permanent redirect to the same page over HTTPS."""
    wanted = f"https://{live.lab.domain}{HEALTH_PATH}"
    answer = live.site.get(HEALTH_PATH, 3.0, scheme="http")
    location = answer.headers.get("Location", "")
    seen = f"HTTP {answer.status_code}" + (f" -> {location}" if location else "")
    if answer.status_code == 301 and location == wanted:
        return [], seen
    return [f"http://{live.lab.domain}{HEALTH_PATH} answers {seen}, not 301 -> {wanted}"], seen


HTTPS = BuildIt(
    name="https",
    layer="load balancer",
    summary="put HTTPS on the load balancer with the lab's CA, and send plain HTTP there with a 301",
    task=(
        "The design now serves {domain} over HTTPS only, but HAProxy on {lbs} still speaks plain HTTP. The lab's CA issued the "
        "site's certificate: {state}/tls/site.pem (the chain) and {state}/tls/site.key (its key). Put them on {lbs} as one PEM "
        "file, the key first ({certificate}); make HAProxy answer HTTPS on 443 with it (TLS 1.2 or newer only, HTTP/2 offered), "
        "and answer plain HTTP with a 301 to the same page over HTTPS. You own haproxy.cfg and the certificate on {lbs} until the "
        "lab ends: `invoke build` leaves them to you."
    ),
    designs="a design without HTTPS",
    applies=lambda lab: bool(lab.balancers) and not lab.has("https"),
    details=_https_details,
    change=_https_on,
    owned=balancers_owned,
    before=without_https,
    criteria=(
        Criterion("https.lab-ca", "{entry_name} answers HTTPS for {domain} with a certificate of the lab's CA", https_answers, settle=3.0),
        Criterion("http.redirects", "plain HTTP on {entry_name} answers 301 with the same page over HTTPS", redirects),
        EVERY_CHECK,
    ),
    hints=(
        "Try it as a client: `curl -v --cacert {state}/tls/ca.pem --resolve {domain}:443:{entry} https://{domain}{health}` "
        "and `curl -i -H 'Host: {domain}' http://{entry}{health}`. What answers on 443, and what does port 80 answer?",
        "HAProxy takes one PEM file holding the key and the chain: `cat site.key site.pem > bundle`. Copy it over SSH, e.g. "
        "`cat {state}/tls/site.key {state}/tls/site.pem | invoke ssh {lb} --command 'umask 077; mkdir -p /etc/haproxy/certs; "
        "cat > {certificate}'`. In the frontend, a second `bind` line takes the certificate (`ssl crt`), and `http-request redirect` "
        "sends plain HTTP away; the `ssl_fc` fetch tells which connection is TLS.",
        "Solution: in the frontend of /etc/haproxy/haproxy.cfg on {lbs}: `bind *:443 ssl crt {certificate} alpn h2,http/1.1 "
        "ssl-min-ver TLSv1.2` and `http-request redirect scheme https code 301 unless {{ ssl_fc }}`; then `haproxy -c -f "
        "/etc/haproxy/haproxy.cfg` and `systemctl reload haproxy`.",
    ),
)


# -- a replica from its primary ------------------------------------------------------------------------------


def _replica_details(lab: Lab) -> Details:
    replica = lab.replicas[-1]
    return {"replica": replica.name, "replica_address": str(replica.address), "repl_user": REPLICATION_USER, "database": DATABASE}


def _no_change(data: dict[str, Any], details: Details) -> None:
    """The design stays as it is: what is missing at the start is live state (a replica's data), not a role."""


def _forget(live: LiveLab, details: Details) -> None:
    promotion.forget_replication(live, live.lab.node(details["replica"]))


def _copy(live: LiveLab, details: Details) -> None:
    promotion.copy_from_primary(live, live.lab.node(details["replica"]))


def follows(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """SHOW REPLICA STATUS on the replica: the primary as its source, GTID, both threads running."""
    replica, primary = details["replica"], live.lab.primary
    status = live.databases.replica_status(live.lab.node(replica))
    if not status:
        return [f"{replica} replicates from nobody: no CHANGE MASTER TO was run there"], ""
    seen = (
        f"IO {status.get('Slave_IO_Running', '?')}, SQL {status.get('Slave_SQL_Running', '?')}, GTID {status.get('Using_Gtid', '?')}, "
        f"from {status.get('Master_Host', '?')}, {status.get('Seconds_Behind_Master', '?')} s behind"
    )
    wrong = []
    if status.get("Master_Host") not in (primary.name, str(primary.address)):
        wrong.append(f"{replica} replicates from {status.get('Master_Host') or 'no host'}, not from the primary {primary.name} ({primary.address})")
    if status.get("Using_Gtid") != "Slave_Pos":
        wrong.append(f"{replica} follows binary log positions, not GTID (Using_Gtid: {status.get('Using_Gtid', '?')}): MASTER_USE_GTID=slave_pos")
    for thread, error in (("IO", "Last_IO_Error"), ("SQL", "Last_SQL_Error")):
        running = status.get(f"Slave_{thread}_Running", "No")
        if running != "Yes":
            wrong.append(f"{replica}'s {thread} thread is not running ({running})" + (f": {status[error]}" if status.get(error) else ""))
    return wrong, seen


def caught_up(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """The replica holds the site's database, and a message posted through the site reaches it (symptoms.behind)."""
    replica = live.lab.node(details["replica"])
    found = live.databases.value(replica, f"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{DATABASE}'")
    if found == "0":
        return [f"{replica.name} has no copy of the database {DATABASE}: it starts from a copy of {live.lab.primary.name}'s"], ""
    lacking = symptoms.behind(live, 0.0)
    return list(lacking.values()), f"a new message reached {replica.name}; its messages are {live.lab.primary.name}'s"


REPLICA = BuildIt(
    name="replica",
    layer="database",
    summary="a database server holds nothing: make it a replica of the primary, from a copy, with GTID",
    task=(
        "{replica} ({replica_address}) runs MariaDB, but holds no copy of the site's database and follows nobody: the pages it "
        "serves fail. Make it a replica of {primary} ({primary_address}): start from a copy of {primary}'s database {database} "
        "taken at a known GTID position, then have it follow {primary} from there with GTID, as the account {repl_user} (its "
        "password is db_replication in {state}/secrets.json). You own {replica}'s replication until the lab ends: `invoke build` "
        "leaves it to you."
    ),
    designs="a design with a replica",
    applies=lambda lab: bool(lab.replicas),
    details=_replica_details,
    change=_no_change,
    owned=lambda lab, details: [(details["replica"], "db_replica")],
    before=lambda lab, details: lab,
    clear=_forget,
    groundwork=_copy,
    criteria=(
        Criterion("replica.follows", "{replica} replicates from {primary} with GTID, both threads running", follows, settle=5.0),
        Criterion("replica.caught-up", "{replica} holds what {primary} holds: its copy, and every write since", caught_up, settle=5.0),
        EVERY_CHECK,
    ),
    hints=(
        "On {replica}: `mariadb -e 'SHOW REPLICA STATUS\\G'` and `mariadb -e 'SHOW DATABASES'`. A replica starts from a copy "
        "of the primary's data taken at a known point, and follows the primary's binary log from that point on.",
        "`mariadb-dump --single-transaction --gtid --master-data=2 --databases {database}` on {primary} writes the copy with "
        "its GTID position (the `gtid_slave_pos` line near the top). Through the host: `invoke ssh {primary} --command "
        "'mariadb-dump ...' > copy.sql`, then `(echo 'SET SESSION sql_log_bin=0;'; cat copy.sql) | invoke ssh {replica} "
        "--command mariadb` (the copy is not logged again on {replica}).",
        "Solution: load the copy on {replica} as above; then on {replica}: `SET GLOBAL gtid_slave_pos = '<the copy's "
        "position>'; CHANGE MASTER TO MASTER_HOST='{primary_address}', MASTER_USER='{repl_user}', MASTER_PASSWORD='<db_replication>', "
        "MASTER_USE_GTID=slave_pos; START SLAVE;` and `SHOW REPLICA STATUS\\G` shows both threads running.",
    ),
)


# -- the monitoring sees a new server ------------------------------------------------------------------------


def _monitored_details(lab: Lab) -> Details:
    monitors = lab.with_role("monitor")
    return {**_new_web_details(lab), "monitor": monitors[0].name, "monitors": ", ".join(m.name for m in monitors), "prometheus_config": monitor.CONFIG}


def scraped(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """Prometheus on each monitoring server scrapes every metrics endpoint the design gives the new server, labelled
    with its name, and finds each up."""
    new = details["new"]
    wanted = {f"{e.node.address}:{e.port.number}": e.port.job for e in exposure(live.lab) if e.node.name == new and e.port.metrics is not None}
    wrong, seen = [], []
    for server in live.lab.with_role("monitor"):
        targets = {t.instance: t for t in live.prometheus(server).targets()}
        for instance, job in wanted.items():
            target = targets.get(instance)
            if target is None:
                wrong.append(f"Prometheus on {server.name} does not scrape {new}'s {job} ({instance})")
            elif target.health != "up":
                wrong.append(f"{new}'s {job} ({instance}) is {target.health} in Prometheus on {server.name}")
            elif target.node != new:
                wrong.append(f"{new}'s {job} ({instance}) is labelled node: {target.node}, not node: {new} (the alerts name the server by it)")
            else:
                seen.append(f"{job} up")
    return wrong, f"{new}: {', '.join(seen)}"


MONITORED = BuildIt(
    name="monitor-new-server",
    layer="monitoring",
    summary="a new server runs its exporters: make Prometheus scrape them, so the monitoring sees it",
    task=(
        "{new} ({new_address}) is built like {like}, with the exporters the design gives every server, and takes requests. "
        "But Prometheus on {monitors} does not know it: if {new} died, no alert would fire. Add {new}'s metrics endpoints to "
        "{prometheus_config}, each labelled with the server's name like the others' (`node: {new}`), and reload Prometheus. "
        "You own the monitoring server's configuration until the lab ends: `invoke build` leaves it to you."
    ),
    designs="a design with monitoring",
    applies=lambda lab: bool(lab.with_role("monitor")) and _can_add_web(lab),
    details=_monitored_details,
    change=_add_web_node,
    owned=lambda lab, details: [(m.name, "monitor") for m in lab.with_role("monitor")],
    before=lambda lab, details: without_node(lab, details["new"]),
    criteria=(
        Criterion("prometheus.scrapes-server", "Prometheus on {monitors} scrapes {new}'s exporters, labelled node: {new}, and each is up", scraped, settle=10.0),
        EVERY_CHECK,
    ),
    hints=(
        "Prometheus lists what it scrapes: http://<monitoring server>:9090/targets, or `invoke ssh {monitor} --command 'curl -s "
        "localhost:9090/api/v1/targets'`. Which jobs have {like} and which have {new}? Which ports does {new} serve metrics on "
        "(`ss -ltnp` on {new})?",
        "Each job in {prometheus_config} lists its targets under `static_configs`, each with `labels: {{node: ...}}`. Copy "
        "{like}'s entries for {new}'s address; `promtool check config {prometheus_config}` checks the file.",
        "Solution: in {prometheus_config} on {monitors}, under each job that has {like}, add `- targets: ['{new_address}:<the "
        "job's port>']` with `labels: {{node: {new}}}`; `promtool check config {prometheus_config}`, then `systemctl reload "
        "prometheus`.",
    ),
)


# -- the floating address's owner ------------------------------------------------------------------------------

SETTLE_VRRP = 5.0  # seconds keepalived gets after a restart (advertisements every 100 ms, a few seconds to start)


def _owner_details(lab: Lab) -> Details:
    chosen, others = lab.balancers[-1], lab.balancers[:-1]
    return {
        "chosen": chosen.name, "others": ", ".join(b.name for b in others), "first": others[0].name, "vip": str(lab.floating_address),
        "balancers": ", ".join(b.name for b in lab.balancers), "keepalived_config": keepalived.CONFIG,
    }


def listed_first(lab: Lab, name: str) -> Lab:
    """The design with one node listed first: the first balancer is the one keepalived gives the highest priority."""
    return replace(lab, nodes=(lab.node(name), *(n for n in lab.nodes if n.name != name)))


def _chosen_first(data: dict[str, Any], details: Details) -> None:
    nodes = data["nodes"]
    data["nodes"] = {details["chosen"]: nodes[details["chosen"]], **{k: v for k, v in nodes.items() if k != details["chosen"]}}


def _holders(live: LiveLab) -> list[str]:
    return vip.holders(live.shells, live.lab)


def _restart(live: LiveLab, names: list[str]) -> None:
    parallel.each(names, lambda name: live.shells.must(name, "systemctl restart keepalived", kind="run", timeout=30))


def _held(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """Who holds the floating address, once keepalived has settled (exactly one holder, or the time is up)."""
    holding: list[str] = []

    def settled() -> bool:
        holding[:] = _holders(live)
        return len(holding) == 1

    wait_until(settled, SETTLE_VRRP, 0.5)
    where = f"{details['vip']} is on {' and '.join(holding) or 'nobody'}"
    if holding == [details["chosen"]]:
        return [], where
    if len(holding) > 1:
        return [f"{where}: both think they are master (are their advertisements, IP protocol 112, getting through?)"], where
    return [f"{where}, not on {details['chosen']}"], where


def priority_of(live: LiveLab) -> dict[str, int | None]:
    """Each balancer's VRRP priority as its keepalived.conf says (None where the file gives none)."""
    found: dict[str, int | None] = {}
    for balancer in live.lab.balancers:
        text = live.shells.run(balancer.name, f"grep -o 'priority *[0-9]*' {keepalived.CONFIG}", kind="check").stdout.split()
        found[balancer.name] = int(text[-1]) if text and text[-1].isdigit() else None
    return found


def priorities(found: dict[str, int | None]) -> str:
    """The balancers' priorities (from priority_of) as the grade says them: 'lb-01 150, lb-02 140'."""
    return ", ".join(f"{name} {'?' if value is None else value}" for name, value in found.items())


def on_chosen(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """The floating address is on the chosen balancer now."""
    return _held(live, details)


def stays(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """The address stays on the chosen balancer when keepalived restarts on the others."""
    if _held(live, details)[0]:
        return [f"measured once {details['vip']} is on {details['chosen']}"], ""
    others = [b.name for b in live.lab.balancers if b.name != details["chosen"]]
    _restart(live, others)
    wrong, where = _held(live, details)
    return [f"after `systemctl restart keepalived` on {', '.join(others)}: {problem}" for problem in wrong], where


def wins(live: LiveLab, details: Details) -> tuple[list[str], str]:
    """The chosen balancer wins an election (every balancer's keepalived starting at once): its priority is the
    highest of the balancers' configs. Read from the configs rather than raced: restarted together, whichever
    keepalived starts first by a few milliseconds would take the address, whatever the priorities."""
    found = priority_of(live)
    said = priorities(found)
    chosen = found.get(details["chosen"])
    beaten = chosen is None or any(v is not None and v >= chosen for n, v in found.items() if n != details["chosen"])
    wrong = [f"{details['chosen']} does not have the highest priority (priorities: {said})"] if beaten else []
    return wrong, f"priorities: {said}"


def move_address(live: LiveLab, to: str) -> None:
    """keepalived restarted where the address is and should not be, so that it goes to `to` (nopreempt: a higher
    priority alone does not take it)."""
    elsewhere = [name for name in _holders(live) if name != to]
    if elsewhere:
        _restart(live, elsewhere)
        if not wait_until(lambda: _holders(live) == [to], SETTLE_VRRP, 0.5):
            raise ValueError(f"{live.lab.floating_address} did not move to {to}: it is on {', '.join(_holders(live)) or 'nobody'}")


OWNER = BuildIt(
    name="floating-owner",
    layer="keepalived",
    summary="move the floating address to another balancer, and make it the owner: it wins every election",
    task=(
        "The floating address {vip} is on {first}; the class wants {chosen} to hold it (say {first} is to be replaced). "
        "Move it to {chosen} without more than a blink for the site, and make {chosen} its owner: it must stay there when "
        "keepalived restarts on {others}, and win the election when keepalived starts on every balancer at once. keepalived's "
        "config is {keepalived_config} on {balancers}; note `nopreempt`. You own keepalived on {balancers} until the lab ends: "
        "`invoke build` leaves it to you."
    ),
    designs="a design with a floating address (configs/scaled.yml)",
    applies=lambda lab: lab.floating_address is not None and len(lab.balancers) >= 2,
    details=_owner_details,
    change=_chosen_first,
    owned=lambda lab, details: [(b.name, "keepalived") for b in lab.balancers],
    before=lambda lab, details: listed_first(lab, details["first"]),
    clear=lambda live, details: move_address(live, details["first"]),
    finishing=lambda live, details: move_address(live, details["chosen"]),
    putting_back=lambda live, details: move_address(live, live.lab.balancers[0].name),
    criteria=(
        Criterion("vip.on-chosen", "{vip} is on {chosen}", on_chosen, settle=3.0),
        Criterion("vip.stays", "{vip} stays on {chosen} when keepalived restarts on {others}", stays),
        Criterion("vip.wins-election", "{chosen} wins an election: its priority is the highest in the balancers' keepalived configs", wins),
        EVERY_CHECK,
    ),
    hints=(
        "Who holds the address: `ip -br addr` on each balancer. What decides who gets it in an election is each one's "
        "`priority` in {keepalived_config}; `nopreempt` means a balancer with a higher priority does not take it from one "
        "that holds it.",
        "Give {chosen} the highest priority (and keep every priority between 1 and 254), `keepalived -t -f "
        "{keepalived_config}`, `systemctl reload keepalived`. Then the address must move once: a clean `systemctl restart "
        "keepalived` on the balancer that holds it makes it give the address up at once (it sends priority 0).",
        "Solution: swap the priorities in {keepalived_config} ({chosen} 150, {first} 140), reload keepalived on both, then "
        "`systemctl restart keepalived` on {first}: {vip} moves to {chosen} within a second and stays there.",
    ),
)


BUILD_ITS: tuple[BuildIt, ...] = (ADD_WEB, WEB_FIREWALL, HTTPS, REPLICA, MONITORED, OWNER)


def by_name(name: str) -> BuildIt:
    for lab in BUILD_ITS:
        if lab.name == name:
            return lab
    raise KeyError(name)
