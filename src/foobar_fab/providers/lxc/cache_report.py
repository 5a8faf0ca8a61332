"""What the host keeps for builds, as `invoke cache.show` lists it: base images, role images, package files."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ...steps import fields
from .layout import LxcLayout
from .package_cache import size
from .recipe import DEBIAN_SUITE


def _mib(path: Path) -> str:
    proc = subprocess.run(["du", "-s", "--block-size=1M", str(path)], capture_output=True, text=True)
    return f"{proc.stdout.split()[0]} MiB" if proc.returncode == 0 and proc.stdout else "?"


def _users(layout: LxcLayout, needle: str) -> list[str]:
    """Containers on this host whose config names the folder (as their root's lower layer)."""
    configs = layout.lxcpath.glob("*/config") if layout.lxcpath.is_dir() else []
    return sorted(c.parent.name for c in configs if needle in c.read_text(errors="replace"))


def _stamp(folder: Path) -> dict[str, str]:
    stamp = folder / "stamp"
    return fields(stamp.read_text()) if stamp.is_file() else {}


def report(layout: LxcLayout) -> list[str]:
    """One line per base image and role image generation, then the package cache."""
    cache = layout.cache_dir
    rows = [f"cache {cache} (shared by every lab on this host)"]
    for base in sorted(cache.glob(f"{DEBIAN_SUITE}-*")):
        current = " (current recipe)" if base == layout.base_dir else ""
        used = _users(layout, f"{base}/rootfs:")
        rows.append(f"  base image  {base.name}{current}, {_mib(base)}, {len(used)} containers")
    for generation in sorted(layout.images_dir.glob("*/*")):
        stamp = _stamp(generation)
        built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(stamp["built"]))) if stamp.get("built", "").isdigit() else "not finished or set aside"
        used = _users(layout, f"{generation}/layer:")
        packages = len(stamp.get("packages", "").split())
        rows.append(f"  role image  {generation.parent.name}/{generation.name}, {_mib(generation)}, {packages} packages, built {built}, used by {', '.join(used) or 'none'}")
    debs = [(d.stat().st_size, 0.0) for d in layout.package_cache.glob("*.deb")]
    rows.append(f"  package cache  {layout.package_cache}, {size(debs)}")
    return rows
