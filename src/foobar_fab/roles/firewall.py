"""The firewall role: nftables on every node, incoming traffic dropped unless the design needs it.

The rules are derived from the ports every role's record lists and who must reach each one, so a
role added to the design opens exactly what it needs. They live in a table of the lab's own, loaded
at boot by a unit of the lab's own (Debian's nftables.service would flush the whole ruleset), checked
with `nft -c` before they go live, and replaced in one transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..executors import Outcome
from ..expect import expect
from ..resources.files import ConfigFile
from ..resources.services import Service
from ..steps import Plan, Run, Step, change, lines, ok
from ..templates import render
from ..topology import NodeSpec
from .record import NodeCheck, Role, RoleInputs

if TYPE_CHECKING:
    from ..observe.view import LabView

TABLE = "foobar_fab_fw"
RULES = "/etc/foobar_fab/firewall.nft"
SERVICE = "foobar-firewall"
UNIT = f"/etc/systemd/system/{SERVICE}.service"
LOAD = f"nft -f {RULES}"


@dataclass(frozen=True)
class Allow:
    """One accept rule: a port, and the addresses that may reach it (None: anyone)."""

    port: int
    sources: tuple[str, ...] | None
    what: str
    protocol: str = "tcp"

    @property
    def nft(self) -> str:
        """The rule in nftables' language (protocols by number: the nodes have no /etc/protocols)."""
        source = f"ip saddr {{ {', '.join(self.sources)} }} " if self.sources else ""
        match = f"{self.protocol} dport {self.port}" if self.protocol == "tcp" else f"ip protocol {self.port}"
        return f'{source}{match} accept comment "{self.what}"'


def allowed(inputs: RoleInputs) -> list[Allow]:
    """What this node lets in: every port its roles listen on (not on loopback), from whoever must reach it."""
    rules = []
    for exposed in inputs.exposure:
        if exposed.node != inputs.node or exposed.port.listen == "loopback":
            continue
        sources = exposed.sources(inputs.lab)
        if sources == ():
            continue  # nobody needs it: it stays closed
        rules.append(Allow(exposed.port.number, sources, f"{exposed.port.unit}: {exposed.port.what}", exposed.port.protocol))
    return rules


def fingerprint(inputs: RoleInputs) -> str:
    """A short checksum of the rules, kept as the table's comment so a build can tell they are live."""
    rules = [vars(rule) for rule in allowed(inputs)]
    return "foobar_fab " + hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:12]


def ruleset(inputs: RoleInputs) -> str:
    return render(
        "nftables/firewall.nft.j2",
        node=inputs.node,
        lab_name=inputs.lab.name,
        table=TABLE,
        comment=fingerprint(inputs),
        rules=allowed(inputs),
    )


def unit() -> str:
    return render("systemd/foobar-firewall.service.j2", table=TABLE, rules=RULES)


@dataclass
class RulesLive(Step):
    """The table in the kernel holds the rules of the file (a table deleted by hand is loaded again)."""

    comment: str
    name: str = "firewall rules live"

    def probe(self) -> str:
        return f"nft list table inet {TABLE} 2>/dev/null | grep -o 'comment \"foobar_fab [0-9a-f]*\"' || true"

    def decide(self, probe: Outcome) -> Plan:
        if f'comment "{self.comment}"' in lines(probe.stdout):
            return ok(f"table inet {TABLE} holds {self.comment.split()[1]}")
        return change(f"loaded into table inet {TABLE}", Run(LOAD))


@dataclass
class FirewallGone(Step):
    """No firewall of the lab's own on a node whose design has none (its table, unit and file removed)."""

    name: str = "firewall (not in this design)"

    def probe(self) -> str:
        return f"nft list table inet {TABLE} >/dev/null 2>&1 && echo table; test -e {RULES} && echo file; test -e {UNIT} && echo unit; true"

    def decide(self, probe: Outcome) -> Plan:
        found = lines(probe.stdout)
        if not found:
            return ok("none")
        return change(
            f"removed ({', '.join(found)})",
            Run(f"systemctl disable --now {SERVICE} 2>/dev/null; nft delete table inet {TABLE} 2>/dev/null; true"),
            Run(f"rm -f {RULES} {UNIT} && systemctl daemon-reload"),
        )


def steps(inputs: RoleInputs) -> list[Step]:
    """The rules file (checked by nft before it goes live), the unit that loads it at boot, the live table."""
    return [
        ConfigFile(RULES, ruleset(inputs), mode="0600", validate="nft -c -f {path}", on_change=(LOAD,)),
        ConfigFile(UNIT, unit(), validate="systemd-analyze verify {path}", on_change=("systemctl daemon-reload",)),
        Service(SERVICE),
        RulesLive(fingerprint(inputs)),
    ]


def retire(inputs: RoleInputs) -> list[Step]:
    return [FirewallGone()]


def rules_loaded(live: LabView, node: NodeSpec) -> str:
    """The node's firewall table is in the kernel with its default-drop input chain."""
    listing = live.shells.run(node.name, f"nft list chain inet {TABLE} input", kind="check").stdout
    return expect("policy drop;" in listing, f"table inet {TABLE}: " + ("input policy drop" if "policy drop;" in listing else "missing"))


ROLE = Role(
    name="firewall",
    label="nftables: default drop",
    packages=("nftables",),
    wave=4,
    steps=steps,
    retire=retire,
    checks=(NodeCheck("fw.loaded", "firewall loaded, incoming traffic dropped unless the design needs it", rules_loaded),),
)
