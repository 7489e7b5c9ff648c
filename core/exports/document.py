"""A small document model shared by the Markdown and the PDF summary.

The summary is built once as blocks (headings, paragraphs, bullet lists,
tables); each output format only lays them out. That keeps the two formats
saying exactly the same thing, and keeps the PDF from parsing Markdown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.plain_text import shown


@dataclass(frozen=True)
class Heading:
    """A section title; level 1 is the document title."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """Running text."""

    text: str


@dataclass(frozen=True)
class Bullet:
    """One list item, with optional indented detail lines under it."""

    text: str
    details: tuple[str, ...] = ()
    print_text: str | None = None
    """What a PDF whose fonts cannot print `text` shows instead, in words
    (a name in its own script); None prints `text` as far as it can."""


@dataclass(frozen=True)
class BulletList:
    """A list of items."""

    items: tuple[Bullet, ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row; every row has as many cells as the header."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


Block = Heading | Paragraph | BulletList | Table


@dataclass(frozen=True)
class Document:
    """A titled sequence of blocks."""

    title: str
    blocks: tuple[Block, ...]
    running_names: str | None = None
    """Whose record this is, as a PDF prints it under the title and at the foot of
    every page: the passport name and the name in the patient's own script."""
    language: str | None = None
    """The patient's language tag ("ja", "zh-TW"): a PDF draws names in that
    language's letterforms (one Chinese character looks different in Japan,
    Korea, mainland China and Taiwan)."""


def to_markdown(document: Document) -> str:
    """The document as Markdown text, ending in one newline.

    Text from patients and staff is escaped where Markdown would otherwise
    read it as formatting (a note starting with '#', a '|' inside a table cell).
    """
    parts = [f"# {_inline(document.title)}"]
    for block in document.blocks:
        parts.append(_markdown_block(block))
    return "\n\n".join(parts) + "\n"


def _markdown_block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * max(1, min(block.level, 6))} {_inline(block.text)}"
    if isinstance(block, Paragraph):
        return _inline(block.text)
    if isinstance(block, BulletList):
        lines: list[str] = []
        for item in block.items:
            lines.append(f"- {_inline(item.text)}")
            lines += [f"  - {_inline(detail)}" for detail in item.details]
        return "\n".join(lines)
    return _markdown_table(block.header, block.rows)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(_cell(c) for c in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|") or " "


def _inline(text: str) -> str:
    # One line per block item: a newline inside a stored note would otherwise
    # end the list item or the table row early.
    # Terminal control (ESC, a bidi override) stored before the way in refused it
    # is shown as data: the summary is printed to terminals (core.plain_text).
    flat = shown(" ".join(text.split()))
    # Inline '*', '`', '~' and '<' are escaped so a patient's "*very* sore" or an
    # angle-bracketed address stays literal, never emphasis or an autolink.
    # Underscores are left alone: codes such as "non_serious" and lot numbers must
    # read back exactly, and CommonMark does not emphasise inside words.
    for char in ("\\", "*", "`", "~", "<"):
        flat = flat.replace(char, "\\" + char)
    # A link or an image needs a ']' followed by '(' or '[', or a definition
    # ("[x]: url") at the start of a block: those are escaped, so "[click](http://...)"
    # in a name stays text and the summary's own "[done]" reads as it is.
    flat = flat.replace("](", "\\]\\(").replace("][", "\\]\\[")
    if flat.startswith("["):
        flat = "\\" + flat
    # A leading '#', '>', '-', '+' or '1.' would turn text into a heading,
    # quote or list.
    if flat[:1] in ("#", ">", "-", "+"):
        return "\\" + flat
    number, dot, rest = flat.partition(".")
    if dot and number.isdigit() and (not rest or rest[0] == " "):
        return f"{number}\\.{rest}"
    return flat
