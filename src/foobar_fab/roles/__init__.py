"""Roles: named lists of steps, applied in waves (nodes in parallel within a wave).

The order of waves follows the design: base everywhere first; then the database primary, the web
and application servers and the load balancer; then the replica, which needs the primary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..steps import Step
from ..topology import Lab, NodeSpec
from . import app, base, database, loadbalancer, web
from .values import RoleInputs

RoleSteps = Callable[[RoleInputs], list[Step]]

#: Every role lab.yml may name (topology.KNOWN_ROLES), with the function that writes its steps.
ROLES: dict[str, RoleSteps] = {
    "base": base.steps,
    "db_primary": database.primary,
    "web": web.steps,
    "app": app.steps,
    "loadbalancer": loadbalancer.steps,
    "db_replica": database.replica,
}

WAVES: tuple[tuple[str, ...], ...] = (
    ("base",),
    ("db_primary", "web", "app", "loadbalancer"),
    ("db_replica",),
)

PACKAGES: dict[str, tuple[str, ...]] = {
    "base": base.PACKAGES,
    "db_primary": database.PACKAGES,
    "web": web.PACKAGES,
    "app": app.PACKAGES,
    "loadbalancer": loadbalancer.PACKAGES,
    "db_replica": database.PACKAGES,
}


def inputs_for(lab: Lab, node: NodeSpec, secrets: Mapping[str, str]) -> RoleInputs:
    """A node's role inputs; its packages are those of all its roles, so apt runs once per node."""
    packages = dict.fromkeys(p for role in node.roles for p in PACKAGES.get(role, ()))
    return RoleInputs(lab, node, secrets, tuple(packages))
