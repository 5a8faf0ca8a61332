"""The libvirt path's pieces that need no libvirt: the lab's network, its MAC addresses, the box's recipe."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

from foobar_fab.console import Console
from foobar_fab.drills.traffic import EMULATED_RATE, RATE, drill_rate
from foobar_fab.executors import Outcome
from foobar_fab.providers.libvirt_host import LabNetwork, box_volume_name, network_xml, reservations, vm_mac
from foobar_fab.providers.lxc.layout import LxcLayout
from foobar_fab.providers.vagrant import VagrantProvider
from foobar_fab.providers.vm_box import setup_script
from foobar_fab.settings import PROJECT_ROOT


def test_each_node_has_a_reservation_and_dnsmasq_may_lease_them_all(layout: LxcLayout) -> None:
    xml = network_xml(layout)
    for node in layout.lab.nodes:
        assert f"<host mac='{vm_mac(layout.lab.name, node.name)}' name='{node.name}' ip='{node.address}'/>" in xml
    start, end = re.search(r"<range start='([\d.]+)' end='([\d.]+)'", xml).groups()  # type: ignore[union-attr]
    # libvirt lets dnsmasq lease no more addresses than the range holds: one address left two nodes without one
    assert int(end.split(".")[-1]) - int(start.split(".")[-1]) + 1 >= len(layout.lab.nodes)
    assert f"<bridge name='{layout.bridge}'" in xml and f"<ip address='{layout.lab.gateway}'" in xml


def test_the_network_is_left_alone_when_libvirt_shows_it_as_defined(layout: LxcLayout) -> None:
    shown = network_xml(layout).replace("'", '"').replace("<forward mode=\"nat\"/>", "<forward mode=\"nat\"><nat/></forward>\n<uuid>x</uuid>")
    step = LabNetwork(layout)
    assert not step.decide(Outcome("probe", 0, shown + "active: yes\n", "")).changes
    assert step.decide(Outcome("probe", 0, shown + "active: no\n", "")).changes
    moved = shown.replace(str(layout.lab.nodes[0].address), "10.9.9.9")
    assert reservations(moved) != reservations(shown) and step.decide(Outcome("probe", 0, moved + "active: yes\n", "")).changes


def test_the_vagrantfile_gives_each_machine_the_same_mac_address(layout: LxcLayout) -> None:
    ruby = PROJECT_ROOT / "Vagrantfile"
    body = re.search(r"^def vm_mac.*?^end$", ruby.read_text(), re.MULTILINE | re.DOTALL)
    assert body is not None
    script = f'require "digest"\n{body.group(0)}\nputs vm_mac("{layout.lab.name}", "web-01")\n'
    ran = subprocess.run(["ruby", "-e", script], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == vm_mac(layout.lab.name, "web-01")


def test_the_box_volume_is_named_as_vagrant_libvirt_looks_for_it(tmp_path: Path) -> None:
    image = tmp_path / "box.img"
    image.write_bytes(b"")
    mtime = int(image.stat().st_mtime)
    assert box_volume_name("foobar_fab/bookworm-libvirt", image) == f"foobar_fab-VAGRANTSLASH-bookworm-libvirt_vagrant_box_image_0_{mtime}_box.img"


def test_the_box_disables_only_what_its_optional_packages_enabled() -> None:
    script = setup_script(("curl", "nginx", "haproxy"), ("nginx", "haproxy")).splitlines()
    first = next(i for i, row in enumerate(script) if "install -y" in row)
    before = next(i for i, row in enumerate(script) if "enabled.before" in row and ">" in row)
    second = next(i for i, row in enumerate(script) if "install -y" in row and i > before)
    disable = next(i for i, row in enumerate(script) if "systemctl disable" in row)
    assert first < before < second < disable
    assert "curl" in script[first] and "nginx" not in script[first] and "nginx haproxy" in script[second]


def test_the_vms_domain_type_is_the_one_the_build_chose_and_drills_send_less_to_emulated_vms(layout: LxcLayout) -> None:
    provider = VagrantProvider(layout.lab, layout, "libvirt", Console(quiet=True))
    assert provider.driver == "kvm" and not provider.emulated()  # nothing built yet: libvirt's usual type
    layout.folder.make()
    layout.folder.vm_domain_type.write_text("qemu\n")
    assert provider.driver == "qemu" and provider.emulated()
    assert "FOOBAR_LIBVIRT_DRIVER=qemu" in provider.vagrant("up", "--no-provision", "web-01")  # a restart keeps the type
    assert not VagrantProvider(layout.lab, layout, "lxc", Console(quiet=True)).emulated()

    said: list[str] = []
    live = SimpleNamespace(session=SimpleNamespace(provider=provider), console=SimpleNamespace(note=lambda who, text: said.append(text)))
    assert drill_rate(None, live) == EMULATED_RATE and "CPU emulation" in said[0]  # type: ignore[arg-type]
    assert drill_rate(12.0, live) == 12.0 and len(said) == 1  # type: ignore[arg-type]
    layout.folder.vm_domain_type.write_text("kvm\n")
    assert drill_rate(None, live) == RATE and len(said) == 1  # type: ignore[arg-type]


def test_the_box_masks_the_housekeeping_that_held_the_cpu_at_each_boot() -> None:
    masked = next(row for row in setup_script(("curl",), ()).splitlines() if row.startswith("systemctl mask "))
    assert {"e2scrub_reap.service", "apt-daily.timer", "apt-daily-upgrade.timer"} <= set(masked.split()[2:])
