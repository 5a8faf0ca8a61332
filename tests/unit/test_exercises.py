"""The exercises as data, with no lab: every text fills in on every design it runs on, seeds vary the
details, causes are written as the grader reads them, and the running exercise stays hidden."""

from __future__ import annotations

import ipaddress
import json
import random
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from foobar_fab import design, topology
from foobar_fab.exercises import causes
from foobar_fab.exercises.catalog import EXERCISES, SILENT_MONITOR, WRITES_TO
from foobar_fab.exercises.faults import unused_address
from foobar_fab.exercises.record import Exercise, common, fill
from foobar_fab.exercises.state import Drawer, ExerciseError, Running
from foobar_fab.exercises.symptoms import floating_on_first, load_shared, web_servers_watched
from foobar_fab.expect import CheckFailed
from foobar_fab.roles import ROLES, firewall
from foobar_fab.roles import monitor as monitor_role
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.statefolder import LabFolder

SCALED = """
lab: {name: ffxscaled, subnet: 10.181.89.0/24, domain: www.foobar.com, floating_address: 10.181.89.100}
nodes:
  lb-01: {address: 10.181.89.10, roles: [base, loadbalancer]}
  lb-02: {address: 10.181.89.11, roles: [base, loadbalancer]}
  web-01: {address: 10.181.89.21, roles: [base, web]}
  web-02: {address: 10.181.89.22, roles: [base, web]}
  app-01: {address: 10.181.89.31, roles: [base, app]}
  app-02: {address: 10.181.89.32, roles: [base, app]}
  db-01: {address: 10.181.89.41, roles: [base, db_primary]}
  db-02: {address: 10.181.89.42, roles: [base, db_replica]}
"""


def scaled_lab() -> topology.Lab:
    """The scaled design's shape (two balancers sharing a floating address, a tier per server), by hand."""
    return topology.parse(yaml.safe_load(SCALED), Path("scaled.yml"), list(ROLES))


DESIGNS = {
    "seed": design.load(PROJECT_ROOT / "configs/lab.yml"),
    "secured": design.load(PROJECT_ROOT / "configs/secured.yml"),
    "scaled": scaled_lab(),
}


def details(exercise: Exercise, lab: topology.Lab, seed: int) -> dict[str, str]:
    return {**common(lab, ".lab/x"), **exercise.choose(lab, random.Random(f"{exercise.name}:{seed}"))}


#: What injections learn on the nodes (a row's id, keepalived's priorities), which some texts name.
LEARNED = {"row": "42", "old": "150", "new": "90", "was": "roundrobin", "then": "", "mistake": "a mistake", "repair": "a repair", "setting": "/etc/foobar/primary (the file FOOBAR_PRIMARY_FILE names in /etc/foobar/app.env)"}


def test_at_least_twelve_exercises_across_the_layers_and_designs() -> None:
    assert len(EXERCISES) >= 12 and len({e.name for e in EXERCISES}) == len(EXERCISES)
    assert {"load balancer", "web server", "application", "database", "network", "system", "TLS"} <= {e.layer for e in EXERCISES}
    seed, secured, scaled = DESIGNS.values()
    assert len([e for e in EXERCISES if e.applies(seed)]) >= 10
    assert [e for e in EXERCISES if e.applies(secured) and not e.applies(seed)], "an exercise of the secured design"
    assert [e for e in EXERCISES if e.applies(scaled) and not e.applies(seed) and not e.applies(secured)], "one of the scaled design"
    assert [e for e in EXERCISES if e.causes == ("none",)], "one exercise where nothing is wrong"


def test_the_balancer_tls_and_vrrp_each_have_a_level_3_exercise_and_the_monitoring_one_of_its_own() -> None:
    seed, secured, scaled = DESIGNS.values()
    chains = [e for e in EXERCISES if e.level == 3]
    assert [e for e in chains if e.layer == "load balancer" and e.applies(seed)], "a level-3 exercise on the balancer"
    assert [e for e in chains if e.layer == "TLS" and e.applies(secured) and not e.applies(seed)], "a level-3 exercise on TLS"
    assert [e for e in chains if "keepalived" in e.causes[0] and e.applies(scaled) and not e.applies(secured)], "a level-3 exercise on VRRP"
    assert [e for e in EXERCISES if e.layer == "monitoring" and e.applies(secured) and not e.applies(seed)], "a silent monitor"


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.name for e in EXERCISES])
def test_every_text_fills_in_on_every_design_it_runs_on(exercise: Exercise) -> None:
    ran = 0
    for lab in DESIGNS.values():
        if not exercise.applies(lab):
            continue
        for seed in range(12):
            found = {**details(exercise, lab, seed), **LEARNED}
            for text in (exercise.report, *exercise.hints):
                fill(text, found)  # a detail the text names and the exercise does not give: KeyError
            for cause in exercise.causes:
                assert causes.parse(fill(cause, found), lab) == fill(cause, found)  # a node of the design, a known component
            ran += 1
    assert ran, f"{exercise.name} runs on no design"
    assert len(exercise.hints) >= 3 and exercise.hints[-1].startswith("Solution:")
    assert all(f"--cause {c}" in exercise.hints[-1] for c in exercise.causes[:1])


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.name for e in EXERCISES])
def test_a_seed_gives_the_same_details_and_seeds_differ(exercise: Exercise) -> None:
    lab = next(lab for lab in DESIGNS.values() if exercise.applies(lab))
    assert details(exercise, lab, 3) == details(exercise, lab, 3)
    variants = {json.dumps(details(exercise, lab, seed), sort_keys=True) for seed in range(20)}
    assert len(variants) > 1


def test_neighbours_get_other_answers_where_the_design_allows() -> None:
    lab = DESIGNS["seed"]
    for name in ("server-down-after-change", "nobody-touched-it", "some-posts-fail", "server-down-after-reboot"):
        exercise = next(e for e in EXERCISES if e.name == name)
        answers = {fill(exercise.hints[-1], {**details(exercise, lab, seed), **LEARNED}) for seed in range(10)}
        assert len(answers) >= 2, name


def test_causes_are_read_as_a_sysadmin_writes_them() -> None:
    lab = DESIGNS["seed"]
    assert causes.parse("web-02:gunicorn", lab) == "web-02:app"
    assert causes.parse(" Web-01:MySQL ", lab) == "web-01:mariadb"
    assert causes.parse("lb-01:tls", lab) == "lb-01:certificate"
    assert causes.parse("NONE", lab) == "none"
    with pytest.raises(causes.CauseError, match="no node of this design"):
        causes.parse("web-09:nginx", lab)
    with pytest.raises(causes.CauseError, match="no component"):
        causes.parse("web-01:apache", lab)
    with pytest.raises(causes.CauseError, match="NODE:COMPONENT"):
        causes.parse("nginx", lab)


def test_a_typo_address_is_in_the_subnet_and_nobody_has_it() -> None:
    lab = DESIGNS["secured"]
    for seed in range(30):
        address = unused_address(lab, lab.primary.address, random.Random(seed))
        assert address not in {str(a) for a in lab.addresses} | {str(lab.gateway)}
        assert ipaddress.IPv4Address(address) in lab.subnet


def test_the_running_exercise_is_kept_encrypted_with_its_key_outside_the_state_folder(tmp_path: Path) -> None:
    drawer = Drawer(LabFolder(tmp_path / "state" / "ffx1"), tmp_path / "keys", "ffx1")
    assert not drawer.running()
    with pytest.raises(ExerciseError, match="no exercise is running"):
        drawer.load()
    drawer.save(Running("server-down-after-change", 7, "lab.yml", {"node": "web-02", "port": "8081"}))
    token = drawer.token_file.read_bytes()
    assert b"web-02" not in token and b"8081" not in token and b"server-down" not in token
    assert oct(drawer.token_file.stat().st_mode & 0o777) == "0o600" and oct(drawer.key_file.stat().st_mode & 0o777) == "0o600"
    assert oct(drawer.key_dir.stat().st_mode & 0o777) == "0o700" and drawer.folder.path not in drawer.key_file.parents
    state = drawer.load()
    assert (state.exercise, state.seed, state.details["port"]) == ("server-down-after-change", 7, "8081")
    state.hints = 2
    record = drawer.finish(state, "stopped")
    assert not drawer.running() and record["hints"] == 2 and record["outcome"] == "stopped"
    assert json.loads((tmp_path / "state" / "ffx1" / "exercises.jsonl").read_text())["exercise"] == "server-down-after-change"


def test_a_state_without_its_key_is_refused_in_one_line(tmp_path: Path) -> None:
    drawer = Drawer(LabFolder(tmp_path / "state"), tmp_path / "keys", "ffx1")
    drawer.save(Running("site-unavailable", 1, "lab.yml", {}))
    drawer.key_file.unlink()
    with pytest.raises(ExerciseError, match="key is gone"):
        drawer.load()
    Drawer(LabFolder(tmp_path / "state"), tmp_path / "keys", "ffx1").key_file.write_bytes(b"A" * 43 + b"=")
    with pytest.raises(ExerciseError, match="cannot be read"):
        drawer.load()


def test_every_exercise_is_in_the_students_page_and_answered_in_the_instructor_guide() -> None:
    students = (PROJECT_ROOT / "docs/exercises.md").read_text()
    guide = (PROJECT_ROOT / "docs/instructor-guide.md").read_text()
    for exercise in EXERCISES:
        assert f"`{exercise.name}`" in students, exercise.name
        assert f"### {exercise.name}" in guide, exercise.name
    assert "Solution:" not in students


class NodeFiles:
    """A node's shell as the exercises use it: each command recorded; `ip` shows the addresses given."""

    def __init__(self, addresses: str = "") -> None:
        self.commands: list[str] = []
        self.addresses = addresses

    def must(self, node: str, command: str, kind: str = "run", timeout: float = 0.0, show: bool = True) -> str:
        self.commands.append(f"{node}: {command}")
        return ""

    def run(self, node: str, command: str, kind: str = "probe", timeout: float = 0.0, show: bool = True) -> SimpleNamespace:
        self.commands.append(f"{node}: {command}")
        return SimpleNamespace(stdout=self.addresses if command.startswith("ip ") else "")


def test_a_wrong_write_address_is_put_in_the_primary_address_file_and_taken_out_again() -> None:
    lab = DESIGNS["seed"]
    live = SimpleNamespace(lab=lab, shells=NodeFiles())
    chosen = {**common(lab, ".lab/x"), "node": "web-02", "wrong": "192.168.56.99"}
    learned = WRITES_TO.inject(live, chosen)  # type: ignore[arg-type]
    WRITES_TO.fix(live, chosen)  # type: ignore[arg-type]
    inject, fix = live.shells.commands
    assert inject.startswith("web-02: sed -i -e 's#^192\\.168\\.56\\.11$#192.168.56.99#' /etc/foobar/primary && ")
    assert fix.startswith("web-02: sed -i -e 's#^192\\.168\\.56\\.99$#192.168.56.11#' /etc/foobar/primary && ")
    assert "app.env" not in inject.split("&&")[0] and learned["setting"].startswith("/etc/foobar/primary ")


@pytest.mark.parametrize("gone", [True, False])
def test_the_floating_address_symptom_asks_the_first_balancer(gone: bool) -> None:
    lab = DESIGNS["scaled"]
    shown = f"2: eth0    inet {lab.floating_address}/32 scope global eth0" if gone else ""
    live = SimpleNamespace(lab=lab, shells=NodeFiles(shown))
    if gone:
        assert floating_on_first(live, {}, 0.0) == f"{lab.floating_address} is on {lab.balancers[0].name}"  # type: ignore[arg-type]
    else:
        with pytest.raises(CheckFailed, match="is not on"):
            floating_on_first(live, {}, 0.0)  # type: ignore[arg-type]
    assert live.shells.commands == [f"{lab.balancers[0].name}: ip -o -4 addr show to {lab.floating_address}/32"]


class Site:
    """The site as a probe asks it: each page answered by the next server of `servers`."""

    def __init__(self, servers: list[str]) -> None:
        self.servers = servers
        self.asked = 0

    def get(self, path: str, timeout: float) -> SimpleNamespace:
        self.asked += 1
        return SimpleNamespace(headers={"X-Served-By": self.servers[(self.asked - 1) % len(self.servers)]})


def test_the_load_is_shared_only_when_every_web_server_takes_its_part() -> None:
    lab = DESIGNS["seed"]
    assert load_shared(SimpleNamespace(lab=lab, site=Site(["web-01", "web-02"])), {}, 0.0) == "of 8 pages: web-01 4, web-02 4"  # type: ignore[arg-type]
    with pytest.raises(CheckFailed, match="of 8 pages: web-01 8, web-02 0"):
        load_shared(SimpleNamespace(lab=lab, site=Site(["web-01"])), {}, 0.0)  # type: ignore[arg-type]
    with pytest.raises(CheckFailed, match="web-01 7, web-02 1"):
        load_shared(SimpleNamespace(lab=lab, site=Site(["web-01"] * 7 + ["web-02"])), {}, 0.0)  # type: ignore[arg-type]


class Monitor:
    """Prometheus as the probe asks it: its targets' health, the WebServerDown rule it loaded, the series of a query."""

    def __init__(self, rule: str, found: list[dict[str, str]], health: str = "up") -> None:
        self.rule, self.found, self.health, self.asked = rule, found, health, []

    def targets(self) -> list[SimpleNamespace]:
        return [SimpleNamespace(job="haproxy", node="lb-01", health=self.health), SimpleNamespace(job="node", node="web-01", health="up")]

    def rules(self) -> dict[str, str]:
        return {"WebServerDown": self.rule, "TargetDown": "up == 0"}

    def series(self, expression: str) -> list[dict[str, str]]:
        self.asked.append(expression)
        return self.found


def test_a_silent_monitor_is_told_by_its_targets_and_by_what_its_rule_selects() -> None:
    lab = DESIGNS["secured"]
    every = [{"node": "lb-01", "server": "web-01"}, {"node": "lb-01", "server": "web-02"}]
    heard = Monitor('haproxy_server_status{proxy="web",state="DOWN"} == 1', every)
    assert "sees every web server" in web_servers_watched(SimpleNamespace(lab=lab, prometheus=lambda node: heard), {}, 0.0)  # type: ignore[arg-type]
    assert heard.asked == ['haproxy_server_status{proxy="web",state="DOWN"}']  # the rule's selector, without its comparison
    deaf = Monitor('haproxy_server_status{proxy="web",state="down"} == 1', [])
    with pytest.raises(CheckFailed, match="selects nothing of web-01 on lb-01, web-02 on lb-01"):
        web_servers_watched(SimpleNamespace(lab=lab, prometheus=lambda node: deaf), {}, 0.0)  # type: ignore[arg-type]
    unscraped = Monitor('haproxy_server_status{proxy="web",state="DOWN"} == 1', every, health="down")
    with pytest.raises(CheckFailed, match="targets not up: haproxy on lb-01"):
        web_servers_watched(SimpleNamespace(lab=lab, prometheus=lambda node: unscraped), {}, 0.0)  # type: ignore[arg-type]


def _edit_locally(command: str, path: str, local: Path) -> None:
    """Run a fault's file edit (the command up to its reload) on a local copy of the file."""
    edit = command.split(" && ", maxsplit=1)[0]
    assert edit.endswith(f" {path}")
    subprocess.run(["bash", "-c", edit[: -len(path)] + str(local)], check=True)


@pytest.mark.parametrize("variant", ["rule", "firewall"])
def test_the_silent_monitor_fault_changes_one_line_and_its_fix_puts_it_back(tmp_path: Path, variant: str) -> None:
    lab = DESIGNS["secured"]
    found = next(d for d in (details(SILENT_MONITOR, lab, seed) for seed in range(20)) if d["variant"] == variant)
    monitor = lab.node(found["mon"])
    if variant == "rule":
        path, text = monitor_role.RULES, monitor_role.rules(lab)
    else:
        path = firewall.RULES
        text = (f"        ip saddr {{ {monitor.address} }} tcp dport 9100 accept comment \"prometheus-node-exporter: node metrics\"\n"
                f"        ip saddr {{ {monitor.address} }} tcp dport 8405 accept comment \"haproxy: HAProxy metrics\"\n")
    local = tmp_path / "file"
    local.write_text(text)
    shells = NodeFiles()
    live = SimpleNamespace(lab=lab, shells=shells)
    SILENT_MONITOR.inject(live, found)  # type: ignore[arg-type]
    _edit_locally(shells.commands[-1].partition(": ")[2], path, local)
    changed = [(a, b) for a, b in zip(text.splitlines(), local.read_text().splitlines(), strict=True) if a != b]
    assert len(changed) == 1, changed
    if variant == "rule":
        assert 'state="down"' in changed[0][1] and shells.commands[-1].startswith(f"{monitor.name}: ")
    else:
        assert f"{{ {found['typo']} }} tcp dport 8405" in changed[0][1] and shells.commands[-1].startswith("lb-01: ")
    SILENT_MONITOR.fix(live, found)  # type: ignore[arg-type]
    _edit_locally(shells.commands[-1].partition(": ")[2], path, local)
    assert local.read_text() == text
