"""The last lab test: destroy removes everything the tests' lab made on the host, and can be repeated."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import TEST_LAB, FirstBuild, destroy
from .test_lifecycle import node_states


def test_destroy_leaves_nothing_behind(built_lab: FirstBuild) -> None:
    settings = built_lab.settings
    destroy(settings)
    destroy(settings)  # twice is fine
    assert not list(Path("/var/lib/lxc").glob(f"{TEST_LAB}-*"))
    assert not Path(f"/sys/class/net/{TEST_LAB}-br").exists()
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True).stdout
    assert f"foobar_fab_{TEST_LAB}" not in tables
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert f"--interface={TEST_LAB}-br" not in processes
    assert not settings.state_dir(TEST_LAB).exists()
    assert node_states(settings) == {"lb-01": "missing", "web-01": "missing", "web-02": "missing"}
