"""The load balancer in a class's hands: the config's choices, HAProxy's runtime state read and put back by the build."""

from __future__ import annotations

from pathlib import Path

import pytest

from foobar_app.app import DELAY_FILE
from foobar_fab import design
from foobar_fab.constants import APP_DELAY_FILE
from foobar_fab.observe.haproxy import describe_rows, parse_servers_state, runtime_command
from foobar_fab.reconfiguration import parse_options
from foobar_fab.roles import BuildOptions, RoleInputs, loadbalancer
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.steps import Run, StepError

from .fakes import probed

LAB = design.load(PROJECT_ROOT / "configs/lab.yml")
HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state "
    "bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
)


def state(web01: tuple[int, int], web02: tuple[int, int] = (0, 1)) -> str:
    """`show servers state web` as HAProxy 2.6 prints it: (admin state, weight in use) of each server, configured weight 1."""
    return HEADER + "".join(
        f"3 web {i} web-0{i} 192.168.56.1{i} 2 {admin} {weight} 1 556 15 3 3 6 0 0 0 - 80 - 0 0 - - 0\n"
        for i, (admin, weight) in enumerate((web01, web02), start=1)
    )


def config(options: BuildOptions) -> str:
    return loadbalancer.config(RoleInputs(LAB, LAB.node("lb-01"), {}, options=options))


def test_the_runtime_state_is_read_per_server() -> None:
    servers = parse_servers_state(state((8, 1), (1, 3)))
    assert [(s.name, s.admin_state, s.weight, s.configured_weight) for s in servers] == [("web-01", "drain", 1, 1), ("web-02", "maint", 3, 1)]


@pytest.mark.parametrize(
    ("probe", "reason", "commands"),
    [
        pytest.param(state((0, 1)), "as the config says", [], id="as-configured"),
        pytest.param(state((8, 1)), "put back as the config says: web-01 drain -> ready", ["set server web/web-01 state ready"], id="drained"),
        pytest.param(
            state((1, 1), (0, 3)),
            "put back as the config says: web-01 maint -> ready, web-02 weight 3 -> 1",
            ["set server web/web-01 state ready", "set server web/web-02 weight 1"],
            id="maint-and-weight",
        ),
    ],
)
def test_a_build_puts_back_what_the_runtime_api_changed(probe: str, reason: str, commands: list[str]) -> None:
    plan = loadbalancer.RuntimeState().decide(probed(probe))
    assert plan.reason.startswith(reason)
    assert [a.command for a in plan.actions if isinstance(a, Run)] == [runtime_command(c) for c in commands]


def test_a_runtime_api_that_lists_nothing_fails_the_step() -> None:
    with pytest.raises(StepError, match="listed no server"):
        loadbalancer.RuntimeState().decide(probed(""))


def test_the_runtime_state_is_put_back_after_haproxy_runs() -> None:
    steps = loadbalancer.steps(RoleInputs(LAB, LAB.node("lb-01"), {}))
    assert [type(s).__name__ for s in steps[-2:]] == ["Service", "RuntimeState"]
    assert "socat" in loadbalancer.PACKAGES


def test_the_design_renders_round_robin_active_active_as_before() -> None:
    rendered = config(BuildOptions())
    assert "# Active-active: both web nodes take traffic in turn" in rendered
    assert "    balance roundrobin\n" in rendered and " backup" not in rendered
    assert parse_options(rendered) == BuildOptions(balance="roundrobin")


@pytest.mark.parametrize("balance", loadbalancer.ALGORITHMS)
def test_each_algorithm_renders_and_reads_back(balance: str) -> None:
    rendered = config(BuildOptions(balance=balance))
    assert f"    balance {balance}\n" in rendered
    assert parse_options(rendered) == BuildOptions(balance=balance)


def test_active_passive_makes_the_backup_wait() -> None:
    rendered = config(BuildOptions(balance="leastconn", backups=("web-02",)))
    assert "# Active-passive: web-02 is a backup: traffic only when every other web node is down." in rendered
    assert "    server web-01 192.168.56.11:80 check\n    server web-02 192.168.56.12:80 check backup\n" in rendered
    assert parse_options(rendered) == BuildOptions(balance="leastconn", backups=("web-02",))


def test_a_watch_line_says_weights_and_backups() -> None:
    rows = {"web-01": {"status": "UP", "weight": "3", "bck": "0"}, "web-02": {"status": "DRAIN", "weight": "1", "bck": "1"}}
    assert describe_rows(rows) == "web-01 UP weight 3, web-02 DRAIN backup"


def test_the_slow_server_drill_and_the_application_agree_on_the_switch() -> None:
    assert Path(APP_DELAY_FILE) == DELAY_FILE
