"""The measure phase of a drill: its figures from what the traffic and the observers recorded, and the moments
the observers saw merged into the drill's events, in order of time."""

from __future__ import annotations

import io
from typing import Any, cast

from foobar_fab import design
from foobar_fab.console import Console
from foobar_fab.drills.health import Health
from foobar_fab.drills.observer import AlertSeen, Observer
from foobar_fab.drills.predictions import Consequences
from foobar_fab.drills.response import DrillRun
from foobar_fab.drills.runner import Setup, Timeline, Window, measure
from foobar_fab.drills.traffic import Request, Traffic
from foobar_fab.roles import BuildOptions
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.topology import NodeSpec

SCALED = design.load(PROJECT_ROOT / "configs/scaled.yml")


class FakeTraffic:
    run_id = "abcd1234"
    write_every = 5

    def __init__(self, records: list[Request]) -> None:
        self.records = records

    def snapshot(self) -> list[Request]:
        return self.records

    def now(self) -> float:
        return 20.0


class FakeObserver:
    def __init__(self) -> None:
        self.takeovers = [{"t": 0.3, "holders": ["lb-01"]}, {"t": 6.25, "holders": ["lb-02"]}]
        self.alerts = {"a": AlertSeen("BalancerDown", "lb-01", "lb-01 is down", 7.123, 9.0, 12.5)}

    def first_down(self, server: str, after: float) -> float | None:
        return 4.567 if server == "web-01" else None

    def peak_lag(self) -> int | None:
        return 2


class FakeDatabases:
    """Each database holds the first acknowledged write only."""

    def bodies(self, node: NodeSpec, prefix: str) -> set[str]:
        assert prefix == "drill abcd1234 "
        return {"drill abcd1234 1"}


def write(t: float, number: int, ok: bool = True) -> Request:
    return Request(t, "write", 201 if ok else None, "web-01" if ok else None, 0.01, None if ok else "refused", f"drill abcd1234 {number}")


def test_measure_counts_lost_writes_and_merges_the_observers_moments_in_order() -> None:
    console = Console(quiet=True, stream=io.StringIO())
    traffic = FakeTraffic([write(1.0, 1), write(2.0, 2), write(5.0, 3, ok=False)])
    timeline = Timeline(console, traffic.now)
    timeline.add(3.0, "fault", "web-01 loses power")
    timeline.add(10.0, "restore", "undoing: web-01 loses power")
    expected = Consequences(balancers_left=2, web_out=("web-01",), web_left=1, primary_down=False, cut_off=None, replica_cut=False)
    web01 = SCALED.node("web-01")
    setup = Setup(web01, "web-01 loses power", expected, "async", BuildOptions(), BuildOptions())
    run = DrillRun(cast(Any, None), web01, timeline.event, traffic.now, BuildOptions(), 5.0)
    window = Window(cast(Traffic, traffic), cast(Observer, FakeObserver()), timeline, run, None, fault_at=3.0, restore_at=10.0, recovered_at=14.0)
    health = cast(Health, type("FakeHealth", (), {"databases": FakeDatabases()})())

    figures = measure(window, setup, health, SCALED, rate=20.0)

    assert figures.acknowledged == 2
    assert figures.lost == {n.name: ["drill abcd1234 2"] for n in SCALED.db_nodes}
    assert (figures.detected_at, figures.target, figures.peak_lag, figures.interval) == (4.567, "web-01", 2, 0.05)
    assert figures.alerts == [
        {"alert": "BalancerDown", "node": "lb-01", "summary": "lb-01 is down", "fired_at": 7.12, "after_fault": 4.12, "resolved_at": 12.5}
    ]
    assert [(e["t"], e["what"]) for e in timeline.events] == [
        (3.0, "fault"), (4.57, "detected"), (6.25, "address"), (7.12, "alert"), (10.0, "restore"), (12.5, "resolved"),
    ]
    assert timeline.events[2]["detail"] == f"lb-02 takes {SCALED.floating_address}"


def test_an_alerts_delay_is_the_same_figure_in_the_verdict_and_the_report() -> None:
    """Fired 5.5549 s after the fault: the report keeps 5.55 (+5.5 s); the verdict once said 5.6, from the moment rounded first."""
    from foobar_fab.drills.figures import Figures

    alert = {"alert": "SiteDown", "node": "lb-01", "summary": "", "fired_at": 15.55, "after_fault": 5.55, "resolved_at": None}
    figures = Figures(records=[], fault_at=10.0, restore_at=20.0, alerts=[alert])
    assert f"{alert['after_fault']:+.1f}" == "+5.5"  # as the report prints it
    assert "5.5 s after the fault" in figures.alert_within(10.0).seen
