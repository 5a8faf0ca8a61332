"""The embedded lab's life on real LXC containers: build, re-run, power cut, repair.

Lab test files run in name order on one lab: test_lifecycle, test_site, then test_teardown destroys it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from foobar_fab.executors import connect
from foobar_fab.settings import PROJECT_ROOT, Settings

from .conftest import TEST_LAB, FirstBuild, build, quiet_session

INVOKE = str(Path(sys.executable).with_name("invoke"))


def node_states(settings: Settings) -> dict[str, str]:
    session, _ = quiet_session(settings)
    return {row.name: row.state for row in session.provider.status()}


def on_node(settings: Settings, node: str, command: str) -> str:
    """Run a command on a node over Fabric, checking its host key against the lab's known_hosts."""
    session, _ = quiet_session(settings)
    connection = connect(session.provider.ssh_params(node))
    try:
        return connection.run(command, hide=True, in_stream=False).stdout.strip()
    finally:
        connection.close()


def test_build_from_nothing(built_lab: FirstBuild) -> None:
    assert built_lab.result.ok, built_lab.output
    assert built_lab.result.changed > 0
    assert "container: fftest-web-01 created" in built_lab.output
    assert node_states(built_lab.settings) == {"lb-01": "running", "web-01": "running", "web-02": "running"}
    key = built_lab.settings.state_dir(TEST_LAB) / "id_ed25519"
    assert oct(key.stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("node", ["lb-01", "web-01", "web-02"])
def test_node_answers_fabric_with_systemd_running(built_lab: FirstBuild, node: str) -> None:
    report = on_node(built_lab.settings, node, "hostname; systemctl is-system-running; cat /proc/1/comm; cat /etc/timezone")
    assert report.split() == [node, "running", "systemd", "Etc/UTC"]
    hosts = on_node(built_lab.settings, node, "getent hosts lb-01 web-01 web-02 www.foobar.com")
    assert "10.181.57.10    lb-01 www.foobar.com" in hosts
    assert "10.181.57.12    web-02" in hosts


def test_nodes_have_their_own_identity(built_lab: FirstBuild) -> None:
    ids = {on_node(built_lab.settings, n, "cat /etc/machine-id") for n in ("lb-01", "web-01", "web-02")}
    keys = {on_node(built_lab.settings, n, "cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2") for n in ("lb-01", "web-01", "web-02")}
    assert len(ids) == 3 and len(keys) == 3


def test_nodes_reach_debian_mirror_through_nat(built_lab: FirstBuild) -> None:
    assert on_node(built_lab.settings, "web-01", "getent hosts deb.debian.org >/dev/null && echo resolved") == "resolved"


def test_second_build_changes_nothing(built_lab: FirstBuild) -> None:
    result, output = build(built_lab.settings)
    assert result.ok, output
    assert result.changed == 0, output
    assert re.search(r"^web-01 : ok=\d+ changed=0 failed=0$", output, re.MULTILINE), output


def test_stale_apt_lists_are_refreshed_only_to_install(built_lab: FirstBuild) -> None:
    """Lists older than an hour stay while nothing is to be installed (no network needed); a package to
    install refreshes them once, and takes its files from the host's package cache."""
    stamp = "/var/lib/apt/periodic/update-success-stamp"
    on_node(built_lab.settings, "lb-01", f"touch -d '2 hours ago' {stamp}")
    result, output = build(built_lab.settings)
    assert result.ok and result.changed == 0 and "lb-01    ok       apt lists: not needed: every package is installed" in output, output
    on_node(built_lab.settings, "lb-01", f"DEBIAN_FRONTEND=noninteractive apt-get -q -y remove curl && touch -d '2 hours ago' {stamp}")
    result, output = build(built_lab.settings)
    assert result.ok and result.changed == 2, output
    assert "lb-01    changed  apt lists: refreshed" in output
    assert re.search(r"lb-01    changed  packages \(every role's, one transaction\): installed curl \(package files: \d+ from the host's cache", output), output
    result, output = build(built_lab.settings)
    assert result.ok and result.changed == 0, output


def test_hard_stop_and_start_through_the_provider(built_lab: FirstBuild) -> None:
    session, _ = quiet_session(built_lab.settings)
    session.provider.stop_hard("web-02")
    assert node_states(built_lab.settings)["web-02"] == "stopped"
    session.provider.start("web-02")
    assert node_states(built_lab.settings)["web-02"] == "running"
    assert on_node(built_lab.settings, "web-02", "systemctl is-system-running") == "running"


def test_build_repairs_a_node_left_stopped(built_lab: FirstBuild) -> None:
    session, _ = quiet_session(built_lab.settings)
    session.provider.stop_hard("lb-01")
    result, output = build(built_lab.settings)
    assert result.ok, output
    assert "lb-01    changed  running: started (was stopped)" in output
    assert node_states(built_lab.settings)["lb-01"] == "running"


def test_cli_build_and_status(built_lab: FirstBuild) -> None:
    settings = built_lab.settings
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(settings.state_root)}
    run = subprocess.run(
        [INVOKE, "build", "--quiet", "--lab-file", str(settings.lab_file)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "probe" not in run.stdout  # --quiet hides the commands
    assert "nothing to change" in run.stdout
    status = subprocess.run(
        [INVOKE, "status", "--json", "--lab-file", str(settings.lab_file)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    nodes = json.loads(status.stdout)["nodes"]
    assert [(n["name"], n["state"], n["address"]) for n in nodes] == [
        ("lb-01", "running", "10.181.57.10"),
        ("web-01", "running", "10.181.57.11"),
        ("web-02", "running", "10.181.57.12"),
    ]
