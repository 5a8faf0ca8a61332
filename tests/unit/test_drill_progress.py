"""A drill's progress file, for the lab's page: the timeline so far, the same figures as the report's."""

from __future__ import annotations

import json
import time
from pathlib import Path

from foobar_fab.drills import progress
from foobar_fab.drills.figures import Figures
from foobar_fab.drills.traffic import Request


def records() -> list[Request]:
    return [
        Request(0.1, "read", 200, "web-01", 0.01, None),
        Request(0.6, "read", 200, "web-02", 0.01, None),
        Request(1.2, "write", None, None, 2.0, "ConnectionError", "m1"),
        Request(1.7, "read", 200, "web-02", 1.5, None),
    ]


def test_the_progress_is_the_reports_timeline_so_far_and_goes_with_the_drill(tmp_path: Path) -> None:
    path = tmp_path / "lab" / "drill-running.json"
    events = [{"t": 1.0, "what": "fault", "detail": "web-01 loses power"}]
    moments = {"fault_at": 1.0, "restore_at": 0.0}
    written = progress.Progress(path, "kill-web1", "web-01 loses power", records, lambda: 1.9, events, lambda: moments)
    state = written.state()
    assert state["timeline"] == Figures(records=records(), fault_at=1.0, restore_at=0.0).timeline()
    assert state["timeline"][1] == {"second": 1, "by_node": {"web-02": 1}, "failed": 1, "failed_reads": 0, "failed_writes": 1, "slow": 1}
    assert state["events"] == events and state["t"] == 1.9
    written.start()
    deadline = time.monotonic() + 3
    while progress.running(path) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert progress.running(path)["drill"] == "kill-web1"  # type: ignore[index]
    written.stop()
    assert not path.exists() and progress.running(path) is None


def test_a_progress_file_nobody_renews_is_no_drill_under_way(tmp_path: Path) -> None:
    path = tmp_path / "running.json"
    path.write_text(json.dumps({"drill": "kill-web1", "at": time.time() - progress.FRESH - 1}))
    assert progress.running(path) is None
    path.write_text(json.dumps({"drill": "kill-web1", "at": time.time()}))
    assert progress.running(path) == {"drill": "kill-web1", "at": json.loads(path.read_text())["at"]}
