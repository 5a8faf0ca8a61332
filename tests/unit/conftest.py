"""Shared fixtures for unit tests: the default lab and an LXC layout in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from foobar_fab import design, topology
from foobar_fab.providers.lxc.layout import LxcLayout
from foobar_fab.settings import PROJECT_ROOT

DEFAULT_LAB_FILE = PROJECT_ROOT / "configs" / "lab.yml"


@pytest.fixture(scope="session")
def lab() -> topology.Lab:
    """The default topology, configs/lab.yml."""
    return design.load(DEFAULT_LAB_FILE)


@pytest.fixture
def layout(lab: topology.Lab, tmp_path: Path) -> LxcLayout:
    """An LXC layout of the default lab whose state, cache and lxcpath are temporary folders."""
    return LxcLayout(lab, tmp_path / "state", tmp_path / "cache", lxcpath=tmp_path / "lxc")
