"""The roles a design may give its nodes, one record each (see record.Role).

Roles are applied in waves, nodes in parallel within a wave: base everywhere first; then the
database primary, the web and application servers and the load balancer; then the replica, which
needs the primary. Adding a role means one module with its record (and its templates), listed here.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..pki import Pki
from ..resources.packages import NodeImage
from ..topology import Lab, NodeSpec
from . import app, base, database, exporter, firewall, keepalived, loadbalancer, monitor, web
from .record import BuildOptions, Exposure, Role, RoleInputs

#: Every role, in the order their rules are checked: from the data up, so a design is told first what
#: is missing at the bottom (a replica without a primary) rather than what that breaks above it.
ROLES: dict[str, Role] = {
    role.name: role
    for role in (base.ROLE, database.PRIMARY, database.REPLICA, app.ROLE, web.ROLE, loadbalancer.ROLE, keepalived.ROLE, monitor.ROLE, exporter.ROLE, firewall.ROLE)
}


def waves() -> list[list[Role]]:
    """The roles grouped by wave, in order."""
    numbers = sorted({r.wave for r in ROLES.values()})
    return [[r for r in ROLES.values() if r.wave == n] for n in numbers]


def roles_of(node: NodeSpec) -> list[Role]:
    """The records of a node's roles, in the order the design file lists them."""
    return [ROLES[name] for name in node.roles]


def roles_in(lab: Lab) -> list[Role]:
    """Every role some node of the design has, once each, in the registry's order."""
    present = {name for node in lab.nodes for name in node.roles}
    return [role for name, role in ROLES.items() if name in present]


def exposure(lab: Lab) -> tuple[Exposure, ...]:
    """Every port every role listens on, on every node of the design."""
    return tuple(Exposure(node, port) for node in lab.nodes for role in roles_of(node) for port in role.ports(lab, node))


def packages_of(lab: Lab, node: NodeSpec) -> tuple[str, ...]:
    """Every package of the node's roles (those that depend on its other roles included), once each, in the roles' order."""
    return tuple(dict.fromkeys(p for role in roles_of(node) for p in role.packages + (role.node_packages(lab, node) if role.node_packages else ())))


def image_of(lab: Lab, node: NodeSpec) -> NodeImage:
    """What the node's image needs: its packages, and those of its roles' services held until configured."""
    packages = packages_of(lab, node)
    return NodeImage(packages, tuple(sorted({unit for role in roles_of(node) for unit in role.held if unit in packages})))


def images(lab: Lab) -> dict[str, NodeImage]:
    """What each node's image needs, as the provider is given it."""
    return {node.name: image_of(lab, node) for node in lab.nodes}


def inputs_for(
    lab: Lab, node: NodeSpec, secrets: Mapping[str, str], options: BuildOptions = BuildOptions(), tls: Pki | None = None
) -> RoleInputs:
    """A node's role inputs; its packages are those of all its roles, so apt runs once per node."""
    return RoleInputs(lab, node, secrets, packages_of(lab, node), options, exposure(lab), tls)


__all__ = ["ROLES", "BuildOptions", "Exposure", "Role", "RoleInputs", "exposure", "image_of", "images", "inputs_for", "packages_of", "roles_in", "roles_of", "waves"]
