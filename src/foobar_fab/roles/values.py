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


@dataclass(frozen=True)
class RoleInputs:
    """What a role needs to write its steps for one node."""

    lab: Lab
    node: NodeSpec
    secrets: Mapping[str, str]
    packages: tuple[str, ...] = ()  # every package of the node's roles, installed by base at once

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
            "check_interval": "1s",
            "check_fall": 2,
            "check_rise": 2,
        }
