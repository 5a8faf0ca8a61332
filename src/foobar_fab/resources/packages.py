"""Debian packages, installed without their recommendations, in one apt transaction per step."""

from __future__ import annotations

from dataclasses import dataclass

from ..executors import Outcome
from ..steps import Plan, Run, Step, change, lines, ok

APT_GET = "DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120"


@dataclass
class Packages(Step):
    """Debian packages are installed (without their recommendations)."""

    packages: tuple[str, ...]
    name: str = "packages"

    def probe(self) -> str:
        names = " ".join(self.packages)
        return f"dpkg-query -W -f='${{Package}} ${{db:Status-Abbrev}}\\n' {names} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        installed = set()
        for row in lines(probe.stdout):
            parts = row.split()
            if len(parts) >= 2 and parts[1].startswith("ii"):
                installed.add(parts[0].split(":")[0])
        missing = [p for p in self.packages if p not in installed]
        if not missing:
            return ok(f"{len(self.packages)} installed: {', '.join(self.packages)}")
        return change(
            f"installed {', '.join(missing)}",
            Run(f"{APT_GET} install -y --no-install-recommends {' '.join(missing)}"),
        )
