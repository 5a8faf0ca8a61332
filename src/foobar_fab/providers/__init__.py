"""Providers make the lab's nodes exist; see base.Provider for the interface."""

from __future__ import annotations

from ..console import Console
from ..settings import Settings
from ..topology import Lab
from .base import NodeStatus, Provider, ProviderError

PROVIDERS = ("lxc",)


def make(settings: Settings, lab: Lab, console: Console) -> Provider:
    """The provider named in the settings, set up for this lab."""
    if settings.provider == "lxc":
        from .lxc import LxcLayout, LxcProvider

        layout = LxcLayout(lab, settings.state_dir(lab.name), settings.cache_dir, settings.mirror)
        return LxcProvider(layout, console)
    raise ProviderError(f"unknown provider {settings.provider!r}: choose one of {', '.join(PROVIDERS)}")


__all__ = ["PROVIDERS", "NodeStatus", "Provider", "ProviderError", "make"]
