"""Decisions of the reusable steps, from probe output captured by hand: config files, services, absent
paths, the application's system user and its releases."""

from __future__ import annotations

import pytest

from foobar_fab.resources.files import Absent, ConfigFile
from foobar_fab.resources.services import Service
from foobar_fab.roles.app import Release, SystemUser, release_id
from foobar_fab.steps import Plan, Put, Run

from .fakes import probed

CONTENT = "server_name www.foobar.com;\n"
FILE = ConfigFile("/etc/nginx/conf.d/foobar.conf", CONTENT, validate="nginx -t -c {path}", on_change=("systemctl reload nginx",))


def commands(plan: Plan) -> list[str]:
    return [a.command for a in plan.actions if isinstance(a, Run)]


@pytest.mark.parametrize(
    ("stdout", "reason", "actions"),
    [
        pytest.param(f"{FILE.checksum}  /etc/nginx/conf.d/foobar.conf\n644 root:root\n", "up to date", 0, id="same"),
        pytest.param("", "written", 4, id="missing"),
        pytest.param("0123abcd  /etc/nginx/conf.d/foobar.conf\n644 root:root\n", "updated", 4, id="changed-content"),
        pytest.param(f"{FILE.checksum}  /etc/nginx/conf.d/foobar.conf\n600 root:root\n", "mode set to 0644 root:root", 1, id="changed-mode"),
        pytest.param(f"{FILE.checksum}  /etc/nginx/conf.d/foobar.conf\n644 www-data:root\n", "mode set to", 1, id="changed-owner"),
    ],
)
def test_config_file(stdout: str, reason: str, actions: int) -> None:
    plan = FILE.decide(probed(stdout))
    assert plan.reason.startswith(reason) and len(plan.actions) == actions


def test_a_changed_config_file_is_staged_validated_moved_then_reloaded() -> None:
    plan = FILE.decide(probed(""))
    staged = plan.actions[0]
    assert isinstance(staged, Put) and staged.path == "/var/tmp/foobar_fab/etc_nginx_conf.d_foobar.conf"
    validate, move, reload = commands(plan)
    assert validate == f"nginx -t -c {staged.path}"
    assert move.endswith(f"mv {staged.path} /etc/nginx/conf.d/foobar.conf")
    assert reload == "systemctl reload nginx"


def test_a_mode_change_alone_does_not_reload() -> None:
    plan = FILE.decide(probed(f"{FILE.checksum}  x\n600 root:root\n"))
    assert commands(plan) == ["chown root:root /etc/nginx/conf.d/foobar.conf && chmod 0644 /etc/nginx/conf.d/foobar.conf"]


@pytest.mark.parametrize(
    ("stdout", "changes"),
    [("enabled\nactive\n", False), ("disabled\nactive\n", True), ("enabled\ninactive\n", True), ("", True), ("enabled\nfailed\n", True)],
)
def test_service(stdout: str, changes: bool) -> None:
    plan = Service("nginx").decide(probed(stdout))
    assert plan.changes is changes
    if changes:
        assert commands(plan) == ["systemctl enable --now nginx"]


@pytest.mark.parametrize(("stdout", "changes"), [("present\n", True), ("", False)])
def test_absent(stdout: str, changes: bool) -> None:
    plan = Absent("/etc/nginx/sites-enabled/default", on_change=("systemctl reload nginx",)).decide(probed(stdout))
    assert plan.changes is changes
    if changes:
        assert commands(plan) == ["rm -rf /etc/nginx/sites-enabled/default", "systemctl reload nginx"]


@pytest.mark.parametrize(("stdout", "changes"), [("998\n", False), ("", True)])
def test_system_user(stdout: str, changes: bool) -> None:
    plan = SystemUser("foobar", "/srv/foobar").decide(probed(stdout))
    assert plan.changes is changes
    if changes:
        assert commands(plan)[0].startswith("useradd --system --user-group --home-dir /srv/foobar --shell /usr/sbin/nologin foobar")


FILES = {"foobar_app/app.py": "print('hello')\n", "foobar_app/schema.sql": "CREATE TABLE t (id INT);\n"}


@pytest.mark.parametrize(
    ("stdout", "changes"),
    [
        pytest.param(f"1.0 {release_id(FILES)}\n", False, id="live"),
        pytest.param("", True, id="never-deployed"),
        pytest.param("1.0 0123456789ab\n", True, id="other-release"),
        pytest.param(f"0.9 {release_id(FILES)}\n", True, id="other-version"),
    ],
)
def test_release(stdout: str, changes: bool) -> None:
    plan = Release(FILES, "1.0").decide(probed(stdout))
    assert plan.changes is changes


def test_a_release_is_uploaded_switched_atomically_pruned_and_restarted() -> None:
    plan = Release(FILES, "1.0").decide(probed(""))
    folder = f"/srv/foobar/releases/{release_id(FILES)}"
    assert [a.path for a in plan.actions if isinstance(a, Put)] == [f"{folder}/{n}" for n in FILES] + [f"{folder}/RELEASE"]
    switch, prune, restart = commands(plan)
    assert switch == f"ln -sfn {folder} /srv/foobar/current.new && mv -T /srv/foobar/current.new /srv/foobar/current"
    assert "tail -n +4" in prune
    assert "try-restart foobar-app" in restart


def test_release_id_follows_the_content() -> None:
    assert release_id(FILES) == release_id(dict(reversed(list(FILES.items()))))
    assert release_id(FILES) != release_id({**FILES, "foobar_app/app.py": "print('bye')\n"})
