"""Text from outside (a CSV file, a form, a config file, a command line) is data,
never terminal control.

A terminal obeys the bytes it is sent: ESC starts a sequence that can retitle
the window, clear the screen or write to the clipboard (OSC 52), and a bidi
override (U+202E) shows the rest of a line backwards. A patient's name or
handle that carries them acts on the coordinator's terminal each time it is
shown. So there are two halves, used everywhere:

- at every way in, `control_problem` / `refuse_control` refuse such characters,
  naming the character and its position, so nothing new is stored with them;
- at every way out, `shown` makes any text safe to print, so a database written
  before the check (or by hand) is still shown as data: ESC as "␛", a bidi
  override as "<U+202E>".

Tab and newline are refused in names, handles, codes and settings; only free
text a person writes as notes may keep a newline (and a tab), and `shown`
keeps them only when asked.
"""

from __future__ import annotations

import re
from typing import Final

BIDI_CONTROLS: Final = frozenset((*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
"""Bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI):
each turns the text after it around on screen, so what is read is not what is stored."""

_NAMES: Final = {
    0x00: "NUL",
    0x07: "BEL",
    0x08: "backspace",
    0x09: "tab",
    0x0A: "newline",
    0x0D: "carriage return",
    0x1B: "ESC",
    0x7F: "DEL",
    0x9B: "CSI",
    0x9D: "OSC",
    0x202A: "bidi embedding U+202A",
    0x202B: "bidi embedding U+202B",
    0x202C: "bidi pop U+202C",
    0x202D: "bidi override U+202D",
    0x202E: "bidi override U+202E",
    0x2066: "bidi isolate U+2066",
    0x2067: "bidi isolate U+2067",
    0x2068: "bidi isolate U+2068",
    0x2069: "bidi isolate U+2069",
}


_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""Any character `is_control` names, found in one C-level scan (a screen of 20,000
table cells is checked on every read)."""
_CONTROL_BUT_LAYOUT: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""The same less newline and tab, which a note or a pane keeps."""


def any_control(text: str, *, notes: bool = False) -> bool:
    """Whether `text` holds a control character (with `notes`, other than newline and tab)."""
    return (_CONTROL_BUT_LAYOUT if notes else _CONTROL).search(text) is not None


def is_control(char: str) -> bool:
    """A character that is terminal control or turns text around: C0 (tab and newline
    included), DEL, C1, and the bidi overrides and isolates."""
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in BIDI_CONTROLS


def control_name(char: str) -> str:
    """How a person is told which character it is: "ESC", "tab", "U+0085"."""
    code = ord(char)
    return _NAMES.get(code, f"U+{code:04X}")


def control_problem(text: str, *, notes: bool = False) -> str | None:
    """What is wrong with `text` as text from outside, or None.

    "contains a control character (ESC) at position 4: not accepted"; the
    position counts characters from 1. `notes`: free text a person writes over
    several lines, where newline and tab are allowed.
    """
    for position, char in enumerate(text, start=1):
        if is_control(char) and not (notes and char in "\n\t"):
            return (
                f"contains a control character ({control_name(char)}) "
                f"at position {position}: not accepted"
            )
    return None


def refuse_control(text: str, *, notes: bool = False) -> str:
    """`text` unchanged, or ValueError saying which control character is where
    (a check for pydantic validators and the form parsers, whose caller names the field)."""
    problem = control_problem(text, notes=notes)
    if problem is not None:
        raise ValueError(problem)
    return text


def refusal(field_words: str, text: str, *, notes: bool = False) -> str | None:
    """The whole sentence for one field, or None: "Given name contains a control
    character (ESC) at position 4: not accepted"."""
    problem = control_problem(text, notes=notes)
    return None if problem is None else f"{field_words} {problem}"


def _visible(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ESC -> "␛"
    if code == 0x7F:
        return "\u2421"  # "␡"
    return f"<U+{code:04X}>"


def shown(text: str, *, notes: bool = False) -> str:
    """`text` safe to print on a terminal: each control character in its visible
    form ("\\x1b" -> "␛", U+202E -> "<U+202E>"); with `notes`, newline and tab kept."""
    if not any_control(text):
        return text  # the usual case: no copy
    return "".join(
        char if (notes and char in "\n\t") or not is_control(char) else _visible(char)
        for char in text
    )


def has_control(text: str, *, notes: bool = False) -> bool:
    """Whether `shown` would change `text`."""
    return control_problem(text, notes=notes) is not None
