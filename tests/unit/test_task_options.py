"""Every option of every task, tried with values it must refuse: exit status 2, one line naming the option
and what it allows, no traceback, and nothing reached (no provider made, no command run on the host or
a node).

The cases come from the task list itself (Invoke's collection knows every task and option) and from the
kind each option declares in `foobar_fab.tasks.options`: a new option is tried here without a line
written for it, and an option that declares no kind fails here.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from invoke import Collection, Context, Program, Task, task

from foobar_fab import providers
from foobar_fab.session import current_design
from foobar_fab.settings import Settings
from foobar_fab.tasks import ns
from foobar_fab.tasks.options import SECONDS, Cause, Choice, FilePath, Found, Kind, Node, Number, Text, flag_name, kinds_of, options
from foobar_fab.topology import Lab

from .fakes import RecordingProvider

#: A design where every part a node option asks for exists after the recorded failover: web-02 the
#: primary, web-03 a replica, web-01 fenced, lb-01 a balancer only. Nothing of it is ever made.
DESIGN = """\
lab: {name: ffopts, subnet: 10.184.1.0/24, domain: www.foobar.com}
nodes:
  lb-01: {address: 10.184.1.10, roles: [base, loadbalancer]}
  web-01: {address: 10.184.1.11, roles: [base, db_primary, web, app]}
  web-02: {address: 10.184.1.12, roles: [base, db_replica, web, app]}
  web-03: {address: 10.184.1.13, roles: [base, db_replica, web, app]}
"""
FAILED_OVER = {"primary": "web-02", "out": ["web-01"], "how": "failover"}


@dataclass
class World:
    """The design the tasks load, and everything that would have reached the lab, the host or a node."""

    lab: Lab
    providers: list[RecordingProvider] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def reached(self) -> list[str]:
        return [f"{p.name} provider made: {p.calls}" for p in self.providers] + self.commands


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    design, state = tmp_path / "design.yml", tmp_path / "state"
    design.write_text(DESIGN)
    (state / "ffopts").mkdir(parents=True)
    (state / "ffopts" / "database.json").write_text(json.dumps(FAILED_OVER))
    for key, value in {"LAB_FILE": design, "STATE_DIR": state, "CACHE_DIR": tmp_path / "cache", "EXERCISE_DIR": tmp_path / "ex"}.items():
        monkeypatch.setenv(f"INVOKE_LAB_{key}", str(value))
    found = World(current_design(Settings.from_mapping({"lab_file": design, "state_dir": state})))
    assert [n.name for n in found.lab.replicas + found.lab.fenced] == ["web-03", "web-01"]

    def make(settings: Settings, lab: Lab, console: Any) -> tuple[Lab, RecordingProvider]:
        found.providers.append(RecordingProvider(lab))
        return lab, found.providers[-1]

    def refused(what: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            found.commands.append(f"{what}: {args[0] if args else kwargs}")
            raise OSError(f"{what} is not allowed in this test")

        return record

    monkeypatch.setattr(providers, "make", make)
    monkeypatch.setattr(subprocess, "Popen", refused("local command"))
    monkeypatch.setattr(os, "execvp", refused("exec"))
    return found


def run(capsys: pytest.CaptureFixture[str], name: str, *argv: str, namespace: Collection | None = None) -> tuple[int, str, str]:
    """Run `invoke NAME ARGV` in this process (the task alone, unless another namespace is given): exit status, stdout, stderr."""
    try:
        Program(namespace=namespace or alone(name), binary="invoke").run(["invoke", "task" if namespace is None else name, *argv])
        code = 0
    except SystemExit as ended:
        code = ended.code if isinstance(ended.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@functools.cache
def alone(name: str) -> Collection:
    """The task in a collection of its own, with the lab's configuration: Invoke parses only its options (fast)."""
    single = Collection()
    single.add_task(copy.deepcopy(ns[name]), name="task")  # parsing consumes a task's help: keep ns's whole
    single.configure(ns.configuration())
    return single


def arguments(t: Task) -> list[Any]:
    # get_arguments() consumes the task's help dict: use a copy.
    return list(copy.deepcopy(t).get_arguments())


def undeclared(t: Task) -> list[str]:
    """The task's options with no declared kind: every option must say what it takes."""
    kinds = kinds_of(t.body)
    if kinds is None:
        return [a.name for a in arguments(t)]
    return [a.name for a in arguments(t) if kinds.get(a.name) is None]


def bad_values(kind: Kind, lab: Lab) -> list[str]:
    """What each kind of option must refuse; a kind this test does not know fails it (teach it here)."""
    if not kind.takes_value:
        return []
    if isinstance(kind, Number):
        step = 1 if kind.whole else 0.01
        values = ["", "abc", "nan", "1e999", str(kind.low - step), str(kind.low - 5), str(kind.high + step)]
        return values + (["1.5"] if kind.whole else [])
    if isinstance(kind, Choice):
        return ["", "nothing-of-the-list", kind.choices[0].upper()]
    if isinstance(kind, Found):
        return ["", " ", "nothing-matches-this-ever"]
    if isinstance(kind, FilePath):
        return ["", " "] + (["/nonexistent/design.yml"] if kind.must_exist else [])
    if isinstance(kind, Text):
        return ["", " "]
    if isinstance(kind, Node):
        allowed = {n.name for n in kind.pick(lab)}
        return ["", "web-99", "WEB-01"] + [n.name for n in lab.nodes if n.name not in allowed]
    if isinstance(kind, Cause):
        return ["", "web-01", "web-99:nginx", "web-01:nothing"]
    raise AssertionError(f"{type(kind).__name__}: this test does not know which values such an option must refuse")


def cases() -> Iterator[Any]:
    for name in sorted(ns.task_names):
        for argument in arguments(ns[name]):
            yield pytest.param(name, argument.name, id=f"{name}{flag_name(argument.name)}")


@pytest.mark.parametrize("name", sorted(ns.task_names))
def test_every_option_declares_what_it_takes(name: str) -> None:
    assert undeclared(ns[name]) == [], f"{name}: declare these options' kinds with @options(...) (foobar_fab.tasks.options)"


@pytest.mark.parametrize("name, option", list(cases()))
def test_a_bad_value_gets_one_line_and_reaches_nothing(name: str, option: str, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    t: Task = ns[name]
    kind = (kinds_of(t.body) or {}).get(option)
    assert kind is not None, f"{name} {flag_name(option)} declares no kind"
    kinds = {k: v for k, v in (kinds_of(t.body) or {}).items() if v is not None}
    argument = next(a for a in arguments(t) if a.name == option)
    assert kind.takes_value == (argument.kind is not bool), "only an on/off switch is declared a flag (it has no value to try)"
    assert kind.parse(kind.example(world.lab), world.lab) is not None, "the option refuses its own example"
    required = [f"{flag_name(a.name)}={kinds[a.name].example(world.lab)}" for a in arguments(t) if a.positional and a.name != option]
    for value in bad_values(kind, world.lab):
        code, out, err = run(capsys, name, *required, f"{flag_name(option)}={value}")
        said = f"{name} {flag_name(option)}={value!r}: exit {code}, stdout {out!r}, stderr {err!r}"
        assert code == 2, said
        assert "Traceback" not in out + err, said
        assert err.count("\n") == 1 and out == "", said
        assert err.startswith(f"error: {flag_name(option)}: {kind.allowed(world.lab)}, not {value!r}"), said
        assert world.reached() == [], said


def test_a_value_is_parsed_once_and_the_task_gets_it_typed(capsys: pytest.CaptureFixture[str]) -> None:
    """Invoke hands over text; the task body gets the number, or its own default when none was given."""
    got: list[float] = []

    @task
    @options(duration=SECONDS)
    def timed(c: Context, duration: float = 20.0) -> None:
        got.append(duration)

    tasks = Collection(timed)
    assert run(capsys, "timed", "--duration", "7.5", namespace=tasks)[0] == 0
    assert run(capsys, "timed", namespace=tasks)[0] == 0
    assert got == [7.5, 20.0]
    code, _, err = run(capsys, "timed", "--duration", "abc", namespace=tasks)
    assert (code, err) == (2, "error: --duration: a number of seconds from 1 to 600, not 'abc'\n")


def test_an_option_without_a_kind_is_found() -> None:
    @task
    @options()
    def careless(c: Context, colour: str | None = None, lab_file: str | None = None) -> None:
        """A task whose new option says nothing of what it takes."""

    @task
    def plain(c: Context, colour: str | None = None) -> None:
        """A task that does not go through @options at all."""

    assert undeclared(careless) == ["colour"]
    assert undeclared(plain) == ["colour"]
    with pytest.raises(TypeError, match="declared for no parameter: color"):
        options(color=SECONDS)(careless.body)


class Terminal:
    """stdin as a terminal: what a person at the keyboard runs a command from."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "argv, first_line",
    [
        (["destroy"], "destroy: lab ffopts (fake): lb-01, web-01, web-02, web-03 are removed with all their data"),
        (["db.rebuild", "web-03"], "db.rebuild: web-03's database is dropped and copied afresh from the primary web-02"),
    ],
)
def test_discarding_data_says_what_first_and_asks_on_a_terminal(
    argv: list[str], first_line: str, world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    code, out, err = run(capsys, *argv)
    assert out.startswith(first_line) and asked == ["go on? [y/N] "]
    assert (code, err) == (1, "nothing done: not confirmed (--yes skips the question)\n")
    assert [p.calls for p in world.providers] == [["preflight"]]  # the session was opened; nothing reached the lab
    code, out, err = run(capsys, *argv, "--yes")
    assert out.startswith(first_line) and asked == ["go on? [y/N] "] and code == 2  # no question; the (fake) lab is reached
    assert world.providers[-1].calls[1:], "--yes went on to the lab"


def test_without_a_terminal_a_script_goes_on_without_asking(world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("a script was asked"))
    code, out, err = run(capsys, "destroy")
    assert out.startswith("destroy: lab ffopts") and world.providers[-1].calls == ["preflight", "destroy"]
    assert (code, err) == (2, "error: the fake lab is not up (destroy)\n")
