"""The drills' finished reports of a lab, as its page lists them: newest first, each with its figures and
its plot (the SVG the drill wrote beside its JSON). Read from the lab's state folder; nothing is run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import statefolder

MOST = 20  # reports listed
STEM = re.compile(r"\d{8}-\d{6}-[a-z0-9-]+")  # <time>-<drill>, as drills/report.py names them


def listed(folder: Path, most: int = MOST) -> list[dict[str, Any]]:
    """The newest reports' lines: name, drill, when, detection and recovery, writes lost, predictions held."""
    found: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        if len(found) >= most:
            break
        report = statefolder.read_json(path)
        if not STEM.fullmatch(path.stem) or not isinstance(report, dict):
            continue
        expectations = report.get("expectations") or []
        found.append({
            "name": path.stem,
            "drill": report.get("drill", "?"),
            "title": report.get("title", ""),
            "started_at": report.get("started_at", ""),
            "detection_seconds": report.get("detection_seconds"),
            "recovery_seconds": report.get("recovery_seconds"),
            "lost": report.get("acknowledged_writes_lost"),
            "held": sum(1 for e in expectations if isinstance(e, dict) and e.get("ok")),
            "predicted": len(expectations),
            "plot": path.with_suffix(".svg").is_file(),
        })
    return found


def plot(folder: Path, name: str) -> Path | None:
    """The plot of a report by its name, or None (a name that is not a report's is never turned into a path)."""
    if not STEM.fullmatch(name):
        return None
    path = folder / f"{name}.svg"
    return path if path.is_file() else None
