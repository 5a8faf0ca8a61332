"""The class's firewall on the host: each lab talks only to itself, the entry point only to the nodes' SSH.

The host routes between the labs' bridges, so without it a student, root on their own nodes, could reach
another student's. The table drops traffic between any two blocks of the class's subnet but a lab's own
(with bridge netfilter on, frames inside one bridge pass this hook too) and the entry point's SSH to a
node; and it drops what the labs send to the host itself but DNS (the bridges' resolver) and ping.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..executors import Outcome
from ..steps import Plan, Put, Run, Step, change, ok
from .classfile import Classroom
from .folder import ClassFolder


def table_name(classroom: Classroom) -> str:
    return f"foobar_fab_class_{classroom.name}"


def ruleset(classroom: Classroom) -> str:
    """The class's table, replaced whole each time it is loaded."""
    table, whole, entry = table_name(classroom), classroom.subnet, classroom.entry_subnet
    own = "".join(f"    ip saddr {s.subnet} ip daddr {s.subnet} accept\n" for s in classroom.students)
    return (
        f"# Managed by foobar_fab: class {classroom.name}, its labs kept apart.\n"
        f"table inet {table}\n"
        f"delete table inet {table}\n"
        f"table inet {table} {{\n"
        f"  chain forward {{\n"
        f"    type filter hook forward priority filter; policy accept;\n"
        f"    ct state established,related accept\n"
        f"    ip saddr {entry} ip daddr {whole} tcp dport 22 accept\n"
        f"{own}"
        f"    ip saddr {whole} ip daddr {whole} drop\n"
        f"  }}\n"
        f"  chain input {{\n"
        f"    type filter hook input priority filter; policy accept;\n"
        f"    ip saddr {whole} ct state established,related accept\n"
        f"    ip saddr {whole} meta l4proto {{ tcp, udp }} th dport 53 accept\n"
        f"    ip saddr {whole} icmp type echo-request accept\n"
        f"    ip saddr {whole} drop\n"
        f"  }}\n"
        f"  chain postrouting {{\n"
        f"    type nat hook postrouting priority srcnat; policy accept;\n"
        f"    ip saddr {entry} ip daddr {whole} masquerade\n"
        f"  }}\n"
        f"}}\n"
    )


def loaded_rules(text: str) -> list[str]:
    """The table's chains and rules as nft lists them (or as the file writes them): its lines from `table ... {`
    on, without indentation or blank lines, so what is loaded compares with what is wanted."""
    found = [line.strip() for line in text.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(found) if line.startswith("table ") and line.endswith("{")), len(found))
    return found[start:]


@dataclass
class ClassFirewall(Step):
    """The class's table is loaded as the class file wants it (checked with `nft -c` first)."""

    classroom: Classroom
    folder: ClassFolder
    name: str = "firewall"

    def probe(self) -> str:
        return f"nft list table inet {table_name(self.classroom)} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        wanted = ruleset(self.classroom)
        if loaded_rules(probe.stdout) == loaded_rules(wanted):
            return ok(f"table {table_name(self.classroom)}: {len(self.classroom.students)} labs kept apart")
        rules = self.folder.firewall
        return change(
            f"table {table_name(self.classroom)} loaded: {len(self.classroom.students)} labs kept apart",
            Put(str(rules), wanted, "0600"),
            Run(f"nft -c -f {rules} && nft -f {rules}"),
        )


@dataclass
class ClassFirewallGone(Step):
    """The class's table is gone."""

    classroom: Classroom
    name: str = "firewall"

    def probe(self) -> str:
        return f"nft list table inet {table_name(self.classroom)} >/dev/null 2>&1 && echo loaded; true"

    def decide(self, probe: Outcome) -> Plan:
        if "loaded" not in probe.stdout:
            return ok(f"no table {table_name(self.classroom)}")
        return change(f"table {table_name(self.classroom)} deleted", Run(f"nft delete table inet {table_name(self.classroom)}"))
