"""The config templates in configs/ render for the default lab, strictly."""

from __future__ import annotations

import pytest

from foobar_fab import topology
from foobar_fab.roles import ROLES
from foobar_fab.roles.values import RoleInputs
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.templates import TemplateError, render

LAB = topology.load(PROJECT_ROOT / "configs/lab.yml")
SECRETS = {"db_app": "app-secret", "db_replication": "repl-secret"}


def inputs(node: str) -> RoleInputs:
    return RoleInputs(LAB, LAB.node(node), SECRETS)


@pytest.mark.parametrize("node", [n.name for n in LAB.nodes])
def test_every_role_of_every_node_renders(node: str) -> None:
    """Building a node's steps renders all its templates; none may fail or be empty."""
    for role in LAB.node(node).roles:
        assert ROLES[role](inputs(node))


def test_haproxy_balances_round_robin_over_both_web_nodes() -> None:
    config = render("haproxy/haproxy.cfg.j2", **inputs("lb-01").template_values())
    assert "balance roundrobin" in config
    assert "server web-01 192.168.56.11:80 check" in config
    assert "server web-02 192.168.56.12:80 check" in config
    assert "bind *:8404" in config


def test_nginx_names_the_node_and_the_site() -> None:
    site = render("nginx/foobar.conf.j2", **inputs("web-02").template_values())
    assert "add_header X-Served-By web-02 always;" in site
    assert "server_name www.foobar.com foobar.com 192.168.56.12 web-02;" in site


@pytest.mark.parametrize(("node", "read_only"), [("web-01", False), ("web-02", True)])
def test_mariadb_primary_and_replica(node: str, read_only: bool) -> None:
    config = render("mariadb/foobar.cnf.j2", **inputs(node).template_values())
    assert f"bind-address      = {LAB.node(node).address}" in config
    assert ("read-only         = ON" in config) is read_only


def test_app_env_points_writes_at_the_primary_and_reads_at_home() -> None:
    env = render("app/app.env.j2", **inputs("web-02").template_values())
    assert "FOOBAR_WRITE_DB_HOST=192.168.56.11" in env
    assert "FOOBAR_READ_DB_HOST=192.168.56.12" in env
    assert "FOOBAR_DB_PASSWORD=app-secret" in env


def test_missing_value_is_a_clear_error() -> None:
    values = inputs("lb-01").template_values()
    del values["stats_port"]
    with pytest.raises(TemplateError, match=r"^configs/haproxy/haproxy.cfg.j2: 'stats_port' is undefined"):
        render("haproxy/haproxy.cfg.j2", **values)


def test_every_role_lab_yml_may_name_has_steps_and_a_wave() -> None:
    from foobar_fab.roles import WAVES
    from foobar_fab.topology import KNOWN_ROLES

    assert set(ROLES) == set(KNOWN_ROLES)
    assert sorted(r for wave in WAVES for r in wave) == sorted(KNOWN_ROLES)
