"""The Runner on a fake executor, and the Console's results and recap."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pytest

from foobar_fab.console import Console, Tally
from foobar_fab.executors import Outcome
from foobar_fab.steps import (
    Failure,
    Plan,
    Put,
    Run,
    Runner,
    Step,
    StepError,
    change,
    ok,
)

from .fakes import FakeExecutor, probed


@dataclass
class Scripted(Step):
    """A step whose decision is fixed: its plan, or a StepError to raise."""

    name: str
    plan: Plan = field(default_factory=lambda: ok("as wanted"))
    error: str | None = None

    def probe(self) -> str:
        return f"probe {self.name}"

    def decide(self, probe: Outcome) -> Plan:
        if self.error is not None:
            raise StepError(self.error)
        return self.plan


CHANGING = Scripted("motd", change("written", Put("/etc/motd", "hi\n"), Run("touch /etc/motd.done")))


@pytest.fixture
def console() -> Console:
    return Console(stream=io.StringIO())


def output(console: Console) -> str:
    assert isinstance(console.stream, io.StringIO)
    return console.stream.getvalue()


def test_ok_step_runs_only_its_probe(console: Console) -> None:
    """A plan without actions probes once, changes nothing, and reports ok."""
    executor = FakeExecutor(console)
    assert Runner(console).apply("web-01", executor, [Scripted("quiet")])
    assert executor.calls == [("probe", "probe quiet")]
    assert console.tallies["web-01"] == Tally(ok=1, changed=0, failed=0)


def test_changed_step_runs_its_actions_in_order(console: Console) -> None:
    """The probe, then each action (Put through put(), Run through run()); the step reports changed."""
    executor = FakeExecutor(console)
    assert Runner(console).apply("web-01", executor, [CHANGING])
    assert executor.calls == [("probe", "probe motd"), ("put", "/etc/motd"), ("run", "touch /etc/motd.done")]
    assert "changed  motd: written" in output(console)
    assert console.tallies["web-01"] == Tally(ok=1, changed=1, failed=0)


@pytest.mark.parametrize(
    ("script", "error"),
    [
        pytest.param(
            {"touch /etc/motd.done": probed(exited=1, stderr="touch: read-only\n", command="touch /etc/motd.done")},
            "`touch /etc/motd.done` exited 1: touch: read-only",
            id="run-fails",
        ),
        pytest.param(
            {"put /etc/motd": probed(exited=1, stderr="No space left", command="write /etc/motd")},
            "`write /etc/motd` exited 1: No space left",
            id="put-fails",
        ),
    ],
)
def test_failing_action_stops_the_node(console: Console, script: dict[str, Outcome], error: str) -> None:
    """The first failing action ends the node's run; the failure names node, step and the command's error."""
    executor = FakeExecutor(console, script)
    runner = Runner(console)
    assert not runner.apply("web-02", executor, [CHANGING, Scripted("after")])
    assert "probe after" not in [command for _, command in executor.calls]
    assert runner.failures == [Failure("web-02", "motd", error)]
    assert str(runner.failures[0]) == f"web-02: step 'motd': {error}"
    assert f"failed   motd: {error}" in output(console)


def test_step_error_becomes_a_failure(console: Console) -> None:
    """A step that cannot decide is a failure with its message; later steps do not run."""
    executor = FakeExecutor(console)
    runner = Runner(console)
    assert not runner.apply("lb-01", executor, [Scripted("odd", error="unexpected probe output"), Scripted("next")])
    assert runner.failures == [Failure("lb-01", "odd", "unexpected probe output")]
    assert executor.calls == [("probe", "probe odd")]


def test_executor_exception_becomes_a_failure(console: Console) -> None:
    """A lost connection during a probe is reported as a failure, not raised."""

    class Vanished(FakeExecutor):
        def run(self, command: str, kind: str = "run") -> Outcome:
            raise ConnectionResetError("node went away")

    runner = Runner(console)
    assert not runner.apply("lb-01", Vanished(console), [Scripted("any")])
    assert runner.failures == [Failure("lb-01", "any", "ConnectionResetError: node went away")]


def test_other_nodes_continue_after_one_fails(console: Console) -> None:
    """A failure is per node: another node's steps still run and count."""
    runner = Runner(console)
    runner.apply("web-01", FakeExecutor(console), [Scripted("bad", error="no")])
    assert runner.apply("web-02", FakeExecutor(console), [Scripted("good")])
    assert [f.who for f in runner.failures] == ["web-01"]


@pytest.mark.parametrize(
    ("results", "line", "all_ok"),
    [
        pytest.param(["ok", "ok"], "web-01 : ok=2 changed=0 failed=0", True, id="all-ok"),
        pytest.param(["ok", "changed", "changed"], "web-01 : ok=3 changed=2 failed=0", True, id="changed-counts-as-ok"),
        pytest.param(["ok", "changed", "failed"], "web-01 : ok=2 changed=1 failed=1", False, id="one-failed"),
    ],
)
def test_recap_counts_like_ansible(console: Console, results: list[str], line: str, all_ok: bool) -> None:
    """ok counts every step that did not fail (changed included); recap is False on any failure."""
    console.result("host", "bridge", "ok", "up")
    for status in results:
        console.result("web-01", "step", status, "why")
    assert console.recap() is all_ok
    recap = output(console).split("== RECAP\n", 1)[1].splitlines()
    assert recap == ["host   : ok=1 changed=0 failed=0", line]


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_hides_commands_but_not_results(quiet: bool) -> None:
    """With quiet, command lines disappear; step results are printed either way."""
    console = Console(quiet=quiet, stream=io.StringIO())
    Runner(console).apply("web-01", FakeExecutor(console, label="web-01"), [CHANGING])
    text = output(console)
    assert ("touch /etc/motd.done" in text) is not quiet
    assert ("probe motd" in text) is not quiet
    assert "web-01   changed  motd: written" in text


def test_console_has_no_colour_off_a_terminal(console: Console) -> None:
    """A StringIO is not a terminal: no escape codes in the output."""
    console.result("web-01", "step", "failed", "why")
    assert "\033[" not in output(console)


def test_a_reporting_command_completes_the_reason(console: Console) -> None:
    """A command that reports adds its last line of output to the step's reason."""
    step = Scripted("packages", change("installed nginx", Run("seed"), Run("keep", reports=True)))
    executor = FakeExecutor(console, {"keep": probed("copied\npackage files: 3 from the host's cache\n", command="keep")})
    assert Runner(console).apply("web-01", executor, [step])
    assert "web-01   changed  packages: installed nginx (package files: 3 from the host's cache)" in output(console)


def test_a_reporting_command_that_fails_says_why_on_its_own(console: Console) -> None:
    """Its last line on stderr is the whole failure: no command line in front of it."""
    step = Scripted("role image", change("built", Run("seed --offline", reports=True)))
    failed = probed("", exited=1, stderr="2 package files are not in the host's package cache\n", command="seed --offline")
    runner = Runner(console)
    assert not runner.apply("host", FakeExecutor(console, {"seed --offline": failed}), [step])
    assert runner.failures == [Failure("host", "role image", "2 package files are not in the host's package cache")]
