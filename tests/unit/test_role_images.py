"""Role images, the package cache and the base image without network: decisions from captured probe output."""

from __future__ import annotations

from pathlib import Path

import pytest

from foobar_fab import design
from foobar_fab.providers.lxc.image import BaseImage
from foobar_fab.providers.lxc.layout import LxcLayout
from foobar_fab.providers.lxc.mirror import REACHABLE, UNREACHABLE, reach_probe, unreachable
from foobar_fab.providers.lxc.package_cache import OldPackages, PackageCache, PackageCacheEmpty
from foobar_fab.providers.lxc.role_images import (
    MAX_AGE,
    ImageRecipe,
    OldRoleImages,
    RoleImage,
    RoleImagesGone,
    generations,
)
from foobar_fab.resources.packages import CACHE_HELPER, IMAGE_MARKER
from foobar_fab.roles import image_of
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.steps import SECTION, Plan, Put, Run, StepError

from .fakes import probed

NOW = 1_800_000_000
BASE = "31a5bf0b8c0a debootstrap bookworm, recipe bookworm-amd64-c90d6b83"
WEB = ("curl", "default-mysql-server", "nginx", "python3")
OFFLINE = "bash: deb.debian.org: Temporary failure in name resolution\nbash: line 1: /dev/tcp/deb.debian.org/80: Invalid argument\n" + UNREACHABLE


def commands(plan: Plan) -> list[str]:
    return [a.command for a in plan.actions if isinstance(a, Run)]


@pytest.fixture
def recipe(layout: LxcLayout) -> ImageRecipe:
    return ImageRecipe(layout, WEB, ("web-01", "web-02"))


def stamp(path: Path, built: int, files: str = "8950 452013456", base: str = BASE) -> str:
    return f"image: {path}\nrecipe: x\nbase: {base}\npackages: {' '.join(WEB)}\nbuilt: {built}\nfiles: {files}\ncounted: 8950 452013456\n"


def probe_output(listing: str = "", reach: str = REACHABLE, lists: str = "") -> str:
    return f"{SECTION}\n".join([f"{NOW}\n", f"{BASE}\n", listing, lists, reach + "\n"])


# --- recipes ---------------------------------------------------------------------------------------


def test_an_image_is_named_by_its_base_and_its_package_set(layout: LxcLayout) -> None:
    """The same packages in any order make the same image; another set makes another; the base's name leads."""
    web = ImageRecipe(layout, WEB, ("web-01",))
    assert web.folder == ImageRecipe(layout, tuple(reversed(WEB)), ("web-02",)).folder
    assert web.folder != ImageRecipe(layout, (*WEB, "haproxy"), ("web-01",)).folder
    assert web.folder.parent == layout.images_dir
    assert web.folder.name.startswith(f"{layout.base_dir.name}-")


def test_generations_are_read_from_their_stamps(tmp_path: Path) -> None:
    found = generations(stamp(tmp_path / "a", NOW - 60) + stamp(tmp_path / "b", NOW, files="1 2"))
    assert [(Path(g.path).name, g.built, g.counted) for g in found] == [("a", NOW - 60, "8950 452013456"), ("b", NOW, "8950 452013456")]
    assert found[0].flaw(BASE) is None
    assert found[1].flaw(BASE) == "its layer has 8950 files, 452013456 bytes, its stamp says 1 files, 2 bytes"
    assert found[0].flaw("another base") == "made on another base image"


# --- the role image step ---------------------------------------------------------------------------


def test_a_cached_image_younger_than_a_day_is_used(recipe: ImageRecipe) -> None:
    plan = RoleImage(recipe).decide(probed(probe_output(stamp(recipe.folder / "20261127T103420Z-7b6e", NOW - 3600))))
    assert not plan.changes
    assert plan.reason == f"cached: {recipe.folder.name}/20261127T103420Z-7b6e, built 60 min ago"


def test_without_an_image_one_is_built_then_stamped_last(recipe: ImageRecipe) -> None:
    """Fresh lists, the cached package files, an upgrade, the install, identity cleared; the stamp comes last."""
    plan = RoleImage(recipe).decide(probed(probe_output()))
    assert plan.reason == f"built in {recipe.folder}"
    runs = commands(plan)
    assert any("apt-get -q -o DPkg::Lock::Timeout=120 update" in c for c in runs)
    inside = [c.split(f"{recipe.layout.package_cache} ", 1)[1] for c in runs if "in-image.sh" in c]
    assert inside[1:] == [
        f"{CACHE_HELPER} seed upgrade",
        "DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 -y upgrade",
        f"{CACHE_HELPER} seed install --no-install-recommends {' '.join(WEB)}",
        f"DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 install -y --no-install-recommends {' '.join(WEB)}",
        f"{CACHE_HELPER} keep",
    ]
    assert "etc/ssh/ssh_host_*" in runs[-2] and ": > etc/machine-id" in runs[-2]
    puts = [a.path for a in plan.actions if isinstance(a, Put)]
    assert puts[-2].endswith(IMAGE_MARKER) and puts[-1].endswith(".partial/stamp.new")
    assert runs[-1].startswith(f"mv {recipe.folder}/") and runs[-1].endswith("/stamp.new " + runs[-1].split()[-1])
    assert runs[-1].split()[-1].endswith("/stamp")


def test_a_service_that_needs_the_labs_configuration_stays_disabled_in_the_image(layout: LxcLayout) -> None:
    """The MariaDB exporter fails without its credentials: a node made from the image must not boot with it."""
    monitored = ImageRecipe(layout, (*WEB, "prometheus-mysqld-exporter"), ("web-01",), ("prometheus-mysqld-exporter",))
    runs = commands(RoleImage(monitored).decide(probed(probe_output())))
    install = next(i for i, c in enumerate(runs) if "install -y --no-install-recommends" in c)
    assert runs[install + 1].endswith("systemctl disable --quiet prometheus-mysqld-exporter")
    assert monitored.folder != ImageRecipe(layout, monitored.packages, ("web-01",)).folder


def test_the_roles_say_which_services_an_image_holds_until_configured() -> None:
    """The exporter role holds the MariaDB exporter, on the nodes with a database (where it is installed)."""
    lab = design.load(PROJECT_ROOT / "configs" / "secured.yml")
    web, lb = image_of(lab, lab.node("web-01")), image_of(lab, lab.node("lb-01"))
    assert "prometheus-mysqld-exporter" in web.packages and web.held == ("prometheus-mysqld-exporter",)
    assert "prometheus-node-exporter" in lb.packages and lb.held == ()


def test_an_image_older_than_a_day_is_rebuilt_when_the_mirror_answers(recipe: ImageRecipe) -> None:
    plan = RoleImage(recipe).decide(probed(probe_output(stamp(recipe.folder / "old", NOW - MAX_AGE - 7200))))
    assert plan.reason.startswith(f"rebuilt: {recipe.folder.name}/old is 26 h old")
    assert any(" update && " in c for c in commands(plan))


def test_an_old_image_is_used_as_it_is_without_network(recipe: ImageRecipe) -> None:
    plan = RoleImage(recipe).decide(probed(probe_output(stamp(recipe.folder / "old", NOW - MAX_AGE - 7200), reach=OFFLINE)))
    assert not plan.changes
    assert "older than a day, and the Debian mirror http://deb.debian.org/debian cannot be reached" in plan.reason
    assert "(deb.debian.org: Temporary failure in name resolution)" in plan.reason


def test_without_network_an_image_is_made_from_the_package_cache_alone(recipe: ImageRecipe) -> None:
    """No update: the newest lists on the host are copied in, and every package file must be cached (--offline)."""
    lists = str(recipe.layout.images_dir / "other" / "g1" / "layer/var/lib/apt/lists")
    plan = RoleImage(recipe).decide(probed(probe_output(reach=OFFLINE, lists=lists + "\n")))
    assert plan.reason.startswith("built from the host's package cache: the Debian mirror")
    runs = commands(plan)
    assert not any(" update " in c for c in runs)
    assert any(c.endswith(f"cp -a {Path(lists).parent}/lists {Path(lists).parent}/periodic {c.split()[-1]}") for c in runs)
    assert f"{CACHE_HELPER} seed --offline upgrade" in " ".join(runs)
    seeds = [a for a in plan.actions if isinstance(a, Run) and " seed " in a.command]
    assert seeds and all(a.reports for a in seeds)  # their own one-line error is the failure


@pytest.mark.parametrize(
    ("files", "base", "flaw"),
    [
        pytest.param("8950 1000", BASE, "its layer has 8950 files, 452013456 bytes, its stamp says 8950 files, 1000 bytes", id="truncated"),
        pytest.param("8950 452013456", "fedcba987654 debootstrap bookworm", "made on another base image", id="other-base"),
    ],
)
def test_a_flawed_image_is_set_aside_and_rebuilt(recipe: ImageRecipe, files: str, base: str, flaw: str) -> None:
    generation = recipe.folder / "20261127T103420Z-7b6e"
    plan = RoleImage(recipe).decide(probed(probe_output(stamp(generation, NOW - 60, files, base))))
    assert plan.reason == f"built in {recipe.folder} (20261127T103420Z-7b6e set aside: {flaw})"
    assert commands(plan)[0] == f"mv {generation}/stamp {generation}/stamp.unusable"


def test_role_image_refuses_garbage(recipe: ImageRecipe) -> None:
    with pytest.raises(StepError, match="unexpected probe output"):
        RoleImage(recipe).decide(probed("no date here\n"))


# --- pruning and clearing --------------------------------------------------------------------------


def listing(layout: LxcLayout, *rows: tuple[str, str, str, int, int]) -> str:
    """What the pruning probe prints: '<generation> <state> <containers using it> <age in s>'."""
    return "".join(f"{layout.images_dir / recipe / name} {state} {users} {age}\n" for recipe, name, state, users, age in rows)


def test_old_role_images_keeps_what_is_used_or_newest(layout: LxcLayout) -> None:
    current, other = f"{layout.base_dir.name}-aaaa1111", "bookworm-amd64-00000000-bbbb2222"
    stdout = listing(
        layout,
        (current, "20261101T000000Z-0001", "stamped", 1, 9 * 86400),  # used by a container
        (current, "20261120T000000Z-0002", "stamped", 0, 7 * 86400),  # superseded, unused: goes
        (current, "20261127T000000Z-0003", "stamped", 0, 3600),  # newest: stays
        (f"{current[:-4]}cccc", "20261127T000000Z-0008", "stamped", 0, 86400),  # superseded a minute ago: stays a while
        (f"{current[:-4]}cccc", "20261127T120000Z-0009", "stamped", 0, 60),
        (current, "20261127T100000Z-0004", "unusable", 0, 60),  # set aside: goes
        (current, "20261127T110000Z-0005.partial", "unstamped", 0, 60),  # perhaps being made: stays
        (current, "20261126T110000Z-0006.partial", "unstamped", 0, 86400),  # left by a failed build: goes
        (other, "20261001T000000Z-0007", "stamped", 0, 30 * 86400),  # another base's, a month old: goes
    )
    plan = OldRoleImages(layout).decide(probed(stdout))
    gone = plan.reason.removeprefix("removed 4 unused: ").split(", ")
    assert gone == [f"{current}/20261120T000000Z-0002", f"{current}/20261127T100000Z-0004", f"{current}/20261126T110000Z-0006.partial", f"{other}/20261001T000000Z-0007"]
    assert commands(plan)[0].endswith(f"rmdir --ignore-fail-on-non-empty {layout.images_dir / other} {layout.images_dir / current}")


def test_clearing_removes_every_image_no_container_uses(layout: LxcLayout) -> None:
    stdout = listing(layout, ("r", "g1", "stamped", 2, 60), ("r", "g2", "stamped", 0, 60))
    plan = RoleImagesGone(layout).decide(probed(stdout))
    assert plan.reason == "removed 1 unused: r/g2"
    assert not RoleImagesGone(layout).decide(probed(listing(layout, ("r", "g1", "stamped", 2, 60)))).changes


@pytest.mark.parametrize(
    ("stdout", "reason", "command"),
    [
        pytest.param(f"{NOW}\nabsent\n", "CACHE made (empty)", "mkdir -p CACHE", id="absent"),
        pytest.param(f"{NOW}\n1000 {NOW - 86400}.5\n2048000 {NOW - 60}.0\n", "2 package files, 2 MiB in CACHE", None, id="present"),
    ],
)
def test_package_cache(layout: LxcLayout, stdout: str, reason: str, command: str | None) -> None:
    plan = PackageCache(layout).decide(probed(stdout))
    folder = str(layout.package_cache)
    assert plan.reason == reason.replace("CACHE", folder)
    assert commands(plan) == ([command.replace("CACHE", folder)] if command else [])


def test_package_files_unused_for_a_month_go(layout: LxcLayout) -> None:
    plan = OldPackages(layout).decide(probed(f"{NOW}\n1048576 {NOW - 31 * 86400}.0\n2048 {NOW}.0\n"))
    assert plan.reason == f"1 package files, 1 MiB unused for 30 days removed from {layout.package_cache}"
    assert commands(plan) == [f"find {layout.package_cache} -maxdepth 1 -name '*.deb' -mtime +30 -delete"]
    assert not OldPackages(layout).decide(probed(f"{NOW}\n2048 {NOW - 86400}.0\n")).changes


def test_clearing_the_package_cache_keeps_its_folder(layout: LxcLayout) -> None:
    """Running nodes mount the folder: only its files go."""
    plan = PackageCacheEmpty(layout).decide(probed(f"{NOW}\n1000 {NOW}.0\n"))
    assert commands(plan) == [f"find {layout.package_cache} -mindepth 1 -maxdepth 1 -delete"]


# --- without network ------------------------------------------------------------------------------


def test_no_base_image_and_no_network_stops_at_once(layout: LxcLayout) -> None:
    with pytest.raises(StepError, match=r"no base image is cached in .* and the Debian mirror http://deb.debian.org/debian cannot be reached from this host \(deb.debian.org: Temporary failure in name resolution\): connect the host to the network"):
        BaseImage(layout).decide(probed(f"{SECTION}\n{OFFLINE}\n"))
    assert BaseImage(layout).decide(probed(f"{SECTION}\n{REACHABLE}\n")).reason.endswith("with debootstrap")
    assert not BaseImage(layout).decide(probed(f"{BASE}\n{SECTION}\n")).changes


def test_reaching_the_mirror() -> None:
    """A TCP connection to the mirror's host and port, a few seconds at most; a local mirror needs none."""
    assert "timeout 3 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80'" in reach_probe("http://deb.debian.org/debian")
    assert "/dev/tcp/mirror.example/8443'" in reach_probe("https://mirror.example:8443/debian")
    assert reach_probe("file:/srv/mirror") == f"echo '{REACHABLE}'"
    assert unreachable(REACHABLE, "m") is None
    assert unreachable(UNREACHABLE, "m") == "the Debian mirror m cannot be reached from this host (no answer within 3 s)"
