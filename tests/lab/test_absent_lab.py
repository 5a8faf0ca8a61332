"""A lab that does not exist is never reached: every command that would reach it refuses first.

The lab's addresses have no route on this host, so packets to them would leave through the default
route, where those addresses belong to someone else. A counting nftables rule of the test's own
watches (and drops) anything sent to the absent lab's subnet while the commands run.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from foobar_fab import design, topology
from foobar_fab.settings import PROJECT_ROOT

from .test_lifecycle import INVOKE

LAB = "ffabsent"
SUBNET = "10.181.62.0/24"
TABLE = "foobar_fab_test_probe"


def sent_packets() -> int:
    listing = subprocess.run(["nft", "list", "table", "inet", TABLE], capture_output=True, text=True, check=True).stdout
    found = re.search(r"counter packets (\d+)", listing)
    assert found, listing
    return int(found.group(1))


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A design file for a lab that was never built, and a counter of packets sent to its subnet."""
    folder = tmp_path_factory.mktemp("absent")
    lab_file = folder / "lab.yml"
    lab_file.write_text(topology.to_yaml(topology.relocate(design.load(PROJECT_ROOT / "configs/lab.yml"), LAB, SUBNET)))
    rules = (
        f"add table inet {TABLE}; "
        f"add chain inet {TABLE} out {{ type filter hook output priority -5; policy accept; }}; "
        f"add rule inet {TABLE} out ip daddr {SUBNET} counter drop"
    )
    subprocess.run(["nft", rules], check=True)
    try:
        yield lab_file, folder / "state"
    finally:
        subprocess.run(["nft", "delete", "table", "inet", TABLE], check=True)


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["check", "--json"],
        ["watch", "--seconds", "3"],
        ["drill.kill-web1", "--duration", "3"],
        ["drill.all", "--duration", "3"],
        ["ssh", "web-01", "--command", "true"],
        ["bench.site", "--seconds", "1"],
        ["docs.capture", "--only", "drill.kill-lb"],
    ],
    ids=" ".join,
)
def test_refuses_before_its_first_connection(watched: tuple[Path, Path], command: list[str]) -> None:
    lab_file, state = watched
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(state)}
    run = subprocess.run(
        [INVOKE, *command, "--lab-file", str(lab_file)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr == f"error: lab {LAB} is not up (no bridge {LAB}-br): run `invoke build` first\n"
    assert sent_packets() == 0
    assert not state.exists()  # read-only commands create nothing, secrets included
