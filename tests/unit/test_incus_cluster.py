"""The test cluster's names and decisions from captured answers, and which Incus a class talks to."""

from __future__ import annotations

import io
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from foobar_fab.cluster import ClusterLayout, IncusTarget, LabRoute, LabRouteGone, LostForgotten, MemberState, TargetExecutor
from foobar_fab.cluster.clustering import Bootstrapped, ClusterImage, ClusterRemote, Joined, Removed, cluster_members
from foobar_fab.cluster.members import CGROUPS_SCRIPT, CGROUPS_UNIT, IncusInstalled, IncusPackages, Member, NestedCgroups
from foobar_fab.cluster.membership import parse_members
from foobar_fab.console import Console
from foobar_fab.steps import SECTION, Plan, Run, StepError

from .fakes import probed


@pytest.fixture
def cluster(tmp_path: Path) -> ClusterLayout:
    return ClusterLayout("ffx", ipaddress.IPv4Network("10.99.0.0/24"), tmp_path / "state", tmp_path / "cache")


def commands(plan: Plan) -> list[str]:
    return [a.command if isinstance(a, Run) else f"put {a.path}" for a in plan.actions]


def parts(*texts: str) -> str:
    return "".join(f"{t}{SECTION}\n" for t in texts[:-1]) + texts[-1]


MEMBERS = json.dumps(["/1.0/cluster/members/ffx-m1", "/1.0/cluster/members/ffx-m2"])


# --- names and targets -------------------------------------------------------------------------------


def test_members_are_named_and_addressed_after_the_cluster(cluster: ClusterLayout) -> None:
    assert cluster.members == ("m1", "m2") and cluster.first == "m1"
    assert [cluster.member_name(m) for m in cluster.members] == ["ffx-m1", "ffx-m2"]
    assert [str(cluster.address(m)) for m in cluster.members] == ["10.99.0.11", "10.99.0.12"]
    assert cluster.url("m2") == "10.99.0.12:8443"
    assert cluster.host.network == "ffx-br" and cluster.files.prefix == "10.99.0.1/24"
    assert cluster.conf == cluster.state_dir / "incus-client" and cluster.debs == cluster.cache_dir / "incus-debs"


def test_the_local_target_is_the_plain_client_and_never_the_callers_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCUS_CONF", "/home/someone/.config/incus")
    local = IncusTarget.local()
    assert local.is_local and local.command("list", "--format", "json") == "incus list --format json"
    assert "INCUS_CONF" not in local.environment()
    assert str(local) == "the local Incus daemon"


def test_a_cluster_target_runs_every_command_with_the_class_client_folder(cluster: ClusterLayout) -> None:
    target = cluster.target
    assert not target.is_local and target.remote == "ffx"
    assert target.command("exec", "web 01", "--", "true") == f"INCUS_CONF={cluster.conf} incus exec 'web 01' -- true"
    assert target.environment()["INCUS_CONF"] == str(cluster.conf)
    assert str(target) == f"Incus cluster ffx (client folder {cluster.conf})"


# --- members -------------------------------------------------------------------------------------


def test_the_packages_are_fetched_against_the_base_images_own_package_status(cluster: ClusterLayout) -> None:
    step = IncusPackages(cluster)
    plan = step.decide(probed(""))
    fetch = commands(plan)[1]
    assert f"-o Dir::State::status={cluster.files.base_rootfs}/var/lib/dpkg/status -o Dir::Cache::archives={cluster.debs}" in fetch
    assert "--no-install-recommends" in fetch and fetch.split(">/dev/null")[0].endswith("install incus-base dnsmasq-base zstd ")
    assert commands(plan)[-1] == f"put {cluster.debs}/stamp"
    assert not step.decide(probed(step.wanted)).changes
    assert step.decide(probed(step.wanted.replace("zstd", ""))).changes


def test_a_member_is_a_nesting_privileged_lab_node_with_the_packages_mounted(cluster: ClusterLayout) -> None:
    node = cluster.files.lab.node("m2")
    plan = Member(cluster.host, node, "ssh-ed25519 AAAA key", "foobar-0123", debs=str(cluster.debs)).decide(probed(parts("", "")))
    done = commands(plan)
    assert any(c.startswith("incus init foobar-0123 ffx-m2 --no-profiles") for c in done)
    assert "lxc.net.0.ipv4.address = 10.99.0.12/24" in next(c for c in done if c.startswith("incus init"))
    assert "incus config set ffx-m2 security.nesting=true security.privileged=true user.foobar_fab.cluster=ffx" in done
    assert f"incus config device add ffx-m2 incus-debs disk source={cluster.debs} path={cluster.debs} readonly=true" in done


def test_the_cgroup_unit_is_installed_once_and_kept(cluster: ClusterLayout) -> None:
    step = NestedCgroups(cluster, "m1")
    plan = step.decide(probed(""))
    assert len(plan.actions) == 1 and commands(plan)[0].startswith("incus exec ffx-m1 -- sh -c ")
    assert "systemctl enable --quiet foobar-cgroups && systemctl restart foobar-cgroups" in commands(plan)[0]
    assert not step.decide(probed(parts(CGROUPS_SCRIPT, CGROUPS_UNIT, "active\nenabled\n"))).changes
    assert step.decide(probed(parts(CGROUPS_SCRIPT, CGROUPS_UNIT, "inactive\nenabled\n"))).changes


def test_incus_is_installed_with_dpkg_from_the_mounted_packages_unless_it_is(cluster: ClusterLayout) -> None:
    step = IncusInstalled(cluster, "m1")
    installed = "".join(f"{p} install ok installed\n" for p in ("incus-base", "dnsmasq-base", "zstd"))
    assert not step.decide(probed(installed)).changes
    plan = step.decide(probed("incus-base install ok installed\nzstd deinstall ok config-files\n"))
    assert "dnsmasq-base, zstd installed" in plan.reason
    assert f"dpkg -i {cluster.debs}/*.deb" in commands(plan)[0] and "incus admin waitready" in commands(plan)[1]


# --- clustering ----------------------------------------------------------------------------------


def test_the_first_member_enables_clustering_once_under_its_own_name(cluster: ClusterLayout) -> None:
    step = Bootstrapped(cluster)
    plan = step.decide(probed(json.dumps({"enabled": False, "server_name": "none"})))
    assert "core.https_address=10.99.0.11:8443 images.auto_update_interval=0" in commands(plan)[2]
    assert commands(plan)[-1] == "incus exec ffx-m1 -- sh -c 'incus cluster enable ffx-m1'"
    assert not step.decide(probed(json.dumps({"enabled": True, "server_name": "ffx-m1"}))).changes
    with pytest.raises(StepError, match="as 'other'"):
        step.decide(probed(json.dumps({"enabled": True, "server_name": "other"})))


def test_a_member_joins_with_a_token_that_no_printed_command_holds(cluster: ClusterLayout) -> None:
    step = Joined(cluster, "m2")
    plan = step.decide(probed(parts(json.dumps(["/1.0/cluster/members/ffx-m1"]), "")))
    (join,) = commands(plan)
    assert "incus exec ffx-m1 -- incus cluster add ffx-m2 --quiet | { read -r token;" in join
    assert "cluster_token: %s" in join and '"$token"' in join and join.endswith("| incus exec ffx-m2 -- incus admin init --preseed")
    assert "server_address: 10.99.0.12:8443" in join
    assert not step.decide(probed(parts(MEMBERS, ""))).changes
    with pytest.raises(StepError, match="not a cluster"):
        step.decide(probed(parts("", "")))


def test_a_removed_member_is_wiped_before_it_joins_again(cluster: ClusterLayout) -> None:
    alone = json.dumps(["/1.0/cluster/members/ffx-m1"])
    plan = Removed(cluster, "m2").decide(probed(parts(alone, "former\n")))
    assert "rm -rf /var/lib/incus" in commands(plan)[0] and "systemctl stop incus-startup.service" in commands(plan)[0]
    for answer, former in ((alone, ""), (MEMBERS, "former\n"), ("", "former\n")):  # new, still a member, cluster not answering
        assert not Removed(cluster, "m2").decide(probed(parts(answer, former))).changes
    with pytest.raises(StepError, match="removed from the cluster"):
        Joined(cluster, "m2").decide(probed(parts(alone, "former\n")))


def test_cluster_members_are_read_from_their_urls() -> None:
    assert cluster_members(MEMBERS) == ["ffx-m1", "ffx-m2"] and cluster_members("") == []
    for bad in ("not json", '{"a": 1}'):
        with pytest.raises(StepError, match="unexpected answer"):
            cluster_members(bad)


def test_the_client_folder_is_made_again_unless_trusted_default_and_without_public_images(cluster: ClusterLayout) -> None:
    step = ClusterRemote(cluster)
    trusted = json.dumps({"auth": "trusted"})
    assert not step.decide(probed(parts(trusted, "ffx,https://10.99.0.11:8443,incus,tls,NO,NO,NO\nlocal,unix://,incus,file access,NO,YES,NO\n", "ffx\n"))).changes
    for answer in (
        parts(json.dumps({"auth": "untrusted"}), "ffx,https://x\n", "ffx\n"),
        parts(trusted, "ffx,https://x\nimages,https://images.linuxcontainers.org\n", "ffx\n"),
        parts(trusted, "ffx,https://x\n", "local\n"),
        parts("", "", ""),
    ):
        plan = step.decide(probed(answer))
        assert commands(plan)[0] == f"rm -rf {cluster.conf} && mkdir -m 0700 -p {cluster.conf}"
    made = commands(step.decide(probed(parts("", "", ""))))
    assert "incus config trust add ffx-client --quiet | { read -r token; INCUS_CONF=" in made[1] and 'remote add ffx "$token"' in made[1]
    assert made[-1].startswith(f"INCUS_CONF={cluster.conf} incus remote remove images")


def test_the_image_is_copied_from_the_hosts_daemon_only_when_missing(cluster: ClusterLayout) -> None:
    step = ClusterImage(cluster, "foobar-0123")
    assert not step.decide(probed(json.dumps({"name": "foobar-0123"}))).changes
    (copy,) = commands(step.decide(probed("")))
    assert copy == f"INCUS_CONF={cluster.conf} incus image copy local:foobar-0123 ffx: --alias foobar-0123 --mode relay --quiet"


# --- membership ----------------------------------------------------------------------------------


def member(name: str, status: str) -> dict[str, Any]:
    return {"server_name": name, "status": status, "message": "No heartbeat for 25s" if status == "Offline" else "Fully operational"}


def forgotten(answering: str, *states: dict[str, Any]) -> Plan:
    server = json.dumps({"environment": {"server_name": answering}})
    return LostForgotten(IncusTarget.cluster(Path("/conf"), "ffx")).decide(probed(parts(server, json.dumps(list(states)))))


def test_offline_members_are_removed_but_never_the_one_answering() -> None:
    plan = forgotten("ffx-m1", member("ffx-m1", "Online"), member("ffx-m2", "Offline"))
    assert commands(plan) == ["INCUS_CONF=/conf incus cluster remove --force --yes ffx-m2"]
    assert "ffx-m2 (offline: No heartbeat for 25s)" in plan.reason
    assert not forgotten("ffx-m1", member("ffx-m1", "Offline"), member("ffx-m2", "Online")).changes
    assert commands(forgotten("ffx-m1", member("ffx-m1", "Offline"), member("ffx-m2", "Offline"))) == [
        "INCUS_CONF=/conf incus cluster remove --force --yes ffx-m2"
    ]
    assert "2 of 2 members online" in forgotten("ffx-m1", member("ffx-m1", "Online"), member("ffx-m2", "Online")).reason


def test_a_cluster_that_does_not_answer_is_said_so() -> None:
    with pytest.raises(StepError, match="does not answer"):
        LostForgotten(IncusTarget.cluster(Path("/conf"), "ffx")).decide(probed(parts("", "")))


def test_member_states_are_parsed_from_the_cluster_listing() -> None:
    assert parse_members([member("a", "Online"), member("b", "Offline"), "junk"]) == [
        MemberState("a", "Online", "Fully operational"),
        MemberState("b", "Offline", "No heartbeat for 25s"),
    ]
    with pytest.raises(StepError):
        parse_members({"not": "a list"})


def test_a_target_executor_sends_every_incus_of_a_command_to_its_target(cluster: ClusterLayout, tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "incus").write_text('#!/bin/sh\necho "${INCUS_CONF:-local} $*"\n')
    (fake / "incus").chmod(0o755)
    output = io.StringIO()
    on_cluster = TargetExecutor("host", Console(stream=output), cluster.target)
    outcome = on_cluster.run(f"PATH={fake}:$PATH; incus list && incus query /1.0", kind="probe")
    assert outcome.stdout.splitlines() == [f"{cluster.conf} list", f"{cluster.conf} query /1.0"]
    assert f"export INCUS_CONF={cluster.conf}; PATH=" in output.getvalue()
    assert TargetExecutor("host", Console(stream=output), IncusTarget.local()).run(f"PATH={fake}:$PATH; incus list").stdout.startswith("local list")


# --- routes --------------------------------------------------------------------------------------

LAB = ipaddress.IPv4Network("10.99.1.0/24")


def test_a_lab_subnet_is_routed_through_the_member_that_runs_it(cluster: ClusterLayout) -> None:
    step = LabRoute(cluster, LAB, "m2")
    assert commands(step.decide(probed(""))) == ["ip -4 route replace 10.99.1.0/24 via 10.99.0.12 dev ffx-br"]
    assert not step.decide(probed("10.99.1.0/24 via 10.99.0.12 dev ffx-br \n")).changes
    moved = step.decide(probed("10.99.1.0/24 via 10.99.0.11 dev ffx-br \n"))
    assert "(was 10.99.1.0/24 via 10.99.0.11 dev ffx-br)" in moved.reason and moved.changes
    with pytest.raises(StepError, match="no bridge ffx-br"):
        step.decide(probed("no-bridge\n"))


def test_only_a_route_through_the_members_bridge_is_removed(cluster: ClusterLayout) -> None:
    step = LabRouteGone(cluster, LAB)
    assert commands(step.decide(probed("10.99.1.0/24 via 10.99.0.12 dev ffx-br \n"))) == ["ip -4 route del 10.99.1.0/24 dev ffx-br"]
    assert not step.decide(probed("10.99.1.0/24 via 192.168.1.1 dev ffx-br0 \n")).changes
    assert not step.decide(probed("")).changes
