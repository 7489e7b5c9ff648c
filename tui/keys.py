"""Key bindings with stable ids, and how a key is written for a person.

Every binding of the workstation has an id in the clinic's words
(`queue.filter.mine`, `followup.mark-done`); the `[keymap]` table of the
config file maps ids to other keys (core.config checks the ids and keys when
the file is read; `AftercareApp` hands the table to Textual's `set_keymap`).
The help screen and the README's Keymap table are built from these bindings,
so neither can drift from the keys that work.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from textual.binding import Binding
from textual.keys import REPLACED_KEYS


def bind(
    binding_id: str,
    key: str,
    action: str,
    description: str,
    tooltip: str = "",
    *,
    show: bool = True,
) -> Binding:
    """One key binding, id first: the name a keymap and the README use for it."""
    return Binding(key, action, description, show=show, tooltip=tooltip, id=binding_id)


def screen_keys(
    screen: str, *, reload: str, back: str = "Back to the previous screen"
) -> list[Binding]:
    """Reload, back and help: the last keys of every screen opened over the queue."""
    return [
        bind(f"{screen}.reload", "r", "reload", "Reload", reload),
        bind(f"{screen}.back", "escape", "back", "Back", back),
        bind(f"{screen}.help", "question_mark", "help", "Help", "Every key of this screen"),
    ]


def key_words(key: str) -> str:
    """A bound key as a person reads it: "?" for question_mark, "ctrl+s", "enter"."""
    *modifiers, base = key.split("+")
    return "+".join([*modifiers, _character(base)])


def _character(base: str) -> str:
    if len(base) == 1:
        return base
    try:
        character = unicodedata.lookup(REPLACED_KEYS.get(base, base).replace("_", " ").upper())
    except KeyError:
        return base
    # "escape" and "tab" also name control characters, "space" a blank: keep the word.
    return character if character.isprintable() and not character.isspace() else base


def every_binding() -> Iterator[tuple[str, Binding]]:
    """(where, binding) for every binding of the workstation, in the order a reader meets them."""
    from tui.actions import FOLLOW_UP_BINDINGS
    from tui.app import AftercareApp
    from tui.care_forms import CareForm
    from tui.help import HelpScreen
    from tui.modals import ConfirmModal, FormModal
    from tui.screens.alerts import AlertsScreen
    from tui.screens.incidents import IncidentLogScreen
    from tui.screens.oncall import OnCallScreen
    from tui.screens.patient import PatientScreen
    from tui.screens.queue import QueueScreen
    from tui.screens.search import SearchScreen
    from tui.triage_form import TriageModal

    places: tuple[tuple[str, list[Any]], ...] = (
        ("everywhere", AftercareApp.BINDINGS),
        ("queue and patient", FOLLOW_UP_BINDINGS),
        ("queue", QueueScreen.BINDINGS),
        ("find any patient", SearchScreen.BINDINGS),
        ("patient", PatientScreen.BINDINGS),
        ("alerts", AlertsScreen.BINDINGS),
        ("on-call", OnCallScreen.BINDINGS),
        ("incident log", IncidentLogScreen.BINDINGS),
        ("every form", FormModal.BINDINGS),
        ("triage form", TriageModal.BINDINGS),
        ("record of care form", CareForm.BINDINGS),
        ("yes/no question", ConfirmModal.BINDINGS),
        ("help", HelpScreen.BINDINGS),
    )
    seen: set[str] = set()
    for where, bindings in places:
        for binding in bindings:
            if not isinstance(binding, Binding) or binding.id is None:
                raise TypeError(f"{where}: every binding needs an id (tui.keys.bind)")
            if binding.id not in seen:
                seen.add(binding.id)
                yield where, binding


def keymap_markdown() -> str:
    """The README's Keymap table: every binding id, its default key(s), where, what it does."""
    lines = ["| id | default key | where | what it does |", "|---|---|---|---|"]
    for where, binding in every_binding():
        keys = ", ".join(f"`{key_words(key.strip())}`" for key in binding.key.split(","))
        does = binding.tooltip or binding.description
        lines.append(f"| `{binding.id}` | {keys} | {where} | {does} |")
    return "\n".join(lines)


if __name__ == "__main__":
    # `python -m tui.keys` prints the table to paste into the README (a test compares them).
    print(keymap_markdown())
