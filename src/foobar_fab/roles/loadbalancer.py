"""The load balancer role: HAProxy, round robin over the web nodes, health-checked, statistics on 8404."""

from __future__ import annotations

from ..resources.files import ConfigFile
from ..resources.packages import Packages
from ..resources.services import Service
from ..steps import Step
from ..templates import render
from .values import RoleInputs

PACKAGES = ("haproxy",)

def steps(inputs: RoleInputs) -> list[Step]:
    """HAProxy with the lab's config, checked with `haproxy -c` before it goes live."""
    return [
        Packages(PACKAGES),
        ConfigFile(
            "/etc/haproxy/haproxy.cfg",
            render("haproxy/haproxy.cfg.j2", **inputs.template_values()),
            validate="haproxy -c -q -f {path}",
            on_change=("systemctl reload-or-restart haproxy",),
        ),
        Service("haproxy"),
    ]
