"""systemd services: enabled at boot and running now."""

from __future__ import annotations

from dataclasses import dataclass

from ..executors import Outcome
from ..steps import Plan, Run, Step, change, lines, ok


@dataclass
class Service(Step):
    """A systemd unit that is enabled and active."""

    unit: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"service {self.unit}"

    def probe(self) -> str:
        return f"systemctl is-enabled {self.unit} 2>/dev/null; systemctl is-active {self.unit} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        found = lines(probe.stdout) + ["", ""]
        enabled, active = found[0], found[1]
        if enabled == "enabled" and active in ("active", "reloading"):  # reloading: a config just changed
            return ok("enabled and running")
        return change(f"enabled and started (was {enabled or 'unknown'}, {active or 'unknown'})", Run(f"systemctl enable --now {self.unit}"))


def try_restart(unit: str) -> str:
    """Restart a unit only if it exists and runs (a Service step starts it the first time)."""
    return f"if systemctl cat {unit} >/dev/null 2>&1; then systemctl try-restart {unit}; fi"


@dataclass
class UnitEnabled(Step):
    """A unit that runs when another starts (a oneshot wanted by it) is enabled."""

    unit: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"service {self.unit}"

    def probe(self) -> str:
        return f"systemctl is-enabled {self.unit} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        state = (lines(probe.stdout) or ["unknown"])[0]
        if state == "enabled":
            return ok("enabled")
        return change(f"enabled (was {state})", Run(f"systemctl enable {self.unit}"))


@dataclass
class UnitGone(Step):
    """A unit of the lab's own that this node must no longer have: disabled and removed."""

    unit: str
    path: str
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"service {self.unit} absent"

    def probe(self) -> str:
        return f"test -e {self.path} && echo present; true"

    def decide(self, probe: Outcome) -> Plan:
        if "present" not in probe.stdout:
            return ok("absent")
        return change("disabled and removed", Run(f"systemctl disable {self.unit} 2>/dev/null; rm -f {self.path} && systemctl daemon-reload"))
