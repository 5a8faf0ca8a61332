"""The build-it labs with no lab: their designs and texts on every design they start from, what the student owns
(and the build leaves alone), and each criterion's verdict in the student's terms from what a fake node shows."""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from foobar_fab import build as building
from foobar_fab import buildit_underway as states
from foobar_fab import design
from foobar_fab.buildit import labs, runner
from foobar_fab.buildit.record import Criterion
from foobar_fab.classroom.grades import points
from foobar_fab.console import Console
from foobar_fab.constants import SERVED_BY
from foobar_fab.exercises.record import common, fill
from foobar_fab.exercises.state import finished_exercises
from foobar_fab.observe.prometheus import Target
from foobar_fab.observe.shell import NodeUnreachable
from foobar_fab.roles import ROLES, exposure, inputs_for, loadbalancer
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.statefolder import LabFolder
from foobar_fab.topology import Lab

from .fakes import probed
from .test_exercises import DESIGNS

SEED = DESIGNS["seed"]


def target_of(build_it: labs.BuildIt, lab: Lab, folder: Path) -> tuple[Lab, dict[str, str]]:
    """The build-it lab's design as its start writes it, and its details."""
    details = {**common(lab, ".lab/x"), **build_it.details(lab)}
    path = folder / "build-it.yml"
    path.write_text(runner.design_text(lab, build_it, details))
    return design.load(path), details


@pytest.mark.parametrize("name", list(DESIGNS))
def test_every_build_it_lab_writes_a_valid_design_and_fills_its_texts(name: str, tmp_path: Path) -> None:
    lab = DESIGNS[name]
    for build_it in runner.applicable(lab):
        target, details = target_of(build_it, lab, tmp_path)
        owned = build_it.owned(target, details)
        assert owned, build_it.name
        for node, role in owned:
            assert target.node(node).has_role(role), (build_it.name, node, role)
        before = build_it.before(target, details)
        assert before != target or build_it.clear is not None, f"{build_it.name}: the start would change nothing"
        for text in (build_it.task, *build_it.hints, *(c.what for c in build_it.criteria)):
            assert not re.search(r"\{[a-z_]+\}", fill(text, details)), (build_it.name, text)


def test_the_new_web_server_joins_the_design_but_not_haproxys_backend_at_the_start(tmp_path: Path) -> None:
    target, details = target_of(labs.ADD_WEB, SEED, tmp_path)
    web = target.node("web-03")
    assert web.roles == ("base", "web", "app") and web.address not in SEED.addresses and web.address in SEED.subnet
    balancer = target.node("lb-01")
    written = loadbalancer.config(inputs_for(labs.ADD_WEB.before(target, details), balancer, {}))
    designed = loadbalancer.config(inputs_for(target, balancer, {}))
    assert f"server web-03 {web.address}:80 check" in designed
    assert "web-03" not in written and "server web-02" in written
    assert labs.ADD_WEB.owned(target, details) == [("lb-01", "loadbalancer")]


def test_the_firewall_lab_switches_the_firewall_on_everywhere_but_on_the_students_node(tmp_path: Path) -> None:
    target, details = target_of(labs.WEB_FIREWALL, SEED, tmp_path)
    assert all(n.has_role("firewall") for n in target.nodes)
    before = labs.WEB_FIREWALL.before(target, details)
    assert [n.name for n in before.nodes if not n.has_role("firewall")] == ["web-02"]
    assert details["needs"] == "tcp 22 from 192.168.56.1; tcp 3306 from 192.168.56.11; tcp 80 from 192.168.56.10"


@pytest.mark.parametrize("text", ["", "10.0.0.0/24"])
def test_no_free_address_is_said_in_one_line(text: str) -> None:
    lab = design.load(PROJECT_ROOT / "configs/lab.yml")
    with pytest.raises(ValueError, match="no free address"):
        labs.next_address(lab, lab.subnet.broadcast_address - 2)


# -- the criteria, from what a fake node shows -----------------------------------------------------------


def stats_showing(states_seen: dict[str, str]) -> Any:
    return SimpleNamespace(lab=SEED, stats=lambda balancer: SimpleNamespace(server_states=lambda timeout: states_seen))


@pytest.mark.parametrize(
    ("seen", "wrong"),
    [
        ({"web-01": "UP", "web-02": "UP"}, ["web-03 is no server of backend web in lb-01's HAProxy"]),
        ({"web-01": "UP", "web-02": "UP", "web-03": "DOWN"}, ["web-03 is DOWN in lb-01's HAProxy (its health check, GET /api/health, fails)"]),
        ({"web-01": "UP", "web-02": "UP", "web-03": "no check"}, ["web-03 has no health check in lb-01's HAProxy: `check` on its server line"]),
        ({"web-01": "UP", "web-02": "UP", "web-03": "UP"}, []),
    ],
)
def test_the_backend_criterion_names_what_haproxy_shows_of_the_new_server(seen: dict[str, str], wrong: list[str]) -> None:
    details = labs.ADD_WEB.details(SEED) | {"new": "web-03"}
    assert labs.in_backend(stats_showing(seen), details)[0] == wrong


def answering(*servers: str) -> Any:
    answers = iter(servers * 10)

    def get(path: str, timeout: float) -> requests.Response:
        answer = requests.Response()
        answer.headers[SERVED_BY] = next(answers)
        return answer

    return SimpleNamespace(lab=SEED, site=SimpleNamespace(get=get))


def test_the_reach_criterion_fails_until_a_request_reaches_the_new_server() -> None:
    details = labs.ADD_WEB.details(SEED)
    wrong, seen = labs.reaches(answering("web-01", "web-02"), details)
    assert wrong == [f"no request through lb-01 reached web-03 (6 requests, {seen})"] and seen.startswith("answered by web-01 -> web-02")
    assert labs.reaches(answering("web-01", "web-02", "web-03"), details)[0] == []


def cell(seen: str, expected: str) -> dict[str, str]:
    return {"seen": seen, "expected": expected}


SCAN = {
    "cells": {
        "web-02:22": {"outside": cell("open", "closed"), "admin": cell("open", "open"), "lb-01": cell("open", "closed"), "web-02": cell("self", "open")},
        "web-02:80": {"outside": cell("filtered", "closed"), "lb-01": cell("filtered", "open")},
        "web-02:3306": {"lb-01": cell("open", "closed"), "web-01": cell("open", "open")},
        "web-01:3306": {"lb-01": cell("open", "closed")},
    }
}


def test_the_scan_criterion_says_each_wrong_cell_of_the_students_node_in_their_terms() -> None:
    assert labs.exposure_wrong(SCAN, "web-02") == [
        "web-02:22 reachable from outside",
        "web-02:22 reachable from lb-01",
        "web-02:80 not reachable from lb-01 (filtered), which the design needs",
        "web-02:3306 reachable from lb-01",
    ]
    assert labs.exposure_wrong(SCAN, "web-01") == ["web-01:3306 reachable from lb-01"]


def shell_answering(outcomes: dict[str, Any]) -> Any:
    def run(node: str, command: str, kind: str = "probe") -> Any:
        return next(outcome for start, outcome in outcomes.items() if command.startswith(start))

    return SimpleNamespace(lab=SEED, shells=SimpleNamespace(run=run))


def test_the_boot_criterion_wants_the_unit_enabled_and_the_rules_valid() -> None:
    details = labs.WEB_FIREWALL.details(SEED)
    gone = shell_answering({"systemctl": probed("disabled\n", 1), "test -s": probed("", 1)})
    assert labs.at_boot(gone, details)[0] == [
        "web-02: foobar-firewall is disabled: the rules would be gone after a reboot",
        "web-02: /etc/foobar_fab/firewall.nft is missing, empty or not valid nftables (nft -c failed)",
    ]
    done = shell_answering({"systemctl": probed("enabled\n"), "test -s": probed("")})
    assert labs.at_boot(done, details) == ([], "foobar-firewall enabled")


def test_a_measure_that_cannot_be_made_fails_its_criterion_saying_why() -> None:
    def unreachable(live: Any, details: dict[str, str]) -> tuple[list[str], str]:
        raise NodeUnreachable("web-02: `true` did not complete: timeout")

    wrong, _ = runner.measured(SimpleNamespace(), Criterion("x", "x", unreachable), {}, settle=0.0)
    assert wrong == ["cannot measure it: web-02: `true` did not complete: timeout"]


# -- what the student owns, and the results ---------------------------------------------------------------


def underway(folder: LabFolder) -> states.Underway:
    state = states.Underway("add-web-server", "/x/lab.yml", [("lb-01", "loadbalancer")], {"new": "web-03"})
    states.save(folder, state)
    return state


def test_the_build_leaves_the_students_roles_alone_and_says_so(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path)
    shown = io.StringIO()
    session: Any = SimpleNamespace(console=Console(stream=shown))
    roles = [ROLES["base"], ROLES["loadbalancer"]]
    state = states.load(folder)
    assert building._not_owned(session, state, SEED.node("lb-01"), roles) == roles
    state = underway(folder)
    loaded = states.load(folder)
    assert loaded == state and loaded is not None and loaded.owns("lb-01", "loadbalancer") and not loaded.owns("web-01", "loadbalancer")
    assert building._not_owned(session, loaded, SEED.node("lb-01"), roles) == [ROLES["base"]]
    assert building._not_owned(session, loaded, SEED.node("web-01"), roles) == roles
    assert "lb-01    ok       loadbalancer: left as the student made it: build-it lab add-web-server runs" in shown.getvalue()


def test_while_a_build_it_lab_runs_another_design_is_not_built_nor_an_exercise_started(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path / "lab")
    settings = SimpleNamespace(lab_file=PROJECT_ROOT / "configs/lab.yml")
    session: Any = SimpleNamespace(folder=folder, settings=settings, lab=SEED)
    runner.guard_build(session)
    runner.idle(session, "an exercise")
    underway(folder)
    with pytest.raises(states.BuildItError, match="build-it lab add-web-server runs on lab foobar .*`invoke build-it.stop`"):
        runner.guard_build(session)
    with pytest.raises(states.BuildItError, match="an exercise waits until `invoke build-it.stop`"):
        runner.idle(session, "an exercise")
    folder.build_it_design.write_text("")
    runner.guard_build(SimpleNamespace(folder=folder, settings=SimpleNamespace(lab_file=folder.build_it_design), lab=SEED))  # type: ignore[arg-type]


def test_a_build_it_result_is_recorded_beside_the_exercises_and_graded_like_one(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path)
    state = underway(folder)
    state.hints = 2
    states.record(folder, state, "solved")
    states.end(folder)
    assert states.load(folder) is None and not folder.build_it_design.exists()
    (record,) = finished_exercises(folder)
    assert record["exercise"] == "add-web-server" and record["kind"] == "build-it" and record["outcome"] == "solved"
    assert points(record) == 80


def test_a_record_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path)
    folder.build_it.write_text("{}")
    with pytest.raises(states.BuildItError, match="cannot be read: remove it"):
        states.load(folder)


def test_a_build_it_lab_that_does_not_start_from_the_design_says_what_it_needs() -> None:
    with pytest.raises(states.BuildItError, match="no build-it lab 'nope'"):
        runner.named("nope", SEED)
    three = runner.named("add-web-server", SEED)
    assert three is labs.ADD_WEB


def prometheus_showing(lab: Lab, *targets: Target) -> Any:
    return SimpleNamespace(lab=lab, prometheus=lambda server: SimpleNamespace(targets=lambda: list(targets)))


def test_the_monitoring_criterion_wants_every_exporter_of_the_new_server_scraped_labelled_and_up(tmp_path: Path) -> None:
    secured = DESIGNS["secured"]
    target, details = target_of(labs.MONITORED, secured, tmp_path)
    assert labs.MONITORED.owned(target, details) == [("mon-01", "monitor")]
    address = target.node("web-03").address
    wanted = {f"{e.node.address}:{e.port.number}": e.port.job for e in exposure(target) if e.node.name == "web-03" and e.port.metrics is not None}
    assert len(wanted) >= 2 and f"{address}:9100" in wanted  # the node exporter, and Nginx's
    assert labs.scraped(prometheus_showing(target), details)[0] == [f"Prometheus on mon-01 does not scrape web-03's {job} ({i})" for i, job in wanted.items()]
    first, *rest = wanted.items()
    shown = [Target(first[1], "web-02", "up", first[0]), *(Target(job, "web-03", "down", i) for i, job in rest)]
    assert labs.scraped(prometheus_showing(target, *shown), details)[0] == [
        f"web-03's {first[1]} ({first[0]}) is labelled node: web-02, not node: web-03 (the alerts name the server by it)",
        *(f"web-03's {job} ({i}) is down in Prometheus on mon-01" for i, job in rest),
    ]
    assert labs.scraped(prometheus_showing(target, *(Target(job, "web-03", "up", i) for i, job in wanted.items())), details)[0] == []


class Balancers:
    """Shells of a scaled lab's balancers: who holds the floating address (changed by a keepalived restart, as
    `moves` says), and each one's priority in its config."""

    def __init__(self, holding: list[str], moves: dict[str, list[str]], priority: dict[str, int]) -> None:
        self.holding, self.moves, self.priority = holding, moves, priority
        self.restarted: set[str] = set()

    def run(self, node: str, command: str, kind: str = "probe", timeout: float = 0, show: bool = True) -> Any:
        if command.startswith("grep -o 'priority"):
            return probed(f"priority {self.priority[node]}\n")
        return probed("3: eth0 inet 10.181.89.100/24" if node in self.holding else "")

    def must(self, node: str, command: str, kind: str = "run", timeout: float = 0) -> str:
        self.restarted.add(node)
        self.holding = self.moves.get(",".join(sorted(self.restarted)), self.holding)
        return ""


def test_the_owner_criteria_say_where_the_address_went_and_the_priorities_behind_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labs, "SETTLE_VRRP", 0.0)
    scaled = DESIGNS["scaled"]
    target, details = target_of(labs.OWNER, scaled, tmp_path)
    assert target.balancers[0].name == "lb-02" and labs.OWNER.before(target, details).balancers[0].name == "lb-01"
    assert labs.OWNER.owned(target, details) == [("lb-02", "keepalived"), ("lb-01", "keepalived")]
    start = Balancers(["lb-01"], {}, {"lb-01": 150, "lb-02": 140})
    assert labs.on_chosen(SimpleNamespace(lab=target, shells=start), details)[0] == ["10.181.89.100 is on lb-01, not on lb-02"]
    assert labs.stays(SimpleNamespace(lab=target, shells=start), details)[0] == ["measured once 10.181.89.100 is on lb-02"]
    moved_only = Balancers(["lb-02"], {"lb-01,lb-02": ["lb-01"]}, {"lb-01": 150, "lb-02": 140})
    live: Any = SimpleNamespace(lab=target, shells=moved_only)
    assert labs.stays(live, details) == ([], "10.181.89.100 is on lb-02")
    assert labs.wins(live, details)[0] == [
        "lb-02 does not have the highest priority (priorities: lb-02 140, lb-01 150)"
    ]
    both = Balancers(["lb-01", "lb-02"], {}, {"lb-01": 150, "lb-02": 150})
    assert labs.on_chosen(SimpleNamespace(lab=target, shells=both), details)[0] == [
        "10.181.89.100 is on lb-02 and lb-01: both think they are master (are their advertisements, IP protocol 112, getting through?)"
    ]
