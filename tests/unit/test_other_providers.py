"""The vagrant and ssh providers' parsing and validation, from captured output and bad inventories."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from foobar_fab import design, inventory
from foobar_fab.inventory import InventoryError
from foobar_fab.providers.vagrant import parse_ssh_config, parse_status
from foobar_fab.settings import PROJECT_ROOT

SSH_CONFIG = """Host lb-01
  HostName 10.181.60.10
  User vagrant
  Port 22
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  PasswordAuthentication no
  IdentityFile /work/main/.lab/fbvag/vagrant/machines/lb-01/lxc/private_key
  IdentitiesOnly yes
  LogLevel FATAL

Host web-01
  HostName 127.0.0.1
  User vagrant
  Port 2222
  IdentityFile "/home/student/lab/.vagrant/machines/web-01/virtualbox/private_key"
"""

STATUS = """1764167000,lb-01,metadata,provider,lxc
1764167000,lb-01,provider-name,lxc
1764167000,lb-01,state,running
1764167000,lb-01,state-human-short,running
1764167000,web-01,state,poweroff
1764167000,web-02,state,not_created
1764167000,,ui,info,Current machine states:
"""


def test_ssh_config_of_every_machine() -> None:
    machines = parse_ssh_config(SSH_CONFIG)
    assert machines["lb-01"]["hostname"] == "10.181.60.10"
    assert machines["web-01"]["port"] == "2222"
    assert machines["web-01"]["identityfile"] == "/home/student/lab/.vagrant/machines/web-01/virtualbox/private_key"


def test_status_of_every_machine() -> None:
    assert parse_status(STATUS) == {"lb-01": "running", "web-01": "stopped", "web-02": "missing"}


GOOD = {"address": "192.168.56.10", "user": "admin", "key": "KEY"}


def write_inventory(tmp_path: Path, **changes: object) -> Path:
    key = tmp_path / "id"
    key.write_text("not really a key")
    rows = ["nodes:"]
    for node in ("lb-01", "web-01", "web-02"):
        entry = {**GOOD, "key": str(key), **changes.get(node, {})}  # type: ignore[dict-item]
        rows.append(f"  {node}: {{{', '.join(f'{k}: {v}' for k, v in entry.items() if v is not None)}}}")
    path = tmp_path / "inventory.yml"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"web-01": {"address": "web-01.example"}}, "nodes.web-01.address"),
        ({"web-02": {"user": None}}, "nodes.web-02.user"),
        ({"lb-01": {"key": "/nonexistent/key"}}, "nodes.lb-01.key"),
        ({"lb-01": {"port": 70000}}, "nodes.lb-01.port"),
        ({"web-02": {"sudo": "maybe"}}, "nodes.web-02.sudo"),
    ],
    ids=["address", "user", "key", "port", "sudo"],
)
def test_each_bad_inventory_entry_is_named(tmp_path: Path, changes: dict[str, dict[str, object]], field: str) -> None:
    path = write_inventory(tmp_path, **changes)
    with pytest.raises(InventoryError, match=rf"^{path}: {field}: "):
        inventory.load(path)


def test_a_node_missing_from_the_inventory_is_named(tmp_path: Path) -> None:
    path = write_inventory(tmp_path)
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("  web-02")) + "\n")
    lab = design.load(PROJECT_ROOT / "configs/lab.yml")
    with pytest.raises(InventoryError, match=r"nodes.web-02: missing"):
        inventory.load(path).apply(lab)


def test_inventory_addresses_replace_the_labs_and_sudo_defaults_on_for_others_than_root(tmp_path: Path) -> None:
    path = write_inventory(tmp_path, **{"web-02": {"address": "10.1.2.3", "user": "root"}})
    hosts = inventory.load(path)
    lab = hosts.apply(design.load(PROJECT_ROOT / "configs/lab.yml"))
    assert str(lab.node("web-02").address) == "10.1.2.3"
    assert str(lab.subnet) == "0.0.0.0/0" or all(n.address in lab.subnet for n in lab.nodes)
    assert hosts.hosts["web-01"].sudo and not hosts.hosts["web-02"].sudo


def test_a_missing_inventory_says_what_to_copy(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="inventory.example.yml"):
        inventory.load(tmp_path / "nope.yml")


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="Vagrant is not installed (make test installs it)")
@pytest.mark.parametrize("provider", ["virtualbox", "lxc"])
def test_vagrantfile_validates(provider: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "VAGRANT_DEFAULT_PROVIDER": provider, "VAGRANT_DOTFILE_PATH": str(tmp_path)}
    run = subprocess.run(["vagrant", "validate", "--ignore-provider"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.skipif(not Path("/usr/share/doc/vagrant-libvirt").is_dir(), reason="vagrant-libvirt is not installed (make test installs it)")
def test_vagrantfile_validates_with_libvirt_and_its_own_settings(tmp_path: Path) -> None:
    """The libvirt block with what `invoke build` gives it (the plugin checks its settings: no --ignore-provider)."""
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "VAGRANT_DEFAULT_PROVIDER": "libvirt", "VAGRANT_DOTFILE_PATH": str(tmp_path),
        "FOOBAR_LIBVIRT_BOX": "foobar_fab/bookworm-libvirt", "FOOBAR_LIBVIRT_DRIVER": "qemu",
    }
    run = subprocess.run(["vagrant", "validate"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
