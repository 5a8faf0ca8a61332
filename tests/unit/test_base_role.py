"""The base role's decisions, from probe output captured by hand (no node needed)."""

from __future__ import annotations

import pytest

from foobar_fab.resources.packages import CACHE_HELPER, image_marker
from foobar_fab.roles import RoleInputs, base, inputs_for
from foobar_fab.roles.base import (
    APT_GET,
    TOUCH_UPDATE_STAMP,
    AptLists,
    Hostname,
    HostsFile,
    NoTable,
    Packages,
    Timezone,
    hosts_file,
)
from foobar_fab.steps import SECTION, Plan, Put, Run, StepError
from foobar_fab.topology import Lab

from .fakes import probed

NOW = 1_700_000_000
INSTALL = f"{APT_GET} install -y --no-install-recommends"
PACKAGES = ("curl", "python3", "tzdata")


def put_paths(plan: Plan) -> list[str]:
    return [a.path for a in plan.actions if isinstance(a, Put)]


def commands(plan: Plan) -> list[str]:
    return [a.command for a in plan.actions if isinstance(a, Run)]


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        pytest.param("lb-01\nlb-01\n", None, id="already-set"),
        pytest.param("lb-01\n", "set to lb-01 (/etc/hostname empty)", id="etc-hostname-empty"),
        pytest.param("localhost\nlocalhost\n", "set to lb-01 (was localhost)", id="different"),
        pytest.param("lb-01\nweb-01\n", "set to lb-01 (/etc/hostname web-01)", id="etc-hostname-differs"),
    ],
)
def test_hostname(stdout: str, reason: str | None) -> None:
    """Nothing to do when both names match; otherwise write /etc/hostname and set the running name."""
    plan = Hostname("lb-01").decide(probed(stdout))
    if reason is None:
        assert not plan.changes
        return
    assert plan.reason == reason
    assert plan.actions == (Put("/etc/hostname", "lb-01\n"), Run("hostname lb-01"))


def test_hosts_file_lists_every_node_and_the_site_on_the_balancer(lab: Lab) -> None:
    """Every node has its line; www.foobar.com (and foobar.com) resolve to lb-01 only."""
    rows = [line.split() for line in hosts_file(lab).splitlines() if line and not line.startswith("#")]
    by_address = {row[0]: row[1:] for row in rows}
    assert by_address["127.0.0.1"] == ["localhost"]
    assert by_address["192.168.56.10"] == ["lb-01", "www.foobar.com", "foobar.com"]
    assert by_address["192.168.56.11"] == ["web-01"]
    assert by_address["192.168.56.12"] == ["web-02"]
    assert sum("www.foobar.com" in names for names in by_address.values()) == 1


@pytest.mark.parametrize(
    ("current", "changes"),
    [
        pytest.param("WANTED", False, id="same"),
        pytest.param("127.0.0.1\tlocalhost\n", True, id="different"),
        pytest.param("WANTED\n", True, id="extra-blank-line"),
        pytest.param("", True, id="missing"),
    ],
)
def test_hosts_file_step(lab: Lab, current: str, changes: bool) -> None:
    """/etc/hosts is rewritten as a whole whenever its content differs at all."""
    wanted = hosts_file(lab)
    plan = HostsFile(wanted).decide(probed(current.replace("WANTED", wanted)))
    assert plan.actions == ((Put("/etc/hosts", wanted),) if changes else ())


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        pytest.param(f"{NOW}\n{NOW - 60}\n", None, id="fresh"),
        pytest.param(f"{NOW}\n{NOW - 3600}\n", None, id="exactly-an-hour"),
        pytest.param(f"{NOW}\n{NOW - 3601}\n", "refreshed (60 min old)", id="older-than-an-hour"),
        pytest.param(f"{NOW}\n0\n", "refreshed (never refreshed)", id="no-stamp"),
    ],
)
def test_apt_lists(stdout: str, reason: str | None) -> None:
    """Lists refreshed within the hour are kept; others are refreshed, and the refresh is stamped.

    The stamp matters: apt dates the lists by the mirror's Last-Modified, so an update that finds
    nothing new leaves them looking old, and without a stamp every build would refresh again.
    """
    plan = AptLists().decide(probed(stdout))
    if reason is None:
        assert not plan.changes
        return
    assert plan.reason == reason
    assert commands(plan) == [f"{APT_GET} update && {TOUCH_UPDATE_STAMP}"]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        pytest.param("curl ii \npython3 ii \ntzdata ii \n", "not needed: every package is installed (lists refreshed 120 min ago)", id="all-installed"),
        pytest.param("curl ii \ntzdata ii \n", "refreshed (120 min old)", id="one-to-install"),
    ],
)
def test_apt_lists_are_refreshed_only_for_an_install(rows: str, reason: str) -> None:
    """Old lists on a node with nothing to install (one made from a role image) stay: no network needed."""
    plan = AptLists(PACKAGES).decide(probed(f"{NOW}\n{NOW - 7200}\n{SECTION}\n{rows}"))
    assert plan.reason == reason
    assert plan.changes is reason.startswith("refreshed")


@pytest.mark.parametrize("stdout", ["", "sh: date: not found\n", f"{NOW}\nyesterday\n"])
def test_apt_lists_refuses_garbage(stdout: str) -> None:
    """Output that is not two timestamps is a StepError quoting it, not a guess."""
    with pytest.raises(StepError, match="unexpected probe output"):
        AptLists().decide(probed(stdout))


def packages_output(rows: str, cache: bool = False, marker: str = "") -> str:
    """What the Packages probe prints: dpkg-query's rows, whether the host's cache is mounted, the image marker."""
    return f"{rows}{SECTION}\n{'cache' if cache else ''}\n{SECTION}\n{marker}"


@pytest.mark.parametrize(
    ("rows", "missing"),
    [
        pytest.param("curl ii \npython3 ii \ntzdata ii \n", [], id="all-installed"),
        pytest.param("curl:amd64 ii \npython3 ii \ntzdata ii \n", [], id="arch-qualified"),
        pytest.param("curl ii \ntzdata ii \n", ["python3"], id="one-absent"),
        pytest.param("curl rc \npython3 ii \ntzdata un \n", ["curl", "tzdata"], id="removed-and-unknown"),
        pytest.param("", list(PACKAGES), id="none"),
    ],
)
def test_packages_installs_exactly_the_missing_ones(rows: str, missing: list[str]) -> None:
    """Only 'ii' counts as installed; the others are installed in one apt-get call, in the wanted order."""
    plan = Packages(PACKAGES).decide(probed(packages_output(rows)))
    assert commands(plan) == ([f"{INSTALL} {' '.join(missing)}"] if missing else [])


def test_packages_come_from_the_hosts_cache_where_it_is_mounted() -> None:
    """With the host's cache in the node, apt gets the cached files linked first and keeps what it fetched."""
    plan = Packages(PACKAGES).decide(probed(packages_output("curl ii \n", cache=True)))
    assert put_paths(plan) == [CACHE_HELPER]
    assert commands(plan) == [
        f"{CACHE_HELPER} seed install --no-install-recommends python3 tzdata",
        f"{INSTALL} python3 tzdata",
        f"{CACHE_HELPER} keep",
    ]
    assert [a.reports for a in plan.actions if isinstance(a, Run)] == [True, False, True]


@pytest.mark.parametrize(
    ("marker", "origin"),
    [
        pytest.param(image_marker("5c902147 of 2026-11-27 10:34 UTC", ("curl", "python3", "tzdata", "haproxy")), " (from role image 5c902147 of 2026-11-27 10:34 UTC)", id="image-holds-them"),
        pytest.param(image_marker("5c902147 of 2026-11-27 10:34 UTC", ("curl",)), "", id="installed-after-the-image"),
        pytest.param("", "", id="no-image"),
    ],
)
def test_packages_say_where_they_came_from(marker: str, origin: str) -> None:
    """A node made from a role image says so, when the image holds every package of the step."""
    plan = Packages(PACKAGES).decide(probed(packages_output("curl ii \npython3 ii \ntzdata ii \n", marker=marker)))
    assert not plan.changes
    assert plan.reason == f"3 installed: curl, python3, tzdata{origin}"


@pytest.mark.parametrize(
    ("stdout", "reason"),
    [
        pytest.param("/usr/share/zoneinfo/Etc/UTC\nEtc/UTC\n", None, id="already-utc"),
        pytest.param("/usr/share/zoneinfo/Europe/Paris\nEurope/Paris\n", "Europe/Paris -> Etc/UTC", id="other-zone"),
        pytest.param("/usr/share/zoneinfo/Etc/UTC\n", "/usr/share/zoneinfo/Etc/UTC -> Etc/UTC", id="no-etc-timezone"),
        pytest.param("", "unset -> Etc/UTC", id="unset"),
    ],
)
def test_timezone(stdout: str, reason: str | None) -> None:
    """The zone is set by linking /etc/localtime and writing /etc/timezone."""
    plan = Timezone().decide(probed(stdout))
    if reason is None:
        assert not plan.changes
        return
    assert plan.reason == reason
    assert commands(plan) == ["ln -sfn /usr/share/zoneinfo/Etc/UTC /etc/localtime"]
    assert put_paths(plan) == ["/etc/timezone"]


def test_base_steps_in_order(lab: Lab) -> None:
    """The base role sets the node's own hostname first, then the clock, then clears what a drill may have left."""
    steps = base.steps(RoleInputs(lab, lab.node("web-02"), {}))
    assert [s.name for s in steps] == [
        "hostname", "/etc/hosts", "apt lists", "packages (every role's, one transaction)", "timezone", "no drill's cut link",
    ]
    assert steps[0] == Hostname("web-02")


def test_base_installs_the_packages_of_all_the_nodes_roles_at_once(lab: Lab) -> None:
    """web-01's base step installs MariaDB, Nginx and gunicorn too, in one apt transaction."""
    packages = next(s for s in base.steps(inputs_for(lab, lab.node("web-01"), {})) if isinstance(s, Packages))
    assert packages.packages[: len(base.PACKAGES)] == base.PACKAGES
    assert {"default-mysql-server", "nginx", "gunicorn", "python3-pymysql"} <= set(packages.packages)
    assert "haproxy" not in packages.packages


def test_a_drill_table_left_behind_is_deleted() -> None:
    """A partition drill's table that an abandoned restore left is deleted by the next build; none: nothing done."""
    step = NoTable("foobar_drill")
    assert not step.decide(probed("")).changes
    plan = step.decide(probed("present\n"))
    assert plan.reason == "deleted"
    assert commands(plan) == ["nft delete table inet foobar_drill"]
