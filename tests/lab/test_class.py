"""A class for real: two students' labs of the secured design on Incus through `invoke class.*`, as an instructor runs them.

A class of its own (tq on 10.184.0.0/16; FOOBAR_TEST_CLASS_SUBNET moves it): class.up builds both labs
and the entry point, a second class.up changes nothing; each student reaches their own nodes through
the entry point with their bundle, and neither the other student's nodes nor the host; an exercise
started for everyone is repaired by one student over SSH and graded; class.down leaves nothing behind.
"""

from __future__ import annotations

import csv
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from foobar_fab.constants import HEALTH_PATH
from foobar_fab.roles.loadbalancer import CONFIG as HAPROXY_CONFIG
from foobar_fab.settings import PROJECT_ROOT

SUBNET = os.environ.get("FOOBAR_TEST_CLASS_SUBNET", "10.184.0.0/16")
NAME = "tq"
INVOKE = Path(sys.executable).with_name("invoke")

pytestmark = pytest.mark.skipif(
    shutil.which("incus") is None and not os.environ.get("CI"),
    reason="Incus is not installed (make test installs it: sh src/foobar_fab/host/bootstrap.sh incus)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Class:
    """The test's class: its file, its state folder, and a way to run invoke on it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state = folder / "state"
        self.file = folder / "class.yml"
        self.port = free_port()
        self.file.write_text(
            f"class:\n  name: {NAME}\n  design: {PROJECT_ROOT / 'configs/secured.yml'}\n  subnet: {SUBNET}\n  entry: 127.0.0.1:{self.port}\n"
            "students: [ann, ben]\n"
        )
        self.exercise_dir = folder / "exercises"

    def invoke(self, *words: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(self.state), "INVOKE_LAB_EXERCISE_DIR": str(self.exercise_dir)}
        return subprocess.run([str(INVOKE), "-r", str(PROJECT_ROOT), *words], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)

    def on_class(self, task: str, *words: str) -> subprocess.CompletedProcess[str]:
        return self.invoke(task, "--class-file", str(self.file), *words)

    def on_lab(self, task: str, student: str, *words: str) -> subprocess.CompletedProcess[str]:
        lab_file = self.state / f"class-{NAME}" / "labs" / f"{NAME}{student}.yml"
        return self.invoke(task, "--lab-file", str(lab_file), "--provider", "incus", *words)

    def bundle(self, student: str) -> Path:
        return self.state / f"class-{NAME}" / "students" / student

    def ssh(self, student: str, *words: str) -> subprocess.CompletedProcess[str]:
        """ssh as the student would, from their bundle's folder."""
        return subprocess.run(["ssh", "-F", "ssh_config", "-o", "ConnectTimeout=10", *words], capture_output=True, text=True, cwd=self.bundle(student), timeout=60, stdin=subprocess.DEVNULL)


def lab_address(student_index: int, host: int) -> str:
    """A node's address in the student's /24 (the first /24 of the class is the entry point's)."""
    block = list(ipaddress.IPv4Network(SUBNET).subnets(new_prefix=24))[student_index + 1]
    return str(block.network_address + host)


def accept_one(server: socket.socket) -> None:
    """Take one connection if one comes (none should): the listener is there to be refused, not used."""
    try:
        server.accept()[0].close()
    except OSError:
        pass  # closed by the test, or timed out: nobody came


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Class]:
    made = Class(tmp_path_factory.mktemp("class"))
    yield made
    made.on_class("class.down", "--yes")


def test_up_builds_a_lab_a_student_and_again_changes_nothing(klass: Class) -> None:
    first = klass.on_class("class.up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ann          lab tqann        up (" in first.stdout and "ben          lab tqben        up (" in first.stdout, first.stdout
    projects = {p["name"]: p["config"] for p in json.loads(subprocess.run(["incus", "project", "list", "--format", "json"], capture_output=True, text=True, check=True).stdout)}
    ann = projects[f"{NAME}-ann"]
    assert ann["restricted"] == "true" and ann["restricted.networks.access"] == f"{NAME}ann-br" and ann["limits.instances"] == "4", ann
    again = klass.on_class("class.up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("up (nothing to change)") == 2, again.stdout
    status = klass.on_class("class.status", "--json")
    rows = {r["student"]: r for r in json.loads(status.stdout)["students"]}
    assert rows["ann"]["lab_up"] == "up" and rows["ann"]["checks_failed"] == 0 and rows["ann"]["checks_ok"] > 10, rows
    assert rows["ben"]["lab_up"] == "up" and rows["ben"]["checks_failed"] == 0, rows


def test_a_students_key_reaches_their_own_nodes_and_nothing_else(klass: Class) -> None:
    own = klass.ssh("ann", "web-01", "hostname")
    assert own.returncode == 0 and own.stdout.strip() == "web-01", own.stderr
    entry = f"{NAME}-entry"
    for target in (f"{lab_address(1, 11)}:22", f"{lab_address(1, 10)}:22", "127.0.0.1:22", f"{lab_address(-1, 1)}:22", f"{lab_address(0, 1)}:22"):
        tried = klass.ssh("ann", "-W", target, entry)
        assert tried.returncode != 0 and "administratively prohibited" in tried.stderr, (target, tried.stderr)
    as_ben = klass.ssh("ann", "-l", "ben", entry, "true")
    assert as_ben.returncode != 0 and "Permission denied" in as_ben.stderr, as_ben.stderr
    shell = klass.ssh("ann", entry, "id")
    assert "uid=" not in shell.stdout, shell.stdout
    # Through the node's own firewall too (the secured design lets SSH in from the lab's gateway only: the
    # entry point's connections come from there). Root on their own node, a student still reaches neither
    # the other lab nor the host.
    with socket.create_server(("0.0.0.0", 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(10)
        threading.Thread(target=accept_one, args=(server,), daemon=True).start()
        probe = (
            f"curl -sk -m 3 -o /dev/null -w 'own %{{http_code}}\\n' --resolve www.foobar.com:443:{lab_address(0, 10)} https://www.foobar.com/; "
            f"curl -s -m 3 -o /dev/null -w 'other %{{http_code}}\\n' http://{lab_address(1, 11)}/; "
            f"timeout 3 bash -c '</dev/tcp/{lab_address(0, 1)}/{port}' && echo host-reached || echo host-refused"
        )
        seen = klass.ssh("ann", "web-01", probe)
    assert "own 200" in seen.stdout and "other 000" in seen.stdout and "host-refused" in seen.stdout, seen.stdout + seen.stderr


def test_an_exercise_for_everyone_repaired_by_a_student_is_graded(klass: Class) -> None:
    started = klass.on_class("class.exercise", "site-unavailable")
    assert started.returncode == 0 and started.stdout.count(" started (seed ") == 2, started.stdout + started.stderr
    rows = {r["student"]: r for r in json.loads(klass.on_class("class.status", "--json").stdout)["students"]}
    assert rows["ann"]["exercise"] == "site-unavailable" and rows["ann"]["checks_failed"] > 0, rows
    # ann repairs her balancer over SSH, as a student would, then names the cause.
    fix = f"sed -i -E 's#uri /[a-z/]+ #uri {HEALTH_PATH} #' {HAPROXY_CONFIG} && haproxy -q -c -f {HAPROXY_CONFIG} && systemctl reload haproxy"
    repaired = klass.ssh("ann", "lb-01", fix)
    assert repaired.returncode == 0, repaired.stderr
    graded = klass.on_lab("exercise.check", "ann", "--cause", "lb-01:haproxy")
    assert graded.returncode == 0 and "solved: site-unavailable" in graded.stdout, graded.stdout + graded.stderr
    stopped = klass.on_lab("exercise.stop", "ben")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    output = klass.folder / "grades.csv"
    wrote = klass.on_class("class.grades", "--output", str(output))
    assert wrote.returncode == 0, wrote.stderr
    grades = {row["student"]: row for row in csv.DictReader(output.open())}
    assert grades["ann"]["site-unavailable"] == "100" and grades["ben"]["site-unavailable"] == "0", grades
    rows = {r["student"]: r for r in json.loads(klass.on_class("class.status", "--json").stdout)["students"]}
    assert rows["ann"]["grade"] == "site-unavailable: solved (0 hints)" and rows["ben"]["grade"] == "site-unavailable: stopped", rows


def test_class_web_opens_each_students_page_with_their_token_only(klass: Class) -> None:
    """The class's pages on a real class: a student's page opens with their lab's token and with no other
    (not the other student's, not the instructor's); the instructor's page lists both students."""
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(klass.state), "INVOKE_LAB_EXERCISE_DIR": str(klass.exercise_dir)}
    server = subprocess.Popen(
        [str(INVOKE), "-r", str(PROJECT_ROOT), "class.web", "--class-file", str(klass.file), "--minutes", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert server.stdout is not None
        urls: dict[str, str] = {}
        for line in server.stdout:
            words = line.split()
            if len(words) == 2 and words[1].startswith("http://127.0.0.1:"):
                urls[words[0].rstrip(":")] = words[1]
            if {"instructor", "ann", "ben"} <= set(urls):
                break
        assert {"instructor", "ann", "ben"} <= set(urls), urls

        def status(url: str) -> int:
            try:
                with urllib.request.urlopen(url, timeout=30) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as refused:
                return int(refused.code)

        token = {who: url.split("?token=")[1] for who, url in urls.items()}
        anns_page = urls["ann"].split("?")[0]
        assert status(urls["ann"]) == 200
        assert status(f"{anns_page}?token={token['ben']}") == 403
        assert status(f"{anns_page}?token={token['instructor']}") == 403
        assert status(anns_page) == 403
        with urllib.request.urlopen(urls["instructor"], timeout=60) as answer:
            page = answer.read().decode()
        assert 'data-student="ann"' in page and 'data-student="ben"' in page
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_down_leaves_nothing_of_the_class(klass: Class) -> None:
    down = klass.on_class("class.down", "--yes")
    assert down.returncode == 0, down.stdout + down.stderr
    listed = subprocess.run(["incus", "list", "--all-projects", "--format", "json"], capture_output=True, text=True, check=True).stdout
    assert not [i["name"] for i in json.loads(listed) if i["name"].startswith(NAME)]
    projects = subprocess.run(["incus", "project", "list", "--format", "csv"], capture_output=True, text=True, check=True).stdout
    assert f"{NAME}-" not in projects
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith(NAME)]
    assert f"foobar_fab_class_{NAME}" not in subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert not (klass.state / f"class-{NAME}").exists() and not list(klass.exercise_dir.glob("*.key"))
