"""Debian packages, installed without their recommendations, in one apt transaction per step.

Where the host shares its package cache with the node (LXC nodes, and Vagrant's LXC machines), the
package files come from it when it holds them, and those apt downloads go into it for the next node.
A node made from a role image has its packages already; the step says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..executors import Outcome
from ..steps import SECTION, Plan, Put, Run, Step, change, fields, lines, ok, sections

APT_GET = "DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120"
#: The host's package cache, where a node sees it (a bind mount of the host's folder).
PACKAGE_CACHE = "/var/cache/foobar_fab/packages"
#: Links cached package files into apt's archives, and keeps what apt downloaded (see the script).
CACHE_HELPER = "/usr/local/sbin/foobar-apt-cache"
CACHE_HELPER_SCRIPT = Path(__file__).with_name("foobar-apt-cache.sh").read_text()
#: Written into a role image: which image it is and the packages it holds.
IMAGE_MARKER = "/var/lib/foobar_fab/role-image"
UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"  # where apt's own daily job records success
#: Run after every `apt-get update` the lab makes (base image, role images, nodes): the lists' age is the stamp's.
TOUCH_UPDATE_STAMP = f"mkdir -p {UPDATE_STAMP.rsplit('/', 1)[0]} && touch {UPDATE_STAMP}"


@dataclass(frozen=True)
class NodeImage:
    """What a node's image needs, as the roles say it: its packages, and the services among them that stay
    disabled until the build configures them (they fail when started without the lab's settings)."""

    packages: tuple[str, ...]
    held: tuple[str, ...] = ()


def install_command(packages: Iterable[str]) -> str:
    return f"{APT_GET} install -y --no-install-recommends {' '.join(packages)}"


def seed_command(apt_arguments: str, offline: bool = False) -> str:
    """Link the package files these apt-get arguments need that the host's cache holds intact."""
    return f"{CACHE_HELPER} seed {'--offline ' if offline else ''}{apt_arguments}"


def query_command(packages: Iterable[str]) -> str:
    """Each package's name and state, as `installed()` reads them."""
    return f"dpkg-query -W -f='${{Package}} ${{db:Status-Abbrev}}\\n' {' '.join(packages)} 2>/dev/null; true"


def installed(rows: str) -> set[str]:
    """Names of the packages dpkg-query shows as installed ('ii')."""
    found = set()
    for row in lines(rows):
        parts = row.split()
        if len(parts) >= 2 and parts[1].startswith("ii"):
            found.add(parts[0].split(":")[0])
    return found


def image_marker(image: str, packages: Iterable[str]) -> str:
    """What a role image records about itself: its name and its packages."""
    return f"image: {image}\npackages: {' '.join(packages)}\n"


def image_origin(marker: str, packages: Iterable[str]) -> str:
    """' (from role image X)' when the node's role image holds all these packages, else ''."""
    found = fields(marker)
    if "image" in found and set(packages) <= set(found.get("packages", "").split()):
        return f" (from role image {found['image']})"
    return ""


@dataclass
class Packages(Step):
    """Debian packages are installed (without their recommendations)."""

    packages: tuple[str, ...]
    name: str = "packages"

    def probe(self) -> str:
        return (
            f"{query_command(self.packages)}; echo {SECTION}; test -d {PACKAGE_CACHE} && echo cache; "
            f"echo {SECTION}; cat {IMAGE_MARKER} 2>/dev/null; true"
        )

    def decide(self, probe: Outcome) -> Plan:
        rows, cache, marker = sections(probe.stdout, 3)
        present = installed(rows)
        missing = [p for p in self.packages if p not in present]
        if not missing:
            return ok(f"{len(self.packages)} installed: {', '.join(self.packages)}{image_origin(marker, self.packages)}")
        install = Run(install_command(missing))
        if not cache.strip():
            return change(f"installed {', '.join(missing)}", install)
        return change(
            f"installed {', '.join(missing)}",
            Put(CACHE_HELPER, CACHE_HELPER_SCRIPT, "0755"),
            Run(seed_command(f"install --no-install-recommends {' '.join(missing)}"), reports=True),
            install,
            Run(f"{CACHE_HELPER} keep", reports=True),
        )
