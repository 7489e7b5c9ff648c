"""The follow-up queue: due and overdue touchpoints, most dangerous first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from core.clock import Clock
from core.domain import Channel, Disposition, TouchpointState
from core.queue import QueueCounts, QueueEntry, due_phrase, humanise
from core.schedules import CLINIC_TZ
from db.database import Database
from db.errors import StorageError
from db.queries import due_and_overdue, queue_counts

COLUMNS: tuple[tuple[str, str], ...] = (
    ("priority", "Priority"),
    ("patient", "Patient"),
    ("country", "Ctry"),
    ("local", "Local now"),
    ("day", "Day"),
    ("touchpoint", "Touchpoint"),
    ("due", "Due"),
    ("last", "Contact"),
    ("channel", "Channel"),
    ("assigned", "Assigned"),
)

_DISPOSITION_STYLE = {
    Disposition.EMERGENCY: "bold white on red",
    Disposition.URGENT: "bold red",
    Disposition.REVIEW: "yellow",
    Disposition.MONITOR: "cyan",
    Disposition.EXPECTED: "green",
}


@dataclass(frozen=True)
class QueueSnapshot:
    """One read of the queue: the rows shown and the counts above them."""

    entries: list[QueueEntry]
    counts: QueueCounts
    read_at: datetime


class QueueScreen(Screen[None]):
    """Lists the open touchpoints from the database (read-only for now)."""

    BINDINGS = [
        Binding("r", "refresh_queue", "Refresh", id="queue.refresh"),
        Binding("q", "app.quit", "Quit", id="app.quit"),
    ]

    class Loaded(Message):
        """A thread worker finished reading the queue."""

        def __init__(self, snapshot: QueueSnapshot) -> None:
            self.snapshot = snapshot
            super().__init__()

    class LoadFailed(Message):
        """Reading the queue failed; the reason is one line for the status bar."""

        def __init__(self, reason: str) -> None:
            self.reason = reason
            super().__init__()

    def __init__(self, database: Database, clock: Clock, page_size: int) -> None:
        super().__init__()
        self._database = database
        self._clock = clock
        self._page_size = page_size
        self.snapshot: QueueSnapshot | None = None
        """The last successful read, for tests and the status line."""

    def compose(self) -> ComposeResult:
        yield Static("Loading the queue…", id="queue-counts")
        table: DataTable[str | Text] = DataTable(id="queue-table", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="queue-status")
        yield Footer()

    def on_mount(self) -> None:
        self.load_queue()

    def action_refresh_queue(self) -> None:
        """Read the queue again."""
        self.load_queue()

    @work(thread=True, exclusive=True, group="queue-load")
    def load_queue(self) -> None:
        """Read the queue off the event loop and post the result back."""
        worker = get_current_worker()
        now = self._clock.now()
        try:
            with self._database.sessions() as session:
                counts = queue_counts(session, now)
                entries = due_and_overdue(session, now, limit=self._page_size)
        except StorageError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        except Exception as exc:  # a database gone for a moment must not kill the app
            self.post_message(self.LoadFailed(f"could not read the queue: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(self.Loaded(QueueSnapshot(entries, counts, now)))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        snapshot = message.snapshot
        self.snapshot = snapshot
        table = self.query_one("#queue-table", DataTable)
        with self.app.batch_update():
            table.clear()
            for entry in snapshot.entries:
                table.add_row(*_cells(entry, snapshot.read_at), key=str(entry.touchpoint_id))
        counts = snapshot.counts
        shown = len(snapshot.entries)
        self.query_one("#queue-counts", Static).update(
            Text.assemble(
                ("Overdue ", "bold"),
                (str(counts.overdue), "bold red"),
                ("   Due now ", "bold"),
                (str(counts.due), "bold yellow"),
                f"   showing the top {shown} of {counts.total}",
            )
        )
        self.query_one("#queue-status", Static).update(
            f"Read at {snapshot.read_at.astimezone(CLINIC_TZ):%H:%M:%S} clinic time (KST)"
        )

    @on(LoadFailed)
    def _show_failure(self, message: LoadFailed) -> None:
        # Keep the rows already shown: stale but visible beats empty.
        self.query_one("#queue-status", Static).update(
            Text(f"⚠ {message.reason}", style="bold red")
        )


# Short labels keep the queue inside 120 columns.
_TEMPLATE_LABEL = {
    "standard": "std",
    "extended": "ext",
    "granuloma-watch": "granuloma",
    "return-cycle": "return",
}


_CHANNEL_LABEL = {Channel.KAKAOTALK: "kakao", Channel.WHATSAPP: "whatsapp"}


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _cells(entry: QueueEntry, now: datetime) -> tuple[str | Text, ...]:
    state = entry.state(now)
    disposition = entry.latest_disposition
    if disposition is not None:
        priority = Text(disposition.value, style=_DISPOSITION_STYLE[disposition])
    else:
        priority = Text("—", style="dim")
    due_style = "bold red" if state is TouchpointState.OVERDUE else "yellow"
    # One unit is enough for "when did we last talk": '20h ago', '5d ago'.
    last = (
        f"{humanise(now - entry.last_contact_at).split()[0]} ago"
        if entry.last_contact_at
        else "never"
    )
    # Patient-written text (names) goes in as Text, never parsed as markup.
    return (
        priority,
        Text(_clip(f"{entry.patient_code} {entry.patient_name}", 22)),
        entry.country,
        f"{entry.local_now(now):%a %H:%M}",
        str(entry.days_after(now)),
        f"d{entry.day} {_TEMPLATE_LABEL.get(entry.template, entry.template)}",
        Text(due_phrase(entry, now), style=due_style),
        last,
        _CHANNEL_LABEL.get(entry.channel, entry.channel.value),
        Text(entry.assigned_to or "—", style="" if entry.assigned_to else "dim"),
    )
