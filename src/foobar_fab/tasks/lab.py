"""Tasks that make, show, enter and remove the lab."""

from __future__ import annotations

import json
import os
import sys

from invoke import Context, task
from invoke.exceptions import Exit

from .. import build as building
from .. import checks, lab_secrets
from ..drills import watch as watching
from ..providers import ProviderError
from ..steps import Runner
from .common import LAB_HELP, QUIET_HELP, friendly, session


@task(help=QUIET_HELP)
@friendly
def build(c: Context, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """Create what is missing, provision every node, and print a recap."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    s.provider.preflight()
    result = building.build(s)
    if not result.ok:
        reasons = "; ".join(str(f) for f in result.failures) or "see the failed steps above"
        raise Exit(f"build failed: {reasons}\nthe lab is partly built: fix the cause and run `invoke build` again (or `invoke destroy`)", code=1)
    verdict = "nothing to change: the lab was already built" if result.changed == 0 else f"{result.changed} changes made"
    s.console.line(f"\nlab {s.lab.name} is up ({verdict}).")
    for row in building.summary(s):
        s.console.line(f"  {row}")


@task(help=QUIET_HELP)
@friendly
def check(c: Context, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """Verify the running lab: services, round robin, replication, HAProxy's view (also ends every build)."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    s.provider.preflight()
    s.console.secrets = list(lab_secrets.load_or_create(s.settings.state_dir(s.lab.name)).values())
    results = checks.check(s)
    failed = [r for r in results if not r.ok]
    s.console.line(f"\nchecks: {len(results) - len(failed)} ok, {len(failed)} failed")
    if failed:
        raise Exit("check failed: " + "; ".join(f"{r.who}: {r.what}: {r.seen}" for r in failed), code=1)


@task(help={**LAB_HELP, "json": "print the same as JSON"})
@friendly
def status(c: Context, lab_file: str | None = None, provider: str | None = None, json_: bool = False) -> None:
    """Show each node's state and address (a table, or --json)."""
    s = session(c, lab_file=lab_file, provider=provider)
    s.provider.preflight()
    rows = s.provider.status()
    if json_:
        print(json.dumps({"lab": s.lab.name, "provider": s.provider.name, "nodes": [r.as_dict() for r in rows]}, indent=2))
        return
    print(f"lab {s.lab.name} ({s.provider.name}, {s.lab.subnet})")
    print(f"{'NODE':<8} {'STATE':<8} {'ADDRESS':<15} MACHINE")
    for r in rows:
        print(f"{r.name:<8} {r.state:<8} {r.address:<15} {r.machine}")


@task(help={**LAB_HELP, "node": "the node, e.g. web-01", "command": "run this shell command instead of opening a shell"})
@friendly
def ssh(c: Context, node: str, command: str | None = None, lab_file: str | None = None, provider: str | None = None) -> None:
    """Open a shell on a node over the lab's SSH key, or run one command there (e.g. invoke ssh web-01)."""
    s = session(c, lab_file=lab_file, provider=provider)
    s.lab.node(node)
    params = s.provider.ssh_params(node)
    if not params.key_file.exists():
        raise ProviderError(f"no SSH key for lab {s.lab.name} at {params.key_file}: run `invoke build` first")
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


@task(help=QUIET_HELP)
@friendly
def destroy(c: Context, lab_file: str | None = None, provider: str | None = None, quiet: bool = False) -> None:
    """Remove the nodes, bridge, rules, keys and state this lab made (and nothing else)."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    s.provider.preflight()
    ok = s.provider.destroy(Runner(s.console))
    if not s.console.recap() or not ok:
        raise Exit("destroy failed: see the failed steps above; run `invoke destroy` again", code=1)
    s.console.line(f"\nlab {s.lab.name} is gone (the cached base image stays in {s.settings.cache_dir}).")


@task(help={**LAB_HELP, "seconds": "how long to watch (default 120)", "interval": "seconds between requests (default 0.25)"})
@friendly
def watch(c: Context, seconds: float = 120.0, interval: float = 0.25, lab_file: str | None = None, provider: str | None = None) -> None:
    """Watch requests through lb-01 live: serving node, failures, HAProxy's view of each server."""
    s = session(c, lab_file=lab_file, provider=provider)
    try:
        watching.watch(s.lab, s.console, seconds, interval)
    except KeyboardInterrupt:
        s.console.line("stopped.")
