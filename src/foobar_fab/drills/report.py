"""A drill's report: printed for the student, saved as JSON with an SVG plot beside it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypedDict

from .. import statefolder
from ..console import Console
from ..topology import Lab
from .catalog import Drill
from .figures import Expectation, Figures
from .plot import plot_timeline

UNTUNED_NOTE = (
    " This run used an untuned HAProxy (checks every 2 s, three failures before a server is marked down, "
    "no redispatch, 5 s connect timeout): clients saw errors and slow answers until the dead server was "
    "finally taken out. Run the drill again without --haproxy-defaults to compare: tuning decides what users see."
)


TIMELINE_NOTE = "(each request is counted in the second it was sent, also when its answer came later)"


class EventRow(TypedDict):
    """A moment of the drill: seconds on its clock, what happened, and the detail."""

    t: float
    what: str
    detail: str


class DrillSettings(TypedDict):
    """What the drill ran with: the traffic, the fault's length, HAProxy's profile and algorithm, the replication mode."""

    rate: float
    duration: float
    warmup: float
    haproxy: str
    balance: str
    backups: list[str]
    write_every: int
    replication: str
    semi_sync_timeout_ms: int
    lag: float  # seconds the replica fell behind before the fault (0: it did not)


class DrillReport(TypedDict):
    """A drill's report, as saved (JSON), printed and summed up."""

    drill: str
    title: str
    lab: str
    design: str
    started_at: str
    settings: DrillSettings
    events: list[EventRow]
    timeline: list[dict[str, Any]]
    totals: dict[str, dict[str, int]]
    detection_seconds: float | None
    recovery_seconds: float | None
    recovered: bool
    acknowledged_writes: int
    acknowledged_writes_lost: int
    failed_but_stored: list[str]  # writes the client was told failed that a database holds (a retry would store them twice)
    lost_writes: dict[str, list[str]]
    peak_replication_lag: int | None
    write_outage_seconds: float | None
    longest_write_wait_seconds: float | None  # the longest time without an acknowledged write, from the lag (or the fault) on
    failover: dict[str, Any]
    alerts: list[dict[str, Any]]
    floating_address_holders: list[dict[str, Any]]
    expectations: list[dict[str, Any]]
    lesson: str
    lesson_link: str
    interrupted: bool  # Ctrl-C cut the drill short (the lab was restored all the same)
    loss_possible: bool  # the design may lose acknowledged writes in this drill (a failover with asynchronous replication, or after semi-sync fell back)


def build_report(
    drill: Drill,
    title: str,
    lab: Lab,
    settings: DrillSettings,
    figures: Figures,
    events: list[EventRow],
    expectations: list[Expectation],
    interrupted: bool,
    loss_possible: bool,
) -> DrillReport:
    """Everything the drill measured, as plain data, with the design it ran on."""
    return {
        "drill": drill.name,
        "title": title,
        "lab": lab.name,
        "design": lab.source.name,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": settings,
        "events": events,
        "timeline": figures.timeline(),
        "totals": figures.totals(),
        "detection_seconds": _rounded(figures.detection_seconds),
        "recovery_seconds": _rounded(figures.recovery_seconds),
        "recovered": figures.recovered_at is not None,
        "acknowledged_writes": figures.acknowledged,
        "acknowledged_writes_lost": sum(len(b) for b in figures.lost.values()),
        "failed_but_stored": figures.failed_but_stored,
        "lost_writes": figures.lost,
        "peak_replication_lag": figures.peak_lag,
        "write_outage_seconds": _rounded(figures.write_outage_seconds),
        "longest_write_wait_seconds": _rounded(figures.write_gap(figures.fault_at if figures.lead_at is None else figures.lead_at)),
        "failover": {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.failover.items()},
        "alerts": figures.alerts,
        "floating_address_holders": figures.takeovers,
        "expectations": [asdict(e) for e in expectations],
        "lesson": drill.lesson_for(lab) + (UNTUNED_NOTE if settings.get("haproxy") == "untuned" else ""),
        "lesson_link": drill.lesson_link,
        "interrupted": interrupted,
        "loss_possible": loss_possible,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def save(report: DrillReport, folder: Path) -> Path:
    """Write <time>-<drill>.json and .svg into the lab's drills folder; return the JSON's path."""
    statefolder.make_folder(folder)
    stem = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{report['drill']}"
    path = stem.with_suffix(".json")
    statefolder.write(path, statefolder.json_text(report))
    plot_timeline(report, stem.with_suffix(".svg"))
    return path


def print_report(report: DrillReport, console: Console) -> None:
    """The report as the student reads it in the terminal."""
    settings = report["settings"]
    console.heading(f"drill {report['drill']}: {report['title']} (HAProxy {settings['haproxy']}, {settings.get('balance', 'roundrobin')}, {settings['rate']:g} requests/s)")
    nodes = sorted({n for row in report["timeline"] for n in row["by_node"]})
    console.line("  s  " + "".join(f"{n:>8}" for n in nodes) + "  reads failed  writes failed    slow  event")
    marks = _event_marks(report["events"])
    for row in report["timeline"]:
        counts = "".join(f"{row['by_node'].get(n, 0):>8}" for n in nodes)
        console.line(f"{row['second']:>3}  {counts}  {row['failed_reads']:>12}  {row['failed_writes']:>13}  {row['slow']:>6}  {marks.get(row['second'], '')}")
    console.line(TIMELINE_NOTE)
    console.line("")
    console.line(f"{'':8}{'sent':>6}{'ok':>6}{'failed':>8}{'slow':>6}{'slowest':>10}")
    for kind, t in report["totals"].items():
        console.line(f"{kind:<8}{t['sent']:>6}{t['ok']:>6}{t['failed']:>8}{t['slow']:>6}{t.get('slowest_ms', 0):>7} ms")
    console.line("")
    console.line(f"time to detection:  {_seconds(report['detection_seconds'], 'not detected by HAProxy')}")
    console.line(f"time to recovery:   {_seconds(report['recovery_seconds'], 'did not recover')}")
    print_failover(report, console)
    console.line(f"acknowledged writes: {report['acknowledged_writes']}, lost: {report['acknowledged_writes_lost']}")
    for node, bodies in report["lost_writes"].items():
        if bodies:
            console.line(f"  missing on {node}: {', '.join(b.rsplit(' ', 1)[-1] for b in bodies[:20])}" + (" ..." if len(bodies) > 20 else ""))
    stored = report.get("failed_but_stored", [])
    console.line(f"writes failed but stored: {len(stored)}" + (f" ({', '.join(b.rsplit(' ', 1)[-1] for b in stored[:20])})" if stored else ""))
    if report["peak_replication_lag"]:
        console.line(f"replication lag:    up to {report['peak_replication_lag']} transactions behind")
    if report.get("alerts"):
        console.line("alerts fired (the monitoring):")
        for a in report["alerts"]:
            resolved = "still firing at the end" if a["resolved_at"] is None else f"resolved {a['resolved_at'] - a['fired_at']:.1f} s later"
            console.line(f"  {a['alert']} ({a['node']}): {a['after_fault']:+.1f} s after the fault, {resolved}")
    console.line("what the design predicts:")
    for e in report["expectations"]:
        status = "ok" if e["ok"] else "failed"
        console.line(f"  {console.paint(status, 'yes' if e['ok'] else 'NO '):<3} {e['what']}: {e['seen']}  [{e['id']}]")
    console.line("")
    console.line(f"lesson: {report['lesson']}")
    console.line(f"read more: {report['lesson_link']}")


def print_failover(report: DrillReport, console: Console) -> None:
    """What the failover drill's operator saw, in the order it happened."""
    found = report.get("failover") or {}
    if not found:
        return
    fault = next((e["t"] for e in report["events"] if e["what"] == "fault"), 0.0)
    if "detected_at" in found:
        console.line(f"primary seen dead:  {found['detected_at'] - fault:.1f} s after the fault")
    if "writable_at" in found:
        console.line(f"new primary:        {found.get('new_primary')} took writes {found['writable_at'] - fault:.1f} s after the fault")
    console.line(f"write outage:       {_seconds(report['write_outage_seconds'], 'no write was acknowledged after the fault')}")
    if found.get("errant"):
        kept = f"saved by the rebuild in {found['orphans_file']}: `invoke db.orphans` shows and replays them" if found.get("orphans_file") else "dropped by the rebuild"
        console.line(f"old primary's own transactions (never replicated; {kept}): {', '.join(found['errant'])}")


def _event_marks(events: list[EventRow]) -> dict[int, str]:
    marks: dict[int, str] = {}
    for event in events:
        second = int(event["t"])
        marks[second] = "; ".join(filter(None, [marks.get(second, ""), f"{event['what']}: {event['detail']}"]))
    return marks


def _seconds(value: float | None, otherwise: str) -> str:
    return otherwise if value is None else f"{value:.1f} s"


def summary_rows(reports: Sequence[DrillReport]) -> list[str]:
    """One line per drill, for `drill.all`."""
    rows = [f"{'drill':<18}{'replication':<12}{'failed reads':>13}{'failed writes':>14}{'detect s':>9}{'writes back s':>14}{'recover s':>10}{'lost':>6}  predictions"]
    for r in reports:
        held = sum(e["ok"] for e in r["expectations"])
        rows.append(
            f"{r['drill']:<18}{r['settings'].get('replication', '-'):<12}{r['totals']['reads']['failed']:>13}{r['totals']['writes']['failed']:>14}"
            f"{_short(r['detection_seconds']):>9}{_short(r.get('write_outage_seconds')):>14}{_short(r['recovery_seconds']):>10}"
            f"{r['acknowledged_writes_lost']:>6}  {held}/{len(r['expectations'])} held"
        )
    return rows


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"

