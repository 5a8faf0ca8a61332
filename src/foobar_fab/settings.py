"""Settings a user may override (invoke.yaml, environment, flags), resolved into one typed object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]

DEFAULTS: dict[str, Any] = {
    "lab_file": "configs/lab.yml",
    "state_dir": ".lab",
    "provider": "lxc",
    "inventory": "configs/inventory.yml",
    "vagrant_provider": "virtualbox",
    "cache_dir": "/var/cache/foobar_fab",
    "exercise_dir": "/var/lib/foobar_fab/exercises",
    "mirror": "http://deb.debian.org/debian",
    "fresh": False,
    "quiet": False,
}


@dataclass(frozen=True)
class Settings:
    """Where the lab is described, where its state lives, and which provider makes it."""

    lab_file: Path
    state_root: Path
    provider: str
    inventory: Path
    vagrant_provider: str
    cache_dir: Path
    mirror: str
    fresh: bool = False  # new nodes install every package themselves instead of starting from role images
    exercise_dir: Path = Path(DEFAULTS["exercise_dir"])  # the keys that hide a running exercise, outside the state folder
    quiet: bool = False
    lab_file_named: bool = True  # False: lab_file is only the default, and the design the lab runs (recorded by its build) comes first

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], root: Path = PROJECT_ROOT) -> Settings:
        """Build settings from invoke's `lab` config section; relative paths are from the checkout."""
        merged = {**DEFAULTS, **{k: v for k, v in values.items() if k in DEFAULTS and v is not None}}
        return cls(
            lab_file=_path(merged["lab_file"], root),
            state_root=_path(merged["state_dir"], root),
            provider=str(merged["provider"]),
            inventory=_path(merged["inventory"], root),
            vagrant_provider=str(merged["vagrant_provider"]),
            cache_dir=_path(merged["cache_dir"], root),
            mirror=str(merged["mirror"]),
            fresh=_flag(merged["fresh"]),
            exercise_dir=_path(merged["exercise_dir"], root),
            quiet=bool(merged["quiet"]),
        )

    def but(self, **changes: Any) -> Settings:
        """A copy with some settings changed; paths given on the command line are from the current folder."""
        given = {k: v for k, v in changes.items() if v is not None}
        for key in ("lab_file", "state_root", "cache_dir", "inventory", "exercise_dir"):
            if key in given:
                given[key] = Path(given[key]).expanduser().resolve()
        return replace(self, **given)

    def state_dir(self, lab_name: str) -> Path:
        """The lab's own state folder: keys, known_hosts, secrets and reports (0700)."""
        return self.state_root / lab_name


def _flag(value: Any) -> bool:
    """A yes/no setting, from YAML (a bool) or an environment variable (a string such as 'false')."""
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _path(value: str | Path, root: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path
