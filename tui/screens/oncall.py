"""The on-call schedule for admins: who is on call now, and the next 14 days of shifts.

The top line says who receives `oncall` pages right now (or that they go to
the static `oncall` tag). The table lists the shifts of the next 14 days in
clinic time, with the gaps nobody covers between them. `n` sets a shift
(a modal: physician login, from, to, note, and whether to take over
overlapping time), `x` cancels the highlighted shift after a confirmation,
`r` re-reads, `escape` goes back. Writes call the app's `Clinic` in a thread
worker, the way every screen writes (`FollowUpActions._write`); it refuses
anyone but an admin. The screen re-reads when the
change marker moves and every minute (the current shift changes with time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Static

from core.commands import NewShift
from core.oncall import ONCALL, ShiftTimeError, parse_clinic_time, uncovered, window_label
from core.refusals import Refused
from db.followup import Actor
from db.oncall import ShiftView
from tui.actions import FollowUpWritten
from tui.keys import bind, screen_keys
from tui.modals import FormModal
from tui.plain import shown_fields
from tui.screens.common import LiveTableScreen
from tui.tables import cursor_key

if TYPE_CHECKING:
    from db.services import Clinic

DAYS_SHOWN = 14
FULL_READ_EVERY = timedelta(seconds=60)
NARROW_BELOW = 100
"""Under this many columns (80 over SSH) the physician is shown by login alone, so
"Pages go to", where an `oncall` page is sent, stays on screen beside the times."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("shift", "Shift"),
    ("when", "When ({zone})"),
    ("physician", "Physician"),
    ("tag", "Pages go to"),
    ("note", "Note"),
)


@dataclass(frozen=True)
class OnCallPage:
    """One read: the shift on now, the shifts ahead, when, and the change marker seen."""

    now_shift: ShiftView | None
    shifts: list[ShiftView]
    read_at: datetime
    marker: int


class NewShiftModal(FormModal[NewShift]):
    """Set a shift: physician login, from, to (clinic time), note, replace overlaps."""

    # The app's `.form` look without its blank line under every field (the app's
    # stylesheet would outrank this one), so form and buttons fit 80x24.
    DEFAULT_CSS = """
    #shift-form {
        width: 70; max-width: 95%; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    #shift-form .field { height: auto; }
    #shift-form .field Label { width: 11; padding: 1 1 0 0; }
    #shift-form .field Label.short { width: 4; padding: 1 0 0 1; }
    #shift-form .field Input { width: 1fr; }
    #shift-form #replace, #shift-form #error { margin-bottom: 1; }
    #shift-form #error { color: $error; height: auto; }
    #shift-form .buttons { height: auto; }
    #shift-form .buttons Button { margin-right: 2; }
    """

    def __init__(self, clinic_tz: tzinfo, suggested_from: datetime) -> None:
        super().__init__()
        self._tz = clinic_tz
        self._from = suggested_from.astimezone(clinic_tz)

    def compose(self) -> ComposeResult:
        start = f"{self._from:%Y-%m-%d %H:%M}"
        end = f"{self._from + timedelta(days=1):%Y-%m-%d %H:%M}"
        with Vertical(id="shift-form"):
            yield Label(
                Text(f"New on-call shift: times in {self._from:%Z} (clinic time), end exclusive")
            )
            with Horizontal(classes="field"):
                yield Label("Physician")
                yield Input(placeholder="login, e.g. dr.lee", id="login")
            with Horizontal(classes="field"):
                yield Label("From")
                yield Input(value=start, placeholder="YYYY-MM-DD HH:MM", id="from")
                yield Label("To", classes="short")
                yield Input(value=end, placeholder="YYYY-MM-DD HH:MM", id="to")
            with Horizontal(classes="field"):
                yield Label("Note")
                yield Input(placeholder="optional", id="note")
            yield Checkbox("Take over overlapping time from other shifts", id="replace")
            yield from self.buttons()

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        login = self.query_one("#login", Input).value.strip()
        if not login:
            self.refuse("Who is on call? Enter a physician's login.")
            return
        try:
            starts_at = parse_clinic_time(self.query_one("#from", Input).value, self._tz)
            ends_at = parse_clinic_time(self.query_one("#to", Input).value, self._tz)
        except ShiftTimeError as exc:
            self.refuse(str(exc))
            return
        self.dismiss(
            NewShift(
                login,
                starts_at,
                ends_at,
                self.query_one("#note", Input).value.strip(),
                self.query_one("#replace", Checkbox).value,
            )
        )


class OnCallScreen(LiveTableScreen[OnCallPage, ShiftView]):
    """Who is on call now and the next 14 days of shifts; admins set and cancel them."""

    BINDINGS = [
        bind("oncall.new-shift", "n", "new_shift", "New shift", "Put a physician on call"),
        bind(
            "oncall.cancel-shift",
            "x",
            "cancel_shift",
            "Cancel shift",
            "Cancel the highlighted shift, after a confirmation",
        ),
        *screen_keys("oncall", reload="Read the schedule now"),
    ]

    HELP_TITLE = "On-call schedule"
    FULL_READ_EVERY = FULL_READ_EVERY
    READ_GROUP = "oncall-read"
    WHAT = "the on-call schedule"
    NAME = "oncall"
    LOADING = "Loading the on-call schedule…"
    COLUMNS = COLUMNS
    DETAIL = False
    SUMMARY = "now"

    def __init__(self) -> None:
        super().__init__()
        self._narrow = False
        """Laid out for a terminal under NARROW_BELOW columns."""

    def compose(self) -> ComposeResult:
        self._narrow = self.app.size.width < NARROW_BELOW
        yield from super().compose()

    def on_resize(self, event: events.Resize) -> None:
        """Across NARROW_BELOW columns the rows are drawn again, the cursor on its shift."""
        narrow = event.size.width < NARROW_BELOW
        changed, self._narrow = narrow != self._narrow, narrow
        if not changed or self.page is None:
            return
        kept = cursor_key(self.table)
        # Columns too: a cleared table keeps each column as wide as it once had to be.
        self.table.clear(columns=True)
        for key, label in self.COLUMNS:
            self.table.add_column(self.column_label(label), key=key)
        self._fill(self.page, self.aftercare.clinic_tz)
        keys = [row.key.value for row in self.table.ordered_rows]
        if kept in keys:
            self.table.move_cursor(row=keys.index(kept), animate=False)

    def column_label(self, label: str) -> str:
        """Times are in the clinic's zone; the heading names it."""
        zone = f"{self.aftercare.clock.now().astimezone(self.aftercare.clinic_tz):%Z}"
        return label.format(zone=zone)

    # -- reading -----------------------------------------------------------

    def read_page(self, clinic: Clinic, now: datetime, marker: int) -> OnCallPage:
        """Who is on call now and the shifts ahead (in a worker thread)."""
        read = clinic.on_call_schedule(DAYS_SHOWN, now)
        return OnCallPage(read.now_shift, read.shifts, now, marker)

    def show_read_failure(self, reason: str) -> None:
        """The rows stay; the status line and a toast say why."""
        super().show_read_failure(reason)
        self.notify(reason, severity="error", markup=False)

    def show_page(self, page: OnCallPage) -> None:
        """Who is on call now, the shifts, and the status line."""
        tz = self.aftercare.clinic_tz
        self.query_one("#oncall-now", Static).update(_now_line(page, tz))
        self._fill(page, tz)
        self.show_status(
            Text(
                f"{self.signed_in_as()} · read {page.read_at.astimezone(tz):%H:%M:%S} "
                f"· next {DAYS_SHOWN} days"
            )
        )

    def _fill(self, page: OnCallPage, tz: tzinfo) -> None:
        end = page.read_at + timedelta(days=DAYS_SHOWN)
        rows: list[tuple[datetime, str, tuple[Text, ...]]] = [
            (s.starts_at, str(s.id), _shift_cells(s, tz, narrow=self._narrow)) for s in page.shifts
        ]
        for a, b in uncovered(((s.starts_at, s.ends_at) for s in page.shifts), page.read_at, end):
            gap = (
                Text("—"),
                Text(window_label(a, b, tz, zone=False)),
                Text("nobody on call", style="bold red"),
                Text(f"static {ONCALL!r}", style="red"),
                Text(""),
            )
            rows.append((a, f"gap-{a.isoformat()}", gap))
        rows.sort(key=lambda row: row[0])
        self.show_rows(
            {str(s.id): s for s in page.shifts}, [(key, cells) for _, key, cells in rows]
        )

    # -- changes -------------------------------------------------------------

    # What a read-only login is told it cannot do here.
    _CHANGES = "change the on-call schedule"

    def action_new_shift(self) -> None:
        """Put a physician on call."""
        actor = self.acting(self._CHANGES)
        if actor is None:
            return
        clinic, tz = self.aftercare.clinic, self.aftercare.clinic_tz

        def put_on_call(who: Actor, wanted: NewShift) -> FollowUpWritten:
            try:
                done = clinic.set_on_call_shift(who, wanted)
            except Refused as exc:
                raise Refused(f"Shift not set: {exc}") from exc
            shift = done.shift
            replaced = f"; {len(done.replaced)} other shift(s) gave way" if done.replaced else ""
            return FollowUpWritten(
                f"Shift #{shift.id}: {shift.login} on call "
                f"{window_label(shift.starts_at, shift.ends_at, tz)}{replaced}."
            )

        now = self.aftercare.clock.now()
        self._write_answer(NewShiftModal(tz, now), "Shift set.", put_on_call, actor)

    def action_cancel_shift(self) -> None:
        """Cancel the highlighted shift, after a confirmation."""
        ready = self.acting_on(self._CHANGES, self.highlighted(), "No shift selected.")
        if ready is None:
            return
        actor, shift = ready
        shift_id, version = shift.id, shift.version
        clinic = self.aftercare.clinic

        def cancel(who: Actor) -> None:
            try:
                clinic.cancel_on_call_shift(who, shift_id, expected_version=version)
            except Refused as exc:
                raise Refused(f"Shift #{shift_id} not cancelled: {exc}") from exc

        question = Text(
            f"Cancel shift #{shift_id}: {shift.login}, "
            f"{window_label(shift.starts_at, shift.ends_at, self.aftercare.clinic_tz)}?"
        )
        self._write_if_confirmed(question, f"Shift #{shift_id} cancelled.", cancel, actor)


def _now_line(page: OnCallPage, tz: tzinfo) -> Text:
    shift = shown_fields(page.now_shift)  # stored names drawn as data (tui.plain)
    line = Text("On call now: ", style="bold")
    if shift is None:
        line.append("nobody", style="bold red")
        line.append(f" — oncall pages go to the static tag {ONCALL!r}")
        return line
    line.append(f"{shift.display_name} ({shift.login})", style="bold green")
    line.append(f" until {shift.ends_at.astimezone(tz):%a %d %b %H:%M %Z}")
    line.append(
        f" — pages to tag {shift.notify_tag!r}"
        if shift.notify_tag
        else f" — no notify tag: pages go to the static tag {ONCALL!r}"
    )
    return line


def _shift_cells(shift: ShiftView, tz: tzinfo, *, narrow: bool = False) -> tuple[Text, ...]:
    return (
        Text(f"#{shift.id}"),
        Text(window_label(shift.starts_at, shift.ends_at, tz, zone=False)),
        # The login alone is short and names one person; the line above names who is on now.
        Text(shift.login if narrow else f"{shift.display_name} ({shift.login})"),
        Text(
            shift.notify_tag or f"static {ONCALL!r}",
            style="" if shift.notify_tag else "yellow",
        ),
        Text(shift.note or ""),
    )
