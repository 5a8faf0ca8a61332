"""`invoke build`: nodes from the provider, one SSH connection each, roles in waves, then the recap."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import checks, lab_secrets, parallel
from .executors import RemoteExecutor
from .roles import ROLES, WAVES, inputs_for
from .roles.values import STATS_PORT
from .session import LabSession
from .steps import Failure, Runner, Step
from .topology import NodeSpec


@dataclass
class BuildResult:
    """How a build ended: the recap's verdict and the failures behind it."""

    ok: bool
    changed: int
    failures: list[Failure] = field(default_factory=list)


def build(session: LabSession) -> BuildResult:
    """Make the nodes exist, provision them role by role, check the running lab, and print the recap."""
    console, lab = session.console, session.lab
    runner = Runner(console)
    secrets = lab_secrets.load_or_create(session.settings.state_dir(lab.name))
    console.secrets = list(secrets.values())
    if session.provider.up(runner):
        executors = _connect(session, runner)
        failed: set[str] = {f.who for f in runner.failures}
        for number, wave in enumerate(WAVES, start=1):
            work = [(n, _wave_steps(session, n, wave, secrets)) for n in lab.nodes if n.name in executors]
            work = [(n, s) for n, s in work if s and n.name not in failed]
            if not work:
                continue
            console.heading(f"wave {number}: {', '.join(r for r in wave if r in ROLES)} on {', '.join(n.name for n, _ in work)}")
            parallel.each(work, lambda item: runner.apply(item[0].name, executors[item[0].name], item[1]))
            failed |= {f.who for f in runner.failures}
        for executor in executors.values():
            executor.close()
        if not runner.failures:
            failed_checks = [c for c in checks.check(session) if not c.ok]
            runner.failures += [Failure(c.who, "check", f"{c.what}: {c.seen}") for c in failed_checks]
    ok = console.recap() and not runner.failures
    changed = sum(t.changed for t in console.tallies.values())
    return BuildResult(ok=ok, changed=changed, failures=list(runner.failures))


def _connect(session: LabSession, runner: Runner) -> dict[str, RemoteExecutor]:
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

    opened = parallel.each(list(session.lab.nodes), open_one)
    return {n.name: e for n, e in zip(session.lab.nodes, opened) if e is not None}


def _wave_steps(session: LabSession, node: NodeSpec, wave: tuple[str, ...], secrets: dict[str, str]) -> list[Step]:
    steps: list[Step] = []
    inputs = inputs_for(session.lab, node, secrets)
    for role in wave:
        if node.has_role(role) and role in ROLES:
            steps += ROLES[role](inputs)
    return steps


def summary(session: LabSession) -> list[str]:
    """Where to look once the lab is up."""
    lab = session.lab
    balancer = lab.with_role("loadbalancer")
    rows = []
    if balancer and "loadbalancer" in ROLES:
        lb = balancer[0].address
        rows.append(f"site (through {balancer[0].name}): http://{lb}/   curl -i -H 'Host: {lab.domain}' http://{lb}/")
        rows.append(f"HAProxy statistics:     http://{lb}:{STATS_PORT}/")
    rows += [f"{n.name:<8} {str(n.address):<15} invoke ssh {n.name}" for n in lab.nodes]
    return rows
