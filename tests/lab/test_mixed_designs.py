"""Designs that mix the tiers, each on a lab of its own: a web server without an application of its own
beside one with both (the design a class redesigning the seed may try), and an application server without
a web server beside one with both. Each is built once from the role images, checked, and destroyed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from foobar_fab import checks, design, topology
from foobar_fab.settings import PROJECT_ROOT, Settings

from .conftest import TEST_CACHE_DIR, build, destroy, live_lab

DESIGNS = PROJECT_ROOT / "tests/designs"
#: Each design's lab: name and subnet (FOOBAR_TEST_MIXED_* put them elsewhere, e.g. beside the suite).
LABS = {
    "mixed-web-alone": (os.environ.get("FOOBAR_TEST_MIXED_LAB", "fftmix"), os.environ.get("FOOBAR_TEST_MIXED_SUBNET", "10.181.66.0/24")),
    "mixed-app-alone": (os.environ.get("FOOBAR_TEST_MIXED2_LAB", "fftmix2"), os.environ.get("FOOBAR_TEST_MIXED2_SUBNET", "10.181.67.0/24")),
}


@pytest.mark.parametrize("name", LABS)
def test_a_mixed_design_builds_and_passes_every_check_it_expects(name: str, tmp_path: Path) -> None:
    lab_name, subnet = LABS[name]
    lab_file = tmp_path / f"{name}.yml"
    lab_file.write_text(topology.to_yaml(topology.relocate(design.load(DESIGNS / f"{name}.yml"), lab_name, subnet)))
    settings = Settings.from_mapping({"lab_file": str(lab_file), "state_dir": str(tmp_path / "state"), "cache_dir": TEST_CACHE_DIR})
    destroy(settings)
    try:
        result, output = build(settings)
        assert result.ok, [str(f) for f in result.failures] or output
        with live_lab(settings) as (lab, said):
            results = checks.check(lab)
        assert [(r.id, r.who) for r in results if not r.ok] == [], said.getvalue()
        assert sorted((r.id, r.who) for r in results) == sorted((check_id, who) for check_id, who, _ in checks.expected(lab.lab))
    finally:
        destroy(settings)
    assert not list(Path("/var/lib/lxc").glob(f"{lab_name}-*"))
