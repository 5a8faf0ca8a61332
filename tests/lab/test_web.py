"""The lab's page in a real browser (Debian's Chromium, driven by Playwright): it loads with no console error,
a node that loses power turns DOWN on it within 2 s and comes back, HAProxy's view of it reaches the page within
1 s of HAProxy's own statistics, a node's terminal is that node's shell, and a drill's timeline shows while it
runs with the figures its report then gives.

The page is served by `invoke web` itself, on loopback, from the URL it prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from foobar_fab.observe.haproxy import HaproxyStats
from foobar_fab.settings import PROJECT_ROOT, Settings

from .conftest import FirstBuild, quiet_session
from .test_lifecycle import INVOKE

CHROMIUM = "/usr/bin/chromium"
SHOWN_WITHIN = 2.0  # seconds from the fault to the page
PAGE_LAG = 1.0  # seconds from a change HAProxy reports to the page

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def page_url(built_lab: FirstBuild) -> Iterator[str]:
    """`invoke web` serving the tests' lab; the URL with the token it printed; stopped afterwards."""
    settings: Settings = built_lab.settings
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(settings.state_root)}
    server = subprocess.Popen(
        [INVOKE, "web", "--minutes", "5", "--lab-file", str(settings.lab_file)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        said = [server.stdout.readline(), server.stdout.readline()]
        found = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", said[1])
        assert found, f"invoke web printed {said!r}; stderr: {server.stderr.read() if server.poll() is not None and server.stderr else ''}"
        yield found.group(0)
    finally:
        server.terminate()
        server.wait(timeout=10)


def box_state(node: str, state: str) -> str:
    return f'svg.diagram g.box[data-node="{node}"][data-state="{state}"]'


def haproxy_says(node: str, status: str) -> str:
    return f'#nodes tr[data-node="{node}"] td.haproxy:text-matches("^{status} ")'


def until_haproxy_says(stats: HaproxyStats, status: str, node: str = "web-01", within: float = 10.0) -> float:
    """When HAProxy's own statistics first show the node in this status (asked every 0.1 s)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if stats.server_states(timeout=0.5).get(node, "").split(" ")[0] == status:
            return time.monotonic()
        time.sleep(0.1)
    raise AssertionError(f"HAProxy did not say {node} {status} within {within:g} s")


def row_of(second: dict[str, Any]) -> list[str]:
    """A second of a report's timeline as the page's table shows it."""
    served = ", ".join(f"{node} {n}" for node, n in second["by_node"].items())
    return [str(second["second"]), served, str(second["failed_reads"]), str(second["failed_writes"]), str(second["slow"])]


def drill_seen_live(page: Any, settings: Settings, drills: Path) -> tuple[dict[int, list[str]], dict[str, Any]]:
    """Run a short drill; while it runs, read the seconds of its timeline that can no longer change (4 s old) off
    the page; return them and the drill's report, to compare."""
    env = {**os.environ, "INVOKE_LAB_STATE_DIR": str(settings.state_root)}
    drill = subprocess.Popen([INVOKE, "drill.stop-nginx-web1", "--quiet", "--duration", "4", "--lab-file", str(settings.lab_file)],
                             cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        page.wait_for_selector("#drill:not([hidden]) #drill-events li", timeout=30_000)
        page.wait_for_function("() => document.querySelectorAll('#drill-timeline tbody tr').length >= 10", timeout=30_000)
        clock = float(page.inner_text("#drill-clock").strip("() s"))
        rows = page.eval_on_selector_all("#drill-timeline tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
        page.wait_for_selector("#drill", state="hidden", timeout=60_000)  # ended: its file is gone
    finally:
        _, errors = drill.communicate(timeout=120)
    assert drill.returncode == 0, errors
    reports = sorted(drills.glob("*-stop-nginx-web1.json"))
    return {int(r[0]): r for r in rows if int(r[0]) <= clock - 4}, json.loads(reports[-1].read_text())


TERMINAL_SHOWS = """(line) => { const b = window.labTerminal && window.labTerminal.buffer.active; if (!b) return false;
  for (let i = 0; i < b.length; i++) { if (b.getLine(i).translateToString(true).trim() === line) return true; } return false; }"""


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is missing: sh src/foobar_fab/host/bootstrap.sh test")
def test_the_page_shows_the_lab_live_and_opens_a_terminal(built_lab: FirstBuild, page_url: str) -> None:
    session, _ = quiet_session(built_lab.settings)
    stats = HaproxyStats(session.lab.balancers[0], session.provider.network_present)
    problems: list[str] = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(page_url)
            for node in ("lb-01", "web-01", "web-02"):
                page.wait_for_selector(box_state(node, "UP"), timeout=10_000)
            page.wait_for_selector(haproxy_says("web-01", "UP"), timeout=10_000)

            page.click('button.open-terminal[data-node="web-01"]')
            page.wait_for_function("() => window.labTerminal !== undefined", timeout=5_000)
            page.wait_for_timeout(1_000)  # the login prompt
            page.keyboard.type("hostname\n")
            page.wait_for_function(TERMINAL_SHOWS, arg="web-01", timeout=10_000)

            fault = time.monotonic()
            session.provider.stop_hard("web-01")
            stopped = time.monotonic() - fault  # the provider's own hard stop
            try:
                page.wait_for_selector(box_state("web-01", "DOWN"), timeout=SHOWN_WITHIN * 1000)
                node_down = time.monotonic() - fault
                haproxy_down = until_haproxy_says(stats, "DOWN") - fault
                page.wait_for_selector(haproxy_says("web-01", "DOWN"), timeout=PAGE_LAG * 1000)
                page_lag = time.monotonic() - fault - haproxy_down
            finally:
                session.provider.start("web-01")
            restored = time.monotonic()
            page.wait_for_selector(box_state("web-01", "UP"), timeout=60_000)
            page.wait_for_selector(haproxy_says("web-01", "UP"), timeout=60_000)
            back = time.monotonic() - restored
            print(
                f"web-01 DOWN on the page {node_down:.2f} s after the power cut (the stop took {stopped:.2f} s); HAProxy said DOWN after {haproxy_down:.2f} s"
                f" and the page {page_lag:.2f} s later; UP again on the page {back:.1f} s after power-on"
            )
            assert node_down <= SHOWN_WITHIN and page_lag <= PAGE_LAG

            page.wait_for_timeout(2_000)  # web-02 has caught up with web-01 again: the drill checks the lab is whole first
            seen, report = drill_seen_live(page, built_lab.settings, session.folder.drills)
            print(f"drill seconds read off the page while it ran: {sorted(seen)}, each as its report gives it")
            assert seen, "the page showed no second of the drill's timeline"
            assert seen == {r["second"]: row_of(r) for r in report["timeline"] if r["second"] in seen}
        finally:
            browser.close()
    assert problems == []
