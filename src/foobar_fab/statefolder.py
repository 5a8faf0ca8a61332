"""The lab's state folder on the host: the one module that names its files and writes them.

`<state_dir>/<lab>/` (0700) keeps what a lab needs between commands: its SSH key and known_hosts, its
passwords (secrets.json), the design file it runs (design.json), its primary after a promotion
(database.json), what a fenced former primary alone held before a rebuild (orphans/), its CA and
certificates (tls/), the running exercise (a sealed token) and the results
of those done, the build-it lab under way and its design (build-it.json, build-it.yml), the drills' reports (and the one under way), the last scan, the token of the lab's page, and the provider's notes (dnsmasq's pid, the NAT
rules, Vagrant's machine data, Incus's staging). Secrets and keys are 0600; the reports and records anyone on the host
may read are 0644, as they always were. `invoke destroy` removes the folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLDER_MODE = 0o700
PRIVATE = 0o600
PUBLIC = 0o644


def make_folder(path: Path) -> None:
    """The folder (and its parents) exists; a folder made here is 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)


def write(path: Path, data: str | bytes, mode: int = PUBLIC) -> None:
    """Write the file whole with this mode, set before a byte is written (the folder is made 0700 if missing)."""
    make_folder(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)


def write_private(path: Path, data: str | bytes) -> None:
    """Write a secret or a key: 0600."""
    write(path, data, PRIVATE)


def protect(path: Path) -> None:
    """A file something else wrote (paramiko's known_hosts) is made 0600."""
    path.chmod(PRIVATE)


def read_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def json_text(data: Any) -> str:
    """JSON as the lab's records are written: indented, one newline at the end."""
    return json.dumps(data, indent=2) + "\n"


@dataclass(frozen=True)
class LabFolder:
    """One lab's state folder and the names of its files."""

    path: Path

    @property
    def key_file(self) -> Path:
        """The lab's SSH private key (0600); the public key is beside it, `.pub`."""
        return self.path / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        """The nodes' host keys, checked on every connection (0600)."""
        return self.path / "known_hosts"

    @property
    def secrets(self) -> Path:
        """The lab's generated passwords (0600)."""
        return self.path / "secrets.json"

    @property
    def design(self) -> Path:
        """The design file the lab was last built from."""
        return self.path / "design.json"

    @property
    def database(self) -> Path:
        """The primary and the fenced nodes after a promotion (absent while the lab is as designed)."""
        return self.path / "database.json"

    @property
    def scan(self) -> Path:
        """The last port scan of the lab."""
        return self.path / "scan.json"

    @property
    def drills(self) -> Path:
        """The drills' reports (0700), one JSON and one SVG a run."""
        return self.path / "drills"

    @property
    def orphans(self) -> Path:
        """What fenced former primaries alone held, saved as SQL before `db.rebuild` dropped it (0700)."""
        return self.path / "orphans"

    def orphans_file(self, node: str, stamp: str) -> Path:
        """One rebuild's saved transactions (0600: the site's data): `<stamp>-<node>.sql`."""
        return self.orphans / f"{stamp}-{node}.sql"

    @property
    def drill_running(self) -> Path:
        """The drill under way, rewritten every second while it runs (drills/progress.py); beside, not among, the reports."""
        return self.path / "drill-running.json"

    @property
    def exercise(self) -> Path:
        """The running exercise, a sealed token (0600); absent when none runs."""
        return self.path / "exercise"

    @property
    def exercise_results(self) -> Path:
        """One JSON line a finished exercise."""
        return self.path / "exercises.jsonl"

    @property
    def build_it(self) -> Path:
        """The build-it lab under way (which one, the design it runs on, what the student owns); absent when none runs."""
        return self.path / "build-it.json"

    @property
    def build_it_design(self) -> Path:
        """The design file a build-it lab runs the lab on while it is under way."""
        return self.path / "build-it.yml"

    @property
    def tls(self) -> Path:
        """The lab's CA and the certificates it issued (0700; the keys 0600)."""
        return self.path / "tls"

    @property
    def ca_cert(self) -> Path:
        return self.tls / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.tls / "ca.key"

    def certificate(self, name: str) -> tuple[Path, Path]:
        """An issued certificate's chain and its key."""
        return self.tls / f"{name}.pem", self.tls / f"{name}.key"

    @property
    def web_token(self) -> Path:
        """The token that opens the lab's page (`invoke web`), 0600."""
        return self.path / "web-token"

    @property
    def dnsmasq_pid(self) -> Path:
        """The pid of the lab's resolver (LXC)."""
        return self.path / "dnsmasq.pid"

    @property
    def forward_note(self) -> Path:
        """Present when the lab turned IP forwarding on, so destroy can turn it off again."""
        return self.path / "ip_forward.was-off"

    @property
    def nat_rules(self) -> Path:
        """The lab's NAT rules as last loaded (0600)."""
        return self.path / "nat.nft"

    @property
    def vagrant(self) -> Path:
        """Vagrant's machine data for the lab."""
        return self.path / "vagrant"

    @property
    def vm_domain_type(self) -> Path:
        """libvirt's domain type the lab's VMs were made with: 'kvm', or 'qemu' where KVM runs no guest."""
        return self.path / "vm-domain-type"

    @property
    def incus(self) -> Path:
        """The Incus provider's staging: each node's identity files before they are pushed into its instance."""
        return self.path / "incus"

    @property
    def incus_place(self) -> Path:
        """The Incus project and cluster member of the lab's instances (a class's student lab)."""
        return self.path / "incus.json"

    def make(self) -> None:
        """The folder exists (0700 when made here)."""
        make_folder(self.path)

    def append_line(self, path: Path, line: str) -> None:
        """Add one line to a log kept in the folder (exercises.jsonl)."""
        self.make()
        with path.open("a") as log:
            log.write(line + "\n")
