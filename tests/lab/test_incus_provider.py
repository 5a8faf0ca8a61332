"""`--provider incus` for real: the seed design on Incus system containers made from the lab's own images.

A lab of its own (fftinc on 10.181.68.0/24; FOOBAR_TEST_INCUS_LAB and FOOBAR_TEST_INCUS_SUBNET move
it): built from images, checked, built again with nothing to change, a power cut drill, destroyed
with nothing of it left in Incus or the firewall. `make test` installs Incus; outside CI, a host
without it skips these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foobar_fab import checks, design, topology
from foobar_fab.drills.catalog import by_name
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.settings import PROJECT_ROOT, Settings

from .conftest import build, destroy, live_lab, quiet_session

LAB = os.environ.get("FOOBAR_TEST_INCUS_LAB", "fftinc")
SUBNET = os.environ.get("FOOBAR_TEST_INCUS_SUBNET", "10.181.68.0/24")

pytestmark = pytest.mark.skipif(
    shutil.which("incus") is None and not os.environ.get("CI"),
    reason="Incus is not installed (make test installs it: sh src/foobar_fab/host/bootstrap.sh incus)",
)


def incus_json(*words: str) -> object:
    proc = subprocess.run(["incus", *words, "--format", "json"], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def incus_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("incus")
    lab = topology.relocate(design.load(PROJECT_ROOT / "configs/lab.yml"), LAB, SUBNET)
    (folder / "lab.yml").write_text(topology.to_yaml(lab))
    settings = Settings.from_mapping({"lab_file": str(folder / "lab.yml"), "state_dir": str(folder / "state"), "provider": "incus"})
    destroy(settings)
    yield settings
    destroy(settings)


def test_build_from_images_passes_the_checks_and_a_second_changes_nothing(incus_lab: Settings) -> None:
    started = time.monotonic()
    result, output = build(incus_lab)
    first = time.monotonic() - started
    assert result.ok, output
    assert "incus init foobar-" in output and f"{LAB}-web-01 --no-profiles" in output
    session, _ = quiet_session(incus_lab)
    assert {s.name: s.state for s in session.provider.status()} == {"lb-01": "running", "web-01": "running", "web-02": "running"}
    instances = {i["name"]: i for i in incus_json("list")}  # type: ignore[union-attr]
    made_from = instances[f"{LAB}-web-01"]["config"]["volatile.base_image"]
    assert made_from == instances[f"{LAB}-web-02"]["config"]["volatile.base_image"]
    image = next(i for i in incus_json("image", "list") if i["fingerprint"] == made_from)  # type: ignore[union-attr]
    assert image["properties"]["user.foobar_fab.source"].startswith(f"{incus_lab.cache_dir}/images/"), image["properties"]
    with live_lab(incus_lab) as (lab, said):
        found = checks.check(lab)
    assert found and all(c.ok for c in found), said.getvalue()
    started = time.monotonic()
    again, output = build(incus_lab)
    assert again.ok and again.changed == 0, output
    print(f"incus build: first {first:.1f} s, again {time.monotonic() - started:.1f} s")


def test_kill_web1_is_a_power_cut_with_the_designs_verdicts(incus_lab: Settings) -> None:
    with live_lab(incus_lab) as (lab, output):
        report = run_drill(lab, by_name("kill-web1"), DrillOptions(20.0, 5.0))
    assert f"incus stop --force {LAB}-web-01" in output.getvalue()
    assert report["recovered"] and report["acknowledged_writes_lost"] == 0, output.getvalue()
    assert report["totals"]["reads"]["failed"] == 0
    assert all(e["ok"] for e in report["expectations"]), [e for e in report["expectations"] if not e["ok"]]


def test_destroy_leaves_no_instance_network_or_firewall_rule(incus_lab: Settings) -> None:
    destroy(incus_lab)
    session, _ = quiet_session(incus_lab)
    assert {s.state for s in session.provider.status()} == {"missing"}
    assert not [i for i in incus_json("list") if str(i["name"]).startswith(f"{LAB}-")]  # type: ignore[union-attr]
    assert f"{LAB}-br" not in {n["name"] for n in incus_json("network", "list")}  # type: ignore[union-attr]
    assert not Path(f"/sys/class/net/{LAB}-br").exists()
    rules = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True).stdout
    assert f"{LAB}-br" not in rules and SUBNET not in rules
    assert not incus_lab.state_dir(LAB).exists()
