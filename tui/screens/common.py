"""What the workstation's screens share.

`ClinicScreen`: the follow-up writes (`FollowUpActions`), the clinic's state
colours (`ClinicStyles`), `?` for the help built from the screen's own keys,
and `escape` back. `LiveTableScreen`: a live screen over the queue with one
table of records (alerts, incidents, shifts), a status line and, for some, a
pane showing the highlighted record; it acts on records, not on a patient's
touchpoint, and re-reads after its own writes. `ReadFailed`: a screen's own
read off the event loop (a dossier, a form's choices) failed. `next_in`: the
next choice of a filter key that cycles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui.actions import FollowUpActions, FollowUpTarget
from tui.help import HasHelp
from tui.live import LiveReading, PageT
from tui.styles import STYLE_CLASSES, ClinicStyles
from tui.tables import cursor_key, show_rows

RecordT = TypeVar("RecordT")
ChoiceT = TypeVar("ChoiceT")


def next_in(cycle: Sequence[ChoiceT], current: ChoiceT) -> ChoiceT:
    """The choice after `current` in a filter key's cycle, the first again after the last."""
    return cycle[(cycle.index(current) + 1) % len(cycle)]


class ReadFailed(Message):
    """A read a screen needs failed; the reason is one line, in the Clinic's words
    when it refused."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__()


class ClinicScreen(HasHelp, ClinicStyles, FollowUpActions, Screen[None]):
    """A screen of the workstation."""

    COMPONENT_CLASSES = STYLE_CLASSES

    def action_back(self) -> None:
        """Return to the screen underneath."""
        self.app.pop_screen()


class LiveTableScreen(LiveReading[PageT], ClinicScreen, Generic[PageT, RecordT]):
    """A live table of records (`NAME-table`) with a summary line, a status line
    and, when `DETAIL`, a pane for the highlighted record."""

    NAME: ClassVar[str]
    """The prefix of the widget ids: `alerts` gives #alerts-table, #alerts-status..."""
    LOADING: ClassVar[str] = "Loading…"
    SUMMARY: ClassVar[str] = "summary"
    """The id of the line above the table: `NAME-SUMMARY`."""
    COLUMNS: ClassVar[tuple[tuple[str, str], ...]]
    DETAIL: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.start_live()
        self._by_key: dict[str, RecordT] = {}

    def compose(self) -> ComposeResult:
        yield Static(self.LOADING, id=f"{self.NAME}-{self.SUMMARY}")
        table: DataTable[Text] = DataTable(id=f"{self.NAME}-table", cursor_type="row")
        for key, label in self.COLUMNS:
            table.add_column(self.column_label(label), key=key)
        yield table
        if self.DETAIL:
            with VerticalScroll(id=f"{self.NAME}-detail"):
                yield Static("", id=f"{self.NAME}-detail-text")
        yield Static("", id=f"{self.NAME}-status")
        yield Footer()

    def column_label(self, label: str) -> str:
        """A column's heading as shown (a screen may fill in, say, the time zone)."""
        return label

    def on_mount(self) -> None:
        self.poll()

    @property
    def table(self) -> DataTable[Text]:
        """The table of records."""
        return self.query_one(f"#{self.NAME}-table", DataTable)

    def show_rows(
        self, records: dict[str, RecordT], rows: list[tuple[str, tuple[Text, ...]]]
    ) -> None:
        """Show `rows` for `records` (by row key), the cursor staying on its record."""
        self._by_key = records
        show_rows(self.table, self.COLUMNS, rows)

    def highlighted(self) -> RecordT | None:
        """The record under the cursor (None on an empty table or a row that is no record)."""
        key = cursor_key(self.table)
        return self._by_key.get(key) if key is not None else None

    def show_status(self, text: Text) -> None:
        """The bottom line: who works here, when it was read, or why it may be stale."""
        self.query_one(f"#{self.NAME}-status", Static).update(text)

    def show_read_failure(self, reason: str) -> None:
        """The rows stay; the status line says why they may be stale."""
        self.show_status(Text(f"⚠ {reason}", style="bold red"))

    def follow_up_target(self) -> FollowUpTarget | None:
        """These screens act on records, not on a patient's touchpoint."""
        return None

    def after_follow_up(self) -> None:
        """Our own write, or a refusal: show the records as they are now."""
        self.refresh_now()

    def action_reload(self) -> None:
        """Read now."""
        self.refresh_now()
