"""keepalived on the load balancers of a design with a floating address: VRRP moves the address to
a balancer whose HAProxy is alive, so clients keep one address while a balancer dies.

Every balancer of such a design gets this role (the design file names only the address). Their order
in the file is their priority: the first listed holds the address when all are up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..constants import STATS_PORT
from ..expect import eventually, expect
from ..observe.vip import holders
from ..resources.files import ConfigFile
from ..resources.services import Service
from ..steps import Step
from ..templates import render
from ..topology import Lab, NodeSpec
from .record import Port, Problem, Role, RoleInputs, Rule, SiteCheck

if TYPE_CHECKING:
    from ..observe.view import LabView

CONFIG = "/etc/keepalived/keepalived.conf"
DEFAULTS = "/etc/default/keepalived"
RESTART = "systemctl restart keepalived"
VRRP = 112  # VRRP's IP protocol number
ADVERT_INT = 0.1  # seconds between advertisements: a dead master is noticed after about 3 of them
CHECK_INTERVAL = 1  # second between checks of HAProxy (keepalived takes whole seconds here)
TOP_PRIORITY = 150


def priority(lab: Lab, node: NodeSpec) -> int:
    """The first balancer of the file gets the highest priority, each next one 10 less."""
    return TOP_PRIORITY - 10 * lab.balancers.index(node)


def router_id(lab: Lab) -> int:
    """VRRP's router id, from the entry (floating) address, 1-254: labs on other networks do not meet anyway."""
    return int(lab.entry_address) % 254 + 1


def config(inputs: RoleInputs) -> str:
    lab, node = inputs.lab, inputs.node
    return render(
        "keepalived/keepalived.conf.j2",
        node=node,
        peers=[b.name for b in lab.balancers],
        floating=lab.floating_address,
        prefix=lab.subnet.prefixlen,
        router_id=router_id(lab),
        priority=priority(lab, node),
        advert_int=ADVERT_INT,
        check_interval=CHECK_INTERVAL,
        stats_port=STATS_PORT,
    )


def steps(inputs: RoleInputs) -> list[Step]:
    """keepalived's settings (checked with `keepalived -t`), then the service."""
    return [
        ConfigFile(DEFAULTS, render("keepalived/keepalived.default.j2"), on_change=(RESTART,)),
        ConfigFile(CONFIG, config(inputs), validate="keepalived -t -f {path}", on_change=("systemctl reload-or-restart keepalived",)),
        Service("keepalived"),
    ]


def ports(lab: Lab, node: NodeSpec) -> tuple[Port, ...]:
    peers = tuple(b.name for b in lab.balancers if b != node)
    return (Port(VRRP, "keepalived", "VRRP advertisements from the other balancers", "any", peers, protocol="vrrp"),)


def one_holder(live: LabView) -> str:
    """Exactly one balancer holds the floating address."""

    def probe() -> str:
        found = holders(live.shells, live.lab)
        return expect(len(found) == 1, f"{live.lab.floating_address} held by {', '.join(found) or 'nobody'}")

    return eventually(probe)


def _only_with_floating(lab: Lab) -> Iterator[Problem]:
    for node in lab.with_role("keepalived"):
        if lab.floating_address is None:
            yield Problem(f"nodes.{node.name}.roles", "keepalived without lab.floating_address to share")


ROLE = Role(
    name="keepalived",
    label="keepalived (VRRP)",
    packages=("keepalived",),
    wave=2,
    steps=steps,
    ports=ports,
    checks=(SiteCheck("vip.one-holder", "exactly one balancer holds the floating address", one_holder),),
    rules=(Rule("keepalived shares the design's floating address", _only_with_floating),),
)
