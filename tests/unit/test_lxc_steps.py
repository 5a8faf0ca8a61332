"""Decisions of the LXC provider's host steps from captured output, and the layout's naming."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from foobar_fab.executors import Outcome
from foobar_fab.providers.lxc.containers import (
    SECTION,
    Container,
    ContainerGone,
    KnownHosts,
    Running,
)
from foobar_fab.providers.lxc.layout import LxcLayout, mac_address
from foobar_fab.providers.lxc.network import Bridge, Nat, Resolver, ResolverGone
from foobar_fab.steps import Plan, Put, Run, StepError
from foobar_fab.topology import Lab, relocate

from .fakes import probed

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlabkey foobar_fab-foobar\n"
STAMP = "0123456789ab debootstrap bookworm\n"
ROUTES = [{"dst": "default", "gateway": "10.0.2.2", "dev": "eth0"}, {"dst": "10.0.2.0/24", "dev": "eth0"}]


def kinds(plan: Plan) -> list[str]:
    """The plan's actions as 'run <command>' / 'put <path>', for readable assertions."""
    return [f"run {a.command}" if isinstance(a, Run) else f"put {a.path}" for a in plan.actions]


def sections(*parts: str) -> str:
    """Probe output made of parts separated by '@@' lines, as the container probes print it."""
    return f"{SECTION}\n".join(parts)


# --- layout naming ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["foobar", "fftest", "a", "abcdefghijkl"])
def test_layout_names_derive_from_the_lab(lab: Lab, tmp_path: Path, name: str) -> None:
    """Bridge '<lab>-br' fits Linux's 15-character limit; containers are '<lab>-<node>'."""
    layout = LxcLayout(relocate(lab, name, "10.181.57.0/24"), tmp_path, tmp_path)
    assert layout.bridge == f"{name}-br"
    assert len(layout.bridge) <= 15
    assert layout.container("web-01") == f"{name}-web-01"
    assert layout.nft_table == f"foobar_fab_{name}"


def test_layout_paths_and_commands(layout: LxcLayout, tmp_path: Path) -> None:
    """Container folders live in lxcpath; lxc-* commands name the lab's container there."""
    assert layout.container_dir("lb-01") == tmp_path / "lxc" / "foobar-lb-01"
    assert layout.lxc("info", "lb-01", "-sH") == f"lxc-info -P {tmp_path / 'lxc'} -n foobar-lb-01 -sH"
    assert layout.prefix == "192.168.56.1/24"


def test_mac_address_is_stable_and_distinct() -> None:
    """Same lab and node, same MAC (LXC's 00:16:3e range); another node or lab, another MAC."""
    mac = mac_address("foobar", "web-01")
    assert mac == mac_address("foobar", "web-01")
    assert re.fullmatch(r"00:16:3e(:[0-9a-f]{2}){3}", mac)
    assert len({mac, mac_address("foobar", "web-02"), mac_address("fftest", "web-01")}) == 3


def test_container_config_carries_the_node_identity(layout: LxcLayout, lab: Lab) -> None:
    """The config puts the node on the lab's bridge with its address, the gateway and its stable MAC."""
    config = layout.container_config(lab.node("web-02"))
    assert "lxc.net.0.link = foobar-br" in config
    assert "lxc.net.0.ipv4.address = 192.168.56.12/24" in config
    assert "lxc.net.0.ipv4.gateway = 192.168.56.1" in config
    assert f"lxc.net.0.hwaddr = {mac_address('foobar', 'web-02')}" in config
    assert "lxc.uts.name = web-02" in config


# --- bridge ----------------------------------------------------------------------------------------


def bridge_output(link: dict[str, Any] | None, routes: list[dict[str, str]] = ROUTES) -> str:
    """What `ip -j addr show dev <bridge> || echo []; ip -j route show` prints."""
    return f"{json.dumps([link] if link else [])}\n{json.dumps(routes)}\n"


def bridge_link(address: str | None = "192.168.56.1", up: bool = True) -> dict[str, Any]:
    addr_info = [{"family": "inet", "local": address, "prefixlen": 24}] if address else []
    flags = ["BROADCAST", "MULTICAST"] + (["UP", "LOWER_UP"] if up else [])
    return {"ifname": "foobar-br", "flags": flags, "addr_info": addr_info}


@pytest.mark.parametrize(
    ("link", "actions"),
    [
        pytest.param(
            None,
            [
                "run ip link add foobar-br type bridge",
                "run ip addr add 192.168.56.1/24 dev foobar-br",
                "run ip link set foobar-br up",
            ],
            id="missing",
        ),
        pytest.param(bridge_link(), [], id="present-up-with-address"),
        pytest.param(bridge_link(address=None), ["run ip addr replace 192.168.56.1/24 dev foobar-br"], id="no-address"),
        pytest.param(
            bridge_link(address="192.168.57.1"), ["run ip addr replace 192.168.56.1/24 dev foobar-br"], id="other-address"
        ),
        pytest.param(bridge_link(up=False), ["run ip link set foobar-br up"], id="down"),
    ],
)
def test_bridge(layout: LxcLayout, link: dict[str, Any] | None, actions: list[str]) -> None:
    """A missing bridge is created; a present one is only repaired where it differs."""
    assert kinds(Bridge(layout).decide(probed(bridge_output(link)))) == actions


def test_bridge_own_route_is_not_an_overlap(layout: LxcLayout) -> None:
    """The lab's own route on its bridge is expected, not a conflict."""
    routes = [*ROUTES, {"dst": "192.168.56.0/24", "dev": "foobar-br"}]
    assert not Bridge(layout).decide(probed(bridge_output(bridge_link(), routes))).changes


@pytest.mark.parametrize("dst", ["192.168.56.0/24", "192.168.0.0/16", "192.168.56.128/25"])
def test_bridge_refuses_an_overlapping_route(layout: LxcLayout, dst: str) -> None:
    """A route into the lab's subnet on another device stops the build, pointing at lab.subnet."""
    routes = [*ROUTES, {"dst": dst, "dev": "wlan0"}]
    with pytest.raises(StepError, match=r"overlaps .* on wlan0: choose another lab\.subnet in .*lab\.yml"):
        Bridge(layout).decide(probed(bridge_output(None, routes)))


def test_bridge_refuses_garbage(layout: LxcLayout) -> None:
    """Output that is not `ip -j` JSON is a StepError."""
    with pytest.raises(StepError, match="unexpected output of `ip -j`"):
        Bridge(layout).decide(probed("Object \"addr\" is unknown\n"))


# --- NAT -------------------------------------------------------------------------------------------

NFT_TABLE = """\
table ip foobar_fab_foobar {
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 192.168.56.0/24 ip daddr != { 192.168.56.0/24, 224.0.0.0/4 } masquerade
\t}
}
"""

FORGET_FLOWS = "run conntrack -D -s 192.168.56.0/24 -d 224.0.0.0/4 >/dev/null 2>&1 || true"


@pytest.mark.parametrize(
    ("stdout", "actions"),
    [
        pytest.param(f"1\n{NFT_TABLE}", [], id="rule-and-forwarding"),
        pytest.param(
            "1\n",
            ["put STATE/nat.nft", "run nft -c -f STATE/nat.nft && nft -f STATE/nat.nft", FORGET_FLOWS],
            id="no-table",
        ),
        pytest.param(
            f"0\n{NFT_TABLE}",
            ["run sysctl -qw net.ipv4.ip_forward=1 && touch STATE/ip_forward.was-off"],
            id="forwarding-off",
        ),
        pytest.param(
            f"1\n{NFT_TABLE.replace('192.168.56.0/24', '10.0.0.0/24')}",
            ["put STATE/nat.nft", "run nft -c -f STATE/nat.nft && nft -f STATE/nat.nft", FORGET_FLOWS],
            id="rule-for-another-subnet",
        ),
    ],
)
def test_nat(layout: LxcLayout, stdout: str, actions: list[str]) -> None:
    """The ruleset is written to the state folder, checked with `nft -c`, then loaded; forwarding is noted."""
    plan = Nat(layout).decide(probed(stdout))
    assert kinds(plan) == [a.replace("STATE", str(layout.state_dir)) for a in actions]


def test_nat_ruleset_replaces_only_the_labs_table(layout: LxcLayout) -> None:
    """The ruleset declares, deletes and redefines the lab's own table: reloading it is idempotent."""
    ruleset = Nat(layout).ruleset()
    assert ruleset.count("delete table ip foobar_fab_foobar\n") == 1
    assert ruleset.index("table ip foobar_fab_foobar\n") < ruleset.index("delete table")
    assert "ip saddr 192.168.56.0/24 ip daddr != { 192.168.56.0/24, 224.0.0.0/4 } masquerade" in ruleset  # multicast keeps its source


# --- resolver --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("stdout", "pids"),
    [
        pytest.param("4242\n", ["4242"], id="ours"),
        pytest.param("", [], id="none"),
        pytest.param("4242\n4343\n", ["4242", "4343"], id="two"),
    ],
)
def test_resolver_and_resolver_gone(layout: LxcLayout, stdout: str, pids: list[str]) -> None:
    """Resolver starts dnsmasq unless the lab's runs; ResolverGone kills what runs, by pid."""
    up, gone = Resolver(layout).decide(probed(stdout)), ResolverGone(layout).decide(probed(stdout))
    assert up.changes is not bool(pids)
    assert gone.changes is bool(pids)
    if not pids:
        assert kinds(up)[0].startswith(f"run rm -f {layout.dnsmasq_pid} && dnsmasq ")
        assert "--interface=foobar-br " in kinds(up)[0]
    else:
        assert kinds(gone) == [f"run kill {' '.join(pids)} && rm -f {layout.dnsmasq_pid}"]


def test_resolver_probe_finds_the_labs_dnsmasq_by_its_command_line(layout: LxcLayout) -> None:
    """Anchored on dnsmasq, so neither the probing shell nor another lab's dnsmasq matches."""
    assert Resolver(layout).probe() == "pgrep -f -- '^dnsmasq .*--interface=foobar-br ' || true"


# --- container -------------------------------------------------------------------------------------


@pytest.fixture
def container(layout: LxcLayout, lab: Lab) -> Container:
    return Container(layout, lab.node("web-01"), PUBLIC_KEY)


def container_output(container: Container, **changes: str) -> str:
    """The Container probe's output for a container as wanted, with some parts changed."""
    parts = {
        "lab": "foobar\n",
        "base": STAMP,
        "config": container.layout.container_config(container.node),
        "key": PUBLIC_KEY,
        "made_from": "",
        "stamp": STAMP,
        "exists": "exists\n",
        "image_present": "",
        **changes,
    }
    return sections(*parts.values())


def test_container_missing_is_created(container: Container) -> None:
    """No folder: the container is created, ending with its own SSH host key."""
    stdout = container_output(container, lab="", base="", config="", key="", exists="")
    plan = container.decide(probed(stdout))
    d = container.layout.container_dir("web-01")
    assert kinds(plan)[1:3] == [f"put {d / 'config'}", f"put {d / 'foobar_fab.lab'}"]
    assert f"put {d / 'delta0/root/.ssh/authorized_keys'}" in kinds(plan)
    assert kinds(plan)[-1].startswith("run ssh-keygen")
    assert "destroy" not in " ".join(kinds(plan))


@pytest.mark.parametrize("marker", ["", "otherlab\n"])
def test_container_made_elsewhere_is_refused(container: Container, marker: str) -> None:
    """A folder without this lab's marker is never touched."""
    with pytest.raises(StepError, match="was not made by this lab"):
        container.decide(probed(container_output(container, lab=marker)))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"base": "fedcba987654 debootstrap bookworm\n"}, id="other-base-stamp"),
        pytest.param({"key": "ssh-ed25519 AAAAotherkey someone\n"}, id="other-key"),
    ],
)
def test_container_replaced(container: Container, changes: dict[str, str]) -> None:
    """Another base image or another key: destroy, then create anew."""
    plan = container.decide(probed(container_output(container, **changes)))
    assert kinds(plan)[0] == f"run {container.layout.lxc('destroy', 'web-01', '-f')}"
    assert kinds(plan)[1:] == kinds(container.decide(probed(container_output(container, exists=""))))


def test_container_config_differs(container: Container) -> None:
    """A changed config is applied after stopping the container (not by replacing it)."""
    plan = container.decide(probed(container_output(container, config="lxc.arch = linux64\n")))
    layout = container.layout
    assert kinds(plan) == [
        f"run {layout.lxc('stop', 'web-01', '-t', '10')} || true",
        f"put {layout.container_dir('web-01') / 'config'}",
    ]
    assert plan.actions[1] == Put(str(layout.container_dir("web-01") / "config"), layout.container_config(container.node))


def test_container_as_wanted_is_ok(container: Container) -> None:
    """Marker, base stamp, key and config all match: nothing to do."""
    assert not container.decide(probed(container_output(container))).changes


def test_container_probe_output_must_have_eight_parts(container: Container) -> None:
    """Truncated probe output is a StepError, not a wrong decision."""
    with pytest.raises(StepError, match="wanted 8"):
        container.decide(probed("foobar\n"))


def test_container_starts_from_its_role_image(layout: LxcLayout, lab: Lab) -> None:
    """A new container's root is its role image's layer over the base image, and it records which image."""
    image = layout.images_dir / "bookworm-amd64-c90d6b83-e6e94b7e" / "20261127T103420Z-7b6e"
    container = Container(layout, lab.node("web-01"), PUBLIC_KEY, image)
    plan = container.decide(probed(container_output(container, lab="", base="", config="", key="", exists="")))
    assert plan.reason == "foobar-web-01 created from role image bookworm-amd64-c90d6b83-e6e94b7e/20261127T103420Z-7b6e"
    d = layout.container_dir("web-01")
    assert Put(str(d / "foobar_fab.image"), f"{image}\n") in plan.actions
    config = next(a for a in plan.actions if isinstance(a, Put) and a.path == str(d / "config"))
    assert f"lxc.rootfs.path = overlay:{image}/layer:{layout.base_rootfs}:{layout.delta('web-01')}" in config.content
    assert f"lxc.mount.entry = {layout.package_cache} var/cache/foobar_fab/packages none bind,create=dir 0 0" in config.content


def test_container_keeps_the_image_it_was_made_from(layout: LxcLayout, lab: Lab) -> None:
    """A container made from an older image keeps it (and its config) while that image is on the host."""
    old = layout.images_dir / "bookworm-amd64-c90d6b83-e6e94b7e" / "20261120T080000Z-0001"
    container = Container(layout, lab.node("web-01"), PUBLIC_KEY, old.with_name("20261127T103420Z-7b6e"))
    made = {"made_from": f"{old}\n", "config": layout.container_config(lab.node("web-01"), old)}
    assert not container.decide(probed(container_output(container, **made, image_present="present\n"))).changes
    plan = container.decide(probed(container_output(container, **made)))
    assert plan.reason == f"foobar-web-01 replaced: its role image {old} is gone"
    assert kinds(plan)[0] == f"run {layout.lxc('destroy', 'web-01', '-f')}"


# --- running, known_hosts, container gone ---------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "actions"),
    [
        pytest.param(probed("RUNNING\n"), [], id="running"),
        pytest.param(probed("STOPPED\n"), ["start"], id="stopped"),
    ],
)
def test_running(layout: LxcLayout, outcome: Outcome, actions: list[str]) -> None:
    """A stopped container is started with lxc-start, once the host forgot its address's neighbour entry (another
    node of an earlier design may have had the address, with another MAC address)."""
    plan = Running(layout, "lb-01").decide(outcome)
    forget = [f"run ip neigh del 192.168.56.10 dev {layout.bridge} 2>/dev/null || true"] if actions else []
    assert kinds(plan) == forget + [f"run {layout.lxc(a, 'lb-01')}" for a in actions]


def test_running_undefined_container_is_an_error(layout: LxcLayout) -> None:
    """lxc-info failing means the container does not exist: a StepError with lxc-info's message."""
    outcome = probed("", exited=1, stderr="foobar-lb-01 doesn't exist")
    with pytest.raises(StepError, match="foobar-lb-01 is not defined: .*doesn't exist"):
        Running(layout, "lb-01").decide(outcome)


def known_hosts_lines(lab: Lab) -> str:
    return "".join(f"{n.address} ssh-ed25519 AAAAkey{n.name}\n" for n in lab.nodes)


@pytest.mark.parametrize(
    ("present", "changes"),
    [
        pytest.param("WANTED", False, id="same"),
        pytest.param("", True, id="absent"),
        pytest.param("192.168.56.10 ssh-ed25519 AAAAstale\n", True, id="stale"),
    ],
)
def test_known_hosts(layout: LxcLayout, lab: Lab, present: str, changes: bool) -> None:
    """known_hosts is rewritten (0600) with every node's current host key when it differs."""
    wanted = known_hosts_lines(lab)
    plan = KnownHosts(layout, lab.nodes).decide(probed(sections(wanted, present.replace("WANTED", wanted))))
    assert plan.actions == ((Put(str(layout.known_hosts), wanted, "0600"),) if changes else ())


def test_known_hosts_node_without_host_key(layout: LxcLayout, lab: Lab) -> None:
    """A node whose host key cannot be read stops the step."""
    wanted = known_hosts_lines(lab).replace("ssh-ed25519 AAAAkeyweb-02", "")
    with pytest.raises(StepError, match="a node has no SSH host key"):
        KnownHosts(layout, lab.nodes).decide(probed(sections(wanted, "")))


@pytest.mark.parametrize(
    ("stdout", "destroyed"),
    [
        pytest.param(sections("foobar\n", "exists\n"), True, id="ours"),
        pytest.param(sections("", ""), False, id="absent"),
        pytest.param(sections("otherlab\n", "exists\n"), False, id="foreign"),
        pytest.param(sections("", "exists\n"), False, id="no-marker"),
    ],
)
def test_container_gone(layout: LxcLayout, stdout: str, destroyed: bool) -> None:
    """Only a container marked as this lab's is destroyed; anything else is left alone."""
    plan = ContainerGone(layout, "web-02").decide(probed(stdout))
    assert kinds(plan) == ([f"run {layout.lxc('destroy', 'web-02', '-f')}"] if destroyed else [])


# --- inotify instances -----------------------------------------------------------------------------


def test_inotify_instances_are_raised_once_and_the_hosts_value_kept(layout: LxcLayout) -> None:
    from foobar_fab.providers.lxc.network import InotifyLimit, InotifyLimitGone

    assert not InotifyLimit(layout).decide(probed("1024\n")).changes
    plan = InotifyLimit(layout).decide(probed("128\n"))
    assert kinds(plan)[-1] == "run sysctl -qw fs.inotify.max_user_instances=1024"
    assert "echo 128 >" in kinds(plan)[0]
    other_lab = "@@\ntable ip foobar_fab_foobar\ntable ip foobar_fab_other\n"
    assert not InotifyLimitGone(layout).decide(probed("128\n" + other_lab)).changes  # another lab still runs
    plan = InotifyLimitGone(layout).decide(probed("128\n@@\ntable ip foobar_fab_foobar\n"))
    assert kinds(plan)[0].startswith("run sysctl -qw fs.inotify.max_user_instances=128")
