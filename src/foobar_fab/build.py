"""`invoke build`: nodes from the provider, one SSH connection each, roles in waves, then the recap."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from . import buildit_underway, checks, dbstate, design, designstate, lab_secrets, parallel, pki
from .constants import ALERTMANAGER_PORT, PROMETHEUS_PORT, STATS_PORT
from .executors import RemoteExecutor
from .live import live
from .pki import Pki
from .roles import BuildOptions, Role, RoleInputs, images, inputs_for, waves
from .session import LabSession
from .steps import Failure, Runner, Step
from .topology import NodeSpec


@dataclass
class BuildResult:
    """How a build ended: the recap's verdict and the failures behind it."""

    ok: bool
    changed: int
    failures: list[Failure] = field(default_factory=list)


def build(session: LabSession, options: BuildOptions = BuildOptions(), students_work: bool = False) -> BuildResult:
    """Record the design the lab is made from, make the nodes exist, provision them role by role, check the
    running lab, and print the recap (`students_work`: see converge)."""
    console = session.console
    runner = Runner(console)
    secrets = session.secrets = lab_secrets.load_or_create(session.folder)
    designstate.save(session.folder, session.settings.lab_file)  # from now on the lab runs this design, even half-built
    console.secrets = list(secrets.values())
    if session.provider.up(runner, images(session.lab)):
        converge(session, runner, secrets, options, tls=certificates(session), students_work=students_work)
        if not runner.failures:
            with live(session) as lab:
                failed_checks = [c for c in checks.check(lab) if not c.ok]
            runner.failures += [Failure(c.who, "check", f"{c.what}: {c.seen}") for c in failed_checks]
    ok = console.recap() and not runner.failures
    changed = sum(t.changed for t in console.tallies.values())
    return BuildResult(ok=ok, changed=changed, failures=list(runner.failures))


def converge(
    session: LabSession,
    runner: Runner,
    secrets: dict[str, str],
    options: BuildOptions = BuildOptions(),
    only: Collection[str] | None = None,
    tls: Pki | None = None,
    skip: Collection[str] = (),
    students_work: bool = False,
    on: Collection[str] | None = None,
) -> bool:
    """Apply the roles in waves (only those named, if given) on every node that has them (but the nodes to
    skip, such as a fenced primary without power), or on the nodes named `on` (where a role named is not in
    the design, it is taken away); True when nothing failed.

    While a build-it lab runs, the roles its student owns on a node are left as the student made them, each
    said once, unless `students_work` (the build-it lab's own start, solve and stop write them)."""
    lab = session.lab
    underway = None if students_work else buildit_underway.load(session.folder)

    def wanted(node: NodeSpec) -> bool:
        if node.name in skip:
            return False
        if on is not None:
            return node.name in on
        return only is None or any(node.has_role(r) for r in only)

    nodes = [n for n in lab.nodes if wanted(n)]
    executors = _connect(session, runner, nodes)
    failed: set[str] = {f.who for f in runner.failures}
    try:
        for number, wave in enumerate(waves(), start=1):
            roles = [r for r in wave if only is None or r.name in only]
            work = [(n, _steps(inputs_for(lab, n, secrets, options, tls), _not_owned(session, underway, n, roles))) for n in nodes if n.name in executors]
            work = [(n, s) for n, s in work if s and n.name not in failed]
            if not work:
                continue
            present = [r.name for r in roles if any(n.has_role(r.name) for n, _ in work)]
            retired = [r.name for r in roles if r.retire and any(not n.has_role(r.name) for n, _ in work)]
            what = ", ".join(present + [f"{name} (where not in the design: taken away)" for name in retired])
            session.console.heading(f"wave {number}: {what} on {', '.join(n.name for n, _ in work)}")
            parallel.each(work, lambda item: runner.apply(item[0].name, executors[item[0].name], item[1]))
            failed |= {f.who for f in runner.failures}
    finally:
        for executor in executors.values():
            executor.close()
    return not failed


def _not_owned(session: LabSession, underway: buildit_underway.Underway | None, node: NodeSpec, roles: list[Role]) -> list[Role]:
    """The roles the build applies on the node: those a build-it lab's student owns there are left to them, and said so."""
    if underway is None:
        return roles
    owned = [r for r in roles if underway.owns(node.name, r.name)]
    for role in owned:
        why = f"left as the student made it: build-it lab {underway.lab} runs (`invoke build-it.stop` gives it back to the build)"
        session.console.result(node.name, role.name, "ok", why)
    return [r for r in roles if r not in owned]


def _connect(session: LabSession, runner: Runner, nodes: list[NodeSpec]) -> dict[str, RemoteExecutor]:
    """One SSH connection per node; a node that cannot be reached is a failure of its own."""

    def open_one(node: NodeSpec) -> RemoteExecutor | None:
        params = session.provider.ssh_params(node.name)
        try:
            return RemoteExecutor(node.name, params, session.console)
        except Exception as err:  # paramiko raises many kinds; all mean "cannot reach the node"
            error = f"cannot reach {params.user}@{params.host}:{params.port} over SSH: {type(err).__name__}: {err}"
            runner.failures.append(Failure(node.name, "ssh", error))
            session.console.result(node.name, "ssh", "failed", error)
            return None

    opened = parallel.each(nodes, open_one)
    return {n.name: e for n, e in zip(nodes, opened, strict=False) if e is not None}


def _steps(inputs: RoleInputs, roles: list[Role]) -> list[Step]:
    """The node's steps for a wave: its roles' steps, and the retiring steps of roles it no longer has."""
    steps: list[Step] = []
    for role in roles:
        if inputs.node.has_role(role.name):
            steps += role.steps(inputs)
        elif role.retire is not None:
            steps += role.retire(inputs)
    return steps


def certificates(session: LabSession) -> Pki | None:
    """The lab's CA and the certificates the design needs (https only), made or kept, each reported."""
    lab = session.lab
    if not lab.has("https"):
        return None
    session.console.heading(f"host: the lab's certificate authority in {session.folder.tls}")

    def report(what: str, status: str, reason: str) -> None:
        session.console.result("host", what, status, reason)

    ca = session.ca()  # opened once a command, made the first time
    web = [(n.name, str(n.address)) for n in lab.web_nodes] if lab.tls_to_servers == "reencrypt" else []
    return pki.issue_for(lab.domain, lab.site, [(n.name, str(n.address)) for n in lab.db_nodes], ca, session.ca_made, report, web)


def summary(session: LabSession) -> list[str]:
    """Where to look once the lab is up."""
    lab = session.lab
    entry = lab.entry_address
    if lab.has("https"):
        ca = session.folder.ca_cert
        rows = [
            f"site (through {lab.entry_name}): https://{lab.domain}/ at {entry}",
            f"  trust the lab's CA:   curl --cacert {ca} --resolve {lab.domain}:443:{entry} https://{lab.domain}/",
            f"  in a browser: import {ca} as an authority, and map {lab.domain} to {entry} in /etc/hosts",
        ]
    else:
        rows = [f"site (through {lab.entry_name}): http://{entry}/   curl -i -H 'Host: {lab.domain}' http://{entry}/"]
    rows += [f"HAProxy statistics:     http://{b.address}:{STATS_PORT}/" for b in lab.balancers]
    for monitor in lab.with_role("monitor"):
        rows.append(f"Prometheus:             http://{monitor.address}:{PROMETHEUS_PORT}/   (alerts: invoke alerts)")
        rows.append(f"Alertmanager:           http://{monitor.address}:{ALERTMANAGER_PORT}/")
    rows += [f"{n.name:<8} {n.address!s:<15} invoke ssh {n.name}" for n in lab.nodes]
    return rows + primary_line(session)


def primary_line(session: LabSession) -> list[str]:
    """Which database server takes writes now, where a promotion moved it away from the design's."""
    if not session.lab.with_role("db_primary"):
        return []
    designed = design.load(session.settings.lab_file)
    return [dbstate.describe(session.lab, designed, session.db_state)]
