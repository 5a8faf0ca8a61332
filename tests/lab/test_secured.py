"""The secured and monitored design on the tests' lab: each weakness of the seed measured, the same lab
upgraded in place, the same measurements again, then the seed design built back.

Runs after the seed's drills (the lab is the seed's when it starts) and leaves the seed design behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from foobar_fab import design, designstate, scan, sniff, topology
from foobar_fab.drills.catalog import by_name
from foobar_fab.drills.runner import DrillOptions, run_drill
from foobar_fab.roles import loadbalancer, web
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.statefolder import LabFolder

from .conftest import TEST_LAB, TEST_SUBNET, FirstBuild, build, live_lab, quiet_session
from .test_lifecycle import INVOKE

MARKER = f"kept across designs {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def secured(built_lab: FirstBuild, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings for the secured design of the tests' lab (same name and subnet, plus mon-01)."""
    folder = tmp_path_factory.mktemp("secured")
    lab_file = folder / "secured.yml"
    lab_file.write_text(topology.to_yaml(topology.relocate(design.load(PROJECT_ROOT / "configs/secured.yml"), TEST_LAB, TEST_SUBNET)))
    yield built_lab.settings.but(lab_file=lab_file)


def measure(settings: Settings) -> tuple[dict[str, Any], list[sniff.Capture]]:
    with live_lab(settings) as (lab, _):
        exposure = scan.scan(lab, f"{TEST_LAB}-br")
        captures = sniff.sniff(lab, f"{TEST_LAB}-br")
    return exposure, captures


def open_from_outside(exposure: dict[str, Any]) -> set[str]:
    return {key for key, row in exposure["cells"].items() if row["outside"]["seen"] == "open"}


def test_seed_exposes_everything_and_speaks_in_clear(built_lab: FirstBuild) -> None:
    with live_lab(built_lab.settings) as (lab, _):
        assert lab.site.post_message(MARKER).status_code == 201
    exposure, captures = measure(built_lab.settings)
    listening = set(exposure["cells"])
    assert {"lb-01:8404", "web-01:80", "web-01:3306", "web-02:3306", "web-02:22"} <= listening
    assert open_from_outside(exposure) == listening  # no firewall: everything that listens is reachable
    assert not scan.disagreements(exposure)
    client, _behind, replication = captures
    assert client.marker_readable and replication.marker_readable


def test_upgrade_in_place_to_the_secured_design(secured: Settings) -> None:
    result, output = build(secured)
    assert result.ok, output
    assert f"mon-01   changed  container: {TEST_LAB}-mon-01 created" in output
    result, output = build(secured)
    assert result.ok and result.changed == 0, output


def test_commands_follow_the_design_the_lab_runs(built_lab: FirstBuild, secured: Settings) -> None:
    """While the lab runs the secured design, a session given no design file opens it and says so in one line;
    a command naming the seed's file refuses in one line naming both, before it touches the lab."""
    seed_file = built_lab.settings.lab_file
    session, _ = quiet_session(built_lab.settings.but(lab_file_named=False))
    assert session.settings.lab_file == secured.lab_file and session.lab.with_role("monitor")
    assert session.note == f"lab {TEST_LAB} runs {secured.lab_file}"
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(secured.state_root)}
    refused = subprocess.run([INVOKE, "drill.kill-web1", "--lab-file", str(seed_file)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()] and f"runs {secured.lab_file}, not {seed_file}" in refused.stderr


def test_the_scan_equals_the_policy(secured: Settings) -> None:
    exposure, _ = measure(secured)
    assert not scan.disagreements(exposure), scan.table(exposure)
    assert open_from_outside(exposure) == {"lb-01:80", "lb-01:443"}
    cells = exposure["cells"]
    assert cells["lb-01:8404"]["admin"]["seen"] == "open" and cells["lb-01:8404"]["web-02"]["seen"] == "filtered"
    assert cells["web-01:3306"]["web-02"]["seen"] == "open" and cells["web-01:3306"]["admin"]["seen"] == "filtered"
    assert cells["web-02:9100"]["mon-01"]["seen"] == "open" and cells["web-02:9100"]["lb-01"]["seen"] == "filtered"


def test_nothing_readable_where_tls_is_used(secured: Settings) -> None:
    _, captures = measure(secured)
    client, behind, replication = captures
    assert not client.marker_readable and client.packets > 0
    assert not replication.marker_readable and replication.packets > 0
    assert behind.marker_readable  # HAProxy to the web servers stays HTTP inside the lab: the lesson says so


def test_https_checks_and_data_kept(secured: Settings) -> None:
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(secured.state_root)}
    run = subprocess.run(
        [INVOKE, "check", "--json", "--lab-file", str(secured.lab_file)], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    report = json.loads(run.stdout)
    assert run.returncode == 0, [c for c in report["checks"] if not c["ok"]]
    seen = {c["id"]: c["seen"] for c in report["checks"]}
    assert seen["site.https"].startswith("TLSv1.3, ALPN h2") and "TLS 1.1 refused" in seen["site.https"]
    assert seen["site.http-redirects"] == "HTTP 301 -> https://www.foobar.com/api/health"
    assert "TLS, certificate checked" in seen["db.replica-threads"]
    assert seen["mon.targets-up"].startswith("10 of 10 targets up")
    ca = secured.state_dir(TEST_LAB) / "tls" / "ca.pem"
    assert oct((ca.parent / "ca.key").stat().st_mode & 0o777) == "0o600"
    curl = subprocess.run(
        ["curl", "-sS", "--cacert", str(ca), "--resolve", f"www.foobar.com:443:{design.load(secured.lab_file).entry_address}", "https://www.foobar.com/api/messages"],
        capture_output=True, text=True, timeout=30,
    )
    assert MARKER in curl.stdout  # the message posted on the seed design survived the upgrade


def drill(settings: Settings, name: str) -> dict[str, Any]:
    with live_lab(settings) as (lab, output):
        report = run_drill(lab, by_name(name), DrillOptions(20.0, 8.0))
    assert report["recovered"] and report["acknowledged_writes_lost"] == 0, output.getvalue()
    return report


def test_kill_web1_on_the_secured_design_alerts_within_15_s(secured: Settings) -> None:
    report = drill(secured, "kill-web1")
    assert report["design"] == "secured.yml"
    assert report["totals"]["reads"]["failed"] == 0
    fired = next(e for e in report["expectations"] if e["id"] == "alerts.fired")
    assert fired["ok"], report["alerts"]
    assert any(a["alert"] == "WebServerDown" and a["after_fault"] <= 15 for a in report["alerts"])


def test_the_partition_raises_a_replication_alert(secured: Settings) -> None:
    report = drill(secured, "partition-replica")
    replication = next(e for e in report["expectations"] if e["id"] == "alerts.ReplicationStopped")
    assert replication["ok"], report["alerts"]


def test_alerts_lists_what_alertmanager_delivered(built_lab: FirstBuild, secured: Settings) -> None:
    """A plain `invoke alerts`, whose default file is the seed's, answers from the design the lab runs."""
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(secured.state_root), "INVOKE_LAB_LAB_FILE": str(built_lab.settings.lab_file)}
    run = subprocess.run([INVOKE, "alerts"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "resolved" in run.stdout and "WebServerDown" in run.stdout
    assert run.stderr.strip() == f"lab {TEST_LAB} runs {secured.lab_file}"


def tls_design(secured: Settings, mode: str) -> Settings:
    """The secured design of the tests' lab with TLS carried on to the web servers (configs/secured-<mode>.yml)."""
    lab_file = secured.lab_file.with_name(f"secured-{mode}.yml")
    lab_file.write_text(topology.to_yaml(topology.relocate(design.load(PROJECT_ROOT / f"configs/secured-{mode}.yml"), TEST_LAB, TEST_SUBNET)))
    return secured.but(lab_file=lab_file)


def held(settings: Settings, node: str, path: str) -> bool:
    with live_lab(settings) as (lab, _):
        return "held" in lab.shells.run(node, f"test -e {path} && echo held; true").stdout


def test_tls_to_the_web_servers_reencrypted_then_passed_through_then_ended_at_lb_again(secured: Settings) -> None:
    """The secured lab built in place with TLS re-encrypted to the web servers, then passed through to them: every
    check passes (each web server's TLS among them), the sniff reads no message behind lb-01, and passed through lb-01
    holds no site key. The secured design built back takes the web servers' TLS files away."""
    for mode in ("reencrypt", "passthrough"):
        settings = tls_design(secured, mode)
        result, output = build(settings)
        assert result.ok, output  # the build ends with every check of the design
        assert len(re.findall(r"^web-0[12] +ok +check: Nginx serves TLS on 443 with a certificate of the lab's CA: from lb-01: TLSv1\.[23]", output, re.M)) == 2, output
        with live_lab(settings) as (lab, _):
            client, behind, _ = sniff.sniff(lab, f"{TEST_LAB}-br")
        assert behind.packets > 0 and not behind.marker_readable, behind
        assert not client.marker_readable
        assert held(settings, "lb-01", loadbalancer.CERTIFICATE) == (mode == "reencrypt")  # passed through: no site key on lb-01
        assert held(settings, "web-01", web.CERTIFICATE)
    result, output = build(settings)
    assert result.ok and result.changed == 0, output
    result, output = build(secured)
    assert result.ok, output
    assert output.count(f"{web.TLS_DIR} absent: removed") == 2 and f"{loadbalancer.CERTIFICATE}: written" in output, output
    assert not held(secured, "web-02", web.TLS_DIR) and held(secured, "lb-01", loadbalancer.CERTIFICATE)


def test_back_to_the_seed_design_takes_the_hardening_away(built_lab: FirstBuild) -> None:
    result, output = build(built_lab.settings)
    assert result.ok, output
    for removed in ("firewall (not in this design): removed", "monitoring clients (not in this design): removed", f"container: {TEST_LAB}-mon-01 destroyed"):
        assert removed in output, output
    result, output = build(built_lab.settings)
    assert result.ok and result.changed == 0, output
    recorded = designstate.load(LabFolder(built_lab.settings.state_dir(TEST_LAB)))
    assert recorded is not None and recorded.same(built_lab.settings.lab_file)
    assert quiet_session(built_lab.settings.but(lab_file_named=False))[0].note == ""
    exposure, captures = measure(built_lab.settings)
    assert open_from_outside(exposure) == set(exposure["cells"]) and "lb-01:443" not in exposure["cells"]
    assert captures[0].marker_readable
    with live_lab(built_lab.settings) as (lab, _):
        assert lab.databases.count(lab.lab.node("web-02"), MARKER) == 1
    assert not Path(f"/var/lib/lxc/{TEST_LAB}-mon-01").exists()
