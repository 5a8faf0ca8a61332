"""The load balancer in a class's hands, on the tests' lab: weights, drain and maintenance live through HAProxy's
runtime API, the algorithm and a backup server through the build, every change undone by `invoke build`; and the
slow-server drill under round robin and under leastconn.

Runs after test_site_drills and before test_secured (ORDER in conftest.py).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from foobar_fab import balancer, reconfiguration
from foobar_fab.constants import HEALTH_PATH
from foobar_fab.drills.catalog import by_name
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.live import LiveLab
from foobar_fab.observe.site import served_by
from foobar_fab.roles import BuildOptions

from .conftest import FirstBuild, build, live_lab, quiet_session


def served(lab: LiveLab, count: int) -> Counter[str]:
    return Counter(served_by(lab.site.get(HEALTH_PATH, 3.0)) or "?" for _ in range(count))


def rows(lab: LiveLab) -> dict[str, dict[str, str]]:
    return lab.stats(lab.lab.balancers[0]).server_rows(3.0)


def rebuilt_to_the_design(built_lab: FirstBuild, changes: int) -> None:
    """A build puts the design back with `changes` changes; the next one changes nothing."""
    result, output = build(built_lab.settings)
    assert result.ok and result.changed == changes, output
    result, output = build(built_lab.settings)
    assert result.ok and result.changed == 0, output


def test_weights_drain_and_maintenance_change_live_and_a_build_puts_them_back(built_lab: FirstBuild) -> None:
    with live_lab(built_lab.settings) as (lab, _):
        balancer.set_weight(lab, "web-01", 3)
        assert served(lab, 8) == Counter({"web-01": 6, "web-02": 2})
        balancer.set_state(lab, "web-02", "drain")
        assert rows(lab)["web-02"]["status"] == "DRAIN"
        assert served(lab, 4) == Counter({"web-01": 4})
        balancer.set_state(lab, "web-02", "ready")
        balancer.set_state(lab, "web-01", "maint")
        assert rows(lab)["web-01"]["status"] == "MAINT"
        assert served(lab, 4) == Counter({"web-02": 4})
    rebuilt_to_the_design(built_lab, 1)  # one step: HAProxy's runtime state
    with live_lab(built_lab.settings) as (lab, _):
        assert {name: (row["status"], row["weight"]) for name, row in rows(lab).items()} == {"web-01": ("UP", "1"), "web-02": ("UP", "1")}


def test_the_algorithm_and_a_backup_go_through_the_build_and_back(built_lab: FirstBuild) -> None:
    session, _ = quiet_session(built_lab.settings)
    balancer.rebuild(session, BuildOptions(balance="leastconn"))
    with live_lab(built_lab.settings) as (lab, _):
        assert reconfiguration.running_options(lab) == BuildOptions(balance="leastconn")
        options = balancer.active_passive(lab, None)
    assert options == BuildOptions(balance="leastconn", backups=("web-02",))
    balancer.rebuild(session, options)
    with live_lab(built_lab.settings) as (lab, _):
        assert rows(lab)["web-02"]["bck"] == "1"
        assert served(lab, 6) == Counter({"web-01": 6})
        balancer.set_state(lab, "web-01", "maint")
        assert served(lab, 4) == Counter({"web-02": 4})  # the backup takes over
    rebuilt_to_the_design(built_lab, 1)  # one step: haproxy.cfg (the reload clears the maintenance)
    with live_lab(built_lab.settings) as (lab, _):
        assert reconfiguration.running_options(lab) == BuildOptions(balance="roundrobin")


def slow_drill(built_lab: FirstBuild, balance: str) -> dict[str, Any]:
    with live_lab(built_lab.settings) as (lab, output):
        report = run_drill(lab, by_name("slow-web1"), DrillOptions(20.0, 8.0, balance=balance))
    assert report["recovered"] and report["settings"]["balance"] == balance, output.getvalue()
    assert all(e["ok"] for e in report["expectations"]), [e for e in report["expectations"] if not e["ok"]]
    return report


def test_a_slow_server_keeps_its_turn_under_round_robin_and_loses_it_under_leastconn(built_lab: FirstBuild) -> None:
    kept = slow_drill(built_lab, "roundrobin")
    assert "balance.share-kept" in {e["id"] for e in kept["expectations"]}
    avoided = slow_drill(built_lab, "leastconn")
    assert "balance.slow-server-avoided" in {e["id"] for e in avoided["expectations"]}
    result, output = build(built_lab.settings)  # round robin is back and the application answers at once
    assert result.ok and result.changed == 0, output
