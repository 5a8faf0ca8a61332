"""Role images: a node's whole package set, installed once over the base image and kept for the next nodes.

An image is a layer: what installing the package set changes in the base image, made in a chroot on
an overlay of the base (src/foobar_fab/host/in-image.sh) with the services kept from starting, so it
holds no node's identity (machine-id, SSH host keys, hostname) and no running state. Its folder is
named by its recipe (the base image and the sorted packages), like the base image; each build of a
recipe is a generation of its own, never changed once made, so a container made from an older one
keeps working while new nodes start from the newest.

A generation is used when its stamp (written last) says it was made on the current base image and
its layer still holds the files and bytes the stamp counted. One older than a day is rebuilt when
the mirror answers (apt-get update, then upgrade: security updates reach the next nodes); without a
network it is used as it is, or, where there is none, made from the host's package cache.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ... import parallel
from ...executors import Executor, Outcome
from ...resources.packages import (
    APT_GET,
    CACHE_HELPER,
    CACHE_HELPER_SCRIPT,
    IMAGE_MARKER,
    TOUCH_UPDATE_STAMP,
    NodeImage,
    image_marker,
    install_command,
    seed_command,
)
from ...steps import SECTION, Plan, Put, Run, Runner, Step, StepError, change, fields, lines, ok, sections
from .layout import LxcLayout
from .mirror import reach_probe, unreachable

MAX_AGE = 24 * 3600
IN_IMAGE = Path(__file__).resolve().parents[2] / "host" / "in-image.sh"
LISTS = "var/lib/apt/lists"
#: Removed from every image: what would give the nodes made from it one shared identity.
IDENTITY = ("etc/ssh/ssh_host_*", "var/lib/systemd/random-seed", "var/lib/dbus/machine-id", "tmp/*", "var/tmp/*")


def count(folder: Path | str) -> str:
    """A shell command printing how many files a folder holds and their bytes: '<files> <bytes>'."""
    return f"find {folder} -printf '%s\\n' 2>/dev/null | awk '{{n++; s+=$1}} END {{print n+0, s+0}}'"


def age(seconds: int) -> str:
    seconds = max(seconds, 0)
    if seconds >= 7200:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


@dataclass(frozen=True)
class ImageRecipe:
    """A package set on the current base image, and the nodes that start from it."""

    layout: LxcLayout
    packages: tuple[str, ...]
    nodes: tuple[str, ...]
    held: tuple[str, ...] = ()  # the image's services that stay disabled until the build configures them

    @cached_property
    def digest(self) -> str:
        """The recipe's name: base image, packages, the in-image script and the held services (read once)."""
        recipe = "\0".join([self.layout.base_dir.name, *sorted(set(self.packages)), IN_IMAGE.read_text(), *self.held])
        return hashlib.sha256(recipe.encode()).hexdigest()[:8]

    @property
    def folder(self) -> Path:
        return self.layout.images_dir / f"{self.layout.base_dir.name}-{self.digest}"


def current_image(recipe: ImageRecipe) -> Path | None:
    """The newest stamped generation of the recipe (RoleImage has just checked it, or made it)."""
    stamped = sorted(s.parent for s in recipe.folder.glob("*/stamp"))
    return stamped[-1] if stamped else None


def role_images_for(layout: LxcLayout, runner: Runner, host: Executor, new_nodes: Mapping[str, NodeImage]) -> dict[str, Path | None] | None:
    """The role image each new node starts from (by node name), each checked or made first on the host;
    None if one failed. Nodes of the same package set share one image."""
    recipes: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for name, image in new_nodes.items():
        recipes.setdefault((tuple(sorted(set(image.packages))), tuple(sorted(set(image.held)))), []).append(name)
    wanted = [ImageRecipe(layout, packages, tuple(nodes), held) for (packages, held), nodes in recipes.items()]
    if not all(parallel.each(wanted, lambda recipe: runner.apply("host", host, [RoleImage(recipe)]))):
        return None
    return {node: current_image(recipe) for recipe in wanted for node in recipe.nodes}


@dataclass(frozen=True)
class Generation:
    """One build of a recipe, as its probe found it."""

    path: str
    stamp: dict[str, str] = field(default_factory=dict)
    counted: str = ""

    @property
    def built(self) -> int:
        try:
            return int(self.stamp.get("built", "0"))
        except ValueError:
            return 0

    def flaw(self, base_stamp: str) -> str | None:
        """Why it cannot be used, or None when it can."""
        if self.stamp.get("base") != base_stamp:
            return "made on another base image"
        if self.stamp.get("files") != self.counted:
            return f"its layer has {_files(self.counted)}, its stamp says {_files(self.stamp.get('files', ''))}"
        return None


def _files(counted: str) -> str:
    """'4716 79825810' as '4716 files, 79825810 bytes'."""
    parts = counted.split()
    return f"{parts[0]} files, {parts[1]} bytes" if len(parts) == 2 else repr(counted)


def generations(text: str) -> list[Generation]:
    """Parse the probe's listing: for each generation 'image: <path>', its stamp's 'key: value' lines, then
    'counted: <files> <bytes>'."""
    found: list[Generation] = []
    for record in re.split(r"^(?=image: )", text, flags=re.MULTILINE):
        stamp = fields(record)
        if "image" in stamp:
            path, counted = stamp.pop("image"), stamp.pop("counted", "")
            found.append(Generation(path, stamp, counted))
    return found


@dataclass
class RoleImage(Step):
    """The recipe's image is on the host, intact, made on the current base image, and less than a day old."""

    recipe: ImageRecipe
    max_age: int = MAX_AGE
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"role image for {', '.join(self.recipe.nodes)}"

    def probe(self) -> str:
        layout, folder = self.recipe.layout, self.recipe.folder
        listing = (
            f'for s in {folder}/*/stamp; do [ -f "$s" ] || continue; g=${{s%/stamp}}; '
            f'echo "image: $g"; cat "$s"; echo "counted: $({count("$g/layer")})"; done'
        )
        stamped = f"{layout.images_dir}/{layout.base_dir.name}-*/*/stamp"
        newest_lists = f'set -- $(for s in {stamped}; do [ -d "${{s%stamp}}layer/{LISTS}" ] && echo "${{s%stamp}}layer/{LISTS}"; done); [ $# -eq 0 ] || ls -dt "$@" | head -n 1'
        return (
            f"date +%s; echo {SECTION}; cat {layout.base_stamp} 2>/dev/null; echo {SECTION}; {listing}; echo {SECTION}; "
            f"{newest_lists}; echo {SECTION}; {reach_probe(layout.mirror)}"
        )

    def decide(self, probe: Outcome) -> Plan:
        now_text, base_text, listing, lists_text, reach = sections(probe.stdout, 5)
        try:
            now = int(now_text.strip())
        except ValueError:
            raise StepError(f"unexpected probe output: {probe.stdout[:200]!r}") from None
        base_stamp = (lines(base_text) or [""])[0]
        found = generations(listing)
        usable = [g for g in found if g.flaw(base_stamp) is None]
        # A flawed generation loses its stamp, so no new container starts from it; it goes once unused.
        set_aside = [Run(f"mv {g.path}/stamp {g.path}/stamp.unusable") for g in found if g not in usable]
        flaws = "; ".join(f"{Path(g.path).name} set aside: {g.flaw(base_stamp)}" for g in found if g not in usable)
        offline = unreachable(reach, self.recipe.layout.mirror)
        newest = max(usable, key=lambda g: g.built, default=None)
        if newest is not None:
            where, old = f"{self.recipe.folder.name}/{Path(newest.path).name}", now - newest.built
            if old <= self.max_age or offline:
                kept = f"cached: {where}, built {age(old)} ago" + (f" (older than a day, and {offline}: used as it is)" if old > self.max_age else "")
                return change(f"{kept}; {flaws}", *set_aside) if set_aside else ok(kept)
            return change(f"rebuilt: {where} is {age(old)} old (updates since then reach the new nodes)", *set_aside, *self.build(now, base_stamp))
        why = f" ({flaws})" if flaws else ""
        if offline:
            source = lines(lists_text)[0] if lines(lists_text) else ""
            return change(f"built from the host's package cache{why}: {offline}", *set_aside, *self.build(now, base_stamp, source))
        return change(f"built in {self.recipe.folder}{why}", *set_aside, *self.build(now, base_stamp))

    def build(self, now: int, base_stamp: str, offline_lists: str | None = None) -> list[Run | Put]:
        """Install the packages in a new generation's layer, clear what would be identity, then stamp it (last).

        Without a network (offline_lists is not None), apt's lists come from the newest image on the
        host (a path to its lists), or stay the base image's (''); every package file must be cached.
        """
        layout, recipe = self.recipe.layout, self.recipe
        offline = offline_lists is not None
        final = recipe.folder / (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + uuid.uuid4().hex[:4])
        tmp = final.with_name(final.name + ".partial")
        layer = tmp / "layer"
        packages = " ".join(recipe.packages)

        def inside(command: str, reports: bool = False) -> Run:
            return Run(f"sh {IN_IMAGE} {layout.base_rootfs} {tmp} {layout.package_cache} {command}", reports)

        if offline_lists:
            apt = Path(offline_lists).parent
            lists = [Run(f"mkdir -p {layer}/var/lib/apt && cp -a {apt}/lists {apt}/periodic {layer}/var/lib/apt/")]
        else:
            lists = [] if offline else [inside(f"sh -c '{APT_GET} update && {TOUCH_UPDATE_STAMP}'")]
        built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(now))
        stamp = f"recipe: {recipe.folder.name}\nbase: {base_stamp}\npackages: {packages}\nbuilt: {now}\n"
        return [
            Run(f"rm -rf {tmp} && mkdir -p {layout.package_cache} {layer}{Path(CACHE_HELPER).parent}"),
            Put(f"{layer}{CACHE_HELPER}", CACHE_HELPER_SCRIPT, "0755"),
            *lists,
            inside(seed_command("upgrade", offline), reports=True),
            inside(f"{APT_GET} -y upgrade"),
            inside(seed_command(f"install --no-install-recommends {packages}", offline), reports=True),
            inside(install_command(recipe.packages)),
            *([inside(f"systemctl disable --quiet {' '.join(recipe.held)}")] if recipe.held else []),
            inside(f"{CACHE_HELPER} keep", reports=True),
            Run(f"rm -rf {tmp}/work {tmp}/root && cd {layer} && rm -rf {' '.join(IDENTITY)} && if [ -s etc/machine-id ]; then : > etc/machine-id; fi"),
            Put(f"{layer}{IMAGE_MARKER}", image_marker(f"{recipe.digest} of {built}", recipe.packages)),
            Put(f"{tmp}/stamp.new", stamp),
            Run(f'mv {tmp} {final} && echo "files: $({count(final / "layer")})" >> {final}/stamp.new && mv {final}/stamp.new {final}/stamp'),
        ]


def _unused(layout: LxcLayout) -> str:
    """Probe: each generation of every image: stamped, unusable (set aside) or unstamped (unfinished), how many containers use it, its age in seconds."""
    configs = f"{layout.lxcpath}/*/config"
    return (
        f'now=$(date +%s); for g in {layout.images_dir}/*/*/; do g=${{g%/}}; [ -d "$g" ] || continue; '
        f'if [ -f "$g/stamp" ]; then s=stamped; elif [ -f "$g/stamp.unusable" ]; then s=unusable; else s=unstamped; fi; '
        f'u=$(grep -ls -- "$g/layer:" {configs} | wc -l); '
        f'echo "$g $s $u $((now - $(stat -c %Y "$g")))"; done; true'
    )


@dataclass(frozen=True)
class Found:
    """A generation as the pruning probes list it."""

    path: Path
    state: str  # stamped, unusable (set aside by RoleImage) or unstamped (not finished, or being made)
    users: int
    age: int


def found(stdout: str) -> list[Found]:
    rows = []
    for row in lines(stdout):
        parts = row.split()
        if len(parts) == 4 and parts[2].isdigit() and parts[3].lstrip("-").isdigit():
            rows.append(Found(Path(parts[0]), parts[1], int(parts[2]), int(parts[3])))
    return rows


def removal(layout: LxcLayout, gone: list[Found], why: str) -> Plan:
    if not gone:
        return ok(why)
    recipes = sorted({str(g.path.parent) for g in gone})
    return change(
        f"removed {len(gone)} unused: {', '.join(f'{g.path.parent.name}/{g.path.name}' for g in gone)}",
        Run(f"rm -rf {' '.join(str(g.path) for g in gone)} && rmdir --ignore-fail-on-non-empty {' '.join(recipes)}"),
    )


@dataclass
class OldRoleImages(Step):
    """Generations no container uses go: set aside, unfinished for an hour, older than the newest of their
    recipe, or made on a base image that is no longer the current one (after a day)."""

    layout: LxcLayout
    name: str = "old role images"

    def probe(self) -> str:
        return _unused(self.layout)

    def decide(self, probe: Outcome) -> Plan:
        rows = found(probe.stdout)
        newest: dict[Path, Found] = {}
        for row in sorted(rows, key=lambda r: r.path.name):
            if row.state == "stamped":
                newest[row.path.parent] = row
        current = f"{self.layout.base_dir.name}-"

        def kept(row: Found) -> bool:
            if row.users or row.state == "unusable":
                return row.users > 0
            if row.state == "unstamped":
                return row.age < 3600  # perhaps still being made, by this or another lab's build
            latest = newest[row.path.parent]
            if latest is not row:
                return latest.age < 600  # another lab's build may have chosen this one just before
            return row.path.parent.name.startswith(current) or row.age < MAX_AGE

        return removal(self.layout, [r for r in rows if not kept(r)], "none unused")


@dataclass
class RoleImagesGone(Step):
    """Every role image that no container uses is removed (`invoke cache.clear`)."""

    layout: LxcLayout
    name: str = "role images"

    def probe(self) -> str:
        return _unused(self.layout)

    def decide(self, probe: Outcome) -> Plan:
        rows = found(probe.stdout)
        used = [r for r in rows if r.users]
        left = f"{len(used)} kept: containers were made from them" if used else f"none in {self.layout.images_dir}"
        return removal(self.layout, [r for r in rows if not r.users], left)
