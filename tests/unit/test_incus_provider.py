"""The incus provider's decisions from captured `incus query` answers: network, images, instances."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foobar_fab import providers
from foobar_fab.console import Console
from foobar_fab.providers import ProviderError
from foobar_fab.providers.incus import IncusLayout, IncusProvider
from foobar_fab.providers.incus.images import IncusImage, OldIncusImages
from foobar_fab.providers.incus.instances import Instance, InstanceGone, Network, NetworkGone, Running
from foobar_fab.providers.incus.layout import LAB_KEY
from foobar_fab.providers.lxc.layout import LxcLayout, mac_address
from foobar_fab.settings import Settings
from foobar_fab.steps import Plan, Run, StepError
from foobar_fab.topology import Lab

from .fakes import probed

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlabkey foobar_fab-foobar\n"
STAMP = "0123456789ab debootstrap bookworm, recipe bookworm-amd64-c90d6b83\n"


@pytest.fixture
def incus(layout: LxcLayout) -> IncusLayout:
    return IncusLayout(layout)


def commands(plan: Plan) -> list[str]:
    return [a.command if isinstance(a, Run) else f"put {a.path}" for a in plan.actions]


def answer(*parts: object) -> str:
    """Probe output: each part as `incus query` prints it (JSON, or nothing for None), '@@' between parts."""
    return "@@\n".join("" if p is None else (p if isinstance(p, str) else json.dumps(p) + "\n") for p in parts)


# --- names ---------------------------------------------------------------------------------------


def test_names_follow_the_lxc_providers_so_sniff_and_scan_find_the_bridge(incus: IncusLayout) -> None:
    assert incus.network == "foobar-br"
    assert incus.instance("web-01") == "foobar-web-01"


def test_an_image_alias_is_one_per_source_and_base_image(incus: IncusLayout, tmp_path: Path) -> None:
    role = tmp_path / "images/recipe/20261204T000000Z-abcd"
    other = tmp_path / "images/recipe/20261205T000000Z-ef01"
    alias = incus.image_alias(STAMP, role)
    assert alias == incus.image_alias(STAMP, role) and alias.startswith("foobar-")
    assert len({alias, incus.image_alias(STAMP, other), incus.image_alias("fedcba987654 other\n", role), incus.image_alias(STAMP, None)}) == 4


def test_the_static_address_is_set_by_liblxc(incus: IncusLayout, lab: Lab) -> None:
    assert incus.raw_lxc(lab.node("web-01")) == (
        "lxc.net.0.ipv4.address = 192.168.56.11/24 192.168.56.255\nlxc.net.0.ipv4.gateway = 192.168.56.1"
    )


# --- network -------------------------------------------------------------------------------------

OURS: dict[str, Any] = {"managed": True, "config": {"ipv4.address": "192.168.56.1/24", "ipv4.nat": "false", "ipv4.dhcp": "false", "ipv6.address": "none", LAB_KEY: "foobar"}}


def test_a_missing_network_is_created_with_the_labs_subnet_no_dhcp_and_no_nat_of_incus(incus: IncusLayout) -> None:
    plan = Network(incus).decide(probed(answer(None, "")))
    assert commands(plan) == [
        "incus network create foobar-br ipv4.address=192.168.56.1/24 ipv4.nat=false ipv4.dhcp=false ipv6.address=none user.foobar_fab.lab=foobar"
    ]


def test_a_bridge_incus_does_not_manage_is_refused_with_what_to_do(incus: IncusLayout) -> None:
    with pytest.raises(StepError, match="does not manage.*invoke destroy --provider lxc"):
        Network(incus).decide(probed(answer(None, "present\n")))
    unmanaged = {"managed": False, "config": {}}
    with pytest.raises(StepError, match="does not manage"):
        Network(incus).decide(probed(answer(unmanaged, "present\n")))


def test_another_labs_network_is_refused(incus: IncusLayout) -> None:
    theirs = {**OURS, "config": {**OURS["config"], LAB_KEY: "other"}}
    with pytest.raises(StepError, match="not made by lab foobar"):
        Network(incus).decide(probed(answer(theirs, "present\n")))


def test_the_network_is_kept_as_it_is_or_set_back(incus: IncusLayout) -> None:
    assert not Network(incus).decide(probed(answer(OURS, "present\n"))).changes
    moved = {**OURS, "config": {**OURS["config"], "ipv4.address": "10.0.0.1/24"}}
    assert commands(Network(incus).decide(probed(answer(moved, "present\n")))) == ["incus network set foobar-br ipv4.address=192.168.56.1/24"]


@pytest.mark.parametrize(
    "found, deleted",
    [(None, False), ({"managed": False}, False), ({**OURS, "config": {LAB_KEY: "other"}}, False), (OURS, True)],
    ids=["absent", "unmanaged", "other-lab", "ours"],
)
def test_destroy_deletes_only_the_labs_own_network(incus: IncusLayout, found: dict[str, Any] | None, deleted: bool) -> None:
    plan = NetworkGone(incus).decide(probed(answer(found)))
    assert commands(plan) == (["incus network delete foobar-br"] if deleted else [])


# --- images --------------------------------------------------------------------------------------


def test_an_imported_image_is_not_packed_again(incus: IncusLayout) -> None:
    found = {"name": "foobar-0123", "target": "667d83bf466780e6404ff55f9e973f58"}
    plan = IncusImage(incus, "foobar-0123", None).decide(probed(answer(found)))
    assert not plan.changes and "667d83bf4667" in plan.reason


def test_a_role_image_is_read_through_a_read_only_overlay_over_the_base(incus: IncusLayout, tmp_path: Path) -> None:
    role = tmp_path / "cache/images/recipe/gen"
    plan = IncusImage(incus, "foobar-0123", role).decide(probed(""))
    done = commands(plan)
    pack = next(c for c in done if "zstd" in c)
    assert f"mount -t overlay overlay -o ro,lowerdir={role}/layer:{incus.files.base_rootfs} " in pack
    assert "umount" in pack and "set -o pipefail" in pack
    assert done[-1].startswith("incus image import ") and f"--alias foobar-0123; s=$?; rm -rf {incus.packing / 'foobar-0123.partial'};" in done[-1]
    assert done[0].startswith(f"{{ umount {incus.packing / 'foobar-0123.partial/rootfs'} 2>/dev/null")


def test_the_base_image_alone_is_packed_from_its_rootfs(incus: IncusLayout) -> None:
    pack = next(c for c in commands(IncusImage(incus, "foobar-0123", None).decide(probed(""))) if "zstd" in c)
    assert "mount" not in pack and f"-C {incus.files.base_rootfs} -cf - ." in pack


def test_only_unused_images_whose_source_is_gone_are_removed(incus: IncusLayout, tmp_path: Path) -> None:
    kept_source, gone_source = tmp_path / "images/r/new", tmp_path / "images/r/old"

    def image(fingerprint: str, source: Path | None, alias: str | None = None) -> dict[str, Any]:
        properties = {"user.foobar_fab.source": str(source)} if source else {"description": "someone else's"}
        return {"fingerprint": fingerprint, "properties": properties, "aliases": [{"name": alias or incus.image_alias(STAMP, source)}]}

    images = [
        image("aaa", kept_source),  # its role image is on the host
        image("bbb", gone_source),  # its role image was tidied away, and nobody uses it: removed
        image("ccc", gone_source, "foobar-inuse"),  # gone too, but an instance was made from it
        image("ddd", None, "debian/12"),  # not the lab's
        image("eee", None, incus.image_alias("fedcba987654 older base\n", None)),  # the base image alone, of an older base
        image("fff", incus.files.base_rootfs, incus.image_alias(STAMP, None)),  # the base image alone, current
    ]
    images[5]["properties"] = {"user.foobar_fab.source": str(incus.files.base_rootfs)}
    images[4]["properties"] = {"user.foobar_fab.source": str(incus.files.base_rootfs)}
    instances = [{"name": "x", "config": {"volatile.base_image": "ccc"}}]
    plan = OldIncusImages(incus).decide(probed(answer(images, instances, STAMP, f"{kept_source}\n")))
    assert commands(plan) == ["incus image delete bbb eee"]
    assert not OldIncusImages(incus).decide(probed(answer([images[0]], [], STAMP, f"{kept_source}\n"))).changes


# --- instances -----------------------------------------------------------------------------------


def instance(incus: IncusLayout, lab: Lab, **config: str) -> dict[str, Any]:
    node = lab.node("web-01")
    return {
        "name": "foobar-web-01",
        "config": {LAB_KEY: "foobar", "raw.lxc": incus.raw_lxc(node), **config},
        "devices": {"eth0": {"type": "nic", "network": "foobar-br"}},
    }


def test_a_missing_instance_is_made_stopped_then_given_its_identity(incus: IncusLayout, lab: Lab) -> None:
    plan = Instance(incus, lab.node("web-01"), KEY, "foobar-0123").decide(probed(answer(None, "")))
    done = commands(plan)
    made = next(i for i, c in enumerate(done) if c.startswith("incus init "))
    assert done[made].startswith("incus init foobar-0123 foobar-web-01 --no-profiles --storage default --config user.foobar_fab.lab=foobar")
    assert f"hwaddr={mac_address('foobar', 'web-01')}" in done[made + 1]
    assert "shift=true" in done[made + 2]
    push = done[made + 3]
    for path in ("/etc/machine-id", "/etc/hostname", "/root/.ssh/authorized_keys", "/etc/ssh/ssh_host_ed25519_key"):
        assert f"foobar-web-01{path}" in push
    assert not any(c.startswith("incus start") for c in done)  # Running starts it, after the identity is in


def test_without_an_image_an_instance_is_not_made(incus: IncusLayout, lab: Lab) -> None:
    with pytest.raises(StepError, match="no image"):
        Instance(incus, lab.node("web-01"), KEY).decide(probed(answer(None, "")))


def test_an_instance_of_another_lab_is_refused(incus: IncusLayout, lab: Lab) -> None:
    theirs = instance(incus, lab, **{LAB_KEY: "other"})
    with pytest.raises(StepError, match="not made by this lab"):
        Instance(incus, lab.node("web-01"), KEY, "foobar-0123").decide(probed(answer(theirs, KEY)))


def test_an_instance_without_the_labs_key_is_replaced(incus: IncusLayout, lab: Lab) -> None:
    plan = Instance(incus, lab.node("web-01"), KEY, "foobar-0123").decide(probed(answer(instance(incus, lab), "ssh-ed25519 AAAAother x\n")))
    assert commands(plan)[0] == "incus delete --force foobar-web-01" and "replaced" in plan.reason


def test_an_instance_as_wanted_is_kept_and_a_moved_one_is_readdressed(incus: IncusLayout, lab: Lab) -> None:
    step = Instance(incus, lab.node("web-01"), KEY, "foobar-0123")
    assert not step.decide(probed(answer(instance(incus, lab), KEY))).changes
    moved = instance(incus, lab, **{"raw.lxc": "lxc.net.0.ipv4.address = 10.0.0.11/24"})
    done = commands(step.decide(probed(answer(moved, KEY))))
    assert done[0].startswith("incus stop --force foobar-web-01") and "raw.lxc=lxc.net.0.ipv4.address = 192.168.56.11/24" in done[1]


@pytest.mark.parametrize("status, started", [("Running", False), ("Stopped", True)])
def test_a_stopped_instance_is_started(incus: IncusLayout, status: str, started: bool) -> None:
    plan = Running(incus, "web-01").decide(probed(answer({"status": status})))
    assert commands(plan) == (["incus start foobar-web-01"] if started else [])


def test_a_missing_instance_cannot_be_started(incus: IncusLayout) -> None:
    with pytest.raises(StepError, match="does not exist"):
        Running(incus, "web-01").decide(probed(""))


def test_destroy_deletes_only_the_labs_own_instances(incus: IncusLayout, lab: Lab) -> None:
    assert not InstanceGone(incus, "web-01").decide(probed("")).changes
    assert not InstanceGone(incus, "web-01").decide(probed(answer(instance(incus, lab, **{LAB_KEY: "other"})))).changes
    assert commands(InstanceGone(incus, "web-01").decide(probed(answer(instance(incus, lab))))) == ["incus delete --force foobar-web-01"]


# --- the provider --------------------------------------------------------------------------------


def test_status_reads_the_labs_instances_and_names_the_missing(incus: IncusLayout, lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = IncusProvider(incus, Console())
    found = [{"name": "foobar-web-01", "status": "Running"}, {"name": "foobar-lb-01", "status": "Stopped"}]
    monkeypatch.setattr(provider, "_instances", lambda: found)
    assert {r.name: r.state for r in provider.status()} == {"lb-01": "stopped", "web-01": "running", "web-02": "missing"}


def test_the_provider_setting_chooses_incus(lab: Lab, tmp_path: Path) -> None:
    settings = Settings.from_mapping({"provider": "incus", "state_dir": str(tmp_path), "cache_dir": str(tmp_path / "cache")})
    made_lab, provider = providers.make(settings, lab, Console())
    assert isinstance(provider, IncusProvider) and made_lab is lab and provider.bridge == "foobar-br"


def test_preflight_says_how_to_set_incus_up(incus: IncusLayout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda command: None if command == "incus" else f"/usr/bin/{command}")
    with pytest.raises(ProviderError, match=r"missing host packages incus-base: run `sh src/foobar_fab/host/bootstrap.sh incus`"):
        IncusProvider(incus, Console()).preflight()
