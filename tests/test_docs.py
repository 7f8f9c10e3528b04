"""The documentation's references hold: no docstring or comment names a Markdown file that is not
in the repository, and every Python name the README documents can be imported."""

from __future__ import annotations

import importlib
import re

import pytest

from .conftest import REPO

PACKAGE = REPO / "src" / "ifrnet"
README = REPO / "README.md"

#: ``*.md`` names in the package that are files the code *writes*, not documents it points at:
#: ``summary.md`` is the results table ``ifrnet eval`` writes into its output folder.
OUTPUT_FILE_NAMES = {"summary.md"}

# A file name ending in .md, optionally with folders before it: ``docs/IFRNET.md``, ``MODEL_CARD.md``.
# The name must start at a word boundary that is not part of a longer path or extension (".md" alone,
# as in a set of suffixes, is not a file name).
MD_NAME = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-][\w.-]*\.md)\b(?![\w/-])")


def _md_references() -> list[tuple[str, str]]:
    """(``file:line``, name) of every Markdown file name mentioned in the package's Python files."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for name in MD_NAME.findall(line):
                found.append((f"{path.relative_to(REPO)}:{number}", name))
    return found


MD_REFERENCES = _md_references()


def test_markdown_references_are_found() -> None:
    # The scan itself works: the package does point at documents, so an empty scan is a broken scan.
    assert [name for _, name in MD_REFERENCES if name not in OUTPUT_FILE_NAMES]


def test_markdown_pattern() -> None:
    assert MD_NAME.findall("see ``docs/IFRNET.md`` section 2") == ["docs/IFRNET.md"]
    assert MD_NAME.findall("see MODEL_CARD.md)") == ["MODEL_CARD.md"]
    assert MD_NAME.findall('{".txt", ".md", ".json"}') == []


@pytest.mark.parametrize(
    ("where", "name"),
    [pytest.param(where, name, id=f"{where}:{name}") for where, name in MD_REFERENCES if name not in OUTPUT_FILE_NAMES],
)
def test_markdown_file_named_in_the_code_exists(where: str, name: str) -> None:
    assert (REPO / name).is_file(), f"{where} names {name}, which is not a file in the repository"


# -- names the README documents ------------------------------------------------------------------------

#: README names known not to be importable, with the reason (each is reported, not fixed, here).
KNOWN_MISSING: dict[str, str] = {}

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
FROM_IMPORT = re.compile(r"\bfrom\s+(ifrnet(?:\.\w+)*)\s+import\s+([\w\s,]+)")
IMPORT = re.compile(r"^\s*import\s+(ifrnet(?:\.\w+)*)\b", re.M)
# ``ifrnet.a.b`` not inside a path (``src/ifrnet/``), a file name (``ifrnet.egg-info``) or a longer word.
DOTTED = re.compile(r"(?<![\w./-])(ifrnet(?:\.[A-Za-z_]\w*)+)(?![\w/-])")


def _code_text(markdown: str) -> list[str]:
    """The README's code: fenced blocks, then inline spans outside them."""
    blocks = FENCE.findall(markdown)
    prose = FENCE.sub("", markdown)
    return blocks + INLINE.findall(prose)


def readme_names(markdown: str) -> list[str]:
    """Dotted names (``ifrnet.io.read_image``) the README's code shows as importable, in order."""
    names: list[str] = []
    for code in _code_text(markdown):
        for module, imported in FROM_IMPORT.findall(code):
            names += [f"{module}.{item.split()[0]}" for item in imported.split(",") if item.strip()]
        names += IMPORT.findall(code)
        names += DOTTED.findall(FROM_IMPORT.sub("", code))  # the module of an import line is no extra name
    return list(dict.fromkeys(names))


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted`` and look the rest up as attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and dotted.startswith(exc.name) and exc.name.startswith("ifrnet"):
                continue  # that prefix is not a module: try a shorter one
            raise
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_readme_names_are_found() -> None:
    # The parser sees the README's API (its "Python API" section imports from ifrnet) and takes
    # nothing that is a path: the README also mentions ``src/ifrnet/...`` folders.
    names = readme_names(README.read_text(encoding="utf-8"))
    assert any(name.count(".") >= 2 for name in names)
    assert all(re.fullmatch(r"ifrnet(\.[A-Za-z_]\w*)*", name) for name in names), names


def test_readme_parser() -> None:
    text = (
        "```python\nimport ifrnet\nfrom ifrnet.io import read_image, write_png\n"
        "x = ifrnet.factor_times(8)\n```\n"
        "See `ifrnet.metrics`, `src/ifrnet/models/`, `src/ifrnet.egg-info` and ifrnet.not_code outside backticks.\n"
    )
    assert readme_names(text) == [
        "ifrnet.io.read_image",
        "ifrnet.io.write_png",
        "ifrnet",
        "ifrnet.factor_times",
        "ifrnet.metrics",
    ]


def _readme_cases() -> list:
    cases = []
    for name in readme_names(README.read_text(encoding="utf-8")):
        marks = [pytest.mark.xfail(reason=KNOWN_MISSING[name], strict=True)] if name in KNOWN_MISSING else []
        cases.append(pytest.param(name, id=name, marks=marks))
    return cases


@pytest.mark.parametrize("name", _readme_cases())
def test_readme_name_is_importable(name: str) -> None:
    assert resolve(name) is not None
