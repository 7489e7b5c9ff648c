"""One help screen for every screen, built from the keys that work there now.

`?` opens it over the screen it was pressed on. It lists that screen's
bindings and the app's (the keys that work everywhere), each with the key
as remapped by the config file's `[keymap]`, what it does, and its id (the
name a keymap uses), grouped by the first part of the id: the screen's own
keys, its filters, the follow-up keys, the keys of every screen. Nothing is
written by hand, so a new binding shows up here by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingsMap
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui.keys import bind, key_words

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

GROUP_TITLES = {
    "queue": "Follow-up queue",
    "queue.filter": "Filters",
    "followup": "The highlighted patient's next touchpoint",
    "patient": "Patient",
    "alerts": "Physician alerts",
    "oncall": "On-call schedule",
    "incidents": "Incident log",
    "incidents.filter": "Filters",
    "app": "Every screen",
}
"""Headings by the part of a binding id before its last dot."""


@dataclass(frozen=True)
class HelpRow:
    """One binding as the help screen shows it."""

    group: str
    keys: str
    """The keys that work now, as a person writes them ("?", "ctrl+s"), comma-separated."""
    does: str
    binding_id: str


def help_rows(screen: Screen[object]) -> list[HelpRow]:
    """The live bindings of `screen` and of the app, keymap applied, grouped by id."""
    app: App[object] = screen.app
    declared: dict[str, str] = {}  # id -> what it does, in the order the code lists them
    keys: dict[str, list[str]] = {}
    for node in (screen, app):
        for _, binding in node._bindings:
            # A key this person's role may not use is not offered (tui.screens.common).
            if (
                binding.id is not None
                and not binding.system
                and node.check_action(binding.action, ()) is not False
            ):
                declared.setdefault(binding.id, binding.tooltip or binding.description)
        # The same copy-and-remap Textual does for each key press (Screen._binding_chain),
        # without the focused widget's own keys (moving the cursor is not the clinic's).
        live: BindingsMap = node._bindings.copy()
        if app._keymap:
            live.apply_keymap(app._keymap)
        for key, binding in live:
            if binding.id in declared and key_words(key) not in keys.setdefault(binding.id, []):
                keys[binding.id].append(key_words(key))
    rows = [
        HelpRow(_group(binding_id), ", ".join(keys.get(binding_id, [])), does, binding_id)
        for binding_id, does in declared.items()
    ]
    order = list(dict.fromkeys(row.group for row in rows))
    return sorted(rows, key=lambda row: order.index(row.group))


def _group(binding_id: str) -> str:
    namespace = binding_id.rpartition(".")[0]
    return GROUP_TITLES.get(namespace, namespace.replace(".", " ").capitalize())


class HelpScreen(ModalScreen[None]):
    """Every key of the screen underneath: key, what it does, id."""

    BINDINGS = [bind("help.close", "escape,q,question_mark", "close", "Close", "Close the help")]

    def __init__(self, title: str, rows: list[HelpRow]) -> None:
        super().__init__()
        self.title_words = title
        self.rows = rows
        """What is listed, in order (tests read it)."""

    @classmethod
    def of(cls, screen: Screen[object], title: str) -> HelpScreen:
        """The help for `screen` as its keys are now."""
        return cls(title, help_rows(screen))

    def compose(self) -> ComposeResult:
        with Vertical(classes="form help"):
            yield Label(Text(f"{self.title_words}: every key", style="bold"))
            with VerticalScroll(id="help-scroll"):
                yield Static(self._tables(), id="help-text")
            # One line at 80 columns, so the list above keeps every row it can.
            yield Static(
                Text(
                    "escape closes · ctrl+p: every action by name · [keymap] remaps by id",
                    style="dim",
                ),
                id="help-footer",
            )

    def on_mount(self) -> None:
        # Focused, so the arrow and page keys scroll a list longer than the terminal.
        self.query_one("#help-scroll", VerticalScroll).focus()

    def _tables(self) -> Group:
        key_width = max((len(row.keys) for row in self.rows), default=3)
        id_width = max((len(row.binding_id) for row in self.rows), default=2)
        tables = []
        for group in dict.fromkeys(row.group for row in self.rows):
            table = Table(
                title=group,
                title_justify="left",
                title_style="bold underline",
                box=None,
                show_header=False,
                expand=True,
                padding=(0, 1),
                pad_edge=False,
            )
            table.add_column("Key", width=key_width, no_wrap=True, style="bold")
            table.add_column("What it does", ratio=1, overflow="fold")
            table.add_column("Id", width=id_width, no_wrap=True, style="dim")
            for row in self.rows:
                if row.group == group:
                    table.add_row(Text(row.keys), Text(row.does), Text(row.binding_id))
            tables.append(table)
        return Group(*tables)

    def action_close(self) -> None:
        """Back to the screen."""
        self.dismiss(None)


class HasHelp:
    """Mixin for a screen: `?` opens the help built from its own bindings."""

    HELP_TITLE: ClassVar[str] = "This screen"

    def action_help(self) -> None:
        """Every key of this screen."""
        screen: Screen[object] = self  # type: ignore[assignment]
        screen.app.push_screen(HelpScreen.of(screen, self.HELP_TITLE))
