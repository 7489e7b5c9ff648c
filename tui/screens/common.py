"""What the workstation's screens share.

`ClinicScreen`: the follow-up writes (`FollowUpActions`), the clinic's state
colours (`ClinicStyles`), `?` for the help built from the screen's own keys,
and `escape` back. `LiveTableScreen`: a live screen over the queue with one
table of records (alerts, incidents, shifts), a status line and, for some, a
pane showing the highlighted record; it acts on records, not on a patient's
touchpoint, and re-reads after its own writes. `ReadFailed`: a screen's own
read off the event loop (a dossier, a form's choices) failed. `next_in`: the
next choice of a filter key that cycles. `ROLE_KEYS`: which keys need which
right (core.permissions), so a key the person's role may not use is neither in
the footer nor in the help, and pressed anyway refuses before any form opens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from core.permissions import Action, allowed, refusal
from tui.actions import FollowUpActions, FollowUpTarget
from tui.footer import ClinicFooter
from tui.help import HasHelp
from tui.live import LiveReading, PageT
from tui.plain import plain_cells, plain_text
from tui.styles import STYLE_CLASSES, ClinicStyles
from tui.tables import RecordTable, cursor_key, show_rows

RecordT = TypeVar("RecordT")
ChoiceT = TypeVar("ChoiceT")

ROLE_KEYS: Mapping[str, Action] = {
    "followup.contact": Action.FOLLOW_UP,
    "followup.mark-done": Action.FOLLOW_UP,
    "followup.skip": Action.FOLLOW_UP,
    "followup.claim": Action.FOLLOW_UP,
    "followup.copy-message": Action.FOLLOW_UP,
    "queue.new-patient": Action.EDIT_EPISODE,
    "patient.triage": Action.TRIAGE,
    "patient.new-incident": Action.OPEN_INCIDENT,
    "patient.export-summary": Action.EXPORT,
    "patient.export-fhir": Action.EXPORT,
    "patient.where-now": Action.EDIT_EPISODE,
    "patient.checklist": Action.EDIT_EPISODE,
    "patient.new-episode": Action.EDIT_EPISODE,
    "patient.correct-record": Action.EDIT_EPISODE,
    "patient.correct-details": Action.EDIT_EPISODE,
    "incidents.add-entry": Action.EDIT_INCIDENT,
    "incidents.classify": Action.CLASSIFY_INCIDENT,
    "incidents.correct-dates": Action.EDIT_INCIDENT,
    "incidents.record-report": Action.EDIT_INCIDENT,
    "incidents.record-khidi": Action.EDIT_INCIDENT,
    "incidents.close": Action.EDIT_INCIDENT,
    "incidents.export-csv": Action.EXPORT,
    "alerts.acknowledge": Action.ACKNOWLEDGE_ALERT,
    "alerts.resolve": Action.RESOLVE_ALERT,
    "oncall.new-shift": Action.MANAGE_ONCALL,
    "oncall.cancel-shift": Action.MANAGE_ONCALL,
}
"""Binding id -> the right its key needs: the same rules the service layer checks
(core.permissions), so the screens cannot offer what the Clinic would refuse.
By binding id, so a screen needs no code of its own and a remapped key stays guarded."""


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

    def key_refusal(self, binding_id: str | None) -> str | None:
        """The sentence that refuses this key to the person at the keyboard, or None
        when they may use it (or it needs no right)."""
        needed = ROLE_KEYS.get(binding_id or "")
        if needed is None:
            return None
        actor = self.aftercare.actor
        if actor is None:
            return f"Read-only: login {self.aftercare.login!r} cannot {needed.words}."
        return None if allowed(actor.role, needed) else refusal(actor.role, needed)

    def _binding_for(self, action: str) -> Binding | None:
        for _, binding in self._bindings:
            if binding.action == action:
                return binding
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key the person's role may not use is not offered: False hides it from the
        footer (and the help); pressed anyway, `on_key` says why."""
        binding = self._binding_for(action)
        if binding is not None and self.key_refusal(binding.id) is not None:
            return False
        return super().check_action(action, parameters)

    def on_key(self, event: events.Key) -> None:
        """A refused key says so at once, before any form opens: one sentence, the
        same the Clinic would give after the work."""
        live = self._bindings.copy()
        if self.app._keymap:
            live.apply_keymap(self.app._keymap)
        for binding in live.key_to_bindings.get(event.key, ()):
            sentence = self.key_refusal(binding.id)
            if sentence is None:
                return  # the key does something this person may do
            event.stop()
            event.prevent_default()
            self.notify(sentence, title="Not allowed", severity="error", markup=False)
            return

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
        table: DataTable[Text] = RecordTable(id=f"{self.NAME}-table", cursor_type="row")
        for key, label in self.COLUMNS:
            table.add_column(self.column_label(label), key=key)
        yield table
        if self.DETAIL:
            with VerticalScroll(id=f"{self.NAME}-detail"):
                yield Static("", id=f"{self.NAME}-detail-text")
        yield Static("", id=f"{self.NAME}-status")
        yield ClinicFooter()

    def column_label(self, label: str) -> str:
        """A column's heading as shown (a screen may fill in, say, the time zone)."""
        return label

    def on_mount(self) -> None:
        self.poll()

    def on_screen_suspend(self) -> None:
        """Hidden (the app keeps this screen for its next opening): no reads while
        nobody looks; the last page stays drawn for the moment it comes back."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_screen_resume(self) -> None:
        """Shown again: the last page is on screen at once, and news is looked for now."""
        if self.page is not None:  # the first resume comes with on_mount's own read
            self.poll_now()

    @property
    def table(self) -> DataTable[Text]:
        """The table of records."""
        return self.query_one(f"#{self.NAME}-table", DataTable)

    def show_rows(
        self, records: dict[str, RecordT], rows: list[tuple[str, tuple[Text, ...]]]
    ) -> None:
        """Show `rows` for `records` (by row key), the cursor staying on its record."""
        self._by_key = records
        # Every live table (alerts, incidents, shifts) shows stored text as data (tui.plain).
        show_rows(self.table, self.COLUMNS, [(key, plain_cells(cells)) for key, cells in rows])

    def highlighted(self) -> RecordT | None:
        """The record under the cursor (None on an empty table or a row that is no record)."""
        key = cursor_key(self.table)
        return self._by_key.get(key) if key is not None else None

    def show_status(self, text: Text) -> None:
        """The bottom line: who works here, when it was read, or why it may be stale."""
        self.query_one(f"#{self.NAME}-status", Static).update(plain_text(text))

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
