"""The config templates in configs/ render for the default design, strictly, each with only the values it uses."""

from __future__ import annotations

import dataclasses
import re

import pytest

from foobar_fab import design
from foobar_fab.roles import ROLES, RoleInputs, app, database, loadbalancer, roles_of, waves, web
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.templates import TemplateError, render

LAB = design.load(PROJECT_ROOT / "configs/lab.yml")
SECRETS = {"db_app": "app-secret", "db_replication": "repl-secret"}


def inputs(node: str) -> RoleInputs:
    return RoleInputs(LAB, LAB.node(node), SECRETS)


@pytest.mark.parametrize("node", [n.name for n in LAB.nodes])
def test_every_role_of_every_node_renders(node: str) -> None:
    """Building a node's steps renders all its templates; none may fail or be empty."""
    for role in roles_of(LAB.node(node)):
        assert role.steps(inputs(node))


def test_haproxy_balances_round_robin_over_both_web_nodes() -> None:
    config = loadbalancer.config(inputs("lb-01"))
    assert "balance roundrobin" in config
    assert "server web-01 192.168.56.11:80 check" in config
    assert "server web-02 192.168.56.12:80 check" in config
    assert "bind *:8404" in config


def milliseconds(text: str, pattern: str) -> int:
    """The one value in milliseconds a rendered line gives (`pattern` ends where the number starts)."""
    (found,) = re.findall(r"^\s*" + pattern + r"(\d+)ms", text, re.MULTILINE)
    return int(found)


@pytest.mark.parametrize("semi_sync_ms", [1000, 5000])
@pytest.mark.parametrize("profile", ["tuned", "untuned"])
def test_each_tier_waits_for_a_write_longer_than_the_one_below(semi_sync_ms: int, profile: str) -> None:
    """A semi-sync primary may hold a commit for its timeout: the application waits longer for the write, Nginx
    longer for the application, HAProxy longer still (writes only: reads keep the profile's timeout), so no
    tier reports a write failed that the primary then stores."""
    lab = dataclasses.replace(LAB, replication="semi-sync", semi_sync_timeout_ms=semi_sync_ms)
    options = dataclasses.replace(RoleInputs(lab, lab.node("lb-01"), SECRETS).options, haproxy_profile=profile)
    haproxy = loadbalancer.config(RoleInputs(lab, lab.node("lb-01"), SECRETS, options=options))
    application = int(re.findall(r"FOOBAR_WRITE_TIMEOUT_MS=(\d+)", app.environment(RoleInputs(lab, lab.node("web-01"), SECRETS)))[0])
    nginx = milliseconds(web.config(RoleInputs(lab, lab.node("web-01"), SECRETS)), r"proxy_read_timeout ")
    balancer = milliseconds(haproxy, r"http-request set-timeout server ")
    assert semi_sync_ms < application < nginx and application + 500 < balancer, (application, nginx, balancer)
    assert "unless METH_GET" in haproxy.split("set-timeout server", 1)[1].splitlines()[0]
    assert milliseconds(haproxy, r"timeout server ") == loadbalancer.HAPROXY_PROFILES[profile]["timeout_server_ms"]


def test_nginx_names_the_node_and_the_site_and_proxies_to_its_own_application() -> None:
    site = web.config(inputs("web-02"))
    assert "add_header X-Served-By web-02 always;" in site
    assert "server_name www.foobar.com foobar.com 192.168.56.12 web-02;" in site
    assert "server 127.0.0.1:8000;" in site


def test_mariadb_primary_and_replica_share_one_config_read_only_at_start() -> None:
    """A promotion restarts nothing: the two configs differ only by the node's address and id, and both start
    read-only (the lab makes the primary writable)."""
    primary, replica = database.config(inputs("web-01")), database.config(inputs("web-02"))
    assert "bind-address      = 192.168.56.11" in primary and "read-only         = ON" in primary
    assert "log-slave-updates = ON" in replica
    # crash-safe on a real power cut: a VM forced off lost its binary log's tail with MariaDB's sync-binlog = 0
    assert "sync-binlog       = 1" in primary and "innodb-flush-log-at-trx-commit = 1" in primary
    assert primary.replace("192.168.56.11", "X").replace("server-id         = 14347", "") == replica.replace(
        "192.168.56.12", "X").replace("server-id         = 14348", "").replace("web-02", "web-01")


def test_app_env_points_writes_at_the_primary_and_reads_at_home() -> None:
    env = app.environment(inputs("web-02"))
    assert "FOOBAR_PRIMARY_FILE=/etc/foobar/primary" in env and "WRITE_DB_HOST" not in env
    assert "FOOBAR_READ_FILE=/etc/foobar/read-database" in env and "READ_DB_HOST" not in env
    assert "FOOBAR_DB_ROLE=auto" in env
    files = {getattr(s, "path", ""): getattr(s, "content", "") for s in app.steps(inputs("web-02"))}
    assert files["/etc/foobar/primary"] == "192.168.56.11\n" and files["/etc/foobar/read-database"] == "192.168.56.12\n"
    assert "FOOBAR_DB_PASSWORD=app-secret" in env


def test_app_listens_on_loopback_when_only_its_own_web_server_uses_it() -> None:
    assert "--bind 127.0.0.1:8000" in app.unit(inputs("web-01"))


@pytest.mark.parametrize(("render_config", "node"), [(loadbalancer.config, "lb-01"), (web.config, "web-01"), (app.unit, "web-01")])
def test_templates_that_need_no_password_get_none(render_config: object, node: str) -> None:
    """HAProxy's and Nginx's configs (and the unit file) are rendered without any secret."""
    assert callable(render_config)
    text = render_config(inputs(node))
    assert not any(secret in text for secret in SECRETS.values())


def test_missing_value_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match=r"^configs/haproxy/haproxy.cfg.j2: 'haproxy' is undefined: add it"):
        render("haproxy/haproxy.cfg.j2", node=LAB.node("lb-01"), domain="www.foobar.com")


def test_every_role_is_in_exactly_one_wave_base_first_firewall_last() -> None:
    ordered = [role.name for wave in waves() for role in wave]
    assert sorted(ordered) == sorted(ROLES)
    assert ordered[0] == "base" and ordered[-1] == "firewall"
    assert ordered.index("db_primary") < ordered.index("db_replica")
