"""Providers make the lab's nodes exist; see base.Provider for the interface."""

from __future__ import annotations

import dataclasses
import ipaddress

from ..console import Console
from ..settings import Settings
from ..topology import Lab
from .base import NodeStatus, Provider, ProviderError

PROVIDERS = ("lxc", "vagrant", "ssh", "incus")


def make(settings: Settings, lab: Lab, console: Console) -> tuple[Lab, Provider]:
    """The provider named in the settings, and the lab as it sees it (existing servers bring their addresses)."""
    if settings.provider == "lxc":
        from .lxc import LxcLayout, LxcProvider

        return lab, LxcProvider(LxcLayout.of(settings, lab), console, role_images=not settings.fresh)
    if settings.provider == "vagrant":
        from .lxc import LxcLayout
        from .vagrant import VagrantProvider

        return lab, VagrantProvider(lab, LxcLayout.of(settings, lab), settings.vagrant_provider, console)
    if settings.provider == "incus":
        from ..inventory import source_address
        from .incus import IncusLayout, IncusPlace, IncusProvider
        from .lxc import LxcLayout

        files = LxcLayout.of(settings, lab)
        place = IncusPlace.load(files.folder)
        if place.via:  # on a cluster: this host comes to the nodes from its own address on the route to their member
            source = source_address(ipaddress.IPv4Address(place.via))
            lab = dataclasses.replace(lab, admin=source) if source else lab
        return lab, IncusProvider(IncusLayout(files, place), console, role_images=not settings.fresh)
    if settings.provider == "ssh":
        from .. import inventory
        from .ssh import SshProvider

        hosts = inventory.load(settings.inventory)
        lab = hosts.apply(lab)
        return lab, SshProvider(lab, hosts, settings.state_dir(lab.name), console)
    raise ProviderError(f"unknown provider {settings.provider!r}: choose one of {', '.join(PROVIDERS)}")


__all__ = ["PROVIDERS", "NodeStatus", "Provider", "ProviderError", "make"]
