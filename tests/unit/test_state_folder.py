"""The lab's state folder: the names of its files (labs built before keep working) and their permissions."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from foobar_fab import dbstate, design, designstate, lab_secrets, pki, scan, statefolder
from foobar_fab.console import Console
from foobar_fab.drills.report import DrillReport, save
from foobar_fab.exercises.state import Drawer, Running
from foobar_fab.session import LabSession
from foobar_fab.settings import PROJECT_ROOT, Settings
from foobar_fab.statefolder import LabFolder

LAB_FILE = PROJECT_ROOT / "configs" / "lab.yml"


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The modes below are those of a shell with the usual umask (022)."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_the_files_keep_the_names_existing_labs_have(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path / "st")
    named = {
        folder.key_file: "id_ed25519",
        folder.known_hosts: "known_hosts",
        folder.secrets: "secrets.json",
        folder.design: "design.json",
        folder.database: "database.json",
        folder.scan: "scan.json",
        folder.drills: "drills",
        folder.exercise: "exercise",
        folder.exercise_results: "exercises.jsonl",
        folder.ca_cert: "tls/ca.pem",
        folder.ca_key: "tls/ca.key",
        folder.certificate("site")[0]: "tls/site.pem",
        folder.certificate("site")[1]: "tls/site.key",
        folder.dnsmasq_pid: "dnsmasq.pid",
        folder.forward_note: "ip_forward.was-off",
        folder.nat_rules: "nat.nft",
        folder.vagrant: "vagrant",
    }
    assert {str(path.relative_to(folder.path)): name for path, name in named.items()} == {name: name for name in named.values()}


def test_what_the_lab_writes_there_has_its_permissions(tmp_path: Path) -> None:
    """Everything the commands write, through the modules that write it: secrets and keys 0600, folders 0700,
    the records anyone on the host may read 0644 (as they were before one module wrote them all)."""
    folder = LabFolder(tmp_path / "state" / "st")
    lab = design.load(LAB_FILE)
    lab_secrets.load_or_create(folder)
    designstate.save(folder, LAB_FILE)
    dbstate.save(folder, dbstate.DbState(primary="web-02", how="switchover", when="t"), lab)
    ca, _ = pki.LabCA.open(folder)
    ca.certificate("site", ["www.foobar.com"], datetime.datetime.now(datetime.UTC))
    scan.save({"cells": {}}, folder)
    drawer = Drawer(folder, tmp_path / "keys", "st")
    drawer.finish(Running("site-unavailable", 1, "lab.yml", {}), "stopped")
    drawer.save(Running("site-unavailable", 2, "lab.yml", {}))
    modes = {str(p.relative_to(folder.path)): mode(p) for p in sorted(folder.path.rglob("*"))}
    assert mode(folder.path) == "0o700"
    assert modes == {
        "secrets.json": "0o600",
        "design.json": "0o644",
        "database.json": "0o644",
        "tls": "0o700",
        "tls/ca.pem": "0o644",
        "tls/ca.key": "0o600",
        "tls/site.pem": "0o644",
        "tls/site.key": "0o600",
        "scan.json": "0o644",
        "exercises.jsonl": "0o644",
        "exercise": "0o600",
    }
    assert set(json.loads(folder.secrets.read_text())) == set(lab_secrets.NAMES)
    assert json.loads(folder.database.read_text())["primary"] == "web-02" and folder.database.read_text().endswith("}\n")


def test_a_secret_made_readable_by_hand_is_private_again_when_written(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path / "st")
    folder.make()
    folder.secrets.write_text("{}")
    os.chmod(folder.secrets, 0o644)
    lab_secrets.load_or_create(folder)
    assert mode(folder.secrets) == "0o600"


def test_drill_reports_go_to_a_private_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("foobar_fab.drills.report.plot_timeline", lambda report, path: path.write_text("<svg/>"))
    folder = LabFolder(tmp_path / "st")
    path = save(DrillReport(drill="web-down"), folder.drills)  # type: ignore[typeddict-item]
    assert mode(folder.drills) == "0o700" and mode(path) == "0o644" and json.loads(path.read_text()) == {"drill": "web-down"}


def test_a_missing_or_broken_record_reads_as_nothing(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path / "st")
    assert statefolder.read_json(folder.database) is None
    folder.make()
    folder.database.write_text("{not json")
    assert statefolder.read_json(folder.database) is None and dbstate.load(folder) is None
    folder.design.write_text("[1, 2]")
    assert designstate.load(folder) is None and lab_secrets.load(folder) == {}


def test_a_session_opens_the_lab_ca_once(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"lab_file": str(LAB_FILE), "state_dir": str(tmp_path)})
    session = LabSession(settings, design.load(LAB_FILE), Console(quiet=True), provider=None)  # type: ignore[arg-type]
    first = session.ca()
    assert session.ca_made and session.ca() is first and first.cert_file == tmp_path / "foobar" / "tls" / "ca.pem"
    assert mode(tmp_path / "foobar" / "tls" / "ca.key") == "0o600"
    again = LabSession(settings, session.lab, session.console, provider=None)  # type: ignore[arg-type]
    assert again.ca().cert_file.read_text() == first.cert_file.read_text() and not again.ca_made
