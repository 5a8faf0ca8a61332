"""What the cluster says of its members, and forgetting a lost one so that its labs can be made again.

When a member stops answering, the others mark it OFFLINE after `cluster.offline_threshold` (20 s
by default); its instances are then listed with status ERROR and cannot be reached or deleted. A
forced removal drops the member and its instances from the cluster's database, after which the same
names can be made on the members left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..executors import Outcome
from ..providers.incus.instances import queried
from ..steps import SECTION, Plan, Run, Step, StepError, change, ok, sections
from .target import IncusTarget

ONLINE = "Online"


@dataclass(frozen=True)
class MemberState:
    """One member as the cluster reports it."""

    name: str
    status: str  # Online, Offline, Evacuated...
    message: str

    @property
    def online(self) -> bool:
        return self.status == ONLINE


def parse_members(found: Any) -> list[MemberState]:
    """Members from `incus query /1.0/cluster/members?recursion=1` (JSON already decoded)."""
    if not isinstance(found, list):
        raise StepError(f"unexpected answer of `incus query`: {str(found)[:200]!r}")
    return [MemberState(str(m.get("server_name", "")), str(m.get("status", "")), str(m.get("message", ""))) for m in found if isinstance(m, dict)]


def member_states(target: IncusTarget) -> list[MemberState]:
    """The cluster's members now (empty when the target does not answer)."""
    found = target.json("query", "/1.0/cluster/members?recursion=1")
    return parse_members(found) if found is not None else []


def lost_members(target: IncusTarget) -> dict[str, str]:
    """The members the cluster reports not online, each with its status, but the one that answers (which may
    report itself offline while the cluster waits on a lost member): those LostForgotten removes."""
    server = target.json("query", "/1.0")
    itself = str(((server.get("environment") or {}) if isinstance(server, dict) else {}).get("server_name", ""))
    return {m.name: m.status.lower() for m in member_states(target) if not m.online and m.name != itself}


def placement(target: IncusTarget) -> dict[tuple[str, str], str]:
    """Where each instance is: (project, name) -> member, from `incus list --all-projects`."""
    found = target.json("list", "--all-projects", "--format", "json")
    if not isinstance(found, list):
        return {}
    return {(str(i.get("project", "default")), str(i.get("name", ""))): str(i.get("location", "")) for i in found if isinstance(i, dict)}


@dataclass
class LostForgotten(Step):
    """Members the cluster reports offline are removed from it, with their instances (their labs are made again elsewhere).

    The member that answers is never removed: while a heartbeat round waits for a lost member, the
    leader may report itself offline too.
    """

    target: IncusTarget
    name: str = "lost members"

    def probe(self) -> str:
        server, listing = self.target.command("query", "/1.0"), self.target.command("query", "/1.0/cluster/members?recursion=1")
        return f"{server} 2>/dev/null; echo {SECTION}; {listing} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        server, listing = sections(probe.stdout, 2)
        answering = queried(server)
        if answering is None or not listing.strip():
            raise StepError(f"{self.target} does not answer: is the cluster up?")
        try:
            states = parse_members(json.loads(listing))
        except ValueError:
            raise StepError(f"unexpected answer of `incus query`: {listing[:200]!r}") from None
        itself = str((answering.get("environment") or {}).get("server_name", ""))
        lost = [m for m in states if not m.online and m.name != itself]
        if not lost:
            return ok(f"{sum(m.online for m in states)} of {len(states)} members online, none to remove")
        return change(
            "removed from the cluster: " + ", ".join(f"{m.name} ({m.status.lower()}: {m.message})" for m in lost),
            *(Run(self.target.command("cluster", "remove", "--force", "--yes", m.name)) for m in lost),
        )
