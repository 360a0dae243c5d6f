"""The translated READMEs in ``readme/`` (the Dify Marketplace's ``README_<language>.md``) keep in step with README.md.

Prose is translated, structure is not: each translation has the same headings at the same levels in the same
order, the same fenced code blocks byte for byte (commands, JSON and Python are never translated), and the same
tables with the same rows and columns. Its links work from ``readme/``: files exist, and anchors name a heading of
the file they point into. Its first line links back to the English README, the reference version.

When README.md changes its structure, this test names the translation and the first place where they part.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = "README.md"
TRANSLATIONS = ("readme/README_zh_Hans.md", "readme/README_ja_JP.md", "readme/README_pt_BR.md")

FENCE = re.compile(r"^ *(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+).*?\1")
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


@dataclass
class Heading:
    line: int
    level: int
    text: str

    def __str__(self) -> str:
        return f"{'#' * self.level} {self.text!r} (line {self.line})"


@dataclass
class CodeBlock:
    line: int
    lines: list[str]
    """Every line of the block, the opening and closing fences included, exactly as written."""


@dataclass
class Table:
    line: int
    cells: list[int]
    """For each row, its number of column separators (unescaped ``|``)."""


@dataclass
class Structure:
    headings: list[Heading] = field(default_factory=list)
    code_blocks: list[CodeBlock] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    text_lines: list[tuple[int, str]] = field(default_factory=list)
    """Lines outside fenced code blocks, with their numbers: where headings, tables and links are."""


def closes(fence: re.Match[str] | None, opening: str) -> bool:
    """A closing fence: the opening's character, at least as many of them, and nothing after."""
    return (
        bool(fence)
        and fence.group(1)[0] == opening[0]
        and len(fence.group(1)) >= len(opening)
        and not fence.group(2).strip()
    )


def parse(text: str) -> Structure:
    """Headings, fenced code blocks and tables of a Markdown document, line by line as CommonMark and GFM read it."""
    found = Structure()
    block: CodeBlock | None = None
    closing = ""
    table: Table | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if block is not None:
            block.lines.append(line)
            if closes(FENCE.match(line), closing):
                block = None
            continue
        fence = FENCE.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            table = None
            closing = fence.group(1)
            block = CodeBlock(number, [line])
            found.code_blocks.append(block)
            continue
        found.text_lines.append((number, line))
        if line.lstrip().startswith("|"):
            if table is None:
                table = Table(number, [])
                found.tables.append(table)
            table.cells.append(len(UNESCAPED_PIPE.findall(line)))
            continue
        table = None
        heading = HEADING.match(line)
        if heading:
            found.headings.append(Heading(number, len(heading.group(1)), heading.group(2) or ""))
    assert block is None, f"the code block opened at line {found.code_blocks[-1].line} is never closed"
    return found


def slug(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation out (letters of every script stay), spaces to ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text).lower()
    kept = "".join(
        character
        for character in text
        if character in " -" or unicodedata.category(character)[0] in "LMN" or unicodedata.category(character) == "Pc"
    )
    return kept.replace(" ", "-")


def anchors(structure: Structure) -> set[str]:
    """Every heading's anchor; a repeated one gets ``-1``, ``-2``… as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in structure.headings:
        base = slug(heading.text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def read(relative: str) -> str:
    path = ROOT / relative
    assert path.is_file(), f"{relative} is missing"
    return path.read_text(encoding="utf-8")


def first_difference(english: list[str], translated: list[str]) -> int:
    """Index of the first place where the two lists differ (one may be a prefix of the other)."""
    return next(
        (index for index, (one, other) in enumerate(zip(english, translated, strict=False)) if one != other),
        min(len(english), len(translated)),
    )


@pytest.fixture(scope="module")
def english() -> Structure:
    return parse(read(ENGLISH))


@pytest.mark.parametrize("name", TRANSLATIONS)
def test_the_headings_have_the_same_levels_in_the_same_order(name, english):
    translated = parse(read(name)).headings
    levels = [heading.level for heading in english.headings]
    index = first_difference(levels, [heading.level for heading in translated])
    if index < len(english.headings) and index < len(translated):
        pytest.fail(
            f"{name}: heading {index + 1} is {translated[index]}, "
            f"but heading {index + 1} of {ENGLISH} is {english.headings[index]}"
        )
    if len(translated) != len(english.headings):
        longer, other = (ENGLISH, english.headings) if len(english.headings) > len(translated) else (name, translated)
        pytest.fail(
            f"{name}: {len(translated)} headings, {ENGLISH}: {len(english.headings)}; "
            f"{longer} goes on with {other[index]}"
        )


@pytest.mark.parametrize("name", TRANSLATIONS)
def test_the_code_blocks_are_the_same_byte_for_byte(name, english):
    translated = parse(read(name)).code_blocks
    for number, (one, other) in enumerate(zip(english.code_blocks, translated, strict=False), 1):
        if one.lines != other.lines:
            index = first_difference(one.lines, other.lines)
            expected = one.lines[index] if index < len(one.lines) else "(the block has ended)"
            actual = other.lines[index] if index < len(other.lines) else "(the block has ended)"
            pytest.fail(
                f"{name}: code block {number} (line {other.line}) differs from {ENGLISH}'s (line {one.line}) "
                f"at its line {index + 1}:\n  {ENGLISH}: {expected!r}\n  {name}: {actual!r}"
            )
    if len(translated) != len(english.code_blocks):
        index = min(len(translated), len(english.code_blocks))
        longer, blocks = (
            (ENGLISH, english.code_blocks) if len(english.code_blocks) > len(translated) else (name, translated)
        )
        pytest.fail(
            f"{name}: {len(translated)} fenced code blocks, {ENGLISH}: {len(english.code_blocks)}; "
            f"{longer} goes on with the block at line {blocks[index].line}: {blocks[index].lines[0]!r}"
        )


@pytest.mark.parametrize("name", TRANSLATIONS)
def test_the_tables_have_the_same_rows_and_columns(name, english):
    translated = parse(read(name)).tables
    for number, (one, other) in enumerate(zip(english.tables, translated, strict=False), 1):
        if len(one.cells) != len(other.cells):
            pytest.fail(
                f"{name}: table {number} (line {other.line}) has {len(other.cells)} rows, "
                f"{ENGLISH}'s (line {one.line}) has {len(one.cells)}"
            )
        if one.cells != other.cells:
            row = first_difference(one.cells, other.cells)
            pytest.fail(
                f"{name}: row {row + 1} of table {number} (line {other.line + row}) has {other.cells[row]} "
                f"'|' separators, {ENGLISH}'s (line {one.line + row}) has {one.cells[row]}"
            )
    if len(translated) != len(english.tables):
        index = min(len(translated), len(english.tables))
        longer, tables = (ENGLISH, english.tables) if len(english.tables) > len(translated) else (name, translated)
        pytest.fail(
            f"{name}: {len(translated)} tables, {ENGLISH}: {len(english.tables)}; "
            f"{longer} goes on with the table at line {tables[index].line}"
        )


@pytest.mark.parametrize("name", TRANSLATIONS)
def test_the_first_line_links_back_to_the_english_readme(name):
    first = next(line for line in read(name).splitlines() if line.strip())
    targets = [match.group(1) for match in LINK.finditer(first)]
    assert "../README.md" in targets, f"{name}: the first line should link to ../README.md, it is {first!r}"


@pytest.mark.parametrize("name", TRANSLATIONS)
def test_the_links_work_from_the_readme_folder(name):
    structure = parse(read(name))
    broken = []
    for number, line in structure.text_lines:
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            target = match.group(1)
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or not target:
                continue  # https:, mailto: and the like
            path, _, anchor = target.partition("#")
            file = (ROOT / name).parent / path if path else ROOT / name
            if path.removeprefix("./").startswith("_assets/"):
                file = ROOT / path  # Dify shows a README's `_assets/` images from the plugin's root, wherever it is
            if not file.exists() or not file.resolve().is_relative_to(ROOT):
                broken.append(f"line {number}: {target} (no such file in the repository)")
            elif anchor and file.suffix == ".md":
                relative = file.resolve().relative_to(ROOT).as_posix()
                if anchor not in anchors(parse(read(relative))):
                    broken.append(f"line {number}: {target} (no heading of {relative} has that anchor)")
    assert not broken, f"{name}: broken links, first {broken[0]}" + "".join(f"\n  {link}" for link in broken)
