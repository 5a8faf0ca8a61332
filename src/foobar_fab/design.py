"""A design, loaded: the file checked as a file (topology), then as a design (every role's rules).

Each failure is one line naming the file, the field and the rule, raised before anything is made.
"""

from __future__ import annotations

from pathlib import Path

from . import topology
from .roles import ROLES
from .topology import Lab, TopologyError


def load(path: Path | str) -> Lab:
    """Read a design file and check it against the rules of every role; raise TopologyError on the first broken one."""
    lab = topology.load(path, ROLES)
    check_rules(lab)
    return lab


def check_rules(lab: Lab) -> None:
    """Raise TopologyError for the first rule of a role that the design breaks."""
    for role in ROLES.values():
        for rule in role.rules:
            for problem in rule.broken(lab):
                raise TopologyError(f"{lab.source}: {problem.field}: {role.name}: {rule.text} ({problem.found})")
