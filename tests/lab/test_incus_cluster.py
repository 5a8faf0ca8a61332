"""A two-member Incus cluster for real, on this host: members nested in system containers of the host's daemon.

The cluster (fftcl: members on 10.181.71.0/25, the lab network inside them on 10.181.71.128/25;
FOOBAR_TEST_CLUSTER, FOOBAR_TEST_CLUSTER_SUBNET move it) is made, made again with nothing to change,
runs a system container pinned to each member on a lab network defined on both, reaches the one on
the second member from the host through a route via that member, loses that member, forgets it and
makes its container again on the member left, and is removed with nothing of it left. Then a class
runs on a cluster made afresh (tk on 10.188.0.0/16; FOOBAR_TEST_CLUSTER_CLASS_SUBNET moves it):
its labs spread over the members, a lost member's lab is made again on the other. The host's own
daemon is never clustered.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from foobar_fab.cluster import ClusterLayout, IncusTarget, LabRoute, LabRouteGone, LostForgotten, NestedCluster, member_states, placement
from foobar_fab.console import Console
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.steps import Runner

NAME = os.environ.get("FOOBAR_TEST_CLUSTER", "fftcl")
SUBNET = ipaddress.IPv4Network(os.environ.get("FOOBAR_TEST_CLUSTER_SUBNET", "10.181.71.0/24"))
MEMBERS, LAB = SUBNET.subnets(prefixlen_diff=1)
NETWORK = f"{NAME}-lab"

pytestmark = pytest.mark.skipif(
    shutil.which("incus") is None and not os.environ.get("CI"),
    reason="Incus is not installed (make test installs it: sh src/foobar_fab/host/bootstrap.sh incus)",
)


def quiet() -> tuple[Runner, io.StringIO]:
    output = io.StringIO()
    return Runner(Console(stream=output)), output


def on(target: IncusTarget, *words: str) -> str:
    """Run an incus command on the target; its output (fails the test when it fails)."""
    proc = subprocess.run(["incus", *words], capture_output=True, text=True, env=target.environment(), timeout=120)
    assert proc.returncode == 0, f"incus {' '.join(words)}: {proc.stderr}"
    return proc.stdout


def node(target: IncusTarget, name: str, image: str, address: ipaddress.IPv4Address, member: str | None) -> None:
    """A Debian system container on the lab network, with a static address, pinned to `member` (None: Incus places it)."""
    raw = f"lxc.net.0.ipv4.address = {address}/{LAB.prefixlen} {LAB.broadcast_address}\nlxc.net.0.ipv4.gateway = {next(LAB.hosts())}"
    on(target, "init", image, name, "--no-profiles", "--storage", "default", "--config", f"raw.lxc={raw}", *(["--target", member] if member else []))
    on(target, "config", "device", "add", name, "eth0", "nic", f"network={NETWORK}", "name=eth0")
    on(target, "start", name)
    state = on(target, "exec", name, "--", "sh", "-c", "ssh-keygen -A >/dev/null; systemctl reset-failed; systemctl restart ssh; systemctl is-system-running --wait")
    assert state.strip() == "running", f"{name}: systemd is {state.strip()}"


def until(what: str, test: Callable[[], bool], limit: float) -> float:
    """Seconds until test() is true (polled every half second), failing after `limit`."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if test():
            return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {limit} s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NestedCluster]:
    settings = Settings.from_mapping({})
    layout = ClusterLayout(NAME, MEMBERS, tmp_path_factory.mktemp("cluster") / NAME, settings.cache_dir, mirror=settings.mirror)
    made = NestedCluster(layout, Console(stream=io.StringIO()))
    runner, output = quiet()
    assert made.down(runner), output.getvalue()
    yield made
    runner, output = quiet()
    assert runner.apply("host", made.host, [LabRouteGone(layout, LAB)]) and made.down(runner), output.getvalue()
    host = IncusTarget.local()
    assert not [i for i in host.json("list", "--format", "json") or [] if str(i.get("name", "")).startswith(f"{NAME}-")]
    assert host.json("query", f"/1.0/networks/{layout.host.network}") is None
    assert not layout.state_dir.exists()


def test_two_members_run_a_container_each_and_the_labs_of_a_lost_member_are_made_again(cluster: NestedCluster) -> None:
    layout, target = cluster.layout, cluster.target
    first, second = (layout.member_name(m) for m in layout.members)
    runner, output = quiet()
    started = time.monotonic()
    assert cluster.up(runner), output.getvalue()
    made = time.monotonic() - started
    assert f"{second} joined {first}" in output.getvalue()
    runner, output = quiet()
    assert cluster.up(runner), output.getvalue()
    assert " changed " not in output.getvalue(), output.getvalue()
    assert {m.name: m.status for m in member_states(target)} == {first: "Online", second: "Online"}
    assert Path(layout.conf, "config.yml").exists() and "images:" not in Path(layout.conf, "config.yml").read_text()

    # A lab network on every member (defined per member, then created), and a container pinned to each.
    for member in (first, second):
        on(target, "network", "create", NETWORK, "--target", member)
    gateway = next(LAB.hosts())
    on(target, "network", "create", NETWORK, f"ipv4.address={gateway}/{LAB.prefixlen}", "ipv4.nat=false", "ipv4.dhcp=false", "ipv6.address=none")
    one, two = LAB.network_address + 11, LAB.network_address + 12
    node(target, f"{NAME}-n1", cluster.image, one, first)
    node(target, f"{NAME}-n2", cluster.image, two, second)
    assert placement(target) == {("default", f"{NAME}-n1"): first, ("default", f"{NAME}-n2"): second}

    # The host reaches the container on the second member through a route via that member.
    runner, output = quiet()
    assert runner.apply("host", cluster.host, [LabRoute(layout, LAB, layout.members[1])]), output.getvalue()
    assert f"via {layout.address(layout.members[1])} dev {layout.host.network}" in subprocess.run(["ip", "route", "show", str(LAB)], capture_output=True, text=True).stdout
    with socket.create_connection((str(two), 22), timeout=5) as ssh:
        assert ssh.recv(64).startswith(b"SSH-2.0-")
    assert runner.apply("host", cluster.host, [LabRouteGone(layout, LAB)]), output.getvalue()
    assert not subprocess.run(["ip", "route", "show", str(LAB)], capture_output=True, text=True).stdout.strip()

    # The second member is lost: the cluster marks it offline, then forgets it with its container.
    cluster.lose(layout.members[1])
    lost = until("the lost member reported offline", lambda: any(m.name == second and not m.online for m in member_states(target)), 90)
    assert placement(target)[("default", f"{NAME}-n2")] == second
    runner, output = quiet()
    assert runner.apply("host", cluster.host, [LostForgotten(target)]), output.getvalue()
    assert f"removed from the cluster: {second} (offline" in output.getvalue()
    assert placement(target) == {("default", f"{NAME}-n1"): first}
    node(target, f"{NAME}-n2", cluster.image, two, None)
    assert placement(target)[("default", f"{NAME}-n2")] == first

    print(f"\ncluster made in {made:.1f} s; member offline {lost:.1f} s after its loss")


CLASS_SUBNET = os.environ.get("FOOBAR_TEST_CLUSTER_CLASS_SUBNET", "10.188.0.0/16")
INVOKE = Path(sys.executable).with_name("invoke")


def test_a_class_on_the_cluster_spreads_its_labs_and_makes_a_lost_members_labs_again(cluster: NestedCluster, tmp_path: Path) -> None:
    """A class whose file names the cluster's client folder: its labs land on both members (the entry point
    stays on this host); a student reaches their lab on the second member through the entry point; the
    second member is lost and class.status names the student; class.up makes that lab again on the member
    left, where the two labs still cannot reach each other; class.down leaves nothing of the class."""
    # A cluster made afresh: a member removed after its loss cannot always be taken back on a loaded host.
    runner, output = quiet()
    assert cluster.down(runner) and cluster.up(runner), output.getvalue()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    class_file = tmp_path / "class.yml"
    class_file.write_text(
        f"class:\n  name: tk\n  design: {PROJECT_ROOT / 'configs/lab.yml'}\n  subnet: {CLASS_SUBNET}\n  entry: 127.0.0.1:{port}\n"
        f"  cluster: {cluster.layout.conf}\nstudents: [ann, ben]\n"
    )
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(tmp_path / "state"), "INVOKE_LAB_EXERCISE_DIR": str(tmp_path / "keys"), "FOOBAR_FAB_DEBUG": "1"}

    def invoke(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(INVOKE), "-r", str(PROJECT_ROOT), *words, "--class-file", str(class_file)], capture_output=True, text=True, env=env, timeout=900)

    def rows() -> dict[str, dict[str, object]]:
        said = invoke("class.status", "--json")
        assert said.returncode == 0, said.stderr
        return {r["student"]: r for r in json.loads(said.stdout)["students"]}

    def from_anns_node(command: str) -> str:
        bundle = tmp_path / "state" / "class-tk" / "students" / "ann"
        return subprocess.run(["ssh", "-F", "ssh_config", "web-01", command], capture_output=True, text=True, cwd=bundle, timeout=60, stdin=subprocess.DEVNULL).stdout

    blocks = list(ipaddress.IPv4Network(CLASS_SUBNET).subnets(new_prefix=24))
    bens_web = blocks[2].network_address + 11
    probe = f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{bens_web}/; echo; hostname"
    try:
        up = invoke("class.up")
        assert up.returncode == 0, up.stdout + up.stderr
        found = rows()
        members = {found["ann"]["member"], found["ben"]["member"]}
        assert members == {cluster.layout.member_name(m) for m in cluster.layout.members}, found  # Incus spread them
        assert all(r["lab_up"] == "up" and r["checks_failed"] == 0 for r in found.values()), found
        assert from_anns_node(probe).split() == ["000", "web-01"]  # her node, through the entry point; ben's site out of reach

        # The second member is lost (the client folder reaches the cluster through the first).
        lost = cluster.layout.member_name(cluster.layout.members[1])
        victim, other = ("ann", "ben") if found["ann"]["member"] == lost else ("ben", "ann")
        cluster.lose(cluster.layout.members[1])
        seen: list[object] = []
        until(f"{victim}'s lab reported lost (last seen: {seen})", lambda: seen.append(rows()[victim]) or str(seen[-1]["lab_up"]).startswith(f"lost: {lost} is"), 150)
        again = invoke("class.up")
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"{victim:<12} lab tk{victim:<10} was on {lost}, which is lost: made again on the members left" in again.stdout, again.stdout
        found = rows()
        assert found[victim]["member"] == found[other]["member"] != lost, found
        assert all(r["lab_up"] == "up" and r["checks_failed"] == 0 for r in found.values()), found
        assert from_anns_node(probe).split() == ["000", "web-01"]  # on one member now, the ACL keeps them apart
    finally:
        down = invoke("class.down", "--yes")
    assert down.returncode == 0, down.stdout + down.stderr
    left = cluster.target.json("list", "--all-projects", "--format", "json") or []
    assert not [i["name"] for i in left if str(i.get("name", "")).startswith("tk")], left
    assert not [a for a in cluster.target.json("query", "/1.0/network-acls") or [] if "tk" in str(a)]
    assert not subprocess.run(["ip", "route", "show", "root", CLASS_SUBNET], capture_output=True, text=True).stdout.strip()
