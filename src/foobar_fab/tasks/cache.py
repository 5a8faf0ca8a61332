"""What builds keep on the host for the next ones: the base image, role images and the package cache."""

from __future__ import annotations

import shutil

from invoke import Context, task
from invoke.exceptions import Exit

from .. import design
from ..console import Console
from ..executors import LocalExecutor
from ..providers.incus.images import OldIncusImages
from ..providers.incus.layout import IncusLayout
from ..providers.lxc.cache_report import report
from ..providers.lxc.layout import LxcLayout
from ..providers.lxc.package_cache import PackageCacheEmpty
from ..providers.lxc.role_images import RoleImagesGone
from ..steps import Runner, Step
from .common import settings
from .options import options

HELP = {"lab-file": "the lab's topology file (default: configs/lab.yml)"}


def layout(c: Context, lab_file: str | None) -> LxcLayout:
    s = settings(c, lab_file=lab_file)
    lab = design.load(s.lab_file)
    return LxcLayout.of(s, lab)


@task(help=HELP)
@options()
def show(c: Context, lab_file: str | None = None) -> None:
    """List the cached base images, role images (and the containers made from them) and package files."""
    for row in report(layout(c, lab_file)):
        print(row)


@task(help={**HELP, "quiet": "hide the commands; show only results"})
@options()
def clear(c: Context, lab_file: str | None = None, quiet: bool = False) -> None:
    """Remove every role image no container uses, and every cached package file (the base image stays)."""
    where = layout(c, lab_file)
    console = Console(quiet=quiet)
    console.line(f"cache.clear: on this host (no node), every role image no container uses and every package file in {where.cache_dir} are removed; the base image stays")
    console.heading(f"host: the cache in {where.cache_dir}")
    # Images Incus imported from role images go with them, unless an instance was made from them.
    incus: list[Step] = [OldIncusImages(IncusLayout(where))] if shutil.which("incus") else []
    ok = Runner(console).apply("host", LocalExecutor("host", console), [RoleImagesGone(where), PackageCacheEmpty(where), *incus])
    if not console.recap() or not ok:
        raise Exit("clearing the cache failed: see the failed step above", code=1)
