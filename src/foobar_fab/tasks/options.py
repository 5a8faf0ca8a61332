"""What each task option allows, declared once, and checked before anything runs.

Every task says what kind of value each of its options takes (`@options(duration=Number(...))`);
the options most tasks share are declared here once (`COMMON`). Invoke hands the values over as
they were typed (numbers too: a task's declared options reach Invoke with no typed default, so
Invoke casts nothing), and they are parsed here, in one place: numbers against their range, node
names against the design and the part the command needs, choices against their list. A bad value
ends the task with one line naming the option and what it allows, with exit status 2, before the
lab is reached and before any command runs on the host or a node.
"""

from __future__ import annotations

import functools
import inspect
import ipaddress
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from invoke import Context
from invoke.exceptions import Exit

from ..exercises import causes
from ..providers import PROVIDERS
from ..session import current_design
from ..topology import LAB_NAME, Lab, NodeSpec
from .common import friendly, settings

F = TypeVar("F", bound=Callable[..., Any])


class Refused(Exception):
    """A value the option does not allow; the optional reason says why, beyond what is allowed."""


class Kind(ABC):
    """What an option takes."""

    takes_value: bool = True  # False for an on/off flag
    needs_design: bool = False  # checked against the design (loaded once, after the other options)

    @abstractmethod
    def allowed(self, lab: Lab | None) -> str:
        """What the option allows, for people: the end of `--option: ...`."""

    @abstractmethod
    def parse(self, value: Any, lab: Lab | None) -> Any:
        """The value the task gets; raise Refused when the option does not allow it."""

    @abstractmethod
    def example(self, lab: Lab | None) -> str:
        """A value the option allows, as typed."""


@dataclass(frozen=True)
class Flag(Kind):
    """An on/off switch: Invoke gives it no value to get wrong."""

    takes_value = False

    def allowed(self, lab: Lab | None) -> str:
        return "on or off"

    def parse(self, value: Any, lab: Lab | None) -> bool:
        return bool(value)

    def example(self, lab: Lab | None) -> str:
        return ""


def shown(number: float) -> str:
    """A bound as people write it: 600, 0.05, 2147483647 (not 2.14748e+09)."""
    return str(int(number)) if number == int(number) else f"{number:g}"


@dataclass(frozen=True)
class Number(Kind):
    """A number within a range (whole, where a fraction makes no sense)."""

    what: str  # e.g. "a number of seconds"
    low: float
    high: float
    whole: bool = False

    def allowed(self, lab: Lab | None) -> str:
        return f"{self.what} from {shown(self.low)} to {shown(self.high)}"

    def parse(self, value: Any, lab: Lab | None) -> int | float:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise Refused()
        try:
            number = int(value) if self.whole and isinstance(value, str) else float(value)
        except ValueError:
            raise Refused() from None
        if not self.low <= number <= self.high or (self.whole and number != int(number)):
            raise Refused()  # NaN fails the range too
        return int(number) if self.whole else number

    def example(self, lab: Lab | None) -> str:
        return shown(self.low)


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed list."""

    choices: tuple[str, ...]

    def allowed(self, lab: Lab | None) -> str:
        return f"one of {', '.join(self.choices)}"

    def parse(self, value: Any, lab: Lab | None) -> str:
        if value not in self.choices:
            raise Refused()
        return str(value)

    def example(self, lab: Lab | None) -> str:
        return self.choices[0]


@dataclass(frozen=True)
class Text(Kind):
    """Free text, never empty; `valid` checks its form where it has one (a lab name, a subnet, a web address)."""

    what: str
    sample: str = "true"
    valid: Callable[[str], bool] = bool

    def allowed(self, lab: Lab | None) -> str:
        return self.what

    def parse(self, value: Any, lab: Lab | None) -> str:
        text = str(value)
        if not text.strip():
            raise Refused()
        self.check(text)
        return text

    def check(self, text: str) -> None:
        """Raise Refused when the text, not empty, is still not what the option takes."""
        if not self.valid(text):
            raise Refused()

    def example(self, lab: Lab | None) -> str:
        return self.sample


@dataclass(frozen=True)
class FilePath(Text):
    """A file: one that must exist (read), or one to write."""

    sample: str = "out.svg"
    must_exist: bool = False

    def check(self, text: str) -> None:
        if self.must_exist and not Path(text).expanduser().is_file():
            raise Refused("no such file")


@dataclass(frozen=True)
class Found(Text):
    """Text that must occur in one of a list (a filter): one that matches nothing is most likely a typo."""

    among: Callable[[], list[str]] = list

    def check(self, text: str) -> None:
        if not any(text in candidate for candidate in self.among()):
            raise Refused("it matches nothing")

    def example(self, lab: Lab | None) -> str:
        return self.among()[0]


@dataclass(frozen=True)
class Node(Kind):
    """A node of the design that plays the part the command needs (a replica, a web server...)."""

    what: str  # e.g. "a database replica"
    pick: Callable[[Lab], tuple[NodeSpec, ...]]  # the nodes that play it, in the lab as it runs now

    needs_design = True

    def allowed(self, lab: Lab | None) -> str:
        assert lab is not None
        names = ", ".join(n.name for n in self.pick(lab)) or "none in this lab now"
        return f"{self.what} of {lab.source.name} ({names})"

    def parse(self, value: Any, lab: Lab | None) -> str:
        assert lab is not None
        name = str(value)
        if any(n.name == name for n in self.pick(lab)):
            return name
        if lab.has_node(name):
            roles = ", ".join(r for r in lab.node(name).roles if r != "base") or "base only"
            raise Refused(f"{name}'s roles: {roles}" + ("; fenced" if name in lab.out else ""))
        raise Refused("no such node")

    def example(self, lab: Lab | None) -> str:
        assert lab is not None
        return self.pick(lab)[0].name


@dataclass(frozen=True)
class Cause(Kind):
    """What a student names as an exercise's cause: NODE:COMPONENT of the design, or none."""

    needs_design = True

    def allowed(self, lab: Lab | None) -> str:
        assert lab is not None
        return causes.usage(lab)

    def parse(self, value: Any, lab: Lab | None) -> str:
        assert lab is not None
        try:
            causes.parse(str(value), lab)
        except causes.CauseError as err:
            raise Refused(str(err)) from None
        return str(value)

    def example(self, lab: Lab | None) -> str:
        return causes.NONE


def is_subnet(text: str) -> bool:
    try:
        ipaddress.IPv4Network(text)
    except ValueError:
        return False
    return True


FLAG = Flag()
ANY_NODE = Node("a node", operator.attrgetter("nodes"))
WEB_SERVER = Node("a web server", operator.attrgetter("web_nodes"))
REPLICA = Node("a database replica", operator.attrgetter("replicas"))
FENCED = Node("a fenced former primary", operator.attrgetter("fenced"))
SECONDS = Number("a number of seconds", 1, 600)
SHELL_COMMAND = Text("a shell command")
PIXELS = Number("a number of pixels", 200, 4000, whole=True)
#: The options of a task that serves a page (web, class.web).
LISTEN = Text("an IP address of this host's, e.g. 127.0.0.1", "127.0.0.1")
PORT = Number("a port number", 0, 65535, whole=True)
MINUTES = Number("a number of minutes", 1, 1440)
#: The options of a task that takes a picture with headless Chromium (docs.screenshot, web --screenshot).
PICTURE: dict[str, Kind] = {"width": PIXELS, "height": PIXELS, "during": SHELL_COMMAND, "after": Number("a number of seconds", 0, 600)}
LAB_NAME_TEXT = Text("a lab name: 1-12 lowercase letters or digits, starting with a letter", "fbbench", lambda t: bool(LAB_NAME.fullmatch(t)))
SUBNET = Text("an IPv4 subnet, e.g. 10.181.56.0/24", "10.181.56.0/24", is_subnet)

#: The options most tasks take, declared once.
COMMON: dict[str, Kind] = {
    "lab_file": FilePath("an existing design file, e.g. configs/lab.yml", must_exist=True, sample="configs/lab.yml"),
    "provider": Choice(PROVIDERS),
    "quiet": FLAG,
    "json_": FLAG,
    "fresh": FLAG,
    "yes": FLAG,
}


def flag_name(parameter: str) -> str:
    """The option as typed: json_ -> --json, lab_file -> --lab-file (Invoke's spelling)."""
    return "--" + parameter.strip("_").replace("_", "-")


def parsed(c: Context, kinds: dict[str, Kind | None], given: dict[str, Any]) -> dict[str, Any]:
    """Each given value parsed by its option's kind; the design is loaded (without reaching the lab) only
    when an option needs it, after every other option passed. Exit(2) with one line at the first refusal."""
    values: dict[str, Any] = {}
    lab: Lab | None = None
    for name in sorted(given, key=lambda n: getattr(kinds[n], "needs_design", False)):
        kind = kinds[name]
        if kind is None:
            values[name] = given[name]
            continue
        if kind.needs_design and lab is None:
            lab = current_design(settings(c, lab_file=values.get("lab_file")))
        try:
            values[name] = kind.parse(given[name], lab)
        except Refused as refused:
            why = f" ({refused})" if str(refused) else ""
            raise Exit(f"error: {flag_name(name)}: {kind.allowed(lab)}, not {given[name]!r}{why}", code=2) from None
    return values


def options(**declared: Kind) -> Callable[[F], F]:
    """Make a function a task body whose options are checked first (and whose errors are one line).

    Keyword arguments declare the kind of each of the task's own options; those in COMMON need no
    declaration. An option with no kind at all is passed on unchecked: the unit tests refuse it.
    """

    def decorate(body: F) -> F:
        signature = inspect.signature(body)
        context, *parameters = signature.parameters.values()
        extra = set(declared) - {p.name for p in parameters}
        if extra:
            raise TypeError(f"{body.__name__}: options declared for no parameter: {', '.join(sorted(extra))}")
        kinds = {p.name: declared.get(p.name, COMMON.get(p.name)) for p in parameters}

        @functools.wraps(body)
        def checked(c: Context, *args: Any, **kwargs: Any) -> Any:
            given = signature.bind(c, *args, **kwargs).arguments
            return body(c, **parsed(c, kinds, {k: v for k, v in given.items() if k in kinds and v is not None}))

        def as_invoke_sees(p: inspect.Parameter) -> inspect.Parameter:
            """What Invoke sees: no typed default (Invoke would cast it itself, with a traceback for 'abc')."""
            kind = kinds[p.name]
            if kind is None or not kind.takes_value or p.default is p.empty:
                return p
            return p.replace(default=None)

        checked.__signature__ = signature.replace(parameters=[context] + [as_invoke_sees(p) for p in parameters])  # type: ignore[attr-defined]
        checked.option_kinds = kinds  # type: ignore[attr-defined]
        return friendly(checked)  # type: ignore[return-value]

    return decorate


def kinds_of(body: Callable[..., Any]) -> dict[str, Kind | None] | None:
    """The kinds a task body declared for its options (None: it declared none, it does not use `options`)."""
    return getattr(body, "option_kinds", None)
