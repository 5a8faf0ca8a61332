"""The LXC provider's own decisions, on container folders made by hand in temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from foobar_fab.console import Console
from foobar_fab.executors import LocalExecutor
from foobar_fab.providers.lxc.containers import Container
from foobar_fab.providers.lxc.layout import BASE_MARKER, IMAGE_MARKER, MARKER, LxcLayout
from foobar_fab.providers.lxc.provider import LxcProvider
from foobar_fab.topology import Lab

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIlabkey foobar_fab-foobar\n"
STAMP = "0123456789ab debootstrap bookworm, recipe bookworm-amd64-c90d6b83\n"


def made(layout: LxcLayout, lab: Lab, image: Path | None, key: str = KEY, base: str = STAMP) -> None:
    """web-01's container as a build leaves it: markers, config, the key it was given, the image it came from."""
    node = lab.node("web-01")
    folder = layout.container_dir(node.name)
    (layout.delta(node.name) / "root/.ssh").mkdir(parents=True)
    (layout.delta(node.name) / "root/.ssh/authorized_keys").write_text(key)
    (folder / MARKER).write_text(f"{lab.name}\n")
    (folder / BASE_MARKER).write_text(base)
    (folder / IMAGE_MARKER).write_text(f"{image or ''}\n")
    (folder / "config").write_text(layout.container_config(node, image))
    layout.base_stamp.parent.mkdir(parents=True, exist_ok=True)
    layout.base_stamp.write_text(STAMP)


@pytest.mark.parametrize(
    "image_kept, key, base, remade",
    [
        pytest.param(True, KEY, STAMP, False, id="as-wanted"),
        pytest.param(False, KEY, STAMP, True, id="role-image-gone"),
        pytest.param(True, "ssh-ed25519 AAAAotherkey someone\n", STAMP, True, id="other-key"),
        pytest.param(True, KEY, "fedcba987654 debootstrap bookworm\n", True, id="other-base-image"),
    ],
)
def test_the_provider_and_the_container_step_agree_on_what_is_made(
    layout: LxcLayout, lab: Lab, image_kept: bool, key: str, base: str, remade: bool
) -> None:
    """A container the Container step replaces is one the provider makes a role image for (and tidies after):
    it must not be remade from the bare base image."""
    image = layout.images_dir / "bookworm-amd64-c90d6b83-e6e94b7e" / "20261127T103420Z-7b6e"
    if image_kept:
        image.mkdir(parents=True)
        (image / "stamp").write_text("built: 1\n")
    made(layout, lab, image, key, base)
    console = Console(quiet=True)
    step = Container(layout, lab.node("web-01"), KEY, image)
    replaced = bool(step.decide(LocalExecutor("web-01", console).run(step.probe())).changes)
    assert replaced is remade
    assert ("web-01" in LxcProvider(layout, console).to_make(KEY)) is remade
