"""Tasks that make, show, check, enter and remove the lab."""

from __future__ import annotations

import io
import json
import os
import sys

from invoke import Context, task
from invoke.exceptions import Exit

from .. import build as building
from .. import checks
from .. import scan as scanning
from .. import sniff as sniffing
from ..buildit import runner as buildit
from ..constants import PROMETHEUS_PORT
from ..drills import watch as watching
from ..exercises.runner import drawer
from ..live import live
from ..observe.prometheus import alert_log
from ..providers import ProviderError
from ..steps import Runner
from .common import LAB_HELP, QUIET_HELP, YES_HELP, confirm, session
from .options import ANY_NODE, SHELL_COMMAND, Number, options


@task(help={**QUIET_HELP, "fresh": "new nodes install their packages themselves, ignoring the role images (to watch a real install)"})
@options()
def build(c: Context, lab_file: str | None = None, provider: str | None = None, quiet: bool = False, fresh: bool = False) -> None:
    """Create what is missing, provision every node, and print a recap."""
    s = session(c, any_design=True, lab_file=lab_file, provider=provider, quiet=quiet, fresh=fresh)
    buildit.guard_build(s)
    result = building.build(s)
    if not result.ok:
        reasons = "; ".join(str(f) for f in result.failures) or "see the failed steps above"
        raise Exit(f"build failed: {reasons}\nthe lab is partly built: fix the cause and run `invoke build` again (or `invoke destroy`)", code=1)
    verdict = "nothing to change: the lab was already built" if result.changed == 0 else f"{result.changed} changes made"
    s.console.line(f"\nlab {s.lab.name} is up ({verdict}).")
    for row in building.summary(s):
        s.console.line(f"  {row}")


@task(help={**QUIET_HELP, "json": "print the results as JSON (each with its stable id) instead of the progress"})
@options()
def check(c: Context, lab_file: str | None = None, provider: str | None = None, quiet: bool = False, json_: bool = False) -> None:
    """Verify the running lab against its design: services, round robin, writes, replication, HAProxy's view."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet or json_)
    if json_:
        s.console.stream = io.StringIO()  # only the JSON is printed
    with live(s) as lab:
        results = checks.check(lab)
    failed = [r for r in results if not r.ok]
    if json_:
        print(json.dumps({"lab": s.lab.name, "design": str(s.lab.source), "ok": not failed, "checks": [r.as_dict() for r in results]}, indent=2))
    else:
        s.console.line(f"\nchecks: {len(results) - len(failed)} ok, {len(failed)} failed")
    if failed:
        raise Exit("check failed: " + "; ".join(f"{r.who}: {r.id}: {r.seen}" for r in failed), code=1)


@task(help={**LAB_HELP, "json": "print the same as JSON"})
@options()
def status(c: Context, lab_file: str | None = None, provider: str | None = None, json_: bool = False) -> None:
    """Show each node's state and address (a table, or --json)."""
    s = session(c, lab_file=lab_file, provider=provider)
    rows = s.provider.status()
    if json_:
        primary = s.lab.primary.name if s.lab.with_role("db_primary") else None
        print(json.dumps({"lab": s.lab.name, "provider": s.provider.name, "primary": primary, "nodes": [r.as_dict() for r in rows]}, indent=2))
        return
    print(f"lab {s.lab.name} ({s.provider.name}, {s.lab.subnet})")
    print(f"{'NODE':<8} {'STATE':<8} {'ADDRESS':<15} MACHINE")
    for r in rows:
        print(f"{r.name:<8} {r.state:<8} {r.address:<15} {r.machine}")
    for line in building.primary_line(s):
        print(line)


@task(help={**LAB_HELP, "node": "the node, e.g. web-01", "command": "run this shell command instead of opening a shell"})
@options(node=ANY_NODE, command=SHELL_COMMAND)
def ssh(c: Context, node: str, command: str | None = None, lab_file: str | None = None, provider: str | None = None) -> None:
    """Open a shell on a node over the lab's SSH key, or run one command there (e.g. invoke ssh web-01)."""
    s = session(c, lab_file=lab_file, provider=provider)
    s.lab.node(node)
    s.provider.require_running([node])
    params = s.provider.ssh_params(node)
    argv = ["ssh", "-i", str(params.key_file), "-p", str(params.port), "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"]
    if params.known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={params.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    argv.append(f"{params.user}@{params.host}")
    if command:
        argv += ["--", command]
    else:
        print(" ".join(argv))
    sys.stdout.flush()
    os.execvp("ssh", argv)


@task(help={**QUIET_HELP, **YES_HELP})
@options()
def destroy(c: Context, lab_file: str | None = None, provider: str | None = None, quiet: bool = False, yes: bool = False) -> None:
    """Remove the nodes, bridge, rules, keys and state this lab made (and nothing else)."""
    s = session(c, any_design=True, lab_file=lab_file, provider=provider, quiet=quiet)
    s.console.line(f"destroy: lab {s.lab.name} ({s.provider.name}): {s.provider.what_destroy_removes()}")
    confirm(yes)
    ok = s.provider.destroy(Runner(s.console))
    if not s.console.recap() or not ok:
        raise Exit("destroy failed: see the failed steps above; run `invoke destroy` again", code=1)
    drawer(s).discard_key()
    s.console.line(f"\nlab {s.lab.name} is gone (the base image, role images and package cache stay in {s.settings.cache_dir}: `invoke cache.clear`).")


@task(help={**LAB_HELP, "json": "print the measurements as JSON instead of the table"})
@options()
def scan(c: Context, lab_file: str | None = None, provider: str | None = None, json_: bool = False) -> None:
    """Measure who reaches which port, by connecting: from outside, from the admin host and from each node."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=True)
    with live(s) as lab:
        result = scanning.scan(lab, s.provider.bridge)
    path = scanning.save(result, s.folder)
    if json_:
        print(json.dumps(result, indent=2))
        return
    outside = result["outside_address"] or "n/a: this provider has no bridge of the lab's own"
    print(f"scan of lab {s.lab.name} ({s.lab.source.name}): a connection to each port from each place, {scanning.TIMEOUT} s each")
    print(f"outside: a client at {outside}; admin: this host at {s.lab.admin_address}")
    print("open: connected; closed: refused; filtered: no answer (dropped by a firewall); !: not what the design says")
    for row in scanning.table(result):
        print(row)
    differ = scanning.disagreements(result)
    print(f"saved: {path}" + ("" if not differ else f"\n{len(differ)} cells differ from the design's policy"))


@task(help={**LAB_HELP, "json": "print what was captured as JSON"})
@options()
def sniff(c: Context, lab_file: str | None = None, provider: str | None = None, json_: bool = False) -> None:
    """Show what an eavesdropper on the lab's network reads while a message is posted and replicated."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=True)
    with live(s) as lab:
        captures = sniffing.sniff(lab, s.provider.bridge)
    if json_:
        print(json.dumps({"lab": s.lab.name, "design": s.lab.source.name, "captures": [c.as_dict() for c in captures]}, indent=2))
        return
    print(f"sniff on lab {s.lab.name} ({s.lab.source.name}): tcpdump on {s.provider.bridge} while one message is posted")
    for capture in captures:
        verdict = "the message is READABLE" if capture.marker_readable else "the message is not readable"
        print(f"\n{capture.what}: {capture.packets} packets ({capture.filter}): {verdict}")
        for line in capture.readable:
            print(f"  | {line[:110]}")
        if not capture.readable:
            print("  (no readable text at all)")


@task(help={**LAB_HELP, "log": "how many delivered alerts (fired and resolved) to show from the alert log; default 10"})
@options(log=Number("a number of alerts", 1, 1000, whole=True))
def alerts(c: Context, log: int = 10, lab_file: str | None = None, provider: str | None = None) -> None:
    """List the alerts firing now on a monitored design, and the last ones Alertmanager delivered."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=True)
    monitors = s.lab.with_role("monitor")
    if not monitors:
        raise ProviderError(f"{s.lab.source.name} has no monitoring: build a design with features.monitoring (configs/secured.yml)")
    with live(s) as lab:
        now = lab.prometheus(monitors[0]).alerts()
        delivered = alert_log(lab.shells, monitors[0], log)
    print(f"alerts on lab {s.lab.name}, from Prometheus on {monitors[0].name} (http://{monitors[0].address}:{PROMETHEUS_PORT}/alerts)")
    for alert in now:
        print(f"  {alert.state:<8} {alert.key:<34} since {alert.active_at[:19]}  {alert.summary}")
    if not now:
        print("  none firing or pending")
    print(f"last {log} delivered by Alertmanager (the receiver's log):")
    for row in delivered:
        print(f"  {row.get('received', '')[:19]}  {row.get('status', ''):<8} {row.get('alertname', '')} ({row.get('labels', {}).get('node', '?')})  {row.get('summary', '')}")
    if not delivered:
        print("  none yet")


@task(help={**LAB_HELP, "seconds": "how long to watch (default 120)", "interval": "seconds between requests (default 0.25)"})
@options(seconds=Number("a number of seconds", 1, 86400), interval=Number("a number of seconds between requests", 0.05, 60))
def watch(c: Context, seconds: float = 120.0, interval: float = 0.25, lab_file: str | None = None, provider: str | None = None) -> None:
    """Watch requests to the site live: serving node, failures, HAProxy's view of each server."""
    s = session(c, lab_file=lab_file, provider=provider)
    with live(s) as lab:
        try:
            watching.watch(lab, seconds, interval)
        except KeyboardInterrupt:
            s.console.line("stopped.")
