"""`invoke drill.<name>`: one task per failure drill, and `drill.all`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from invoke import Context, task
from invoke.exceptions import Exit

from ..drills import durability as durable
from ..drills import staleness
from ..drills.catalog import DRILLS, Drill, DrillRefused, NotInThisDesign
from ..drills.report import DrillReport, summary_rows
from ..drills.runner import DrillOptions, run_drill
from ..drills.traffic import drill_rate
from ..live import live
from ..roles.loadbalancer import ALGORITHMS
from ..topology import REPLICATION_MODES
from .common import QUIET_HELP, session
from .options import FLAG, SECONDS, Choice, FilePath, Number, options

DRILL_HELP = {
    **QUIET_HELP,
    "rate": "requests per second to the site (one in five is a write); default 20 (5 on emulated VMs)",
    "duration": "seconds the fault lasts before the lab is restored; default 20",
    "haproxy-defaults": "run with an untuned HAProxy (a community role's defaults) to compare; restored after",
    "balance": f"run with this HAProxy algorithm ({', '.join(ALGORITHMS)}); default: the one HAProxy runs; restored after",
    "plot-to": "also copy the report's plot (SVG) to this file (drill.all: into this folder, one per drill)",
    "replication": "async, semi-sync, or both (one run each, side by side) instead of the design's mode; restored after",
}
BOTH = "both"
DRILL_OPTIONS = {
    "rate": Number("a number of requests per second", 1, 200),
    "duration": SECONDS,
    "haproxy_defaults": FLAG,
    "balance": Choice(ALGORITHMS),
    "plot_to": FilePath("a file to write (drill.all: a folder)"),
    "replication": Choice((*REPLICATION_MODES, BOTH)),
}


def modes(replication: str | None) -> list[str | None]:
    """The replication modes to run with (None: the design's)."""
    if replication is None:
        return [None]
    return list(REPLICATION_MODES) if replication == BOTH else [replication]


def _verdict(reports: list[DrillReport]) -> None:
    if any(r.get("interrupted") for r in reports):
        raise Exit("interrupted: the lab was restored and the report saved", code=130)
    bad = [r["drill"] for r in reports if not r["recovered"] or (r["acknowledged_writes_lost"] and not r.get("loss_possible"))]
    if bad:
        raise Exit(f"the lab did not recover cleanly after: {', '.join(bad)} (see the reports above)", code=1)


def plot_path(plot_to: str | None, drill: str, mode: str | None, several: bool) -> Path | None:
    """Where a copy of a run's plot goes: the file given, or with several runs one per drill (and mode) in that folder."""
    if plot_to is None:
        return None
    return Path(plot_to) / f"{drill}{'-' + mode if mode else ''}.svg" if several else Path(plot_to)


def drill_task(name: str, doc: str, drills: tuple[Drill, ...]) -> Callable[..., Any]:
    """An Invoke task that runs the given drills in turn (a summary table follows when there are several)."""

    def body(
        c: Context,
        rate: float | None = None,
        duration: float = 20.0,
        haproxy_defaults: bool = False,
        balance: str | None = None,
        plot_to: str | None = None,
        replication: str | None = None,
        lab_file: str | None = None,
        provider: str | None = None,
        quiet: bool = False,
    ) -> None:
        runs = [(d, mode) for d in drills for mode in modes(replication)]
        s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
        reports: list[DrillReport] = []
        with live(s) as lab:
            per_second = drill_rate(rate, lab)
            for d, mode in runs:
                plot = plot_path(plot_to, d.name, mode, several=len(runs) > 1)
                chosen = DrillOptions(per_second, duration, "untuned" if haproxy_defaults else "tuned", balance, mode, plot)
                try:
                    reports.append(run_drill(lab, d, chosen))
                except NotInThisDesign as err:
                    if len(drills) == 1:
                        raise
                    s.console.note("drill", f"{d.name} skipped: {err}")
                    continue
                if reports[-1].get("interrupted"):
                    break
        if len(reports) > 1:
            s.console.heading("summary")
            for row in summary_rows(reports):
                s.console.line(row)
        _verdict(reports)

    body.__doc__ = doc
    body.__name__ = name.replace("-", "_")
    return task(options(**DRILL_OPTIONS)(body), name=name, help=DRILL_HELP)


DURABILITY_HELP = {
    **QUIET_HELP,
    "lag": f"seconds the replica stops receiving before the primary loses power; default {durable.LAG:g}",
    "rate": "requests per second to the site (one in five is a write); default 20 (5 on emulated VMs)",
    "duration": "seconds from the power cut until the old primary gets power back; default 10",
    "replication": f"{', '.join(m.name for m in durable.MODES)} or all (one run each, then one table); default all",
}
ALL = "all"


@task(help=DURABILITY_HELP)
@options(lag=Number("a number of seconds", 0.5, 60), rate=DRILL_OPTIONS["rate"], duration=SECONDS, replication=Choice((*(m.name for m in durable.MODES), ALL)))
def durability(
    c: Context, lag: float = durable.LAG, rate: float | None = None, duration: float = 10.0, replication: str = ALL,
    lab_file: str | None = None, provider: str | None = None, quiet: bool = False,
) -> None:
    """Drill: the replica falls behind, then the primary loses power; the acknowledged writes each replication mode loses."""
    chosen = [m for m in durable.MODES if replication in (ALL, m.name)]
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    runs: list[tuple[durable.Mode, DrillReport]] = []
    with live(s) as lab:
        per_second = drill_rate(rate, lab)
        for mode in chosen:
            options = DrillOptions(per_second, duration, replication=mode.replication, semi_sync_timeout_ms=mode.timeout_ms)
            try:
                runs.append((mode, run_drill(lab, durable.durability(lag), options)))
            except DrillRefused as err:
                if not runs:
                    raise
                s.console.note("drill", f"{mode.name} not run: {err}")
                break
            if runs[-1][1].get("interrupted"):
                break
    s.console.heading(f"durability: the replica {lag:g} s behind, then the primary's power cut")
    for row in durable.comparison(runs):
        s.console.line(row)
    _verdict([r for _, r in runs])


STALE_HELP = {
    **QUIET_HELP,
    "lag": f"seconds the replica stops applying the primary's changes; default {staleness.LAG:g}",
    "clients": f"users posting and reading at once, each with its own cookies; default {staleness.CLIENTS}",
}


@task(help=STALE_HELP)
@options(lag=Number("a number of seconds", 1, 60), clients=Number("a number of clients", 1, 20, whole=True))
def stale_reads(
    c: Context, lag: float = staleness.LAG, clients: int = staleness.CLIENTS, lab_file: str | None = None, provider: str | None = None, quiet: bool = False,
) -> None:
    """Drill: users post and read at once while the replica lags; read-your-writes failures per client, without and with the fix."""
    s = session(c, lab_file=lab_file, provider=provider, quiet=quiet)
    with live(s) as lab:
        runs, rows = staleness.stale_reads(lab, lag, int(clients))
    s.console.heading("stale reads: does each user see the message they just posted?")
    for row in rows:
        s.console.line(row)
    if not all(p["ok"] for r in runs for p in r.predictions(s.lab.primary.name)):
        raise Exit("a prediction did not hold (see above)", code=1)


TASKS: list[Callable[..., Any]] = [
    drill_task(d.name, f"Drill: {d.summary}; measure what clients see, restore, report.", (d,)) for d in DRILLS
] + [drill_task("all", "Every drill in turn, then one summary table.", DRILLS), durability, stale_reads]
