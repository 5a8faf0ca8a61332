"""The docs stay true to the lab: links resolve, every invoke command exists with its flags, output is captured."""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path

import pytest

from foobar_fab import design, docs_capture, docs_diagram
from foobar_fab.drills.catalog import DRILLS
from foobar_fab.settings import PROJECT_ROOT
from foobar_fab.tasks import ns

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md"))]
IMAGES = PROJECT_ROOT / "docs/img"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```[a-z]*\n(.*?)```", re.S)
INLINE = re.compile(r"`([^`\n]+)`")
COMMENT = re.compile(r"<!--.*?-->", re.S)
INVOKE = re.compile(r"(?:^|[\s;&|(])invoke\s+([^\n;&|)]*)")
#: A figure the docs quote as measured: a count of a count ("93 of 150"), a duration with decimals ("11.1 s",
#: "0.3–0.5 s"), a rate ("1236 req/s") or a size ("157 MiB"). Settings are written as whole numbers ("inter 500ms",
#: "checks every 2 s", "300 ms") and are not figures.
FIGURE = re.compile(
    r"\b(?P<count>\d+ of \d+)\b"
    r"|\b(?P<seconds>\d+\.\d+)(?:\s?(?:–|-|to)\s?(?P<until>\d+\.\d+))?\s?(?P<time>s|ms)\b"
    r"|\b(?P<amount>\d+(?:\.\d+)?)\s?(?P<unit>req/s|requests/s|requests per second|KiB|MiB|GiB)"
)


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(PROJECT_ROOT)) for p in paths]


def code_of(text: str) -> list[str]:
    """Every piece of code in a document: fenced blocks, inline spans and capture commands."""
    fenced = FENCE.findall(text)
    prose = FENCE.sub("", text)
    return fenced + INLINE.findall(prose) + docs_capture.commands(text)


def invoke_calls(text: str) -> list[list[str]]:
    """The words after each `invoke` in a document's code."""
    calls = []
    for code in code_of(text):
        for match in INVOKE.finditer(code):
            try:
                words = shlex.split(match.group(1), comments=True)
            except ValueError:
                words = match.group(1).split()
            if words and not words[0].startswith("-"):
                calls.append(words)
    return calls


def figures(text: str) -> set[str]:
    """Every figure in a text, written one way: '93 of 150', '11.1 s', '1236 /s', '157 MiB'."""
    found = set()
    for m in FIGURE.finditer(text):
        if m["count"]:
            found.add(m["count"])
        elif m["seconds"]:
            found |= {f"{number} {m['time']}" for number in (m["seconds"], m["until"]) if number}
        else:
            found.add(f"{m['amount']} {'/s' if m['unit'].startswith(('req', 'requests')) else m['unit']}")
    return found


def prose(text: str) -> str:
    """A document without its code: fenced blocks (and so captured output), inline code and comments."""
    return INLINE.sub("", FENCE.sub("", COMMENT.sub("", text)))


def captured_figures() -> set[str]:
    """Every figure in the output of every capture block of the docs."""
    return {f for document in DOCUMENTS for block in docs_capture.BLOCK.finditer(document.read_text()) for f in figures(block["output"])}


def flag_names(task_name: str) -> set[str]:
    names = set()
    for argument in copy.deepcopy(ns[task_name]).get_arguments():
        for name in argument.names:
            names.add(name.replace("_", "-"))
            if argument.kind is bool:
                names.add("no-" + name.replace("_", "-"))
    return names


@pytest.mark.parametrize("document", DOCUMENTS, ids=ids(DOCUMENTS))
def test_relative_links_and_images_resolve(document: Path) -> None:
    for target in LINK.findall(document.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{document.name}: {target} does not exist"


@pytest.mark.parametrize("document", DOCUMENTS, ids=ids(DOCUMENTS))
def test_every_invoke_command_exists_with_its_flags(document: Path) -> None:
    for words in invoke_calls(document.read_text()):
        name = words[0]
        assert name in ns.task_names, f"{document.name}: `invoke {' '.join(words)}`: no task {name}"
        for word in words[1:]:
            if word.startswith("--"):
                flag = word[2:].split("=")[0]
                assert flag in flag_names(name), f"{document.name}: `invoke {' '.join(words)}`: no flag --{flag}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=ids(DOCUMENTS))
def test_captured_output_is_filled_in(document: Path) -> None:
    assert docs_capture.PLACEHOLDER not in document.read_text(), f"run `invoke docs.capture` for {document.name}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=ids(DOCUMENTS))
def test_every_figure_in_prose_comes_from_a_capture(document: Path) -> None:
    """A figure typed by hand goes stale; one that `invoke docs.capture` refreshes beside it does not."""
    captured = captured_figures()
    for line in prose(document.read_text()).splitlines():
        missing = sorted(figures(line) - captured)
        assert not missing, f"{document.name}: {', '.join(missing)} is quoted but no capture holds it: {line.strip()[:120]}"


def test_figures_are_found_whatever_their_spelling() -> None:
    text = "93 of 150 reads failed, marked down 0.3–0.5 s later or after 11.1 s; 1236 req/s, 20 requests per second, 157 MiB"
    assert figures(text) == {"93 of 150", "0.3 s", "0.5 s", "11.1 s", "1236 /s", "20 /s", "157 MiB"}
    assert figures("inter 500ms, checks every 2 s, a 300 ms connect timeout, Debian 12, 10.181.57.0/24") == set()


def test_every_picture_is_refreshed_by_docs_capture() -> None:
    """Each file in docs/img is written by a capture command (a drill's --plot-to, docs.screenshot)."""
    commands = " ".join(c for document in DOCUMENTS for c in docs_capture.commands(document.read_text()))
    for picture in sorted(IMAGES.iterdir()):
        assert f"docs/img/{picture.name}" in commands, f"no capture writes {picture.relative_to(PROJECT_ROOT)}"


@pytest.mark.parametrize("design_file", ["lab", "scaled", "reference"])
def test_each_diagram_matches_its_design(design_file: str) -> None:
    lab = design.load(PROJECT_ROOT / f"configs/{design_file}.yml")
    drawn = PROJECT_ROOT / f"docs/{design_file}.dot"
    assert drawn.read_text() == docs_diagram.dot_source(lab), f"run `invoke docs.diagram --lab-file configs/{design_file}.yml`"
    assert drawn.with_suffix(".svg").read_text().lstrip().startswith("<?xml")


def test_capture_fills_only_the_blocks() -> None:
    text = "intro\n<!-- capture: echo hi -->\n```text\nold\n```\n<!-- end capture -->\noutro\n"
    filled = docs_capture.fill(text, lambda command: f"ran {command}")
    assert filled == "intro\n<!-- capture: echo hi -->\n```text\nran echo hi\n```\n<!-- end capture -->\noutro\n"


def test_invoke_calls_are_found_in_code_only() -> None:
    text = "To invoke it, run `invoke build --quiet`.\n```sh\ninvoke drill.kill-lb --duration 8 && invoke status\n```\n"
    assert invoke_calls(text) == [["drill.kill-lb", "--duration", "8"], ["status"], ["build", "--quiet"]]


def test_an_unknown_flag_would_be_caught() -> None:
    assert "duration" in flag_names("drill.kill-web1") and "durations" not in flag_names("drill.kill-web1")


def test_every_drill_points_to_a_lesson_that_exists() -> None:
    for drill in DRILLS:
        lesson = PROJECT_ROOT / drill.lesson_link
        assert lesson.is_file(), f"{drill.name}: {drill.lesson_link} does not exist"
        assert f"drill.{drill.name}" in (PROJECT_ROOT / "docs/README.md").read_text(), f"docs/README.md does not list {drill.name}"


def captured_outputs() -> str:
    """Every captured output of the docs, one text, spaces squeezed (tables are aligned with runs of spaces)."""
    outputs = [m.group("output") for doc in DOCUMENTS for m in docs_capture.BLOCK.finditer(doc.read_text())]
    return re.sub(r"[ \t]+", " ", "\n".join(outputs))


def seed_map_rows() -> list[list[str]]:
    """The seed map's table rows, as cells (the header and its rule left out)."""
    rows = [line.strip().strip("|").split(" | ") for line in (PROJECT_ROOT / "docs/seed-map.md").read_text().splitlines() if line.startswith("| ")]
    return [cells for cells in rows if len(cells) == 4 and not cells[0].startswith(("what", "---"))]


@pytest.mark.parametrize("cells", seed_map_rows(), ids=lambda cells: cells[0][:40])
def test_the_seed_maps_quoted_output_is_captured_somewhere(cells: list[str]) -> None:
    """Each line the seed map quotes as output is in a capture, and each command it names is captured (refreshed)."""
    outputs, commands = captured_outputs(), {c for doc in DOCUMENTS for c in docs_capture.commands(doc.read_text())}
    for quoted in INLINE.findall(cells[3]):
        parts = [re.escape(re.sub(r"[ \t]+", " ", part).strip()) for part in quoted.split("...")]  # "..." stands for anything
        assert re.search(".*?".join(parts), outputs), f"{cells[0]}: `{quoted}` is in no capture"
    for command in INLINE.findall(cells[2]):
        # build and lb.* change the lab (their effect is what is captured); docs.diagram's output is the drawing linked beside it
        if command.startswith("invoke ") and not command.startswith(("invoke build", "invoke lb.", "invoke docs.diagram")):
            words = shlex.split(command)  # the same task, with at least the options cited (a capture may add --quiet...)
            assert any(shlex.split(c)[:2] == words[:2] and set(words) <= set(shlex.split(c)) for c in commands), f"{cells[0]}: `{command}` is captured nowhere"
