"""Every drill on the tests' real lab, with its report's figures asserted and the lab healthy after each.

Runs after test_site (file order) and before test_teardown destroys the lab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foobar_fab.drills.catalog import DRILLS, DrillRefused, by_name
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.providers.base import LabNotUp

from .conftest import TEST_LAB, FirstBuild, build, live_lab, quiet_session

RATE = 20.0
DURATION = 5.0
SERVICE_AND_NETWORK = ("stop-nginx-web1", "stop-app-web2", "kill-db-primary", "partition-replica")
SEED_DRILLS = ("kill-web1", "kill-web2", "kill-lb") + SERVICE_AND_NETWORK  # the drills of lesson 5, run here


def drill(built_lab: FirstBuild, name: str, profile: str = "tuned") -> dict[str, Any]:
    with live_lab(built_lab.settings) as (lab, output):
        report = run_drill(lab, by_name(name), DrillOptions(RATE, DURATION, profile))
    assert report["recovered"], output.getvalue()
    assert report["design"] == "lab.yml" and not report["interrupted"]
    assert all(e["id"] for e in report["expectations"])
    assert report["acknowledged_writes_lost"] == 0, report["lost_writes"]
    return report


def expectation(report: dict[str, Any], expectation_id: str) -> dict[str, Any]:
    return next(e for e in report["expectations"] if e["id"] == expectation_id)


def test_kill_web1_keeps_reads_and_fails_writes(built_lab: FirstBuild) -> None:
    report = drill(built_lab, "kill-web1")
    assert report["totals"]["reads"]["failed"] == 0
    assert expectation(report, "writes.all-failed")["ok"], report["expectations"]
    assert report["detection_seconds"] is not None and report["detection_seconds"] <= 2.0
    assert report["totals"]["reads"]["slow"] == 0
    saved = sorted((built_lab.settings.state_dir(TEST_LAB) / "drills").glob("*-kill-web1.json"))[-1]
    assert json.loads(saved.read_text())["drill"] == "kill-web1"
    assert saved.with_suffix(".svg").read_text().startswith("<?xml")


def test_kill_web2_loses_no_acknowledged_write(built_lab: FirstBuild) -> None:
    report = drill(built_lab, "kill-web2")
    assert report["acknowledged_writes"] > 0
    assert set(report["lost_writes"]) == {"web-01", "web-02"} and not any(report["lost_writes"].values())
    assert all(e["ok"] for e in report["expectations"]), [e for e in report["expectations"] if not e["ok"]]


def test_kill_lb_fails_every_request_during_the_outage(built_lab: FirstBuild) -> None:
    report = drill(built_lab, "kill-lb")
    assert {e["id"] for e in report["expectations"]} == {"reads.all-failed", "writes.all-failed", "writes.none-lost"}
    assert all(e["ok"] for e in report["expectations"]), [e for e in report["expectations"] if not e["ok"]]
    # A request sent to the dead balancer fails, or (its SYN retried by the client's kernel) is answered late.
    assert report["totals"]["reads"]["failed"] > 0 and report["totals"]["writes"]["failed"] > 0


@pytest.mark.parametrize("name", SERVICE_AND_NETWORK)
def test_service_and_network_drills_hold_their_predictions(built_lab: FirstBuild, name: str) -> None:
    report = drill(built_lab, name)
    assert all(e["ok"] for e in report["expectations"]), [e for e in report["expectations"] if not e["ok"]]


def test_untuned_haproxy_shows_failures_and_is_restored(built_lab: FirstBuild) -> None:
    report = drill(built_lab, "kill-web1", profile="untuned")
    assert report["settings"]["haproxy"] == "untuned"
    assert report["totals"]["reads"]["failed"] > 0 or report["totals"]["reads"]["slow"] > 0
    result, output = build(built_lab.settings)  # the tuned config is back: a build changes nothing
    assert result.ok and result.changed == 0, output


def test_a_drill_refuses_an_unhealthy_lab(built_lab: FirstBuild) -> None:
    session, _ = quiet_session(built_lab.settings)
    with live_lab(built_lab.settings) as (lab, _):
        session.provider.stop_hard("web-02")
        try:
            with pytest.raises(DrillRefused, match="web-02 is stopped"):
                run_drill(lab, DRILLS[0], DrillOptions(RATE, DURATION))
            with pytest.raises(LabNotUp, match="web-02 is stopped: run `invoke build`"):
                session.provider.require_running(["web-02"])
        finally:
            session.provider.start("web-02")
    result, output = build(built_lab.settings)  # healthy again: nothing to change
    assert result.ok and result.changed == 0, output


def test_reports_exist_for_every_drill_run(built_lab: FirstBuild) -> None:
    """Each drill run above left its report; the later designs' drills are run by their own modules."""
    folder: Path = built_lab.settings.state_dir(TEST_LAB) / "drills"
    names = {p.name.split("-", 2)[2].removesuffix(".json") for p in folder.glob("*.json")}
    assert set(SEED_DRILLS) <= names
    assert set(SEED_DRILLS) <= {d.name for d in DRILLS}
