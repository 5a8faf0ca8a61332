"""Fixtures for lab tests: a real LXC lab of the tests' own (name fftest, its own subnet and state).

A user's lab (configs/lab.yml, .lab/) is never touched. The lab is built once per test session and
destroyed at the end. FOOBAR_TEST_LAB, FOOBAR_TEST_SUBNET and FOOBAR_TEST_CACHE_DIR put the tests
that do not name the default addresses on another lab and cache (e.g. to run them beside the suite).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from foobar_fab import build as building
from foobar_fab import design, topology
from foobar_fab.build import BuildResult
from foobar_fab.console import Console
from foobar_fab.live import LiveLab, live
from foobar_fab.session import LabSession, open_session
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.steps import Runner

TEST_LAB = os.environ.get("FOOBAR_TEST_LAB", "fftest")
TEST_SUBNET = os.environ.get("FOOBAR_TEST_SUBNET", "10.181.57.0/24")
TEST_CACHE_DIR = os.environ.get("FOOBAR_TEST_CACHE_DIR")  # default: the setting's (shared by every lab on the host)


#: Lab test files share one lab and run in this order: built, used, hardened and back, destroyed.
ORDER = (
    "test_absent_lab", "test_lifecycle", "test_site", "test_web", "test_site_drills", "test_failover", "test_durability", "test_load_balancer", "test_secured",
    "test_exercises", "test_build_it", "test_ssh_provider", "test_teardown", "test_vagrant_provider", "test_vagrant_libvirt", "test_incus_provider", "test_scaled",
    "test_mixed_designs",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Lab tests run in ORDER (unit tests keep theirs); they need root and Linux: skipped, saying why, elsewhere."""

    def rank(item: pytest.Item) -> int:
        stem = item.path.stem
        return ORDER.index(stem) if "tests/lab/" in str(item.path) and stem in ORDER else -1

    items.sort(key=rank)
    if os.name == "posix" and os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="lab tests need root on a Linux host (they build LXC containers)")
    for item in items:
        if "tests/lab/" in str(item.path):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the tests' lab: a lab.yml relocated to its own name and subnet, state in a temp folder."""
    folder = tmp_path_factory.mktemp("lab")
    default = design.load(PROJECT_ROOT / "configs/lab.yml")
    lab_file = folder / "lab.yml"
    lab_file.write_text(topology.to_yaml(topology.relocate(default, TEST_LAB, TEST_SUBNET)))
    return Settings.from_mapping({"lab_file": str(lab_file), "state_dir": str(folder / "state"), "cache_dir": TEST_CACHE_DIR})


def quiet_session(settings: Settings, any_design: bool = False) -> tuple[LabSession, io.StringIO]:
    """A session whose output is kept for the test to read (`any_design`: to build or destroy whatever design the lab runs)."""
    output = io.StringIO()
    return open_session(settings, Console(stream=output), any_design), output


@contextmanager
def live_lab(settings: Settings) -> Iterator[tuple[LiveLab, io.StringIO]]:
    """The tests' lab confirmed up, with its observers, and what its console printed."""
    session, output = quiet_session(settings)
    with live(session) as lab:
        yield lab, output


def destroy(settings: Settings) -> None:
    session, output = quiet_session(settings, any_design=True)
    assert session.provider.destroy(Runner(session.console)), output.getvalue()


@dataclass(frozen=True)
class FirstBuild:
    """The tests' lab right after its first build, with what that build said."""

    settings: Settings
    result: BuildResult
    output: str


def build(settings: Settings) -> tuple[BuildResult, str]:
    session, output = quiet_session(settings, any_design=True)
    session.provider.preflight()
    return building.build(session), output.getvalue()


@pytest.fixture(scope="session")
def built_lab(lab_settings: Settings) -> Iterator[FirstBuild]:
    """The tests' lab, destroyed first (a clean start), built from nothing, destroyed at the end."""
    destroy(lab_settings)
    result, output = build(lab_settings)
    yield FirstBuild(lab_settings, result, output)
    destroy(lab_settings)
