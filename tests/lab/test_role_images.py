"""Role images and the host's package cache on real containers: nodes start from images that carry no
identity, a destroyed lab is built again with no network at all, `--fresh` installs on the nodes
from the package cache, and without anything cached a build with no network stops at once.

The rebuilds use a second lab of their own (FOOBAR_TEST_OFFLINE_LAB on FOOBAR_TEST_OFFLINE_SUBNET,
by default fftoff on 10.181.64.0/24) with the same design and cache as the tests' lab, so the
shared lab stays up. "No network" is a network namespace with nothing but loopback
(foobar_fab.no_network): neither the build nor the nodes can reach Debian's mirror or anything else.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foobar_fab import design, topology
from foobar_fab.benchmarks import invoke_command
from foobar_fab.no_network import without_network
from foobar_fab.providers.lxc.layout import IMAGE_MARKER, LxcLayout
from foobar_fab.roles import packages_of
from foobar_fab.settings import PROJECT_ROOT, Settings

from .conftest import FirstBuild, build, destroy

OFFLINE_LAB = os.environ.get("FOOBAR_TEST_OFFLINE_LAB", "fftoff")
OFFLINE_SUBNET = os.environ.get("FOOBAR_TEST_OFFLINE_SUBNET", "10.181.64.0/24")


def layout_of(settings: Settings) -> LxcLayout:
    lab = design.load(settings.lab_file)
    return LxcLayout.of(settings, lab)


def run(prefix: list[str], settings: Settings, *words: str) -> subprocess.CompletedProcess[str]:
    command, env = invoke_command(settings, *words)
    return subprocess.run(prefix + command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def second_lab(built_lab: FirstBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The tests' design on a lab of its own, with the tests' cache (its role images made by the first build)."""
    folder = tmp_path_factory.mktemp("second")
    lab = topology.relocate(design.load(built_lab.settings.lab_file), OFFLINE_LAB, OFFLINE_SUBNET)
    (folder / "lab.yml").write_text(topology.to_yaml(lab))
    settings = built_lab.settings.but(lab_file=folder / "lab.yml", state_root=folder / "state")
    destroy(settings)
    yield settings
    destroy(settings)


def test_nodes_start_from_role_images(built_lab: FirstBuild) -> None:
    """Each node was made from the role image of its package set, and its package step says so."""
    assert built_lab.result.ok, built_lab.output
    layout = layout_of(built_lab.settings)
    for node in layout.lab.nodes:
        assert f"container: {layout.container(node.name)} created from role image" in built_lab.output
        image = Path((layout.container_dir(node.name) / IMAGE_MARKER).read_text().strip())
        assert (image / "stamp").is_file()
        assert f"{image}/layer:{layout.base_rootfs}:" in (layout.container_dir(node.name) / "config").read_text()
    assert "role image for web-01, web-02:" in built_lab.output
    lb = layout.lab.node("lb-01")
    installed = len(packages_of(layout.lab, lb))
    assert f"lb-01    ok       packages (every role's, one transaction): {installed} installed" in built_lab.output
    assert "(from role image " in built_lab.output


def test_role_images_carry_no_node_identity(built_lab: FirstBuild) -> None:
    """No SSH host key, machine-id, hostname or hosts file of a node is in an image's layer."""
    layout = layout_of(built_lab.settings)
    images = {Path((layout.container_dir(n.name) / IMAGE_MARKER).read_text().strip()) for n in layout.lab.nodes}
    assert len(images) == 2  # lb-01's package set, and the web nodes' one
    for image in images:
        layer = image / "layer"
        assert not list(layer.glob("etc/ssh/ssh_host_*"))
        assert not (layer / "etc/machine-id").exists() or (layer / "etc/machine-id").read_text() == ""
        for name in ("etc/hostname", "etc/hosts", "root/.ssh/authorized_keys"):
            assert not (layer / name).exists(), name


def test_rebuild_with_no_network_at_all(second_lab: Settings) -> None:
    """Built once with the network (by the first build), destroyed, then built again where nothing is reachable."""
    with without_network(f"{OFFLINE_LAB}-nonet") as prefix:
        try:
            started = time.monotonic()
            built = run(prefix, second_lab, "build", "--quiet")
            seconds = time.monotonic() - started
            assert built.returncode == 0, built.stdout[-4000:] + built.stderr
            assert "nothing to change" not in built.stdout and "failed=0" in built.stdout
            assert "apt lists: not needed: every package is installed" in built.stdout
            assert seconds < 60, f"offline rebuild took {seconds:.1f} s"
            mirror = run(prefix, second_lab, "ssh", "web-01", "--command", "getent hosts deb.debian.org || echo unresolved")
            assert mirror.stdout.strip().endswith("unresolved"), mirror.stdout
        finally:
            gone = run(prefix, second_lab, "destroy", "--quiet", "--yes")
    assert gone.returncode == 0, gone.stdout[-2000:] + gone.stderr


def test_fresh_build_installs_on_the_nodes_from_the_package_cache(second_lab: Settings) -> None:
    """--fresh ignores the images: every node installs its packages, their files from the host's cache."""
    result, output = build(second_lab.but(fresh=True))
    try:
        assert result.ok, output
        assert "created as an overlay clone of the base image" in output
        assert "packages (every role's, one transaction): installed " in output
        assert "from the host's cache" in output
    finally:
        destroy(second_lab)


def test_no_network_and_nothing_cached_stops_at_once(second_lab: Settings, tmp_path: Path) -> None:
    """With an empty cache there is nothing to build from: one line says so, within seconds."""
    empty = second_lab.but(cache_dir=tmp_path / "cache")
    with without_network(f"{OFFLINE_LAB}-nonet") as prefix:
        started = time.monotonic()
        built = run(prefix, empty, "build", "--quiet")
        seconds = time.monotonic() - started
        run(prefix, empty, "destroy", "--quiet", "--yes")
    assert built.returncode != 0
    assert seconds < 15, f"took {seconds:.1f} s"
    assert "base image: no base image is cached in" in built.stdout
    assert "cannot be reached from this host" in built.stderr
