"""Find any patient: by code or name, whether the queue lists them or not.

The queue shows only patients with an open touchpoint, so a patient whose
follow-up is finished (every touchpoint done, skipped or unreachable) is on
no list; a late call from such a patient still needs their dossier, a triage,
perhaps an incident. This screen searches every patient (`F` on the queue):
type a code or a name, Enter (or down) moves to the hits, Enter on a hit
opens the patient screen. A hit past the schedule says so in words.

Each keystroke reads again through the Clinic in a thread worker; a newer
read cancels the older, so the table always shows the text as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from core.countries import country_name
from core.refusals import Refused
from core.search import PatientHit
from tui.actions import FollowUpTarget
from tui.keys import bind, screen_keys
from tui.plain import plain_cells, plain_str, plain_text
from tui.queue_cells import clip
from tui.screens.common import ClinicScreen, ReadFailed
from tui.styles import Palette
from tui.tables import cursor_key, show_rows

SHOWN = 50
"""Hits on screen; one more is read to tell the coordinator to type more."""

COLUMNS: tuple[tuple[str, str], ...] = (
    ("patient", "Patient"),
    ("country", "In"),
    ("local", "Local time"),
    ("procedure", "Last procedure"),
    ("triage", "Latest triage"),
    ("schedule", "Follow-up"),
)

_NOTHING = "—"
_HINT = "Type the start of a code, or a family or given name (Latin or own script)."


@dataclass(frozen=True)
class Found:
    """One search: the text it was for, the hits, and when it was read."""

    text: str
    hits: list[PatientHit]
    read_at: datetime


class SearchScreen(ClinicScreen):
    """Every patient the clinic has, found by code or name."""

    DEFAULT_CSS = """
    SearchScreen #search-heading { height: auto; padding: 0 1; text-style: bold; }
    SearchScreen #search-table { height: 1fr; }
    SearchScreen #search-status { height: auto; padding: 0 1; }
    """

    BINDINGS = [
        bind("search.open", "enter", "open_patient", "Open", "Open the highlighted patient"),
        *screen_keys("search", reload="Search again"),
    ]

    HELP_TITLE = "Find any patient"

    class Read(Message):
        """A thread worker finished a search."""

        def __init__(self, found: Found) -> None:
            self.found = found
            super().__init__()

    def __init__(self) -> None:
        super().__init__()
        self.found: Found | None = None
        """The hits on screen, for tests and for the keys."""

    def compose(self) -> ComposeResult:
        yield Static("Find any patient, on the follow-up schedule or past it", id="search-heading")
        yield Input(placeholder="code or name", id="search-text")
        table: DataTable[Text] = DataTable(id="search-table", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static(_HINT, id="search-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#search-text", Input).focus()

    def on_screen_resume(self) -> None:
        """Back from a patient: the latest triage may have changed."""
        if self.found is not None:
            self.action_reload()

    # -- reading -------------------------------------------------------------

    @on(Input.Changed, "#search-text")
    def _typed(self, event: Input.Changed) -> None:
        self._search(event.value)

    @on(Input.Submitted, "#search-text")
    def _to_hits(self) -> None:
        table = self.query_one("#search-table", DataTable)
        if table.row_count:
            table.focus()

    def action_reload(self) -> None:
        """Search again for the text as it stands."""
        self._search(self.query_one("#search-text", Input).value)

    @work(thread=True, exclusive=True, group="search-read")
    def _search(self, text: str) -> None:
        worker = get_current_worker()
        try:
            hits = self.aftercare.clinic.find_patients(text, limit=SHOWN + 1)
        except Refused as exc:  # the database is unavailable: the Clinic says why
            self.post_message(ReadFailed(str(exc)))
            return
        except Exception as exc:  # a database gone for a moment must not kill the app
            self.post_message(ReadFailed(f"could not search: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(self.Read(Found(text, hits, self.aftercare.clock.now())))

    @on(Read)
    def _show(self, message: Read) -> None:
        found = message.found
        if found.text != self.query_one("#search-text", Input).value:
            return  # typed on since: the newer search is on its way
        self.found = found
        shown = found.hits[:SHOWN]
        rows = [(str(hit.patient_id), _cells(hit, found.read_at, self.palette)) for hit in shown]
        show_rows(self.query_one("#search-table", DataTable), COLUMNS, rows)
        self._status(Text(_summary(found)))

    @on(ReadFailed)
    def _show_failure(self, message: ReadFailed) -> None:
        self._status(Text(f"⚠ {message.reason}", style="bold red"))

    def _status(self, text: Text) -> None:
        self.query_one("#search-status", Static).update(plain_text(text))

    # -- the highlighted patient ---------------------------------------------

    def highlighted(self) -> PatientHit | None:
        """The hit under the cursor."""
        key = cursor_key(self.query_one("#search-table", DataTable))
        if key is None or self.found is None:
            return None
        return next((h for h in self.found.hits if str(h.patient_id) == key), None)

    # The table takes enter for itself: selecting a row opens the patient too.
    @on(DataTable.RowSelected, "#search-table")
    def action_open_patient(self) -> None:
        """Open the highlighted patient's screen."""
        hit = self.highlighted()
        if hit is not None:
            self.aftercare.open_patient(hit.patient_id)

    def follow_up_target(self) -> FollowUpTarget | None:
        """Follow-up keys act on the patient screen, where the touchpoint is shown."""
        return None

    def after_follow_up(self) -> None:
        """Nothing is written from here."""


def _summary(found: Found) -> str:
    if not found.text.strip():
        return _HINT
    if not found.hits:
        return f"No patient's code or name matches “{found.text.strip()}”."
    if len(found.hits) > SHOWN:
        return f"The first {SHOWN} patients shown: type more of the code or name."
    outside = sum(not hit.on_schedule for hit in found.hits)
    noun = "patient" if len(found.hits) == 1 else "patients"
    return f"{len(found.hits)} {noun} found, {outside} outside the schedule. Enter opens one."


def _patient_label(hit: PatientHit) -> str:
    """Code and passport name, then the own-script name when recorded: either finds them."""
    label = f"{hit.code} {hit.display_name}"
    return f"{label} · {hit.native_name}" if hit.native_name else label


def _cells(hit: PatientHit, now: datetime, palette: Palette) -> tuple[Text, ...]:
    """One hit's cells; names go in as Text, so patient-written markup shows literally."""
    zone = ZoneInfo(hit.timezone)
    if hit.latest_disposition is None:
        triage = Text("never triaged", style="dim")
    else:
        triage = Text(hit.latest_disposition.value, palette.disposition(hit.latest_disposition))
    procedure = (
        f"{hit.last_procedure_at.astimezone(zone):%d %b %Y}"
        if hit.last_procedure_at is not None
        else _NOTHING
    )
    # Stored text as data (tui.plain): visible before clipping, so the width is right.
    return plain_cells(
        (
            Text(clip(plain_str(_patient_label(hit)), 44)),
            Text(clip(country_name(hit.current_country), 16)),
            Text(f"{now.astimezone(zone):%a %H:%M} {hit.timezone}"),
            Text(procedure),
            triage,
            Text(hit.schedule_words, style="" if hit.on_schedule else "bold"),
        )
    )
