"""The lab's page (`invoke web`) and a class's (`invoke class.web`): who gets in, what a snapshot says, the
diagram and the terminal, with no lab.

The application runs in Flask's test client on a fake lab: a snapshot source, a power switch and a
terminal opener that record what they are asked; the refusals are checked to leave each untouched.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from flask.testing import FlaskClient
from werkzeug.test import Client

from foobar_fab import design
from foobar_fab.docs_diagram import edges
from foobar_fab.pki import LabCA
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.statefolder import LabFolder
from foobar_fab.topology import Lab
from foobar_fab.web import access, picture, reports, serve, snapshot
from foobar_fab.web.app import COOKIE, CSRF_HEADER, create_app
from foobar_fab.web.classpage import Rows, create_class_app
from foobar_fab.web.terminal import follow

TOKEN = "the-lab-token"
OTHER_TOKEN = "another-lab-token"


@dataclass
class FakeSnapshots:
    taken: list[dict[str, Any]] = field(default_factory=lambda: [{"lab": "foobar", "nodes": {}}])
    asked: int = 0

    def latest(self) -> dict[str, Any]:
        self.asked += 1
        return self.taken[min(self.asked, len(self.taken)) - 1]


@dataclass
class FakePower:
    calls: list[tuple[str, str]] = field(default_factory=list)

    def stop_hard(self, node: str) -> None:
        self.calls.append(("off", node))

    def start(self, node: str) -> None:
        self.calls.append(("on", node))


@dataclass
class Opened:
    calls: list[tuple[str, int, int]] = field(default_factory=list)

    def __call__(self, node: str, columns: int, rows: int) -> Any:
        self.calls.append((node, columns, rows))
        raise AssertionError("a terminal was opened")


@dataclass
class Page:
    client: FlaskClient
    snapshots: FakeSnapshots
    power: FakePower
    terminals: Opened


def page_of(lab: Lab, token: str = TOKEN, snapshots: FakeSnapshots | None = None, drills: Path | None = None) -> Page:
    snapshots = snapshots or FakeSnapshots()
    power, terminals = FakePower(), Opened()
    app = create_app(lab, token, snapshots, terminals, power, drills=drills, stream_seconds=0.2)
    return Page(app.test_client(), snapshots, power, terminals)


@pytest.fixture
def page(lab: Lab) -> Page:
    return page_of(lab)


def nothing_ran(page: Page) -> bool:
    return page.snapshots.asked == 0 and not page.power.calls and not page.terminals.calls


ROUTES = ["/", "/events", "/reports", "/reports/20261204-101010-kill-web1.svg", "/static/page.js", "/static/xterm/xterm.js", "/terminal/web-01"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN[:-1], OTHER_TOKEN], ids=["none", "empty", "wrong", "a-prefix", "another-lab's"])
def test_every_route_refuses_a_missing_or_wrong_token(page: Page, route: str, token: str | None) -> None:
    """No token, a wrong one, or another lab's (another student's): 403, and nothing is asked of the lab."""
    if token is not None:
        page.client.set_cookie("localhost", COOKIE, token)
    answer = page.client.get(route if token is None else f"{route}?token={token}")
    assert answer.status_code == 403
    assert nothing_ran(page)


def test_another_labs_page_refuses_this_labs_token(lab: Lab) -> None:
    """Two labs' pages (two students'): each opens with its own token only."""
    mine, theirs = page_of(lab, TOKEN), page_of(lab, OTHER_TOKEN)
    assert mine.client.get(f"/?token={TOKEN}").status_code == 200
    assert theirs.client.get(f"/?token={TOKEN}").status_code == 403
    assert theirs.client.get(f"/?token={OTHER_TOKEN}").status_code == 200


def test_the_right_token_opens_the_page_and_sets_a_private_cookie(page: Page, lab: Lab) -> None:
    answer = page.client.get(f"/?token={TOKEN}")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert all(f'data-node="{n.name}"' in html for n in lab.nodes)
    assert page.snapshots.asked == 1 and '<script type="application/json" id="first-snapshot">' in html  # served coloured
    cookie = answer.headers["Set-Cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    # then the cookie alone opens the rest (the page's scripts and its event stream carry no token in their URL)
    assert page.client.get("/static/page.js").status_code == 200


def test_the_event_stream_sends_snapshots_for_a_bounded_time(lab: Lab) -> None:
    snapshots = FakeSnapshots([{"lab": lab.name, "nodes": {"web-01": {"state": "UP"}}}])
    page = page_of(lab, snapshots=snapshots)
    started = time.monotonic()
    answer = page.client.get(f"/events?token={TOKEN}")
    body = answer.get_data(as_text=True)
    assert time.monotonic() - started < 2
    assert answer.mimetype == "text/event-stream"
    events = [json.loads(line.removeprefix("data: ")) for line in body.splitlines() if line.startswith("data: ")]
    assert events and events[0]["nodes"]["web-01"]["state"] == "UP"
    assert 1 <= snapshots.asked <= 2  # one every half second, for the stream's 0.2 s


def test_the_event_stream_ends_when_the_lab_is_gone(lab: Lab) -> None:
    snapshots = FakeSnapshots([{"lab": lab.name, "gone": "lab foobar's network is gone"}] * 3)
    page = page_of(lab, snapshots=snapshots)
    body = page.client.get(f"/events?token={TOKEN}").get_data(as_text=True)
    assert body.count("data: ") == 1 and snapshots.asked == 1


def csrf_of(page: Page) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.client.get(f"/?token={TOKEN}").get_data(as_text=True))
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    "headers",
    [{}, {CSRF_HEADER: ""}, {CSRF_HEADER: "forged"}, {CSRF_HEADER: TOKEN}],
    ids=["no-csrf", "empty-csrf", "forged-csrf", "the-lab-token-as-csrf"],
)
def test_a_forged_action_is_refused_and_nothing_runs(page: Page, headers: dict[str, str]) -> None:
    """A POST with the lab's cookie (as a browser sends it) but no right CSRF token: 403, no power switched."""
    csrf_of(page)  # the page was opened: the cookie is set
    answer = page.client.post("/nodes/web-01/power", json={"to": "off"}, headers=headers)
    assert answer.status_code == 403
    assert page.power.calls == []


def test_an_action_from_another_sites_page_is_refused(page: Page) -> None:
    csrf = csrf_of(page)
    answer = page.client.post("/nodes/web-01/power", json={"to": "off"}, headers={CSRF_HEADER: csrf, "Origin": "http://evil.example"})
    assert answer.status_code == 403
    assert page.power.calls == []


def test_an_action_with_the_pages_csrf_token_runs(page: Page) -> None:
    csrf = csrf_of(page)
    assert page.client.post("/nodes/web-01/power", json={"to": "off"}, headers={CSRF_HEADER: csrf, "Origin": "http://localhost"}).status_code == 200
    assert page.client.post("/nodes/web-01/power", json={"to": "on"}, headers={CSRF_HEADER: csrf}).status_code == 200
    assert page.client.post("/nodes/nope/power", json={"to": "on"}, headers={CSRF_HEADER: csrf}).status_code == 404
    assert page.client.post("/nodes/web-01/power", json={"to": "sideways"}, headers={CSRF_HEADER: csrf}).status_code == 400
    assert page.power.calls == [("off", "web-01"), ("on", "web-01")]


def test_the_lab_token_is_kept_private_and_reused(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path / "lab")
    first = access.lab_token(folder)
    assert len(first) >= 40
    assert stat.S_IMODE(folder.web_token.stat().st_mode) == 0o600
    assert access.lab_token(folder) == first
    renewed = access.lab_token(folder, renew=True)
    assert renewed != first and access.lab_token(folder) == renewed


@pytest.mark.parametrize(("given", "expected"), [(None, False), ("", False), ("abc", False), ("abd", False), ("abcd", True)])
def test_tokens_are_compared_whole(given: str | None, expected: bool) -> None:
    assert access.same(given, "abcd") is expected


def test_listen_is_loopback_by_default_and_tls_anywhere_else() -> None:
    assert serve.listen_on(None) == serve.Listen("127.0.0.1") and not serve.listen_on(None).tls
    assert not serve.listen_on("::1").tls
    assert serve.listen_on("10.98.1.1").tls
    assert serve.url(serve.listen_on("10.98.1.1"), 8443, "t") == "https://10.98.1.1:8443/?token=t"


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "localhost", "10.98.1.300"])
def test_listen_refuses_a_wildcard_or_a_name(address: str) -> None:
    with pytest.raises(serve.ListenError, match=f"--listen {re.escape(address)}"):
        serve.listen_on(address)


def test_an_address_other_than_loopback_is_never_served_without_tls(page: Page) -> None:
    with pytest.raises(serve.ListenError, match="TLS only"):
        serve.start(page.client.application, serve.Listen("10.98.1.1"), 0, None)


def test_the_pages_certificate_comes_from_the_labs_ca_and_names_the_address(tmp_path: Path) -> None:
    folder = LabFolder(tmp_path / "lab")
    ca, _ = LabCA.open(folder)
    cert_file, key_file = serve.certificate_files(ca, folder, "10.98.1.1")
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.98.1.1"]
    assert cert.issuer == x509.load_pem_x509_certificate(folder.ca_cert.read_bytes()).subject
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_invoke_web_refuses_a_wildcard_address_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(tmp_path / "state")}
    invoke = Path(sys.executable).with_name("invoke")
    result = subprocess.run([str(invoke), "web", "--listen", "0.0.0.0"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "--listen 0.0.0.0" in result.stderr
    assert not (tmp_path / "state").exists()


def answers_for(lab: Lab, **overrides: Any) -> dict[str, Any]:
    """Every question answered as on a healthy seed lab, but for the overrides."""
    answers: dict[str, Any] = {f"services {n.name}": dict.fromkeys(snapshot.units(lab, n), "active") for n in lab.nodes}
    rows = {w.name: {"status": "UP", "weight": "1", "bck": "0", "rate": "3"} for w in lab.web_nodes}
    answers.update({f"haproxy {b.name}": rows for b in lab.balancers})
    answers.update({f"replica {r.name}": {"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": "0"} for r in lab.replicas})
    return {**answers, **overrides}


def test_a_healthy_lab_is_all_up(lab: Lab) -> None:
    taken = snapshot.assemble(lab, dict.fromkeys([n.name for n in lab.nodes], "running"), answers_for(lab), 0.0, 0.1)
    assert {n: v["state"] for n, v in taken["nodes"].items()} == dict.fromkeys([n.name for n in lab.nodes], "UP")
    assert taken["nodes"]["web-01"]["database"] == "primary"
    assert taken["nodes"]["web-02"]["replication"] == {"running": True, "delay": 0}
    assert taken["haproxy"]["lb-01"]["web-01"] == {"status": "UP", "weight": "1", "backup": False, "rate": 3}
    assert taken["requests"] == {"web-01": 3, "web-02": 3}
    assert taken["floating"] is None and taken["alerts"] is None
    json.dumps(taken)  # what the page receives


def test_a_node_without_power_is_down_and_haproxy_says_so(lab: Lab) -> None:
    power = {"lb-01": "running", "web-01": "stopped", "web-02": "running"}
    rows = {"web-01": {"status": "DOWN", "weight": "1", "bck": "0", "rate": "0"}, "web-02": {"status": "UP", "weight": "1", "bck": "0", "rate": "6"}}
    answers = answers_for(lab, **{"haproxy lb-01": rows})
    del answers["services web-01"]  # not asked: it has no power
    taken = snapshot.assemble(lab, power, answers, 0.0, 0.1)
    assert taken["nodes"]["web-01"]["state"] == "DOWN" and taken["nodes"]["web-01"]["power"] == "stopped"
    assert taken["haproxy"]["lb-01"]["web-01"]["status"] == "DOWN"


def test_a_stopped_service_degrades_its_node_and_no_answer_is_shown_as_such(lab: Lab) -> None:
    services = dict.fromkeys(snapshot.units(lab, lab.node("web-01")), "active") | {"nginx": "inactive"}
    answers = answers_for(lab, **{"services web-01": services, "haproxy lb-01": snapshot.NO_ANSWER, "replica web-02": snapshot.NO_ANSWER})
    taken = snapshot.assemble(lab, dict.fromkeys([n.name for n in lab.nodes], "running"), answers, 0.0, 0.1)
    assert taken["nodes"]["web-01"]["state"] == "DEGRADED" and taken["nodes"]["web-01"]["services"]["nginx"] == "inactive"
    assert taken["haproxy"]["lb-01"] == snapshot.NO_ANSWER and taken["requests"] == {}
    assert taken["nodes"]["web-02"]["replication"] is None


def test_the_scaled_design_shows_who_holds_the_floating_address() -> None:
    scaled = design.load(PROJECT_ROOT / "configs/scaled.yml")
    answers = answers_for(scaled, **{"holds lb-01": False, "holds lb-02": True})
    taken = snapshot.assemble(scaled, dict.fromkeys([n.name for n in scaled.nodes], "running"), answers, 0.0, 0.1)
    assert taken["floating"] == {"address": str(scaled.floating_address), "holders": ["lb-02"]}
    assert taken["requests"] == {"web-01": 6, "web-02": 6}  # both balancers' sessions


def test_units_come_from_the_role_records(lab: Lab) -> None:
    assert snapshot.units(lab, lab.node("lb-01")) == ["ssh", "haproxy"]
    assert {"nginx", "mariadb", "foobar-app"} <= set(snapshot.units(lab, lab.node("web-01")))
    assert snapshot.parse_is_active(["a", "b", "c"], "active\ninactive\n") == {"a": "active", "b": "inactive", "c": "unknown"}


def test_a_slow_question_gives_its_last_answer_for_a_while_and_is_not_asked_again_meanwhile() -> None:
    questions = snapshot.Questions(patience=0.5)
    release, asked = threading.Event(), []

    def slow() -> str:
        asked.append(1)
        if len(asked) > 1:
            release.wait(5)
        return "answer"

    try:
        assert questions.ask({"slow": slow, "quick": lambda: "now"}, 0.2) == {"slow": "answer", "quick": "now"}
        assert questions.ask({"slow": slow}, 0.05) == {"slow": "answer"}  # still running: its last answer stands
        assert questions.ask({"slow": slow}, 0.05) == {"slow": "answer"}
        time.sleep(0.5)
        assert questions.ask({"slow": slow}, 0.05) == {"slow": snapshot.NO_ANSWER}  # past its patience
        assert len(asked) == 2  # never asked twice at once
        release.set()
        time.sleep(0.1)
        assert questions.ask({"slow": slow}, 0.5) == {"slow": "answer"}
        assert "quick" not in questions.last  # not asked since: forgotten
    finally:
        release.set()
        questions.close()


def test_a_page_asking_every_interval_gets_a_new_snapshot_each_time_and_pages_share_one() -> None:
    """The event stream's loop asks every interval: it must get a new snapshot each time, not every other time."""
    taken: list[int] = []

    def take() -> dict[str, Any]:
        time.sleep(0.1)  # a snapshot takes a while
        taken.append(1)
        return {"n": len(taken)}

    shared = snapshot.Shared(take, interval=0.3)
    seen = []
    for _ in range(4):
        began = time.monotonic()
        seen.append(shared.latest()["n"])
        assert shared.latest()["n"] == seen[-1]  # another page at the same moment: the same snapshot
        time.sleep(max(0.0, 0.3 - (time.monotonic() - began)))
    assert seen == [1, 2, 3, 4]


def test_a_question_never_answered_is_no_answer() -> None:
    questions = snapshot.Questions()
    release = threading.Event()
    try:
        assert questions.ask({"hangs": lambda: release.wait(5)}, 0.05) == {"hangs": snapshot.NO_ANSWER}
    finally:
        release.set()
        questions.close()


def test_the_diagram_has_a_box_per_node_and_an_arrow_per_edge(lab: Lab) -> None:
    drawn = picture.svg(lab)
    assert all(f'data-node="{n.name}"' in drawn for n in lab.nodes)
    assert drawn.count('class="edge') == len(edges(lab))
    assert picture.columns(lab, edges(lab)) == {"clients": 0, "lb-01": 1, "web-01": 2, "web-02": 2}


@dataclass
class FakeSocket:
    said: list[str]
    sent: list[str] = field(default_factory=list)

    def send(self, data: str) -> None:
        self.sent.append(data)

    def receive(self, timeout: float | None = None) -> Any:
        return self.said.pop(0) if self.said else None


@dataclass
class FakeShell:
    output: list[bytes]
    typed: list[str] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    closed: bool = False
    then: Callable[[], None] = lambda: None

    def write(self, text: str) -> None:
        self.typed.append(text)

    def resize(self, columns: int, rows: int) -> None:
        self.sizes.append((columns, rows))

    def read(self, timeout: float) -> bytes | None:
        if self.output:
            return self.output.pop(0)
        time.sleep(timeout)
        return None

    def close(self) -> None:
        self.closed = True


def test_the_terminal_joins_the_page_and_the_shell() -> None:
    socket = FakeSocket(['{"input": "hostname\\r"}', '{"resize": [9999, 1]}', "not json", '{"resize": "x"}'])
    shell = FakeShell([b"web-01\r\n", "é".encode()[:1], "é".encode()[1:]])
    follow(socket, shell, seconds=1.0)
    assert shell.typed == ["hostname\r"]
    assert shell.sizes == [(500, 10)]  # kept within bounds
    assert "".join(socket.sent) == "web-01\r\né"  # a character split between two reads comes whole
    assert shell.closed


def test_the_terminal_ends_with_the_shell() -> None:
    socket, shell = FakeSocket([]), FakeShell([b"bye\r\n", b""])
    started = time.monotonic()
    follow(socket, shell, seconds=30.0)
    assert time.monotonic() - started < 3 and shell.closed


INSTRUCTOR_TOKEN = "the-instructors-token"
STUDENT_TOKENS = {"alice": "alices-token", "bob": "bobs-token"}


@dataclass
class Classroom:
    client: Client
    students: dict[str, Page]
    measured: list[int]


def classroom_of(lab: Lab) -> Classroom:
    students = {name: page_of(lab, token) for name, token in STUDENT_TOKENS.items()}
    measured: list[int] = []

    def measure() -> list[dict[str, Any]]:
        measured.append(1)
        return [{"student": n, "lab": f"ops{n}", "member": "-", "lab_up": "up", "checks_ok": 9, "checks_failed": 0, "failed": [], "exercise": "", "hints": 0, "grade": ""} for n in STUDENT_TOKENS]

    wsgi = create_class_app("ops", INSTRUCTOR_TOKEN, {n: p.client.application for n, p in students.items()}, Rows(measure))
    return Classroom(Client(wsgi, use_cookies=True), students, measured)


@pytest.fixture
def classroom(lab: Lab) -> Classroom:
    return classroom_of(lab)


def nothing_ran_in(classroom: Classroom) -> bool:
    return not classroom.measured and all(nothing_ran(p) for p in classroom.students.values())


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("/", None), ("/", "wrong"), ("/", STUDENT_TOKENS["alice"]),
        ("/student/alice/", None), ("/student/alice/", "wrong"), ("/student/alice/", STUDENT_TOKENS["bob"]), ("/student/alice/", INSTRUCTOR_TOKEN),
        ("/student/alice/events", STUDENT_TOKENS["bob"]), ("/student/alice/terminal/web-01", STUDENT_TOKENS["bob"]),
    ],
    ids=str,
)
def test_a_class_page_refuses_every_token_but_its_own(classroom: Classroom, path: str, token: str | None) -> None:
    """Another student's token, the instructor's on a student's page, a student's on the instructor's: 403, nothing runs."""
    answer = classroom.client.get(path if token is None else f"{path}?token={token}")
    assert answer.status_code == 403
    assert nothing_ran_in(classroom)


def test_each_student_opens_their_own_lab_and_the_instructor_every_row(classroom: Classroom) -> None:
    alice = classroom.client.get(f"/student/alice/?token={STUDENT_TOKENS['alice']}")
    assert alice.status_code == 200
    assert "Path=/student/alice/" in alice.headers["Set-Cookie"]  # kept for alice's page only
    assert classroom.students["alice"].snapshots.asked == 1 and classroom.students["bob"].snapshots.asked == 0
    assert 'src="/student/alice/static/page.js"' in alice.get_data(as_text=True)
    instructor = classroom.client.get(f"/?token={INSTRUCTOR_TOKEN}")
    assert instructor.status_code == 200
    html = instructor.get_data(as_text=True)
    assert all(f'data-student="{n}"' in html for n in STUDENT_TOKENS)
    classroom.client.get(f"/?token={INSTRUCTOR_TOKEN}")
    assert len(classroom.measured) == 1  # measured once, shown again for a while


def drills_folder(tmp_path: Path) -> Path:
    """Two finished reports as drills/report.py saves them (one with its plot), and a file that is none."""
    folder = tmp_path / "drills"
    folder.mkdir()
    expectations = [{"id": "reads.none-failed", "what": "", "ok": True, "seen": ""}, {"id": "writes.all-failed", "what": "", "ok": False, "seen": ""}]
    first = {"drill": "kill-web1", "title": "web-01 loses power", "started_at": "2026-12-04T10:10:10Z", "detection_seconds": 0.7,
             "recovery_seconds": 2.6, "acknowledged_writes_lost": 0, "expectations": expectations}
    (folder / "20261204-101010-kill-web1.json").write_text(json.dumps(first))
    (folder / "20261204-101010-kill-web1.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (folder / "20261204-111111-kill-lb.json").write_text(json.dumps({**first, "drill": "kill-lb", "detection_seconds": None}))
    (folder / "notes.json").write_text("{}")
    return folder


def test_the_reports_are_listed_newest_first_with_their_figures(tmp_path: Path) -> None:
    listed = reports.listed(drills_folder(tmp_path))
    assert [r["name"] for r in listed] == ["20261204-111111-kill-lb", "20261204-101010-kill-web1"]
    assert listed[1] | {"title": ""} == {
        "name": "20261204-101010-kill-web1", "drill": "kill-web1", "title": "", "started_at": "2026-12-04T10:10:10Z",
        "detection_seconds": 0.7, "recovery_seconds": 2.6, "lost": 0, "held": 1, "predicted": 2, "plot": True,
    }
    assert listed[0]["plot"] is False and listed[0]["detection_seconds"] is None


@pytest.mark.parametrize("name", ["../secrets", "20261204-101010-kill-web1.svg/..", "notes", "20261204-111111-kill-lb"])
def test_only_a_reports_own_plot_is_served(tmp_path: Path, lab: Lab, name: str) -> None:
    folder = drills_folder(tmp_path)
    assert reports.plot(folder, name) is None
    page = page_of(lab, drills=folder)
    assert page.client.get(f"/reports/{name}.svg?token={TOKEN}").status_code == 404


def test_the_page_serves_the_reports_and_their_plots(tmp_path: Path, lab: Lab) -> None:
    page = page_of(lab, drills=drills_folder(tmp_path))
    listed = page.client.get(f"/reports?token={TOKEN}").get_json()
    assert [r["drill"] for r in listed] == ["kill-lb", "kill-web1"]
    plot = page.client.get(f"/reports/20261204-101010-kill-web1.svg?token={TOKEN}")
    assert plot.status_code == 200 and plot.mimetype == "image/svg+xml"


def test_the_page_shows_a_running_exercise_as_the_student_was_told_it_and_never_its_answer(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from foobar_fab.exercises import runner
    from foobar_fab.exercises.state import Drawer, Running
    from foobar_fab.statefolder import LabFolder

    session = SimpleNamespace(folder=LabFolder(tmp_path / "lab"), settings=SimpleNamespace(exercise_dir=tmp_path / "keys"), lab=SimpleNamespace(name="fflab"))
    assert runner.shown(session) is None  # type: ignore[arg-type]
    details = {"path": "/secret-health-page", "web_address": "10.0.0.11"}
    Drawer(session.folder, tmp_path / "keys", "fflab").save(Running("site-unavailable", 7, "lab.yml", details, hints=1, attempts=2))
    seen = runner.shown(session)  # type: ignore[arg-type]
    assert seen is not None and seen["exercise"] == "site-unavailable" and seen["hints"] == 1 and seen["causes_judged"] == 2
    assert "503" in seen["report"] and "/secret-health-page" not in str(seen) and "haproxy" not in str(seen).lower()
