"""The values every config template and role step reads: one place, derived from lab.yml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..topology import Lab, NodeSpec

DATABASE = "foobar"
APP_USER = "foobar_app"
REPLICATION_USER = "foobar_repl"
APP_PORT = 8000
APP_WORKERS = 3
APP_ROOT = "/srv/foobar"
APP_ENV = "/etc/foobar/app.env"
STATS_PORT = 8404

#: HAProxy's tuning: how fast a dead server is noticed and what clients see meanwhile.
HAPROXY_PROFILES: dict[str, dict[str, Any]] = {
    # The lab's default: a dead web node is taken out within about a second and reads never fail.
    "tuned": {
        "profile": "tuned",
        "redispatch": True,
        "retries": 2,
        "retry_on": "all-retryable-errors",
        "timeout_connect": "300ms",
        "timeout_server": "800ms",
        "timeout_check": "1s",
        "check_interval": "500ms",
        "check_fall": 2,
        "check_rise": 2,
        "observe": True,
    },
    # The defaults of a widely used community role: no redispatch, slow checks, long timeouts.
    "untuned": {
        "profile": "untuned",
        "redispatch": False,
        "retries": 3,
        "retry_on": "",
        "timeout_connect": "5s",
        "timeout_server": "50s",
        "timeout_check": "5s",
        "check_interval": "2s",
        "check_fall": 3,
        "check_rise": 2,
        "observe": False,
    },
}


@dataclass(frozen=True)
class RoleInputs:
    """What a role needs to write its steps for one node."""

    lab: Lab
    node: NodeSpec
    secrets: Mapping[str, str]
    packages: tuple[str, ...] = ()  # every package of the node's roles, installed by base at once
    haproxy_profile: str = "tuned"

    @property
    def primary(self) -> NodeSpec:
        primaries = self.lab.with_role("db_primary")
        if not primaries:
            raise ValueError(f"{self.lab.source}: no node has the role db_primary")
        return primaries[0]

    @property
    def db_role(self) -> str:
        return "replica" if self.node.has_role("db_replica") else "primary"

    @property
    def db_network(self) -> str:
        """The lab's subnet as MariaDB writes an account's host: address/netmask."""
        return f"{self.lab.subnet.network_address}/{self.lab.subnet.netmask}"

    def template_values(self) -> dict[str, Any]:
        """Everything the templates in configs/ may use."""
        return {
            "lab": self.lab,
            "node": self.node,
            "domain": self.lab.domain,
            "site": self.lab.domain.removeprefix("www."),
            "primary": self.primary,
            "web_nodes": self.lab.with_role("web"),
            "db_role": self.db_role,
            "server_id": int(self.node.address) & 0xFFFF,
            "database": DATABASE,
            "app_user": APP_USER,
            "app_password": self.secrets.get("db_app", ""),
            "app_port": APP_PORT,
            "app_workers": APP_WORKERS,
            "app_root": APP_ROOT,
            "app_env": APP_ENV,
            "stats_port": STATS_PORT,
            "haproxy": HAPROXY_PROFILES[self.haproxy_profile],
        }
