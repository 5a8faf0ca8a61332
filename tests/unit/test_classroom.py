"""The class file, and what a class writes from it: projects, the firewall, the entry point's key lines, grades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from foobar_fab.classroom import classfile, entry, firewall, grades, projects
from foobar_fab.classroom.classfile import ClassError
from foobar_fab.classroom.folder import ClassFolder
from foobar_fab.settings import PROJECT_ROOT

GOOD: dict[str, Any] = {
    "class": {"name": "ops", "design": "configs/lab.yml", "subnet": "10.190.0.0/16"},
    "students": ["alice", "bob"],
}


def parsed(**changes: Any) -> classfile.Classroom:
    data = {**GOOD, **changes}
    return classfile.parse(data, PROJECT_ROOT / "configs/class.yml")


def test_the_example_class_file_loads() -> None:
    classroom = classfile.load(PROJECT_ROOT / "configs/class.yml")
    assert [s.lab_name for s in classroom.students] == ["opsalice", "opsbob"]
    assert classroom.entry_host == "127.0.0.1"


def test_each_student_gets_a_block_after_the_entry_points() -> None:
    classroom = parsed()
    assert str(classroom.entry_subnet) == "10.190.0.0/24"
    assert [str(s.subnet) for s in classroom.students] == ["10.190.1.0/24", "10.190.2.0/24"]
    lab = classroom.lab_of(classroom.student("bob"))
    assert lab.name == "opsbob" and str(lab.node("web-01").address) == "10.190.2.11"
    assert classroom.project_of(classroom.student("bob")) == "ops-bob"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"class": {**GOOD["class"], "name": "Ops"}}, "class.name: 'Ops' must be 1-6 lowercase"),
        ({"class": {**GOOD["class"], "subnet": "8.8.0.0/16"}}, "is not a private network"),
        ({"class": {**GOOD["class"], "subnet": "10.190.0.0/24"}}, "must be wider than the design's /24"),
        ({"class": {**GOOD["class"], "subnet": "10.190.0.0/23"}}, "2 students but 10.190.0.0/23 holds 1 labs"),
        ({"class": {**GOOD["class"], "entry": "localhost"}}, "class.entry: 'localhost' is not ADDRESS:PORT"),
        ({"class": {**GOOD["class"], "entry": "127.0.0.1:22"}}, "port 22 must be between 1024 and 65535"),
        ({"class": {**GOOD["class"], "design": "nowhere.yml"}}, "class.design:"),
        ({"students": ["alice", "alice"]}, "students[1]: 'alice' is listed twice"),
        ({"students": ["averylongname"]}, "the lab's name 'opsaverylongname' must be at most 12 characters"),
        ({"students": ["9lives"]}, "must be lowercase letters or digits, starting with a letter"),
        ({"students": []}, "students: expected a list"),
        ({"limits": {"memory": "lots"}}, "limits.memory: 'lots' is not a memory size"),
        ({"limits": {"cpu": 2}}, "limits: expected a mapping with memory"),
        ({"extra": 1}, "(top level)"),
    ],
)
def test_a_bad_class_file_is_refused_in_one_line(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ClassError) as refused:
        parsed(**changes)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_missing_class_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ClassError, match="cannot read the class file"):
        classfile.load(tmp_path / "none.yml")


def test_a_students_project_is_restricted_to_their_network_and_limits() -> None:
    config = projects.project_config("ops", "opsalice-br", 3, "512MiB")
    assert config["restricted"] == "true" and config["restricted.networks.access"] == "opsalice-br"
    assert config["limits.instances"] == "3" and config["limits.memory"] == "1536MiB"
    assert "restricted.devices.disk" not in config  # no host folder may be mounted


def test_the_firewall_keeps_each_lab_to_itself() -> None:
    rules = firewall.ruleset(parsed())
    assert "ip saddr 10.190.1.0/24 ip daddr 10.190.1.0/24 accept" in rules
    assert "ip saddr 10.190.0.0/24 ip daddr 10.190.0.0/16 tcp dport 22 accept" in rules
    forward = rules.index("ip saddr 10.190.0.0/16 ip daddr 10.190.0.0/16 drop")
    assert rules.index("ip saddr 10.190.2.0/24 ip daddr 10.190.2.0/24 accept") < forward
    assert rules.rstrip().endswith("}") and "ip saddr 10.190.0.0/16 drop" in rules


def test_a_students_key_opens_only_their_own_nodes() -> None:
    classroom = parsed()
    line = entry.key_line(classroom, classroom.student("bob"), "ssh-ed25519 AAAA bob\n")
    assert line.startswith("restrict,port-forwarding,")
    assert 'permitopen="10.190.2.11:22"' in line and "10.190.1." not in line
    assert line.endswith('command="/usr/sbin/nologin" ssh-ed25519 AAAA bob\n')
    config = entry.ssh_config(classroom, classroom.student("bob"))
    assert "Host ops-entry\n    HostName 127.0.0.1\n    Port 2222\n    User bob" in config
    assert "Host web-02\n    HostName 10.190.2.12\n    User root\n    ProxyJump ops-entry" in config


@pytest.mark.parametrize(
    ("record", "points"),
    [
        ({"outcome": "solved", "hints": 0}, 100),
        ({"outcome": "solved", "hints": 2}, 80),
        ({"outcome": "solved", "hints": 9}, 50),
        ({"outcome": "solved", "hints": 1, "attempts": 3}, 70),  # two wrong causes judged before the right one
        ({"outcome": "solved", "hints": 0, "reference_fix": True}, 0),
        ({"outcome": "stopped", "hints": 0}, 0),
    ],
)
def test_points_of_an_exercise(record: dict[str, Any], points: int) -> None:
    assert grades.points(record) == points


def test_the_grades_csv_has_a_row_a_student() -> None:
    text = grades.as_csv(["student", "lab", "x", "total", "hints"], [{"student": "a", "lab": "opsa", "x": 100, "total": 100, "hints": 0}])
    assert text == "student,lab,x,total,hints\na,opsa,100,100,0\n"


def test_the_firewall_step_sees_a_rule_missing_from_the_loaded_table() -> None:
    from foobar_fab.executors import Outcome

    classroom = parsed()
    step = firewall.ClassFirewall(classroom, ClassFolder(Path("/nonexistent")))
    listed = "\n".join(line.replace("  ", "\t") for line in firewall.ruleset(classroom).splitlines()[2:])  # as nft lists it
    assert step.decide(Outcome("", 0, listed, "")).changes is False
    without_nat = listed.replace("masquerade", "")
    assert step.decide(Outcome("", 0, without_nat, "")).changes is True


def test_a_class_names_its_cluster_by_an_incus_client_folder(tmp_path: Path) -> None:
    with pytest.raises(ClassError, match=r"class.cluster: .* is no Incus client folder \(no config.yml\)"):
        parsed(**{"class": {**GOOD["class"], "cluster": str(tmp_path)}})
    (tmp_path / "config.yml").write_text("default-remote: lab\n")
    assert parsed(**{"class": {**GOOD["class"], "cluster": str(tmp_path)}}).cluster == tmp_path
    assert parsed().cluster is None


def test_on_a_cluster_a_lab_rejects_the_rest_of_the_class_and_the_members() -> None:
    import ipaddress

    from foobar_fab.classroom import isolation

    whole, own = ipaddress.IPv4Network("10.190.0.0/16"), ipaddress.IPv4Network("10.190.2.0/24")
    rejected = isolation.elsewhere(whole, own, ["10.97.0.12", "10.97.0.11"]).split(",")
    networks = [ipaddress.IPv4Network(r) for r in rejected]
    assert not any(n.overlaps(own) for n in networks)  # its own subnet, gateway included, stays open
    assert sum(n.num_addresses for n in networks if n.subnet_of(whole)) == whole.num_addresses - own.num_addresses
    assert rejected[-2:] == ["10.97.0.11/32", "10.97.0.12/32"]


def test_a_labs_network_on_a_cluster_is_defined_on_each_member_first() -> None:
    from foobar_fab.executors import Outcome
    from foobar_fab.providers.incus import IncusLayout
    from foobar_fab.providers.incus.instances import Network
    from foobar_fab.providers.lxc import LxcLayout
    from foobar_fab.steps import SECTION

    classroom = parsed()
    layout = IncusLayout(LxcLayout(classroom.lab_of(classroom.student("bob")), Path("/nonexistent"), Path("/nonexistent")))
    step = Network(layout, ("m1", "m2"))
    assert "/sys/class/net" not in step.probe()  # the bridges are on the members, not here
    commands = [a.command for a in step.decide(Outcome("", 0, f"\n{SECTION}\n", "")).actions]  # type: ignore[attr-defined]
    assert commands[:2] == ["incus network create opsbob-br --target m1", "incus network create opsbob-br --target m2"]
    assert commands[2].startswith("incus network create opsbob-br ipv4.address=10.190.2.1/24")


def test_a_route_through_a_member_is_replaced_when_it_goes_elsewhere() -> None:
    import ipaddress

    from foobar_fab.executors import Outcome
    from foobar_fab.providers.incus.cluster import RouteVia

    step = RouteVia(ipaddress.IPv4Network("10.190.2.0/24"), "10.97.0.12")
    assert not step.decide(Outcome("", 0, "10.190.2.0/24 via 10.97.0.12 dev ffk-br \n", "")).changes
    moved = step.decide(Outcome("", 0, "10.190.2.0/24 via 10.97.0.11 dev ffk-br \n", ""))
    assert [a.command for a in moved.actions] == ["ip -4 route replace 10.190.2.0/24 via 10.97.0.12"]  # type: ignore[attr-defined]
