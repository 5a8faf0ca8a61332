"""The host's package cache: package files fetched once, for every node of every lab on the host.

Every node sees it at /var/cache/foobar_fab/packages (a bind mount) and the role images are made
with it; resources/foobar-apt-cache.sh links from it what apt would fetch and keeps what apt
fetched. A file no build has used for a month is removed: Debian's updates replace the old versions.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...executors import Outcome
from ...steps import Plan, Run, Step, StepError, change, lines, ok
from .layout import LxcLayout

UNUSED_DAYS = 30


def _files(layout: LxcLayout) -> str:
    """Probe: the time, then each package file's size and age in seconds ('absent' without the folder)."""
    folder = layout.package_cache
    return f"date +%s; test -d {folder} && find {folder} -maxdepth 1 -name '*.deb' -printf '%s %T@\\n' || echo absent"


def _parse(stdout: str) -> tuple[bool, list[tuple[int, float]]]:
    rows = lines(stdout)
    try:
        now = int(rows[0])
        files = [(int(size), now - float(mtime)) for size, mtime in (row.split() for row in rows[1:] if row != "absent")]
    except (ValueError, IndexError):
        raise StepError(f"unexpected probe output: {stdout[:200]!r}") from None
    return "absent" not in rows, files


def size(files: list[tuple[int, float]]) -> str:
    return f"{len(files)} package files, {sum(s for s, _ in files) / 2**20:.0f} MiB"


@dataclass
class PackageCache(Step):
    """The host's package cache exists (every node mounts it)."""

    layout: LxcLayout
    name: str = "package cache"

    def probe(self) -> str:
        return _files(self.layout)

    def decide(self, probe: Outcome) -> Plan:
        present, files = _parse(probe.stdout)
        folder = self.layout.package_cache
        if not present:
            return change(f"{folder} made (empty)", Run(f"mkdir -p {folder}"))
        return ok(f"{size(files)} in {folder}")


@dataclass
class OldPackages(Step):
    """Package files no build has used for a month are removed: Debian's updates have replaced them."""

    layout: LxcLayout
    name: str = "old package files"

    def probe(self) -> str:
        return _files(self.layout)

    def decide(self, probe: Outcome) -> Plan:
        _, files = _parse(probe.stdout)
        folder = self.layout.package_cache
        old = [f for f in files if f[1] > UNUSED_DAYS * 86400]
        if not old:
            return ok(f"none unused for {UNUSED_DAYS} days")
        return change(
            f"{size(old)} unused for {UNUSED_DAYS} days removed from {folder}",
            Run(f"find {folder} -maxdepth 1 -name '*.deb' -mtime +{UNUSED_DAYS} -delete"),
        )


@dataclass
class PackageCacheEmpty(Step):
    """The host's package cache holds no package file (`invoke cache.clear`); the folder stays, nodes mount it."""

    layout: LxcLayout
    name: str = "package cache"

    def probe(self) -> str:
        return _files(self.layout)

    def decide(self, probe: Outcome) -> Plan:
        _, files = _parse(probe.stdout)
        folder = self.layout.package_cache
        if not files:
            return ok(f"no package files in {folder}")
        return change(f"{size(files)} removed from {folder}", Run(f"find {folder} -mindepth 1 -maxdepth 1 -delete"))
