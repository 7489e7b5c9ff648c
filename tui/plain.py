"""Stored text put on screen as data: never terminal control.

Rich and Textual drop a few control characters (BEL, CR) but pass ESC and the
bidi overrides to the terminal, which obeys them: a name holding OSC 52 writes
the coordinator's clipboard on every repaint. New text is refused on the way in
(core.plain_text); a database written before that (or by hand) may still hold
such text, so every screen hands what it shows through `plain` here, which
writes each control character in its visible form ("␛", "<U+202E>") and keeps
the styles. Newlines and tabs stay: panes are laid out over several lines.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any, TypeVar

from rich.console import Group, RenderableType
from rich.text import Text

from core.plain_text import any_control, is_control, shown

RecordT = TypeVar("RecordT")


def plain_text(text: Text) -> Text:
    """`text` with every control character visible, its styles kept (the usual case,
    nothing to show, is `text` itself)."""
    source = text.plain
    if not any_control(source, notes=True):
        return text
    safe = text.blank_copy()
    start = 0
    for at, char in enumerate(source):
        if is_control(char) and char not in "\n\t":
            safe.append_text(text[start:at])
            # Styled as the character it stands for, so a cell keeps its colour.
            safe.append_text(_styled_as(text, at, shown(char)))
            start = at + 1
    safe.append_text(text[start:])
    return safe


def plain(renderable: RenderableType) -> RenderableType:
    """What a Static or a table cell shows, safe to send to the terminal: text (a
    str, a Text, the lines of a Group) with every control character visible."""
    if isinstance(renderable, str):
        return shown(renderable, notes=True)
    if isinstance(renderable, Text):
        return plain_text(renderable)
    if isinstance(renderable, Group):
        return Group(*(plain(part) for part in renderable.renderables), fit=renderable.fit)
    return renderable


def plain_str(text: str) -> str:
    """One line of stored text as drawn: every control character visible, tabs and
    newlines too (a table cell or a title is one line)."""
    return shown(text)


def plain_cells(cells: tuple[Text, ...]) -> tuple[Text, ...]:
    """A table row's cells, each with its control characters visible."""
    return tuple(plain_text(cell) for cell in cells)


def _styled_as(text: Text, at: int, replacement: str) -> Text:
    piece = text[at : at + 1]
    styled = Text(replacement, style=piece.style)
    for span in piece.spans:
        styled.stylize(span.style, 0, len(replacement))
    return styled


def shown_fields(record: RecordT) -> RecordT:
    """A copy of a record read for a screen (a dossier, its timeline) whose text
    fields show their control characters visibly, nested records and tuples
    included; `record` itself when none holds any (the usual case). Newlines and
    tabs stay. For drawing only: a form keeps the record as stored."""
    return _shown(record)  # type: ignore[no-any-return]


def _shown(value: Any) -> Any:
    if isinstance(value, Enum):
        return value  # a StrEnum is the program's own word
    if isinstance(value, str):
        return shown(value, notes=True)
    if isinstance(value, tuple):
        items = tuple(_shown(item) for item in value)
        changed = any(a is not b for a, b in zip(items, value, strict=True))
        return (type(value)(*items) if hasattr(value, "_fields") else items) if changed else value
    if isinstance(value, list):
        return [_shown(item) for item in value]
    if isinstance(value, dict):
        return {key: _shown(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            if not field.init:
                continue
            before = getattr(value, field.name)
            after = _shown(before)
            if after is not before:
                changes[field.name] = after
        return dataclasses.replace(value, **changes) if changes else value
    return value
