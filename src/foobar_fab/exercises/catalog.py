"""The exercises: for each, the fault a person could have made, what a user reports, the hints in
order, the cause to name and the reference fix.

Targets are the design's named parts (a web server, the primary, a replica, the first balancer),
chosen by the exercise's seed, so the same exercise runs on every design it applies to.
"""

from __future__ import annotations

import datetime
import random
import secrets
from dataclasses import dataclass

from .. import pki
from ..constants import APP_ENV, APP_PORT, APP_SERVICE, DB_PORT, HAPROXY_METRICS_PORT, HEALTH_PATH, REPLICATION_USER
from ..expect import CheckFailed
from ..live import LiveLab
from ..resources.mariadb import password_hash
from ..roles import firewall, loadbalancer, web
from ..roles import monitor as monitor_role
from ..roles.app import PRIMARY_FILE
from ..topology import Lab, NodeSpec
from ..waiting import wait_until
from . import symptoms
from .faults import Details, literal, on, put, query, reboot, sed, unused_address
from .record import Exercise, fill

HAPROXY_RELOAD = f"haproxy -c -q -f {loadbalancer.CONFIG} && systemctl reload haproxy"
NGINX_RELOAD = "nginx -t -q && systemctl reload nginx"
APP_RESTART = f"systemctl restart {APP_SERVICE}"
KEEPALIVED = "/etc/keepalived/keepalived.conf"
NFTABLES_CONF = "/etc/nftables.conf"  # Debian's own firewall file, loaded by nftables.service
DATADIR = "/var/lib/mysql"
SHOW_REPLICA = "mariadb -e 'SHOW REPLICA STATUS\\G'"


@dataclass(frozen=True)
class LineEdit:
    """A mistake in a config file: the text `old` made `new` on the node that the detail `node` names, then `then`
    run (a reload); the fix makes it `old` again. The texts are templates of the details."""

    node: str
    path: str
    old: str
    new: str
    then: str

    def _swap(self, live: LiveLab, details: Details, was: str, becomes: str) -> str:
        edit = sed(self.path, f"s#{literal(fill(was, details))}#{fill(becomes, details)}#")
        return on(live, details[self.node], f"{edit} && {self.then}")

    def inject(self, live: LiveLab, details: Details) -> str:
        return self._swap(live, details, self.old, self.new)

    def fix(self, live: LiveLab, details: Details) -> str:
        return self._swap(live, details, self.new, self.old)


def _pick(rng: random.Random, nodes: tuple[NodeSpec, ...]) -> NodeSpec:
    return nodes[rng.randrange(len(nodes))]


def _readers(lab: Lab, replica: NodeSpec) -> str:
    """The servers whose pages are read from this replica."""
    return ", ".join(a.name for a in lab.app_nodes if lab.read_database(a) == replica) or replica.name


def _writers(lab: Lab) -> tuple[NodeSpec, ...]:
    """Application servers that write to a primary on another node."""
    return tuple(a for a in lab.app_nodes if a != lab.primary)


# -- Nginx proxies to the wrong port -------------------------------------------------------------


def _upstream_choose(lab: Lab, rng: random.Random) -> Details:
    node = _pick(rng, lab.web_nodes)
    return {"node": node.name, "node_address": str(node.address), "port": rng.choice(("8001", "8080", "8008", "8800", "8081")), "conf": web.SITE}


UPSTREAM = LineEdit("node", web.SITE, f":{APP_PORT}", ":{port}", NGINX_RELOAD)
UPSTREAM_PORT = Exercise(
    name="server-down-after-change",
    level=1,
    layer="web server",
    symptom="after a change this morning, HAProxy shows one web server DOWN",
    report="After this morning's change on the web servers, HAProxy shows {node} DOWN. The site still answers, from the other web servers only.",
    choose=_upstream_choose,
    inject=UPSTREAM.inject,
    fix=UPSTREAM.fix,
    gone=symptoms.servers_up,
    hints=(
        "Which server is DOWN, and what did HAProxy's last health check get? The statistics page ({stats}) says it in the "
        "LastChk column. The health check is `GET {health}` through each web server.",
        "Ask {node} what HAProxy asks: `curl -s -i -H 'Host: {domain}' http://{node_address}{health}`. Which program answers, "
        "and what does the answer say?",
        "A 502 Bad Gateway comes from Nginx: it could not reach what it proxies to. On {node}: `tail /var/log/nginx/error.log`, "
        "and compare with what listens there: `ss -ltnp`.",
        "Solution: on {node}, Nginx proxies to port {port} (the upstream block in {conf}), but gunicorn listens on {app_port}. "
        "Fix the port, check with `nginx -t`, `systemctl reload nginx`; then `invoke exercise.check --cause {node}:nginx`.",
    ),
    causes=("{node}:nginx",),
)


# -- gunicorn does not start after a reboot ----------------------------------------------------------


def _reboot_choose(lab: Lab, rng: random.Random) -> Details:
    node = _pick(rng, lab.app_nodes)
    seen = f"HAProxy keeps {node.name} DOWN" if node in lab.web_nodes else f"the web servers no longer reach the application on {node.name}"
    return {"node": node.name, "seen": seen}


def _disable_and_reboot(live: LiveLab, details: Details) -> None:
    on(live, details["node"], f"systemctl disable --quiet {APP_SERVICE}")
    reboot(live, details["node"])


NOT_AT_BOOT = Exercise(
    name="server-down-after-reboot",
    level=1,
    layer="application",
    symptom="a server came back after a power cut, but the site does not use it again",
    report="{node} came back after a power cut, but since then {seen}.",
    choose=_reboot_choose,
    inject=_disable_and_reboot,
    fix=lambda live, d: on(live, d["node"], f"systemctl enable --now {APP_SERVICE}"),
    gone=symptoms.apps_answer,
    hints=(
        "What runs on {node} since the restart, and what does not? `invoke check` says which service; then on {node} "
        "(`invoke ssh {node}`): `systemctl status " + APP_SERVICE + "`.",
        "A service that ran before a power cut and not after: was it started by hand, or by systemd at boot? "
        "`systemctl is-enabled " + APP_SERVICE + "`, and `journalctl -b -u " + APP_SERVICE + "` (this boot only).",
        "Solution: " + APP_SERVICE + " (gunicorn) on {node} is disabled: it ran until the power cut, but nothing started it at boot. "
        "`systemctl enable --now " + APP_SERVICE + "`; then `invoke exercise.check --cause {node}:app`.",
    ),
    causes=("{node}:app",),
)


# -- HAProxy checks a page that does not exist -------------------------------------------------------


CHECKED_PAGE = LineEdit("lb", loadbalancer.CONFIG, f"uri {HEALTH_PATH} ", "uri {path} ", HAPROXY_RELOAD)
HEALTH_CHECK_PATH = Exercise(
    name="site-unavailable",
    level=1,
    layer="load balancer",
    symptom="the site answers 503 Service Unavailable to every request",
    report="The site answers 503 Service Unavailable to every request, though the web servers were fine a minute ago.",
    choose=lambda lab, rng: {"path": rng.choice(("/health", "/healthz", "/status", "/api/status", "/api/healthz")), "web_address": str(lab.web_nodes[0].address)},
    inject=CHECKED_PAGE.inject,
    fix=CHECKED_PAGE.fix,
    gone=symptoms.site_answers,
    hints=(
        "Who answers the 503: HAProxy itself, or a web server behind it? `{curl}/ -i` shows the headers (each web server adds "
        "X-Served-By). Then HAProxy's statistics page: {stats}.",
        "Every server is DOWN. What did the health checks get (the LastChk column)? Ask a web server what the check asks: "
        "`curl -s -i -H 'Host: {domain}' http://{web_address}{health}`.",
        "The web servers answer their health page. Which page does HAProxy ask for? `option httpchk` and `http-check send` "
        "in /etc/haproxy/haproxy.cfg on {lb}.",
        "Solution: HAProxy on {lb} checks `{path}`, a page the application does not have (404), so every server is DOWN and "
        "HAProxy answers 503 itself. Put back `uri {health}` in /etc/haproxy/haproxy.cfg, `haproxy -c -f /etc/haproxy/haproxy.cfg`, "
        "`systemctl reload haproxy`; then `invoke exercise.check --cause {lb}:haproxy`.",
    ),
    causes=("{lb}:haproxy",),
)


# -- HAProxy sends a server's traffic to the wrong port ------------------------------------------------


def _backend_choose(lab: Lab, rng: random.Random) -> Details:
    node = _pick(rng, lab.web_nodes)
    return {"web": node.name, "web_address": str(node.address), "port": rng.choice(("81", "8080", "8000", "800", "8081"))}


SERVER_LINE = LineEdit("lb", loadbalancer.CONFIG, " {web_address}:{web_port} ", " {web_address}:{port} ", HAPROXY_RELOAD)
BACKEND_PORT = Exercise(
    name="nobody-touched-it",
    level=2,
    layer="load balancer",
    symptom="HAProxy shows a web server DOWN, though nobody touched that server",
    report="HAProxy shows {web} DOWN, though nobody touched {web}.",
    choose=_backend_choose,
    inject=SERVER_LINE.inject,
    fix=SERVER_LINE.fix,
    gone=symptoms.servers_up,
    hints=(
        "Is {web} really down? Ask it what HAProxy's health check asks: `curl -s -i -H 'Host: {domain}' http://{web_address}{health}`.",
        "{web} answers. Look at the other end: what did HAProxy's last check get (LastChk on {stats}), and where does HAProxy "
        "send {web}'s traffic? The `server` lines in /etc/haproxy/haproxy.cfg on {lb}.",
        "Solution: HAProxy on {lb} sends {web}'s requests and health checks to port {port}, where nothing listens (Nginx is on {web_port}). "
        "Fix the `server {web}` line in /etc/haproxy/haproxy.cfg, `haproxy -c -f /etc/haproxy/haproxy.cfg`, "
        "`systemctl reload haproxy`; then `invoke exercise.check --cause {lb}:haproxy`.",
    ),
    causes=("{lb}:haproxy",),
)


# -- an application server writes to the wrong database ------------------------------------------------


def _write_host_choose(lab: Lab, rng: random.Random) -> Details:
    node = _pick(rng, lab.app_nodes)
    options = [(unused_address(lab, lab.primary.address, rng), "an address nothing has")]
    options += [(str(r.address), f"the read-only replica on {r.name}") for r in lab.replicas]
    wrong, what = rng.choice(options)
    return {"node": node.name, "wrong": wrong, "what": what}


@dataclass(frozen=True)
class WritesTo:
    """Where the application on the node that the detail `node` names sends its writes: the primary's address in the
    address file its settings name (FOOBAR_PRIMARY_FILE in app.env, which the build writes and a promotion rewrites),
    made `new`; the fix makes it `old` again. The texts are templates of the details."""

    old: str
    new: str

    def _edit(self, live: LiveLab, details: Details, was: str, becomes: str) -> Details:
        on(live, details["node"], sed(PRIMARY_FILE, f"s#^{literal(fill(was, details))}$#{fill(becomes, details)}#") + f" && {APP_RESTART}")
        return {"setting": f"{PRIMARY_FILE} (the file FOOBAR_PRIMARY_FILE names in {APP_ENV})"}

    def inject(self, live: LiveLab, details: Details) -> Details:
        return self._edit(live, details, self.old, self.new)

    def fix(self, live: LiveLab, details: Details) -> None:
        self._edit(live, details, self.new, self.old)


WRITES_TO = WritesTo("{primary_address}", "{wrong}")
WRITE_HOST = Exercise(
    name="some-posts-fail",
    level=2,
    layer="application",
    symptom="about one new message in two is refused with an error; reading works",
    report="About one new message in two is refused with an error; reading the board works.",
    choose=_write_host_choose,
    inject=WRITES_TO.inject,
    fix=WRITES_TO.fix,
    gone=symptoms.posts_accepted,
    hints=(
        "Post a few messages and read each answer: `{curl}/api/messages -i -H 'Content-Type: application/json' -d '{{\"body\": \"hello\"}}'`. "
        "Which server refuses (X-Served-By), and what does the error say?",
        "The error names the database the application writes to. Is that the primary? `invoke status` lists the addresses; "
        "the design's primary is {primary} ({primary_address}).",
        "The application's settings on {node} are in " + APP_ENV + ": where does it send its writes? ({setting})",
        "Solution: on {node}, the primary's address in {setting} is {wrong} ({what}) instead of {primary_address}. "
        "Fix it (no restart: the application reads that file at every write); then `invoke exercise.check --cause {node}:app`.",
    ),
    causes=("{node}:app",),
)


# -- a node's name resolves to the wrong address --------------------------------------------------------


def _name_choose(lab: Lab, rng: random.Random) -> Details:
    node = _pick(rng, _writers(lab))
    options = [unused_address(lab, lab.primary.address, rng), *(str(b.address) for b in lab.balancers)]
    return {"node": node.name, "wrong": rng.choice(options)}


def _hosts_line(address: str, name: str, new: str) -> str:
    return sed("/etc/hosts", rf"s/^{literal(address)}\(\s\+{name}\b\)/{new}\1/")


def _name_inject(live: LiveLab, details: Details) -> Details:
    on(live, details["node"], _hosts_line(details["primary_address"], details["primary"], details["wrong"]))
    return WritesTo("{primary_address}", "{primary}").inject(live, details)


WRONG_ADDRESS = Exercise(
    name="posts-fail-after-cleanup",
    level=3,
    layer="system",
    symptom="messages posted through one server are refused since its settings were tidied up",
    report="Messages posted through {node} are refused with an error since its settings were tidied up; reading works.",
    choose=_name_choose,
    inject=_name_inject,
    fix=lambda live, d: on(live, d["node"], _hosts_line(d["wrong"], d["primary"], d["primary_address"])),
    gone=symptoms.posts_accepted,
    hints=(
        "Post a few messages (`{curl}/api/messages -i -H 'Content-Type: application/json' -d '{{\"body\": \"hello\"}}'`) and read "
        "the refusal from {node}: which database does it try to write to?",
        "On {node}, the application names the primary `{primary}`, not by address ({setting}). Does that name lead where it should? "
        "`getent hosts {primary}` on {node}, and `invoke status` for the addresses.",
        "Solution: on {node}, the name {primary} resolves to {wrong} (a line of /etc/hosts), not to {primary_address}. Fix that "
        "line (no restart: the application looks the name up at each connection); then `invoke exercise.check --cause {node}:hosts`.",
    ),
    causes=("{node}:hosts",),
    designs="a primary on another node than an application server",
    applies=lambda lab: bool(lab.with_role("db_primary")) and bool(_writers(lab)),
)


# -- the replica stops on a duplicate key -------------------------------------------------------------------


def _replica_choose(lab: Lab, rng: random.Random) -> Details:
    replica = _pick(rng, lab.replicas)
    return {"replica": replica.name, "readers": _readers(lab, replica)}


def _duplicate_inject(live: LiveLab, details: Details) -> Details:
    """A row written straight into the replica, with the id the primary gives its next message."""
    row = query(live, details["primary"], "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA='foobar' AND TABLE_NAME='messages'")
    body = details["body"]
    on(live, details["replica"], f"mariadb -e \"SET sql_log_bin=0; INSERT INTO foobar.messages (id, body, node) VALUES ({int(row)}, '{body}', '{details['replica']}')\"")
    return {"row": row}


def _duplicate_fix(live: LiveLab, details: Details) -> None:
    """The row written into the replica goes, and only it: the fix runs again when an exercise stops after it, by
    when the primary's row of that id has replicated (deleting it too would leave the replica short of a row)."""
    row, body, replica = int(details["row"]), details["body"], details["replica"]
    delete = f"DELETE FROM foobar.messages WHERE id={row} AND body='{body}' AND node='{replica}'"
    on(live, replica, f"mariadb -e \"SET sql_log_bin=0; {delete}; START SLAVE;\"")


DUPLICATE_KEY = Exercise(
    name="stale-replica",
    level=3,
    layer="database",
    symptom="new messages never show up on the pages of one web server",
    report="New messages never show up on pages served by {readers}.",
    choose=lambda lab, rng: {**_replica_choose(lab, rng), "body": rng.choice(("test", "test - please ignore", "hello?", "ping"))},
    inject=_duplicate_inject,
    fix=_duplicate_fix,
    gone=symptoms.replicas_current,
    hints=(
        "Post a message, then read the board through each web server (`curl -s -H 'Host: {domain}' http://<web server>/api/messages`). "
        "Where is it missing, and which database does that server read from?",
        "Pages of {readers} are read from the replica on {replica}. Is it replicating? On {replica}: `" + SHOW_REPLICA + "`: "
        "the two *_Running lines, and Last_SQL_Error.",
        "The replica stopped on a row it already had. Compare that row on {replica} and on the primary, {primary}: "
        "`mariadb -e 'SELECT * FROM foobar.messages WHERE id = ...'`. Who writes to a replica? (read_only stops everyone but root.)",
        "Solution: someone wrote a row (id {row}) straight into the replica on {replica}, so the primary's message with the same "
        "id could not be applied: a duplicate key, and the SQL thread stopped. On {replica}: "
        "`mariadb -e 'SET sql_log_bin=0; DELETE FROM foobar.messages WHERE id={row}; START SLAVE;'`. Skipping the event "
        "(sql_slave_skip_counter) would leave the wrong row on the replica. Then `invoke exercise.check --cause {replica}:mariadb`.",
    ),
    causes=("{replica}:mariadb",),
    designs="a replica",
    applies=lambda lab: bool(lab.replicas),
)


# -- the replication account no longer lets the replica in --------------------------------------------------


def _account_choose(lab: Lab, rng: random.Random) -> Details:
    details = _replica_choose(lab, rng)
    replica = lab.node(details["replica"])
    wrong = unused_address(lab, replica.address, rng)
    user = f"'{REPLICATION_USER}'@'{replica.address}'"
    if rng.random() < 0.5:
        return {**details, "variant": "password", "what": f"the password of {user} was changed",
                "repair": f"set it back to the one the replica uses (in {DATADIR}/master.info on {replica.name}): "
                          f"`mariadb -e \"ALTER USER {user} IDENTIFIED BY '<password>'\"`"}
    return {**details, "variant": "host", "wrong_host": wrong, "what": f"the account {user} was renamed to '{REPLICATION_USER}'@'{wrong}'",
            "repair": f"`mariadb -e \"RENAME USER '{REPLICATION_USER}'@'{wrong}' TO {user}\"`"}


def _account_inject(live: LiveLab, details: Details) -> None:
    user = f"'{REPLICATION_USER}'@'{live.lab.node(details['replica']).address}'"
    if details["variant"] == "password":
        statement = f"ALTER USER {user} IDENTIFIED BY '{secrets.token_urlsafe(12)}'"
    else:
        statement = f"RENAME USER {user} TO '{REPLICATION_USER}'@'{details['wrong_host']}'"
    query(live, details["primary"], statement)
    on(live, details["replica"], "systemctl restart mariadb")  # the maintenance restarted it: it logs in again


def _account_fix(live: LiveLab, details: Details) -> None:
    user = f"'{REPLICATION_USER}'@'{live.lab.node(details['replica']).address}'"
    if details["variant"] == "password":
        hashed = password_hash(live.session.secrets["db_replication"])
        statement = f"ALTER USER {user} IDENTIFIED BY PASSWORD '{hashed}'"
    else:
        statement = f"RENAME USER '{REPLICATION_USER}'@'{details['wrong_host']}' TO {user}"
    query(live, details["primary"], statement)


REPLICATION_ACCOUNT = Exercise(
    name="after-maintenance",
    level=2,
    layer="database",
    symptom="since last night's security maintenance, new messages no longer show up on some pages",
    report="Since last night's security maintenance, new messages no longer show up on pages served by {readers}.",
    choose=_account_choose,
    inject=_account_inject,
    fix=_account_fix,
    gone=symptoms.replicas_current,
    hints=(
        "Post a message, then read the board through each web server. Where is it missing, and which database does that "
        "server read from?",
        "On {replica}: `" + SHOW_REPLICA + "`. Which thread does not run, and what does Last_IO_Error say?",
        "The replica logs in to the primary, {primary}, as " + REPLICATION_USER + ". Which accounts of that name does the primary "
        "have, and from which hosts? On {primary}: `mariadb -e 'SELECT user, host FROM mysql.user'`.",
        "Solution: on {primary}, {what}: the primary refuses the replica (Access denied) since it reconnected. On {primary}, "
        "{repair}; the replica logs in again within seconds. Then `invoke exercise.check --cause {primary}:mariadb`.",
    ),
    causes=("{primary}:mariadb",),
    designs="a replica",
    applies=lambda lab: bool(lab.replicas),
)


# -- a firewall rule keeps an application server from the primary ------------------------------------------------


def _rules_choose(lab: Lab, rng: random.Random) -> Details:
    client = _pick(rng, _writers(lab))
    details = {"client": client.name, "client_address": str(client.address), "typo": unused_address(lab, client.address, rng)}
    details["variant"] = rng.choice(("address", "port"))
    details["affected"] = client.name
    if details["variant"] == "address":
        details["mistake"] = f"the rule lists {details['typo']} instead of {client.address} ({client.name})"
    else:
        details["affected"] = ", ".join(n.name for n in _writers(lab))
        details["mistake"] = f"the rule that lets them in is for port {DB_PORT + 1}, not {DB_PORT}, and the next one drops {DB_PORT}"
    clients = [n for n in (*_writers(lab), *lab.replicas) if n != lab.primary]
    details["clients"] = ", ".join(dict.fromkeys(str(n.address) for n in clients))
    if lab.has("firewall"):
        details.update(rules=firewall.RULES, reload=f"nft -f {firewall.RULES}")
    else:
        details.update(rules=NFTABLES_CONF, reload="systemctl reload nftables")
    return details


def _debian_rules(details: Details) -> str:
    """Debian's /etc/nftables.conf, with the rules a colleague added to 'protect MariaDB'."""
    allowed = details["clients"]
    port = DB_PORT
    if details["variant"] == "address":
        allowed = allowed.replace(details["client_address"], details["typo"])
    else:
        port = DB_PORT + 1
    return (
        "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter;\n"
        '\t\tiifname "lo" accept\n\t\t# MariaDB: only the servers that use it\n'
        f"\t\ttcp dport {port} ip saddr {{ {allowed} }} accept\n\t\ttcp dport {DB_PORT} drop\n\t}}\n"
        "\tchain forward {\n\t\ttype filter hook forward priority filter;\n\t}\n"
        "\tchain output {\n\t\ttype filter hook output priority filter;\n\t}\n}\n"
    )


def _rule_edit(details: Details, undo: bool) -> str:
    if details["variant"] == "address":
        old, new = details["client_address"], details["typo"]
        pattern = f"/dport [0-9]* /s/{literal(new if undo else old)}\\([,}} ]\\)/{old if undo else new}\\1/"
    else:
        old, new = f"dport {DB_PORT} ", f"dport {DB_PORT + 1} "
        pattern = f"s/{new if undo else old}\\(.*\\) accept/{old if undo else new}\\1 accept/"
    return sed(details["rules"], pattern)


def _rules_inject(live: LiveLab, details: Details) -> Details:
    primary = details["primary"]
    if details["rules"] == firewall.RULES:
        on(live, primary, _rule_edit(details, undo=False) + f" && {details['reload']}")
        return {}
    original = on(live, primary, f"cat {NFTABLES_CONF} 2>/dev/null; true")
    on(live, primary, put(NFTABLES_CONF, _debian_rules(details), "0755") + " && systemctl enable --quiet --now nftables")
    return {"original": original}


def _rules_teardown(live: LiveLab, details: Details) -> None:
    if details["rules"] == NFTABLES_CONF:
        on(live, details["primary"], put(NFTABLES_CONF, details.get("original", ""), "0755") + " && systemctl disable --quiet --now nftables")


DATABASE_RULES = Exercise(
    name="hardened-database",
    level=2,
    layer="network",
    symptom="since the database server was hardened, messages posted through one server are refused",
    report="Since {primary} was hardened yesterday, messages posted through {affected} are refused with an error.",
    choose=_rules_choose,
    inject=_rules_inject,
    fix=lambda live, d: on(live, d["primary"], _rule_edit(d, undo=True) + f" && {d['reload']}"),
    gone=symptoms.posts_accepted,
    teardown=_rules_teardown,
    hints=(
        "Post a few messages and read the refusal from {client}: which database does it fail to reach, and how: refused at "
        "once, or timed out?",
        "Can {client} reach MariaDB on {primary} at all? On {client}: `timeout 3 bash -c '</dev/tcp/{primary_address}/3306' "
        "&& echo open || echo no answer`. No answer (rather than a refusal) means something drops the packets.",
        "What drops packets on {primary}? `nft list ruleset` shows every rule loaded; {rules} is where they come from.",
        "Solution: the firewall of {primary} ({rules}) lets MariaDB in only from the servers that use it, but {mistake}. Correct it, "
        "load it again (`{reload}`); then `invoke exercise.check --cause {primary}:firewall`.",
    ),
    causes=("{primary}:firewall",),
    designs="a primary on another node than an application server",
    applies=lambda lab: bool(lab.with_role("db_primary")) and bool(_writers(lab)),
)


# -- the replica's disk is full -----------------------------------------------------------------------------


def _disk_choose(lab: Lab, rng: random.Random) -> Details:
    dump = rng.choice(("foobar-before-upgrade.sql", "messages-export.csv", "foobar-full.sql", "dump-2026.sql"))
    return {**_replica_choose(lab, rng), "dump": f"{DATADIR}/{dump}"}


#: The replica's data moves to a small volume of its own (a tmpfs, the data copied in), which a forgotten
#: file then fills. The file is written only once the volume is confirmed small: never on the node's own disk.
#: When MariaDB took a little of the space meanwhile, fallocate refuses the whole size: the file is then
#: written up to the last byte instead (else nothing would fill the volume, and no symptom would show).
VOLUME = (
    "set -e; systemctl stop mariadb; size=$(( $(du -sm {datadir} | cut -f1) + 48 )); mkdir -p /run/mysql-volume; "
    "mount -t tmpfs -o size=${{size}}m,mode=0755 tmpfs /run/mysql-volume; cp -a {datadir}/. /run/mysql-volume/; "
    "chown mysql:mysql /run/mysql-volume; mount --bind /run/mysql-volume {datadir}; umount /run/mysql-volume; rmdir /run/mysql-volume; "
    "systemctl start mariadb; test \"$(findmnt -n -o FSTYPE {datadir})\" = tmpfs; free=$(df --output=avail -B1 {datadir} | tail -n 1); "
    "test \"$free\" -lt 536870912; {{ fallocate -l \"$free\" {dump} 2>/dev/null || head -c \"$free\" /dev/zero > {dump} 2>/dev/null; }} || true"
)
#: Back to the node's own disk: the volume is dropped, the replica starts from the data it had and catches up.
NO_VOLUME = (
    "if [ \"$(findmnt -n -o FSTYPE {datadir})\" = tmpfs ]; then systemctl kill -s KILL mariadb; systemctl stop mariadb; "
    "umount {datadir}; systemctl reset-failed mariadb; systemctl start mariadb; fi"
)


FULL_DISK = Exercise(
    name="replica-stuck",
    level=2,
    layer="system",
    symptom="new messages stopped showing up on some pages a while ago",
    report="New messages stopped showing up on pages served by {readers} a while ago.",
    choose=_disk_choose,
    inject=lambda live, d: on(live, d["replica"], VOLUME.format(datadir=DATADIR, dump=d["dump"]), timeout=120),
    fix=lambda live, d: on(live, d["replica"], f"rm -f {d['dump']}"),
    gone=symptoms.replicas_current,
    teardown=lambda live, d: on(live, d["replica"], NO_VOLUME.format(datadir=DATADIR), timeout=120),
    hints=(
        "Post a message, then read the board through each web server. Where is it missing, and which database does that "
        "server read from?",
        "On {replica}: `" + SHOW_REPLICA + "` (if it hangs, that is a clue too: Ctrl-C), and MariaDB's log: "
        "`journalctl -u mariadb -n 20`.",
        "MariaDB says it waits for space. Where is space short? `df -h`, then `du -sh " + DATADIR + "/* | sort -h | tail`.",
        "Solution: MariaDB's data on {replica} lies on a small volume of its own (" + DATADIR + "), and a forgotten file, {dump}, "
        "filled it: the replica could not write its relay log. Remove the file; MariaDB tries again every 60 s and goes on by "
        "itself. Then `invoke exercise.check --cause {replica}:disk`.",
    ),
    causes=("{replica}:disk",),
    designs="a replica",
    applies=lambda lab: bool(lab.replicas),
)


# -- an expired certificate -----------------------------------------------------------------------------------


def _bundle(live: LiveLab, days: int | None) -> str:
    """The site's certificate and key for HAProxy: the lab's own, or one of the lab's CA that ended `days` ago."""
    if days is None:
        cert, key = live.session.folder.certificate("site")
        return key.read_text() + cert.read_text()
    ca = live.session.ca()
    ended = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days)
    leaf = ca.ca.issue_cert(*pki.site_identities(live.lab.domain, live.lab.site), not_before=ended - datetime.timedelta(days=pki.LEAF_DAYS), not_after=ended)
    return leaf.private_key_pem.bytes().decode() + "".join(blob.bytes().decode() for blob in leaf.cert_chain_pems)


def _install(live: LiveLab, balancer: str, bundle: str) -> None:
    on(live, balancer, put(loadbalancer.CERTIFICATE, bundle, "0600") + f" && {HAPROXY_RELOAD}")


EXPIRED_CERTIFICATE = Exercise(
    name="certificate-warning",
    level=2,
    layer="TLS",
    symptom="browsers warn that the connection to the site is not private",
    report="Browsers warn that the connection to https://{domain}/ is not private. Nobody says they changed anything.",
    choose=lambda lab, rng: {"days": str(rng.randint(2, 60)), "cert": loadbalancer.CERTIFICATE},
    inject=lambda live, d: _install(live, d["lb"], _bundle(live, int(d["days"]))),
    fix=lambda live, d: _install(live, d["lb"], _bundle(live, None)),
    gone=symptoms.https_valid,
    hints=(
        "See what a browser sees: `curl -v -o /dev/null --cacert {state}/tls/ca.pem --resolve {domain}:443:{entry} https://{domain}/` "
        "(curl trusts the lab's CA here). What does the TLS part say?",
        "Read the certificate the site sends: `openssl s_client -connect {entry}:443 -servername {domain} </dev/null 2>/dev/null "
        "| openssl x509 -noout -subject -dates`. Where does HAProxy on {lb} take it from? (`bind ... crt` in /etc/haproxy/haproxy.cfg)",
        "Solution: HAProxy on {lb} serves a certificate that ended {days} days ago ({cert}): an old file put back. The lab's current "
        "one is in {state}/tls/ (site.pem, with its key site.key): "
        "`cat {state}/tls/site.key {state}/tls/site.pem | invoke ssh {lb} --command 'cat > {cert} && systemctl reload haproxy'`. "
        "Then `invoke exercise.check --cause {lb}:certificate`.",
    ),
    causes=("{lb}:certificate", "{lb}:haproxy"),
    designs="https (configs/secured.yml)",
    applies=loadbalancer.holds_site_key,  # the certificate is on the load balancer (not where TLS passes through it)
)


# -- keepalived gives the floating address to the wrong balancer -------------------------------------------------


def _priority_choose(lab: Lab, rng: random.Random) -> Details:
    master, backup = lab.balancers[0], lab.balancers[1]
    changed = rng.choice((master, backup))
    return {"master": master.name, "backup": backup.name, "changed": changed.name, "vip": str(lab.floating_address)}


def _keepalived_number(live: LiveLab, node: str, setting: str) -> int:
    """The first number a setting of keepalived.conf has on the node (`priority`, `virtual_router_id`)."""
    return int(on(live, node, f"grep -m 1 -Eo '{setting}[[:space:]]+[0-9]+' {KEEPALIVED} | grep -Eo '[0-9]+'").strip())


def _set_keepalived_number(live: LiveLab, node: str, setting: str, value: int) -> None:
    """The setting's first number made `value`, and keepalived restarted to take it."""
    on(live, node, sed(KEEPALIVED, f"0,/{setting}[[:space:]]\\+[0-9]\\+/s//{setting} {value}/") + " && systemctl restart keepalived")


def _priority(live: LiveLab, node: str) -> int:
    return _keepalived_number(live, node, "priority")


def _set_priority(live: LiveLab, node: str, priority: int) -> None:
    _set_keepalived_number(live, node, "priority", priority)


#: Which designs the keepalived exercises run on.
FLOATING_DESIGNS = "two balancers sharing a floating address with keepalived (configs/scaled.yml)"


def _floating(lab: Lab) -> bool:
    return lab.floating_address is not None and len(lab.balancers) >= 2


def _priority_inject(live: LiveLab, details: Details) -> Details:
    """The changed balancer's priority is set past the other's, and it is restarted (the master last, so it lets go)."""
    master, backup = _priority(live, details["master"]), _priority(live, details["backup"])
    new = max(1, backup - 10) if details["changed"] == details["master"] else min(254, master + 10)
    _set_priority(live, details["changed"], new)
    if details["changed"] == details["backup"]:
        on(live, details["master"], "systemctl restart keepalived")
    old = master if details["changed"] == details["master"] else backup
    return {"old": str(old), "new": str(new)}


def _priority_fix(live: LiveLab, details: Details) -> None:
    _set_priority(live, details["changed"], int(details["old"]))
    if details["changed"] != details["backup"]:
        on(live, details["backup"], "systemctl restart keepalived")  # it lets the address go, to the master again


KEEPALIVED_PRIORITY = Exercise(
    name="floating-address-moved",
    level=2,
    layer="load balancer",
    symptom="the floating address is on the backup balancer, though the master is healthy",
    report="The floating address {vip} is on {backup}, though {master} is healthy and should hold it.",
    choose=_priority_choose,
    inject=_priority_inject,
    fix=_priority_fix,
    gone=symptoms.floating_on_first,
    hints=(
        "Which balancer holds {vip}? `ip -br addr` on each. keepalived says who became MASTER and when: "
        "`journalctl -u keepalived -n 20` on both.",
        "VRRP makes the balancer with the highest priority MASTER. Compare `priority` in " + KEEPALIVED + " on {master} and {backup}.",
        "Solution: on {changed}, the priority in " + KEEPALIVED + " is {new} (it was {old}), so {backup} wins the election. Put it "
        "back and `systemctl restart keepalived` on {changed}; if {backup} still holds the address (a balancer that does not "
        "preempt keeps it), restart keepalived on {backup} too, and {master} takes it back. Then "
        "`invoke exercise.check --cause {changed}:keepalived`.",
    ),
    causes=("{changed}:keepalived",),
    designs=FLOATING_DESIGNS,
    applies=_floating,
)


# -- one web server takes (almost) every request: a capacity problem of the balancer's algorithm or weights ------


def _uneven_choose(lab: Lab, rng: random.Random) -> Details:
    weight = rng.choice((20, 50, 64, 100))
    variant = rng.choice(("algorithm", "weight"))
    busy = lab.web_nodes[0] if variant == "algorithm" else _pick(rng, lab.web_nodes)  # `first` fills the first server
    idle = [n.name for n in lab.web_nodes if n != busy]
    return {"variant": variant, "busy": busy.name, "busy_address": str(busy.address), "idle": ", ".join(idle), "weight": str(weight)}


def _algorithm(live: LiveLab, details: Details) -> str:
    return on(live, details["lb"], f"grep -m 1 -Eo '^[[:space:]]+balance[[:space:]]+[a-z]+' {loadbalancer.CONFIG} | awk '{{print $2}}'").strip()


def _set_algorithm(live: LiveLab, details: Details, algorithm: str) -> None:
    on(live, details["lb"], sed(loadbalancer.CONFIG, f"s#^\\([[:space:]]*balance[[:space:]]\\+\\)[a-z]\\+#\\1{algorithm}#") + f" && {HAPROXY_RELOAD}")


#: The weight variant: the busy server's line gets a weight far above the others' (1, HAProxy's default).
WEIGHT = LineEdit("lb", loadbalancer.CONFIG, " {busy_address}:{web_port} check", " {busy_address}:{web_port} check weight {weight}", HAPROXY_RELOAD)


def _uneven_inject(live: LiveLab, details: Details) -> Details:
    if details["variant"] == "weight":
        WEIGHT.inject(live, details)
        return {"mistake": f"`weight {details['weight']}` on the line of {details['busy']} makes it take {details['weight']} requests for each "
                           f"one another server takes (they have HAProxy's default weight, 1)", "repair": "take the weight away (equal servers, equal weights)"}
    was = _algorithm(live, details)
    _set_algorithm(live, details, "first")
    return {"was": was, "mistake": "`balance first` sends every request to the first server until it holds its maxconn connections; the "
                                   "others get only the overflow (an algorithm to keep few servers busy, e.g. to switch the others off)",
            "repair": f"put back `balance {was}`, which shares the requests out"}


def _uneven_fix(live: LiveLab, details: Details) -> None:
    if details["variant"] == "weight":
        WEIGHT.fix(live, details)
    else:
        _set_algorithm(live, details, details["was"])


UNEVEN_LOAD = Exercise(
    name="uneven-load",
    level=2,
    layer="load balancer",
    symptom="at peak hours one web server is overloaded and pages are slow, while the others have little to do",
    report="At peak hours {busy} runs at full load and pages get slow, while {idle} has little to do. The servers are the same size.",
    choose=_uneven_choose,
    inject=_uneven_inject,
    fix=_uneven_fix,
    gone=symptoms.load_shared,
    hints=(
        "Count who serves the pages: `for i in $(seq 20); do {curl}/ -o /dev/null -D - | grep -i x-served-by; done | sort | uniq -c`; "
        "and HAProxy's statistics page ({stats}): the Sessions Total column of each server.",
        "Every server is UP, yet one takes (almost) every request. What decides which server gets the next one? On {lb}, "
        "`balance` (the algorithm) and the `server` lines (a `weight` on each) in /etc/haproxy/haproxy.cfg.",
        "Solution: on {lb}, {mistake}. In /etc/haproxy/haproxy.cfg, {repair}: `haproxy -c -f /etc/haproxy/haproxy.cfg`, "
        "`systemctl reload haproxy`. (For servers of unequal size, weights in proportion to what each can take are the tool; "
        "for requests of unequal cost, `leastconn`.) Then `invoke exercise.check --cause {lb}:haproxy`.",
    ),
    causes=("{lb}:haproxy",),
    designs="two web servers or more",
    applies=lambda lab: len(lab.web_nodes) >= 2,
)


# -- HAProxy shows a server UP that never serves: its name leads to another server ------------------------------


def _never_choose(lab: Lab, rng: random.Random) -> Details:
    web = _pick(rng, lab.web_nodes)
    twin = _pick(rng, tuple(n for n in lab.web_nodes if n != web))
    return {"web": web.name, "web_address": str(web.address), "twin": twin.name, "twin_address": str(twin.address)}


#: The server line tidied up to name its host; the balancer's /etc/hosts gives that name another server's address.
SERVER_BY_NAME = LineEdit("lb", loadbalancer.CONFIG, "server {web} {web_address}:{web_port} ", "server {web} {web}:{web_port} ", HAPROXY_RELOAD)


def _never_inject(live: LiveLab, details: Details) -> None:
    on(live, details["lb"], _hosts_line(details["web_address"], details["web"], details["twin_address"]))
    SERVER_BY_NAME.inject(live, details)


NEVER_SERVES = Exercise(
    name="server-up-but-idle",
    level=3,
    layer="load balancer",
    symptom="HAProxy shows every web server UP, but one of them never serves a page",
    report="HAProxy shows {web} UP and healthy, but no page ever comes from {web} (its access log stays empty) since the balancer's "
           "configuration was tidied up.",
    choose=_never_choose,
    inject=_never_inject,
    fix=lambda live, d: on(live, d["lb"], _hosts_line(d["twin_address"], d["web"], d["web_address"]) + f" && {HAPROXY_RELOAD}"),
    gone=symptoms.load_shared,
    hints=(
        "Count who serves the pages: `for i in $(seq 20); do {curl}/ -o /dev/null -D - | grep -i x-served-by; done | sort | uniq -c`. "
        "HAProxy's statistics page ({stats}): how many sessions did {web} take?",
        "{web} takes its share, and answers its health checks, yet the pages come from elsewhere. Where does HAProxy send {web}'s "
        "requests? The `server {web}` line in /etc/haproxy/haproxy.cfg on {lb}, and the addr column of `curl -s '{stats};csv'`.",
        "The line names a host, not an address: HAProxy looks the name up when it loads its configuration. What does the name "
        "give on {lb}? `getent hosts {web}`, and /etc/hosts.",
        "Solution: on {lb}, the `server {web}` line names the host {web}, and /etc/hosts on {lb} gives that name the address of "
        "{twin} ({twin_address}): HAProxy checks and sends {web}'s share to {twin}, which answers, so {web} shows UP. Put back "
        "{web_address} in that line of /etc/hosts, then `systemctl reload haproxy` (it looks names up only when it loads its "
        "configuration; an address in the server line avoids the question). Then `invoke exercise.check --cause {lb}:hosts`.",
    ),
    causes=("{lb}:hosts", "{lb}:haproxy"),
)


# -- the certificate was renewed, but the balancer still serves the old one -------------------------------------


#: Seconds HAProxy's master gets to load the ended certificate after `systemctl reload`, which only signals it.
RELOADED_SECONDS = 15.0


def _serves_ended(live: LiveLab) -> bool:
    """Whether the site's certificate is refused (the ended one is served)."""
    try:
        symptoms.https_valid(live, {}, 0.0)
    except CheckFailed:
        return True
    except OSError:  # no answer this once: look again
        return False
    return False


def _renewed_inject(live: LiveLab, details: Details) -> None:
    """HAProxy loads a certificate that has ended; then the current one is written to its file, with no reload.

    The file is written only once the ended certificate is served: `systemctl reload` returns when HAProxy's master
    has the signal, and a file written at once was read by the reload instead (the exercise then showed nothing)."""
    _install(live, details["lb"], _bundle(live, int(details["days"])))
    if not wait_until(lambda: _serves_ended(live), RELOADED_SECONDS, 0.2):
        raise CheckFailed(f"HAProxy on {details['lb']} did not serve the ended certificate within {RELOADED_SECONDS:g} s of its reload")
    on(live, details["lb"], put(loadbalancer.CERTIFICATE, _bundle(live, None), "0600"))


RENEWED_NOT_LOADED = Exercise(
    name="warning-after-renewal",
    level=3,
    layer="TLS",
    symptom="browsers warn that the connection is not private, though the certificate was renewed and the monitoring is quiet",
    report="Browsers warn that the connection to https://{domain}/ is not private. The certificate was renewed last month, and the "
           "expiry alert (CertificateExpiresSoon) says nothing.",
    choose=lambda lab, rng: {"days": str(rng.randint(2, 60)), "cert": loadbalancer.CERTIFICATE},
    inject=_renewed_inject,
    fix=lambda live, d: on(live, d["lb"], HAPROXY_RELOAD),
    gone=symptoms.https_valid,
    hints=(
        "See what a browser sees: `curl -v -o /dev/null --cacert {state}/tls/ca.pem --resolve {domain}:443:{entry} https://{domain}/`. "
        "What does the TLS part say?",
        "Compare the certificate the site sends (`openssl s_client -connect {entry}:443 -servername {domain} </dev/null 2>/dev/null "
        "| openssl x509 -noout -serial -dates`) with the one in the file HAProxy is configured with, on {lb}: "
        "`openssl x509 -noout -serial -dates -in {cert}`.",
        "The file holds the renewed certificate; the site serves another one. When does HAProxy read that file? `systemctl status "
        "haproxy` on {lb} (since when it runs and was last reloaded) against `ls -l --time-style=full-iso {cert}`. And what "
        "does the expiry alert read: what is served, or a file?",
        "Solution: the renewed certificate was written to {cert} on {lb}, but HAProxy reads it only when it starts or reloads, and "
        "nobody reloaded it: it still serves the old one, which ended {days} days ago. `systemctl reload haproxy` on {lb} (a "
        "renewal needs that step; certbot runs it as a deploy hook). The expiry alert reads the date of the certificate the build "
        "installed (a metric written beside it), not the one served: it stayed silent. Then `invoke exercise.check --cause {lb}:haproxy`.",
    ),
    causes=("{lb}:haproxy", "{lb}:certificate"),
    designs="https (configs/secured.yml)",
    applies=loadbalancer.holds_site_key,  # the certificate is on the load balancer (not where TLS passes through it)
)


# -- both balancers hold the floating address: they no longer hear each other -----------------------------------


def _twice_inject(live: LiveLab, details: Details) -> Details:
    old = _keepalived_number(live, details["changed"], "virtual_router_id")
    new = old % 254 + 1
    _set_keepalived_number(live, details["changed"], "virtual_router_id", new)
    then = "" if details["changed"] == details["backup"] else f", then on {details['backup']} (it does not preempt: it would keep the address)"
    return {"old": str(old), "new": str(new), "then": then}


def _twice_fix(live: LiveLab, details: Details) -> None:
    _set_keepalived_number(live, details["changed"], "virtual_router_id", int(details["old"]))
    if details["changed"] != details["backup"]:
        on(live, details["backup"], "systemctl restart keepalived")  # it lets the address go, to the master


FLOATING_TWICE = Exercise(
    name="floating-address-twice",
    level=3,
    layer="load balancer",
    symptom="since a maintenance on a balancer, the site hangs now and then and the floating address answers from two machines",
    report="Since last night's maintenance on {changed}, the site hangs now and then for some users, and the network team sees "
           "{vip} answered from two MAC addresses.",
    choose=_priority_choose,
    inject=_twice_inject,
    fix=_twice_fix,
    gone=symptoms.floating_on_first_only,
    hints=(
        "Which balancer holds {vip}? `ip -br addr` on each; and `ip neigh show {vip}` on another node, a few times.",
        "Both hold it: each keepalived is MASTER (`journalctl -u keepalived -n 20` on both). A backup stays backup only while it "
        "hears the master's advertisements. Do they hear each other? `tcpdump -ni eth0 vrrp -c 5` if it is there, or compare "
        "the `vrrp_instance` blocks of " + KEEPALIVED + " on {master} and {backup}: which settings must be the same on both?",
        "Solution: on {changed}, `virtual_router_id` is {new} while the other balancer's is {old}: two VRRP groups of one balancer "
        "each, both MASTER of {vip}, both answering ARP for it. Put back {old} and `systemctl restart keepalived` on {changed}{then}; "
        "{master} then holds the address alone. Then "
        "`invoke exercise.check --cause {changed}:keepalived`.",
    ),
    causes=("{changed}:keepalived",),
    designs=FLOATING_DESIGNS,
    applies=_floating,
)


# -- the monitoring stays silent: an exporter the firewall drops, or a rule that selects nothing ------------------


def _silent_choose(lab: Lab, rng: random.Random) -> Details:
    variant = rng.choice(("firewall", "rule") if lab.has("firewall") else ("rule",))
    monitor, web, balancer = lab.with_role("monitor")[0], _pick(rng, lab.web_nodes), lab.balancers[0]
    details = {"mon": monitor.name, "mon_address": str(monitor.address), "web": web.name, "rules_file": monitor_role.RULES}
    if variant == "firewall":
        typo = unused_address(lab, monitor.address, rng)
        return {**details, "variant": variant, "typo": typo, "culprit": f"{balancer.name}:firewall",
                "mistake": f"the firewall of {balancer.name} ({firewall.RULES}) lets HAProxy's metrics (port {HAPROXY_METRICS_PORT}) be read from "
                           f"{typo}, not from {monitor.address} ({monitor.name}). Prometheus's kept-alive connection went on as established until "
                           "HAProxy's last reload closed it; since then no HAProxy series exists for WebServerDown to fire on, and only "
                           "TargetDown fires, which everyone had learned to ignore",
                "repair": f"Put back {monitor.address} in that rule and load it (`nft -f {firewall.RULES}`)"}
    return {**details, "variant": variant, "culprit": f"{monitor.name}:monitoring",
            "mistake": f"the WebServerDown rule in {monitor_role.RULES} on {monitor.name} selects `state=\"down\"`, but HAProxy's label "
                       "values are upper case (`state=\"DOWN\"`) and label matching is exact: the rule selects nothing and can never fire",
            "repair": f"Put back `state=\"DOWN\"`, check the file (`promtool check rules {monitor_role.RULES}`), `systemctl reload prometheus`"}


def _silent_edit(details: Details, undo: bool) -> tuple[str, str]:
    """The node and the command that make the monitor silent (or, undone, that make it hear again)."""
    if details["variant"] == "firewall":
        old, new = details["mon_address"], details["typo"]
        pattern = f"/dport {HAPROXY_METRICS_PORT} /s/{literal(new if undo else old)}\\([,}} ]\\)/{old if undo else new}\\1/"
        # HAProxy reloaded after: the scrapes' kept-alive connection, which the firewall lets on as established, is closed
        return details["lb"], sed(firewall.RULES, pattern) + f" && nft -f {firewall.RULES} && {HAPROXY_RELOAD}"
    old, new = 'state="DOWN"', 'state="down"'
    return details["mon"], sed(monitor_role.RULES, f"s/{new if undo else old}/{old if undo else new}/") + " && systemctl reload prometheus"


SILENT_MONITOR = Exercise(
    name="no-alert-came",
    level=2,
    layer="monitoring",
    symptom="a web server was down for ten minutes last night, and no alert came",
    report="{web} was DOWN in HAProxy for ten minutes last night (a deploy gone wrong), and no WebServerDown alert came, though the "
           "monitoring should tell within 15 s.",
    choose=_silent_choose,
    inject=lambda live, d: on(live, *_silent_edit(d, undo=False)),
    fix=lambda live, d: on(live, *_silent_edit(d, undo=True)),
    gone=symptoms.web_servers_watched,
    hints=(
        "Does the monitoring see what it should? Prometheus on {mon} (http://{mon_address}:9090/): Status > Targets, and Alerts; "
        "from the host: `curl -s http://{mon_address}:9090/api/v1/targets | python3 -m json.tool | grep -E '\"(job|health|lastError)\"'`.",
        "WebServerDown should have fired. Ask Prometheus the rule's own question without its `== 1`: `curl -s "
        "http://{mon_address}:9090/api/v1/query --data-urlencode 'query=haproxy_server_status{{proxy=\"web\"}}'` (one series per "
        "server and state?), then the rule as Prometheus loaded it: `curl -s http://{mon_address}:9090/api/v1/rules`.",
        "A rule fires only on the series it selects, and only from targets Prometheus can scrape: an exporter it cannot reach, or "
        "a selector that matches nothing, and the rule stays silent for ever. Look where each comes from: the firewall of {lb} "
        "(`nft list ruleset`), and the rules file on {mon}, {rules_file}.",
        "Solution: {mistake}. {repair}; then `invoke exercise.check --cause {culprit}`.",
    ),
    causes=("{culprit}",),
    designs="monitoring (configs/secured.yml)",
    applies=lambda lab: lab.has("monitoring") and bool(lab.with_role("monitor")) and bool(lab.balancers),
)


# -- nothing is wrong ----------------------------------------------------------------------------------------------


NOTHING_WRONG = Exercise(
    name="user-saw-an-error",
    level=1,
    layer="site",
    symptom="a user saw an error page on the site a few minutes ago",
    report="A user says the site showed them an error page a few minutes ago. Is anything wrong?",
    choose=lambda lab, rng: {"node": _pick(rng, lab.app_nodes).name},
    inject=lambda live, d: on(live, d["node"], APP_RESTART),
    fix=lambda live, d: None,
    gone=symptoms.nothing,
    shows=False,
    hints=(
        "Start where the user was: does the site answer now, every time? `{curl}/` a few times; and HAProxy's statistics page, "
        "{stats}: is every server UP? (The Chk and Dwn columns count past failures.)",
        "Something did happen a few minutes ago. What? The logs of the services around that time, e.g. "
        "`journalctl -u " + APP_SERVICE + " --since -15min` on the application servers.",
        "Is anything still wrong? `invoke check` tests every layer. Something in the logs is not a fault that is still there.",
        "Solution: nothing is wrong now. The application on {node} was restarted (as a deploy does); for a moment it did not "
        "answer, and a user may have got an error then. There is nothing to fix: `invoke exercise.check --cause none`.",
    ),
    causes=("none",),
)


EXERCISES: tuple[Exercise, ...] = (
    HEALTH_CHECK_PATH,
    UPSTREAM_PORT,
    NOT_AT_BOOT,
    BACKEND_PORT,
    WRITE_HOST,
    WRONG_ADDRESS,
    DUPLICATE_KEY,
    REPLICATION_ACCOUNT,
    DATABASE_RULES,
    FULL_DISK,
    EXPIRED_CERTIFICATE,
    KEEPALIVED_PRIORITY,
    UNEVEN_LOAD,
    NEVER_SERVES,
    RENEWED_NOT_LOADED,
    FLOATING_TWICE,
    SILENT_MONITOR,
    NOTHING_WRONG,
)


def by_name(name: str) -> Exercise:
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    raise KeyError(name)
