"""Incus images from the lab's own base and role images, imported offline, once per image.

An image is packed as Incus's split format: a metadata tarball (metadata.yaml) and a rootfs tarball.
A role image is a layer over the base image, so its rootfs is read through a read-only overlay of
both (which applies the layer's deletions) and packed with zstd. Incus never fetches an image: every
instance is made from one of these, by alias.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ...executors import Outcome
from ...steps import SECTION, Plan, Put, Run, Step, StepError, change, lines, ok, sections
from .layout import SOURCE_KEY, IncusLayout, incus


@dataclass
class IncusImage(Step):
    """The Incus image packed from `source` (a role image, or the base image for None) is imported."""

    layout: IncusLayout
    alias: str
    source: Path | None
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"incus image {self.alias}"

    @property
    def what(self) -> str:
        return f"role image {self.source.parent.name}/{self.source.name}" if self.source else f"base image {self.layout.files.base_dir.name}"

    def probe(self) -> str:
        return f"{incus('query', f'/1.0/images/aliases/{self.alias}')} 2>/dev/null; true"

    def decide(self, probe: Outcome) -> Plan:
        if probe.stdout.strip():
            try:
                target = str(json.loads(probe.stdout).get("target", ""))
            except (ValueError, AttributeError):
                raise StepError(f"unexpected answer of `incus query`: {probe.stdout[:200]!r}") from None
            return ok(f"imported: {self.what} ({target[:12]})")
        return change(f"packed from the {self.what} and imported", *self.actions(int(time.time())))

    def metadata(self, now: int) -> str:
        return (
            "architecture: x86_64\n"
            f"creation_date: {now}\n"
            "properties:\n"
            "  os: debian\n"
            "  release: bookworm\n"
            f"  description: foobar_fab {self.what}\n"
            f"  {SOURCE_KEY}: {self.source or self.layout.files.base_rootfs}\n"
        )

    def actions(self, now: int) -> list[Run | Put]:
        files = self.layout.files
        tmp = self.layout.packing / f"{self.alias}.partial"
        rootfs = tmp / "rootfs"
        pack = f"tar --numeric-owner --xattrs -C {rootfs} -cf - . | zstd -q -1 -T0 > {tmp}/rootfs.tar.zst"
        if self.source is None:
            read = [Run(f"set -o pipefail; {pack.replace(str(rootfs), str(files.base_rootfs), 1)}")]
        else:
            lower = f"{self.source / 'layer'}:{files.base_rootfs}"
            read = [Run(f"set -o pipefail; mount -t overlay overlay -o ro,lowerdir={lower} {rootfs} && {{ {pack}; s=$?; umount {rootfs}; [ $s -eq 0 ]; }}")]
        return [
            # A run killed while packing leaves its overlay mounted: unmount it before clearing the folder.
            Run(f"{{ umount {rootfs} 2>/dev/null; true; }} && rm -rf {tmp} && mkdir -p {rootfs}"),
            Put(f"{tmp}/metadata.yaml", self.metadata(now)),
            Run(f"tar -C {tmp} -cf {tmp}/metadata.tar metadata.yaml"),
            *read,
            # Another lab's build may have imported the same image meanwhile: that is as good.
            Run(
                f"{incus('image', 'import', f'{tmp}/metadata.tar', f'{tmp}/rootfs.tar.zst', '--alias', self.alias)}; s=$?; rm -rf {tmp}; "
                f"[ $s -eq 0 ] || {incus('query', f'/1.0/images/aliases/{self.alias}')} >/dev/null"
            ),
        ]


@dataclass
class OldIncusImages(Step):
    """Images the lab's builds imported go once no instance uses them and the image they were packed
    from is gone (a role image tidied away, a base image made again): Incus keeps no stale copies."""

    layout: IncusLayout
    name: str = "old incus images"

    def probe(self) -> str:
        files = self.layout.files
        stamped = f'for s in {files.images_dir}/*/*/stamp; do [ -f "$s" ] && echo "${{s%/stamp}}"; done'
        return (
            f"{incus('image', 'list', '--format', 'json')} 2>/dev/null || echo '[]'; echo {SECTION}; "
            f"{incus('list', '--all-projects', '--format', 'json')} 2>/dev/null || echo '[]'; echo {SECTION}; "
            f"cat {files.base_stamp} 2>/dev/null; echo {SECTION}; {stamped}; true"
        )

    def decide(self, probe: Outcome) -> Plan:
        images_text, instances_text, base_stamp, stamped = sections(probe.stdout, 4)
        try:
            images, instances = json.loads(images_text), json.loads(instances_text)
        except ValueError:
            raise StepError(f"unexpected answer of `incus list`: {probe.stdout[:200]!r}") from None
        used = {str((i.get("config") or {}).get("volatile.base_image", "")) for i in instances}
        sources = {Path(p) for p in lines(stamped)}
        current = {self.layout.image_alias(base_stamp, s) for s in sources} | {self.layout.image_alias(base_stamp, None)} if base_stamp.strip() else set()
        gone = [
            i for i in images
            if SOURCE_KEY in i.get("properties", {}) and i.get("fingerprint") not in used
            and not {str(a.get("name")) for a in i.get("aliases", [])} & current
        ]
        if not gone:
            return ok("none unused")
        names = ", ".join(str(a.get("name")) for i in gone for a in i.get("aliases", [])) or f"{len(gone)} without alias"
        return change(f"removed {len(gone)} unused: {names}", Run(incus("image", "delete", *(str(i["fingerprint"]) for i in gone))))
