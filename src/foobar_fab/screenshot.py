"""Pictures of the lab as a real browser shows them, for the docs: headless Chromium from Debian.

Chromium runs as root here, so without its sandbox, with a profile of its own that is removed afterwards,
none of its background traffic, and the site's name mapped to the lab's entry address (the host's
resolver does not know it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import LabError

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
TIMEOUT = 60.0


def browser() -> str:
    """Debian's Chromium, or one line saying how to install it."""
    found = shutil.which("chromium")
    if found is None:
        raise LabError("chromium is missing: apt-get install chromium (or `sh src/foobar_fab/host/bootstrap.sh docs`)")
    return found


def version(chromium: str) -> str:
    """'Chromium 156' from `chromium --version`."""
    said = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=TIMEOUT).stdout
    found = re.search(r"Chromium (\d+)", said)
    return f"Chromium {found.group(1)}" if found else "Chromium"


def take(url: str, path: Path, names: dict[str, str], size: tuple[int, int], shown_as: str | None = None) -> str:
    """Save the page at `url` as a PNG at `path` (the names mapped to addresses); return what was taken (the
    page named `shown_as` when its address should not be printed, e.g. for its token)."""
    chromium = browser()
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rules = ", ".join(f"MAP {name} {address}" for name, address in names.items())
    with tempfile.TemporaryDirectory(prefix="foobar_fab-chromium-") as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--host-resolver-rules={rules}",
                   f"--window-size={size[0]},{size[1]}", f"--screenshot={path}", url]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise LabError(f"chromium took more than {TIMEOUT:g} s to show {shown_as or url}") from None
    if not path.is_file():
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise LabError(f"chromium saved no screenshot of {shown_as or url} (exit {done.returncode}): {said}")
    return f"{shown_as or url} as {version(chromium)} shows it ({size[0]}x{size[1]})"


def take_during(
    url: str, path: Path, names: dict[str, str], size: tuple[int, int], during: str | None, after: float, cwd: Path, shown_as: str | None = None
) -> tuple[str, int]:
    """Take the picture, `after` seconds into a command run meanwhile (its output shown) when one is given;
    return what was taken and the command's exit status (0 without one), once it has ended."""
    meanwhile = None if during is None else subprocess.Popen(["bash", "-c", during], cwd=cwd)
    try:
        if meanwhile is not None:
            time.sleep(after)
        taken = take(url, path, names, size, shown_as)
    finally:
        code = 0 if meanwhile is None else meanwhile.wait()
    return taken + (f", {after:g} s into `{during}`" if during else ""), code
