"""The live follow-up queue: one line per patient, most dangerous first.

Refresh follows dolphie's pattern: a thread worker reads the page, the table
is updated by difference inside `batch_update()` (cursor and scroll stay on
the same patient), and the next poll is armed only after the previous one
finished, so reads never overlap. A poll reads the change marker (one row);
the page is re-read when it moved, when filters change, or every 30 s
because time alone moves touchpoints from upcoming to due to overdue.

Above the table, a red banner says when physician alert deliveries failed
(read with the page by `Clinic.queue_page`). It is read with the page, so it costs nothing
on a quiet poll: a delivery outcome and an acknowledgement both move the marker.
It stays on every coordinator's queue until someone acknowledges or resolves
the escalations concerned (press `!` for the alerts screen).

The same banner says, before anything else, when physician alerts are NOT
being sent (core.alert_health: an alert waiting beyond the grace period with
no dispatcher holding it). That is read on its own timer, not with the page:
a dead dispatcher writes nothing, so no change marker would ever move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.geometry import Offset
from textual.widgets import DataTable, Header, Static

from core.alert_health import AlertPathState
from core.domain import Disposition
from core.queue import QueueCounts, QueueFilter, QueueRow, country_filter, language_filter
from core.records import RecordSaved
from db.alerts import FailedSummary
from tui.actions import FOLLOW_UP_BINDINGS, FollowUpTarget
from tui.care_opening import open_new_patient, saved_words
from tui.footer import ClinicFooter
from tui.keys import bind
from tui.live import LiveReading
from tui.modals import TextPromptModal
from tui.queue_cells import NARROW_BELOW, TEMPLATE_LABEL, columns, row_cells
from tui.screens.common import ClinicScreen, next_in
from tui.screens.search import SearchScreen
from tui.styles import FrozenPalette
from tui.tables import RecordTable, cursor_key

if TYPE_CHECKING:
    from db.services import Clinic

# Time alone changes bands and local clocks; re-read at least this often.
FULL_READ_EVERY = timedelta(seconds=30)
_SEVERITY_STEPS: tuple[Disposition | None, ...] = (
    None,
    Disposition.MONITOR,
    Disposition.REVIEW,
    Disposition.URGENT,
)


@dataclass(frozen=True)
class QueuePage:
    """One read of the queue: the rows shown, the counts, when, and the marker seen."""

    rows: list[QueueRow]
    counts: QueueCounts
    read_at: datetime
    marker: int
    wanted: QueueFilter
    failed: FailedSummary = field(default_factory=lambda: FailedSummary(0))
    """Physician alert deliveries that failed and nobody has looked at yet."""
    cells: tuple[tuple[Text, ...], ...] = ()
    """Each row's cells, coloured in the read's thread for the layout `cells_narrow`
    (off the event loop: 300 rows took 40 ms of a filter key at 100,000 patients)."""
    cells_narrow: bool | None = None
    """The layout the cells were made for (narrow or not); None: no cells made."""


class QueueScreen(LiveReading[QueuePage], ClinicScreen):
    """The coordinator's queue."""

    BINDINGS = [
        bind("queue.open", "enter", "open_patient", "Open", "Open the patient"),
        *FOLLOW_UP_BINDINGS,
        bind("queue.search", "slash", "search", "Search", "Search code or name"),
        bind(
            "queue.find",
            "F",
            "find_patient",
            "Find",
            "Find any patient, on the schedule or not",
            show=False,
        ),
        bind(
            "queue.new-patient",
            "N",
            "new_patient",
            "New patient",
            "Record a new patient with their first treatment episode",
            show=False,
        ),
        bind("queue.filter.mine", "m", "filter_mine", "Mine", "Only my patients"),
        bind(
            "queue.filter.unassigned",
            "u",
            "filter_unassigned",
            "Unassigned",
            "Only unassigned patients",
            show=False,
        ),
        bind(
            "queue.filter.overdue",
            "o",
            "filter_overdue",
            "Overdue",
            "Only overdue touchpoints",
            show=False,
        ),
        bind(
            "queue.filter.severity",
            "v",
            "filter_severity",
            "Severity",
            "Cycle minimum triage severity",
            show=False,
        ),
        bind(
            "queue.filter.country",
            "g",
            "filter_country",
            "Country",
            "Filter by the country the patient is in",
            show=False,
        ),
        bind(
            "queue.filter.language",
            "l",
            "filter_language",
            "Language",
            "Filter by language",
            show=False,
        ),
        bind("queue.filter.clear", "x", "clear_filters", "Clear", "Clear every filter", show=False),
        bind("queue.refresh", "r", "refresh_queue", "Refresh", "Read the queue now", show=False),
        bind("queue.help", "question_mark", "help", "Help", "Every key of this screen"),
        bind("queue.quit", "q", "app.quit", "Quit", "Leave the workstation"),
    ]

    HELP_TITLE = "Follow-up queue"
    FULL_READ_EVERY = FULL_READ_EVERY
    READ_GROUP = "queue-read"
    WHAT = "the queue"

    def __init__(self) -> None:
        super().__init__()
        self.start_live()
        self.wanted = QueueFilter()
        """The active filters."""
        self._rows_by_key: dict[str, QueueRow] = {}
        self._stall: str | None = None
        """The "alerts are NOT being sent" sentence, while they are not."""
        self._failed: FailedSummary | None = None
        self._cursor_to: tuple[str, datetime] | None = None
        """A patient just recorded here, and when: the cursor goes to them once a page
        shows them (a page read later without them, say under a filter, forgets them)."""
        self._shown_for: QueueFilter | None = None
        """The filters of the page on screen; None before the first."""
        self._narrow = False
        """Whether the table is laid out for a terminal under NARROW_BELOW columns."""
        self._cells_for: tuple[bool, FrozenPalette] | None = None
        """The layout and palette the next read makes its cells with (set by `poll`)."""

    def compose(self) -> ComposeResult:
        # The title bar names the clinic (`clinic_name`): which clinic's patients these are.
        yield Header()
        yield Static("Loading the queue…", id="queue-counts")
        yield Static("", id="queue-banner")
        self._narrow = self.app.size.width < NARROW_BELOW
        table = RecordTable(id="queue-table", cursor_type="row")
        self._add_columns(table)
        yield table
        yield Static("", id="queue-status")
        yield ClinicFooter()

    def _add_columns(self, table: DataTable[Text]) -> None:
        for key, label in columns(narrow=self._narrow):
            table.add_column(label, key=key)

    def on_resize(self, event: events.Resize) -> None:
        """Across NARROW_BELOW columns the table is laid out again, on the same patient."""
        narrow = event.size.width < NARROW_BELOW
        if narrow == self._narrow:
            return
        self._narrow = narrow
        table: DataTable[Text] = self.query_one("#queue-table", DataTable)
        kept = cursor_key(table)
        table.clear(columns=True)
        self._add_columns(table)
        if self.page is not None:
            self._apply(self.page, kept=kept, scroll=None)

    def on_mount(self) -> None:
        if self.aftercare.actor is not None:
            self.wanted = replace(self.wanted, me=self.aftercare.actor.staff_id)
        self.poll()
        # Well within the stall grace period (a minute by default), at the cost of two
        # small indexed reads.
        every = max(1.0, 5 * self.aftercare.settings.refresh_seconds)
        self.set_interval(every, self.check_alert_path)
        self.check_alert_path()

    # -- is anyone sending physician alerts? ---------------------------------

    def check_alert_path(self) -> None:
        """Read the dispatcher's heartbeat against the oldest waiting alert (off the loop)."""
        self.run_worker(
            self._read_alert_path,
            thread=True,
            exclusive=True,
            group="alert-path",
            exit_on_error=False,
        )

    def _read_alert_path(self) -> None:
        try:
            state = self.aftercare.clinic.alert_path()
        except Exception:  # the page read says when the database is gone
            return
        self.app.call_from_thread(self._show_alert_path, state)

    def _show_alert_path(self, state: AlertPathState) -> None:
        self._stall = state.banner()
        self._show_banner(self._failed)

    # -- reading -----------------------------------------------------------

    def read_page(self, clinic: Clinic, now: datetime, marker: int) -> QueuePage:
        """The top of the queue for the filters, the band counts, failed deliveries."""
        wanted, made_for = self.wanted, self._cells_for
        assert made_for is not None, "read_page runs from poll"
        narrow, palette = made_for
        read = clinic.queue_page(wanted, now)
        quiet = self.aftercare.settings.quiet_channel_days
        cells = tuple(row_cells(row, now, quiet, palette, narrow=narrow) for row in read.rows)
        return QueuePage(read.rows, read.counts, now, marker, wanted, read.failed, cells, narrow)

    def poll(self) -> None:
        """Read (tui.live), with the palette and layout the cells are to be made in."""
        self._cells_for = (self._narrow, self.palette.frozen())
        super().poll()

    def page_outdated(self, page: QueuePage) -> bool:
        """Read for other filters than the ones now set."""
        return page.wanted != self.wanted

    def on_screen_resume(self) -> None:
        """Back from another screen (alerts, a patient): check for news at once."""
        if self.page is not None:  # the first resume comes with on_mount's own read
            self.poll_now()

    def show_read_failure(self, reason: str) -> None:
        """Stale but visible beats empty: the rows stay, the status says why."""
        self.query_one("#queue-status", Static).update(Text(f"⚠ {reason}", style="bold red"))

    def show_page(self, page: QueuePage) -> None:
        """Rows by difference, band counts, the failed-delivery banner.

        The first page, and the first after the filters changed (a search, a filter set
        or cleared), open at the top: the most urgent patients, the cursor on the first.
        Otherwise the cursor stays on the patient being read, and the view where it was.
        """
        table: DataTable[Text] = self.query_one("#queue-table", DataTable)
        if page.wanted != self._shown_for:
            self._shown_for = page.wanted
            self._apply(page, kept=None, scroll=Offset(0, 0))
        else:
            self._apply(page, kept=cursor_key(table), scroll=table.scroll_offset)
        self._show_counts(page)
        self._show_banner(page.failed)

    def _apply(self, page: QueuePage, *, kept: str | None, scroll: Offset | None) -> None:
        """Update the table by difference; the cursor goes to the patient `kept` (None:
        the first row) and the view to `scroll` (None: wherever shows the cursor)."""
        table: DataTable[Text] = self.query_one("#queue-table", DataTable)
        quiet, palette = self.aftercare.settings.quiet_channel_days, self.palette
        wanted_keys = [str(r.patient_id) for r in page.rows]
        layout = columns(narrow=self._narrow)
        with self.aftercare.batch_update():
            keep = set(wanted_keys)
            if any(k.value not in keep for k in table.rows):
                # Textual's remove_row renumbers every row: dropping k of n one by one
                # costs k*n (a filter toggle took 0.76 s); write the page afresh.
                table.clear()
            made = page.cells if page.cells_narrow == self._narrow else ()
            for index, row in enumerate(page.rows):
                key = str(row.patient_id)
                cells = (
                    made[index]
                    if made
                    else row_cells(row, page.read_at, quiet, palette, narrow=self._narrow)
                )
                if key in table.rows:
                    for (column, _), cell in zip(layout, cells, strict=True):
                        if table.get_cell(key, column) != cell:
                            table.update_cell(key, column, cell, update_width=True)
                else:
                    table.add_row(*cells, key=key)
            self._rows_by_key = {str(r.patient_id): r for r in page.rows}
            current = [row.key.value for row in table.ordered_rows]
            if current != wanted_keys:
                rank = {code: i for i, code in enumerate(r.patient_code for r in page.rows)}
                table.sort("patient", key=lambda cell: rank[cell.plain.split(" ", 1)[0]])
            if self._cursor_to is not None:
                recorded, at = self._cursor_to
                if recorded in table.rows:
                    kept, scroll = recorded, None
                if recorded in table.rows or page.read_at > at:
                    self._cursor_to = None
            if kept is not None and kept in table.rows:
                table.move_cursor(
                    row=table.get_row_index(kept), animate=False, scroll=scroll is None
                )
            elif kept is None and table.row_count:
                table.move_cursor(row=0, animate=False, scroll=scroll is None)
            if scroll is not None:
                table.scroll_to(scroll.x, scroll.y, animate=False)

    def _show_counts(self, page: QueuePage) -> None:
        counts = page.counts
        header = Text()
        if counts.alerts:
            header.append(f" ALERTS {counts.alerts} ", style=self.palette.alarm)
            header.append("  ")
        header.append("Overdue ", style="bold").append(str(counts.overdue), style="bold red")
        header.append("   Due ", style="bold").append(str(counts.due), style="bold yellow")
        header.append("   Upcoming ", style="bold").append(str(counts.upcoming))
        header.append(f"   top {len(page.rows)} of {counts.total}", style="dim")
        described = page.wanted.describe()
        if described:
            header.append(f"   filter: {described}", style="italic cyan")
        self.query_one("#queue-counts", Static).update(header)
        self.query_one("#queue-status", Static).update(
            Text(
                f"{self.signed_in_as()} · read "
                f"{page.read_at.astimezone(self.aftercare.clinic_tz):%H:%M:%S} "
                "clinic time (KST) · decisions: the treating physician or local emergency services"
            )
        )

    def _show_banner(self, failed: FailedSummary | None) -> None:
        self._failed = failed
        banner = self.query_one("#queue-banner", Static)
        said = []
        if self._stall:
            said.append(f"⚠ {self._stall}")
        if failed is not None and failed.count:
            noun = "delivery" if failed.count == 1 else "deliveries"
            said.append(f"⚠ {failed.count} physician alert {noun} failed — press ! to review")
        # Hidden rather than empty, so a queue without trouble looks exactly as before.
        banner.display = bool(said)
        banner.set_class(self._stall is not None, "-stalled")
        if said:
            banner.update(Text("\n".join(said), style="bold"))

    # -- the highlighted patient -------------------------------------------

    def highlighted(self) -> QueueRow | None:
        """The row under the cursor."""
        table: DataTable[Text] = self.query_one("#queue-table", DataTable)
        key = cursor_key(table)
        return self._rows_by_key.get(key) if key is not None else None

    def follow_up_target(self) -> FollowUpTarget | None:
        """The highlighted patient and their next touchpoint."""
        row = self.highlighted()
        if row is None:
            return None
        label = TEMPLATE_LABEL.get(row.next_template or "", row.next_template or "")
        return FollowUpTarget(
            patient_id=row.patient_id,
            patient_label=f"{row.patient_code} {row.patient_name}",
            touchpoint_id=row.next_touchpoint_id,
            touchpoint_label=f"day {row.next_day} ({label})" if row.next_day is not None else "",
            channel=row.channel,
            assigned_to_id=row.assigned_to_id,
        )

    def after_follow_up(self) -> None:
        """Our own write: show it at once rather than at the next poll."""
        self.refresh_now()

    # The table takes enter for itself: selecting a row opens the patient too.
    @on(DataTable.RowSelected, "#queue-table")
    def action_open_patient(self) -> None:
        """Open the highlighted patient's screen."""
        row = self.highlighted()
        if row is not None:
            self.aftercare.open_patient(row.patient_id)

    def action_new_patient(self) -> None:
        """Record a new patient with their first episode; the cursor goes to them."""
        actor = self.acting("record a patient")
        if actor is not None:
            open_new_patient(self, actor, self._recorded)

    def _recorded(self, saved: RecordSaved) -> None:
        self.notify(saved_words(saved), markup=False)
        self._cursor_to = (str(saved.patient_id), self.aftercare.clock.now())
        self.refresh_now()

    # -- filters -----------------------------------------------------------

    def _set_filter(self, wanted: QueueFilter) -> None:
        self.wanted = wanted
        self.refresh_now()

    def action_filter_mine(self) -> None:
        """Only my patients (toggle)."""
        if self.aftercare.actor is None:
            self.notify("Read-only login: there are no patients of yours.", severity="warning")
            return
        mine = None if self.wanted.assigned == "mine" else "mine"
        self._set_filter(replace(self.wanted, assigned=mine))

    def action_filter_unassigned(self) -> None:
        """Only patients nobody holds (toggle)."""
        value = None if self.wanted.assigned == "unassigned" else "unassigned"
        self._set_filter(replace(self.wanted, assigned=value))

    def action_filter_overdue(self) -> None:
        """Only overdue touchpoints (toggle); alerts always stay."""
        self._set_filter(replace(self.wanted, overdue_only=not self.wanted.overdue_only))

    def action_filter_severity(self) -> None:
        """Cycle the minimum latest-triage severity: all, monitor+, review+, urgent+."""
        least = next_in(_SEVERITY_STEPS, self.wanted.min_severity)
        self._set_filter(replace(self.wanted, min_severity=least))

    def _prompt(
        self,
        title: str,
        placeholder: str,
        field: str,
        transform: Callable[[str], str | None] = str.strip,
    ) -> None:
        def apply(answer: str | None) -> None:
            if answer is None:
                return
            try:
                value = transform(answer)
            except ValueError as exc:
                # "Japan" or "XX" would silently show nobody: say what a code is instead.
                self.notify(str(exc), title="Filter not changed", severity="warning", markup=False)
                return
            changes: dict[str, Any] = {field: value or None}
            self._set_filter(replace(self.wanted, **changes))

        current = getattr(self.wanted, field) or ""
        self.aftercare.push_screen(TextPromptModal(title, placeholder, value=current), apply)

    def action_search(self) -> None:
        """Search by patient code (prefix) or name (part); empty clears."""
        self._prompt("Search patients", "code or name", "search")

    def action_find_patient(self) -> None:
        """Search every patient, including those whose follow-up is finished."""
        self.aftercare.push_screen(SearchScreen())

    def action_filter_country(self) -> None:
        """Filter by the ISO code of the country the patient is in now."""
        self._prompt("Country (ISO code, empty for all)", "JP", "country", country_filter)

    def action_filter_language(self) -> None:
        """Filter by the patient's language code."""
        self._prompt("Language (code, empty for all)", "ja", "language", language_filter)

    def action_clear_filters(self) -> None:
        """Back to the whole queue."""
        self._set_filter(QueueFilter(me=self.wanted.me))

    def action_refresh_queue(self) -> None:
        """Read the queue now."""
        self.refresh_now()
