"""`--provider ssh`: the tests' lab nodes treated as existing servers, reached through an inventory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from foobar_fab.settings import Settings
from foobar_fab.steps import Runner

from .conftest import FirstBuild, build, quiet_session
from .test_lifecycle import on_node


def inventory(folder: Path, key: Path, **changes: dict[str, object]) -> Path:
    """An inventory of the tests' lab nodes, with some entries changed."""
    rows = ["nodes:"]
    for number, node in ((10, "lb-01"), (11, "web-01"), (12, "web-02")):
        entry: dict[str, object] = {"address": f"10.181.57.{number}", "user": "root", "key": str(key), **changes.get(node, {})}
        rows.append(f"  {node}: {{{', '.join(f'{k}: {v}' for k, v in entry.items())}}}")
    path = folder / "inventory.yml"
    path.write_text("\n".join(rows) + "\n")
    return path


def listening(port: int, not_on: int | None = None) -> str:
    """A shell command that waits (5 s at most) for sshd to listen on the port, and no longer on `not_on`: a reload
    re-executes it, and until it has, connections are refused."""
    gone = f" && ! ss -tlnH 'sport = :{not_on}' | grep -q ." if not_on else ""
    return f"for i in $(seq 50); do ss -tlnH 'sport = :{port}' | grep -q .{gone} && exit 0; sleep 0.1; done; exit 1"


def ssh_settings(built_lab: FirstBuild, path: Path) -> Settings:
    return built_lab.settings.but(provider="ssh", inventory=path)


def test_build_over_ssh_provisions_and_checks_existing_servers(built_lab: FirstBuild, tmp_path: Path) -> None:
    key = built_lab.settings.state_dir("fftest") / "id_ed25519"
    result, output = build(ssh_settings(built_lab, inventory(tmp_path, key)))
    assert result.ok, output
    assert "lb-01    ok       reachable: root@10.181.57.10:22" in output
    assert result.changed == 0, output  # the same nodes, already built: the roles find nothing to do


def test_power_cut_on_an_existing_server_is_a_firewall_table(built_lab: FirstBuild, tmp_path: Path) -> None:
    key = built_lab.settings.state_dir("fftest") / "id_ed25519"
    session, output = quiet_session(ssh_settings(built_lab, inventory(tmp_path, key)))
    session.provider.stop_hard("web-02")
    try:
        assert {s.name: s.state for s in session.provider.status()}["web-02"] == "isolated"
        assert "firewall table" in output.getvalue()
    finally:
        session.provider.start("web-02")
    assert {s.name: s.state for s in session.provider.status()}["web-02"] == "running"


def test_power_cut_keeps_the_ssh_port_the_inventory_names(built_lab: FirstBuild, tmp_path: Path) -> None:
    """A server whose SSH listens on 2222 stays reachable through its stand-in power cut, and comes back."""
    settings = built_lab.settings
    on_node(settings, "web-02", "printf 'Port 22\\nPort 2222\\n' > /etc/ssh/sshd_config.d/zz-test.conf && systemctl reload ssh && " + listening(2222))
    try:
        key = settings.state_dir("fftest") / "id_ed25519"
        session, _ = quiet_session(ssh_settings(built_lab, inventory(tmp_path, key, **{"web-02": {"port": 2222}})))
        session.provider.stop_hard("web-02")
        try:
            assert {s.name: s.state for s in session.provider.status()}["web-02"] == "isolated"
        finally:
            session.provider.start("web-02")
        assert {s.name: s.state for s in session.provider.status()}["web-02"] == "running"
    finally:
        on_node(settings, "web-02", "rm -f /etc/ssh/sshd_config.d/zz-test.conf && systemctl reload ssh && " + listening(22, not_on=2222))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lb-01": {"port": 2}}, "lb-01 (root@10.181.57.10:2): unreachable over SSH"),
        ({"web-01": {"key": "WRONG"}}, "web-01 (root@10.181.57.11:22): the key"),
        ({"web-02": {"user": "student", "sudo": "true"}}, "web-02 (student@10.181.57.12:22): student cannot use sudo"),
    ],
    ids=["unreachable", "wrong-key", "no-sudo"],
)
def test_each_bad_server_gets_a_clear_error(built_lab: FirstBuild, tmp_path: Path, change: dict[str, dict[str, object]], message: str) -> None:
    key = built_lab.settings.state_dir("fftest") / "id_ed25519"
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    for entry in change.values():
        if entry.get("key") == "WRONG":
            entry["key"] = str(wrong)
    student = "id -u student >/dev/null 2>&1 || useradd -m student; install -d -m 700 -o student ~student/.ssh; "
    student += "cp /root/.ssh/authorized_keys ~student/.ssh/ && chown student ~student/.ssh/authorized_keys"
    on_node(built_lab.settings, "web-02", student)
    session, _output = quiet_session(ssh_settings(built_lab, inventory(tmp_path, key, **change)))
    runner = Runner(session.console)
    assert not session.provider.up(runner, {})
    assert [f.who for f in runner.failures] == list(change)
    assert runner.failures[0].error.startswith(message), runner.failures[0].error
