"""plot_timeline writes a valid, reproducible SVG of a drill report, whatever events or seconds it has."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from foobar_fab.drills.plot import FAILED_COLOUR, node_colours, plot_timeline

SVG = "{http://www.w3.org/2000/svg}"
EVENTS = ("fault", "detected", "restore", "recovered")


def make_report() -> dict[str, Any]:
    """web-01 is down from second 5 to 25; two seconds of failures, a few slow answers."""
    timeline = [
        {"second": s,
         "by_node": {"web-02": 20} if 5 <= s < 26 else {"web-01": 10, "web-02": 10},
         "failed": 4 if s in (5, 6) else 0,
         "failed_reads": 3 if s in (5, 6) else 0,
         "failed_writes": 1 if s in (5, 6) else 0,
         "slow": 3 if s in (5, 26) else 0}
        for s in range(35)
    ]
    events = [{"t": t, "what": what, "detail": what} for t, what in zip((5.02, 6.3, 25.0, 31.9), EVENTS, strict=False)]
    return {"drill": "kill-web1", "lab": "foobar", "title": "web-01 loses power",
            "events": events, "timeline": timeline, "verdict": "ignored by the plot"}


def draw(report: dict[str, Any], path: Path) -> list[str]:
    """Plot `report` to `path`, check it parses as an SVG document, and return its text elements."""
    plot_timeline(report, path)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


def test_writes_an_svg_with_title_axes_legend_and_every_event_label(tmp_path: Path) -> None:
    texts = draw(make_report(), tmp_path / "drill.svg")
    assert "web-01 loses power (drill kill-web1)" in texts
    assert {"second the request was sent (since traffic started)", "requests per second"} <= set(texts)
    assert {"web-01", "web-02", "failed reads", "failed writes", "slow (> 1 s)"} <= set(texts)
    for what in EVENTS:
        assert any(text.startswith(f"{what} ") for text in texts), what
    assert "fault at 5.0 s" in texts  # on the x axis, since traffic started
    assert any(text.startswith("detected +") for text in texts), texts  # counted from the fault, as the report counts


def test_same_report_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    plot_timeline(make_report(), first)
    plot_timeline(make_report(), second)
    assert first.read_bytes() == second.read_bytes()


def test_a_different_report_gives_different_bytes(tmp_path: Path) -> None:
    """Guards the test above: the bytes do depend on the data."""
    other = make_report()
    other["timeline"][3]["failed_writes"] = 7
    plot_timeline(make_report(), tmp_path / "a.svg")
    plot_timeline(other, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() != (tmp_path / "b.svg").read_bytes()


@pytest.mark.parametrize("missing", [{"detected"}, {"recovered"}, {"detected", "recovered"}])
def test_missing_events_are_simply_not_drawn(tmp_path: Path, missing: set[str]) -> None:
    report = make_report()
    report["events"] = [event for event in report["events"] if event["what"] not in missing]
    texts = draw(report, tmp_path / "drill.svg")
    for what in EVENTS:
        assert any(text.startswith(f"{what} ") for text in texts) == (what not in missing), what


def test_empty_timeline_still_draws_title_and_events(tmp_path: Path) -> None:
    report = make_report()
    report["timeline"] = []
    texts = draw(report, tmp_path / "drill.svg")
    assert "web-01 loses power (drill kill-web1)" in texts
    assert "fault at 5.0 s" in texts
    assert "web-01" not in texts  # no bars, so no legend


def test_no_events_and_no_timeline(tmp_path: Path) -> None:
    report = {"drill": "noop", "title": "nothing happened", "events": [], "timeline": []}
    assert "nothing happened (drill noop)" in draw(report, tmp_path / "drill.svg")


def test_nodes_missing_in_some_seconds_and_more_than_two_nodes(tmp_path: Path) -> None:
    report = make_report()
    report["timeline"][0]["by_node"] = {"web-03": 5}
    texts = draw(report, tmp_path / "drill.svg")
    assert {"web-01", "web-02", "web-03"} <= set(texts)


def test_the_report_is_not_modified(tmp_path: Path) -> None:
    report = make_report()
    report["events"].reverse()
    before = copy.deepcopy(report)
    plot_timeline(report, tmp_path / "drill.svg")
    assert report == before


def test_node_colours_follow_sorted_names_and_never_use_the_failure_red() -> None:
    colours = node_colours(["web-02", "lb-01", "web-01"])
    assert colours == node_colours(["web-01", "web-02", "lb-01"])
    assert list(colours) == ["lb-01", "web-01", "web-02"]
    assert len(set(colours.values())) == 3
    assert FAILED_COLOUR not in colours.values()


def test_the_title_names_haproxy_settings_other_than_the_designs(tmp_path: Path) -> None:
    report = make_report()
    report["settings"] = {"haproxy": "untuned", "balance": "leastconn"}
    assert "web-01 loses power (drill kill-web1, HAProxy untuned, leastconn)" in draw(report, tmp_path / "drill.svg")
    report["settings"] = {"haproxy": "tuned", "balance": "roundrobin"}
    assert "web-01 loses power (drill kill-web1)" in draw(report, tmp_path / "drill.svg")
