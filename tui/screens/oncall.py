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
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, DataTable, Footer, Input, Label, Static

from core.oncall import ONCALL, ShiftTimeError, parse_clinic_time, uncovered, window_label
from core.refusals import Refused
from db.followup import Actor
from db.oncall import ShiftView
from tui.actions import FollowUpActions, FollowUpTarget, FollowUpWritten
from tui.live import LiveReading
from tui.modals import HelpModal
from tui.screens.alerts import ConfirmModal
from tui.tables import cursor_key

if TYPE_CHECKING:
    from db.services import Clinic

DAYS_SHOWN = 14
FULL_READ_EVERY = timedelta(seconds=60)

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


@dataclass(frozen=True)
class NewShift:
    """What the admin entered in the new-shift form."""

    login: str
    starts_at: datetime
    ends_at: datetime
    note: str
    replace: bool


class NewShiftModal(ModalScreen[NewShift | None]):
    """Set a shift: physician login, from, to (clinic time), note, replace overlaps."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
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
            yield Static("", id="error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        login = self.query_one("#login", Input).value.strip()
        if not login:
            self.query_one("#error", Static).update("Who is on call? Enter a physician's login.")
            return
        try:
            starts_at = parse_clinic_time(self.query_one("#from", Input).value, self._tz)
            ends_at = parse_clinic_time(self.query_one("#to", Input).value, self._tz)
        except ShiftTimeError as exc:
            self.query_one("#error", Static).update(Text(str(exc)))
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

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)


class OnCallScreen(LiveReading[OnCallPage], FollowUpActions, Screen[None]):
    """Who is on call now and the next 14 days of shifts; admins set and cancel them."""

    BINDINGS = [
        Binding("n", "new_shift", "New shift", tooltip="Put a physician on call", id="oncall.new"),
        Binding(
            "x",
            "cancel_shift",
            "Cancel shift",
            tooltip="Cancel the highlighted shift, after a confirmation",
            id="oncall.cancel",
        ),
        Binding("r", "reload", "Reload", tooltip="Read the schedule now", id="oncall.reload"),
        Binding("escape", "back", "Back", tooltip="Back to the previous screen", id="oncall.back"),
        Binding("question_mark", "help", "Help", tooltip="Every key", id="oncall.help"),
    ]

    FULL_READ_EVERY = FULL_READ_EVERY
    READ_GROUP = "oncall-read"
    WHAT = "the on-call schedule"

    def __init__(self) -> None:
        super().__init__()
        self.start_live()
        self._by_key: dict[str, ShiftView] = {}

    def compose(self) -> ComposeResult:
        yield Static("Loading the on-call schedule…", id="oncall-now")
        table: DataTable[Text] = DataTable(id="oncall-table", cursor_type="row")
        zone = f"{self.aftercare.clock.now().astimezone(self.aftercare.clinic_tz):%Z}"
        for key, label in COLUMNS:
            table.add_column(label.format(zone=zone), key=key)
        yield table
        yield Static("", id="oncall-status")
        yield Footer()

    def on_mount(self) -> None:
        self.poll()

    # -- reading -----------------------------------------------------------

    def read_page(self, clinic: Clinic, now: datetime, marker: int) -> OnCallPage:
        """Who is on call now and the shifts ahead (in a worker thread)."""
        read = clinic.on_call_schedule(DAYS_SHOWN, now)
        return OnCallPage(read.now_shift, read.shifts, now, marker)

    def show_read_failure(self, reason: str) -> None:
        """The rows stay; the status line and a toast say why."""
        self.query_one("#oncall-status", Static).update(Text(f"⚠ {reason}", style="bold red"))
        self.notify(reason, severity="error", markup=False)

    def action_reload(self) -> None:
        """Re-read at once."""
        self.refresh_now()

    def show_page(self, page: OnCallPage) -> None:
        """Who is on call now, the shifts, and the status line."""
        tz = self.aftercare.clinic_tz
        self.query_one("#oncall-now", Static).update(_now_line(page, tz))
        self._fill(page, tz)
        actor = self.aftercare.actor
        who = actor.display_name if actor else f"{self.aftercare.login} (read-only)"
        self.query_one("#oncall-status", Static).update(
            Text(f"{who} · read {page.read_at.astimezone(tz):%H:%M:%S} · next {DAYS_SHOWN} days")
        )

    def _fill(self, page: OnCallPage, tz: tzinfo) -> None:
        table: DataTable[Text] = self.query_one("#oncall-table", DataTable)
        kept = cursor_key(table)
        end = page.read_at + timedelta(days=DAYS_SHOWN)
        rows: list[tuple[datetime, str, list[Text]]] = [
            (s.starts_at, str(s.id), _shift_cells(s, tz)) for s in page.shifts
        ]
        for a, b in uncovered(((s.starts_at, s.ends_at) for s in page.shifts), page.read_at, end):
            gap = Text("nobody on call", style="bold red")
            rows.append(
                (
                    a,
                    f"gap-{a.isoformat()}",
                    [
                        Text("—"),
                        Text(window_label(a, b, tz, zone=False)),
                        gap,
                        Text(f"static {ONCALL!r}", style="red"),
                        Text(""),
                    ],
                )
            )
        rows.sort(key=lambda row: row[0])
        self._by_key = {str(s.id): s for s in page.shifts}
        table.clear()
        for _, key, cells in rows:
            table.add_row(*cells, key=key)
        keys = [key for _, key, _ in rows]
        if kept in keys:
            table.move_cursor(row=keys.index(kept), animate=False)

    def highlighted(self) -> ShiftView | None:
        """The shift under the cursor (None on a gap or an empty table)."""
        key = cursor_key(self.query_one("#oncall-table", DataTable))
        return self._by_key.get(key) if key is not None else None

    # -- changes -------------------------------------------------------------

    def _can_write(self) -> bool:
        if self.aftercare.actor is None:
            self.notify(
                f"Read-only: login {self.aftercare.login!r} cannot change the on-call schedule.",
                severity="error",
                markup=False,
            )
            return False
        return True

    def action_new_shift(self) -> None:
        """Put a physician on call."""
        if not self._can_write():
            return

        def save(form: NewShift | None) -> None:
            if form is not None:
                self._set(form)

        now = self.aftercare.clock.now()
        self.app.push_screen(NewShiftModal(self.aftercare.clinic_tz, now), save)

    def _set(self, form: NewShift) -> None:
        actor = self.aftercare.actor
        assert actor is not None
        clinic, tz = self.aftercare.clinic, self.aftercare.clinic_tz

        def put_on_call(who: Actor) -> FollowUpWritten:
            try:
                done = clinic.set_on_call_shift(
                    who,
                    form.login,
                    starts_at=form.starts_at,
                    ends_at=form.ends_at,
                    note=form.note,
                    replace=form.replace,
                )
            except Refused as exc:
                raise Refused(f"Shift not set: {exc}") from exc
            shift = done.shift
            replaced = f"; {len(done.replaced)} other shift(s) gave way" if done.replaced else ""
            return FollowUpWritten(
                f"Shift #{shift.id}: {shift.login} on call "
                f"{window_label(shift.starts_at, shift.ends_at, tz)}{replaced}."
            )

        self._write("Shift set.", put_on_call, actor)

    def action_cancel_shift(self) -> None:
        """Cancel the highlighted shift, after a confirmation."""
        if not self._can_write():
            return
        shift = self.highlighted()
        if shift is None:
            self.notify("No shift selected.", severity="warning")
            return
        question = Text(
            f"Cancel shift #{shift.id}: {shift.login}, "
            f"{window_label(shift.starts_at, shift.ends_at, self.aftercare.clinic_tz)}?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._cancel(shift.id, shift.version)

        self.app.push_screen(ConfirmModal(question), answered)

    def _cancel(self, shift_id: int, version: int) -> None:
        actor = self.aftercare.actor
        assert actor is not None
        clinic = self.aftercare.clinic

        def cancel(who: Actor) -> None:
            try:
                clinic.cancel_on_call_shift(who, shift_id, expected_version=version)
            except Refused as exc:
                raise Refused(f"Shift #{shift_id} not cancelled: {exc}") from exc

        self._write(f"Shift #{shift_id} cancelled.", cancel, actor)

    # -- FollowUpActions hooks -----------------------------------------------

    def follow_up_target(self) -> FollowUpTarget | None:
        """The schedule acts on shifts, not on a patient's touchpoint."""
        return None

    def after_follow_up(self) -> None:
        """Our own write, or a refusal: show the schedule as it is now."""
        self.refresh_now()

    # -- navigation ----------------------------------------------------------

    def action_back(self) -> None:
        """Back to the previous screen."""
        self.app.pop_screen()

    def action_help(self) -> None:
        """Every key of this screen."""
        keys = [
            (b.key, b.tooltip or b.description) for b in self.BINDINGS if isinstance(b, Binding)
        ]
        self.app.push_screen(HelpModal("On-call schedule", keys))


def _now_line(page: OnCallPage, tz: tzinfo) -> Text:
    shift = page.now_shift
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


def _shift_cells(shift: ShiftView, tz: tzinfo) -> list[Text]:
    return [
        Text(f"#{shift.id}"),
        Text(window_label(shift.starts_at, shift.ends_at, tz, zone=False)),
        Text(f"{shift.display_name} ({shift.login})"),
        Text(
            shift.notify_tag or f"static {ONCALL!r}",
            style="" if shift.notify_tag else "yellow",
        ),
        Text(shift.note or ""),
    ]
