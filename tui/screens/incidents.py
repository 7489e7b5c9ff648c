"""The incident log: every adverse event, its reporting clock and its timeline.

Opened with `i` from anywhere (an app-level key) and from the command palette.
The table lists incidents most urgent report first (core.incident_log); the
pane below shows the highlighted incident with its append-only timeline.
Filters: `o` status (open, closed, all), `v` overdue reports only, `g`
category, `w` country. Changes: `e` add an entry, `s` classify (seriousness,
grade, ...), `d` correct the onset date and day 0 (with a reason), `p` record
the MFDS report, `k` record a KHIDI escalation, `x` close with an outcome (or
reopen a closed one). `X` writes the log as CSV.

An incident a triage opened reads "not yet assessed" until a physician
classifies it, never "non-serious".

Every change names the version it was read at; a change someone else made in
between is refused with who made it, and the screen re-reads. The screen
stays live like the queue: it re-reads when the change marker moves, and at
least once a minute, since days left turn over at Seoul midnight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Protocol, TypeVar

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import DataTable, Static

from core.commands import DatedReference
from core.domain import IncidentCategory, IncidentStatus
from core.incident_log import IncidentDetail, IncidentFilter, IncidentLine, StatusFilter, words
from core.incidents import ClockState, ReportClock, clinic_today
from core.labels import category_words
from core.refusals import Refused
from db.followup import Actor
from db.incidents import current_classification
from db.services.incidents import LIST_LIMIT
from tui.incident_forms import (
    ClassifyModal,
    CloseModal,
    DateCorrectionModal,
    DatedReferenceModal,
    EntryModal,
)
from tui.keys import bind, screen_keys
from tui.modals import FormModal, TextPromptModal
from tui.plain import plain_str, shown_fields
from tui.screens.common import LiveTableScreen, ReadFailed, next_in
from tui.styles import FrozenPalette, Palette
from tui.tables import reporting_routes

if TYPE_CHECKING:
    from db.services import Clinic

Answer = TypeVar("Answer")
Taken = TypeVar("Taken", contravariant=True)


class IncidentChange(Protocol[Taken]):
    """A Clinic change to one incident made with a form's answer, from a version read."""

    def __call__(
        self, actor: Actor, incident_id: int, answer: Taken, /, *, expected_version: int
    ) -> object: ...


def _from_version_read(
    change: IncidentChange[Answer],
) -> Callable[[Actor, IncidentDetail, Answer], object]:
    """`change` made from the version of the incident the form was filled in against:
    if someone changed it since, the change is refused naming who."""
    return lambda who, detail, answer: change(
        who, detail.line.incident_id, answer, expected_version=detail.version
    )


# Days left turn over at midnight; re-read at least this often even when nothing changed.
FULL_READ_EVERY = timedelta(seconds=60)

COLUMNS: tuple[tuple[str, str], ...] = (
    ("incident", "Incident"),
    ("report", "Report"),
    ("due", "Due"),
    ("patient", "Patient"),
    ("country", "Ctry"),
    ("category", "Category"),
    ("serious", "Seriousness"),
    ("grade", "Gr"),
    ("status", "Status"),
)

_STATUS_CYCLE = (StatusFilter.OPEN, StatusFilter.CLOSED, StatusFilter.ALL)
_CATEGORY_CYCLE: tuple[IncidentCategory | None, ...] = (None, *IncidentCategory)


@dataclass(frozen=True)
class IncidentPage:
    """One read: the lines, the highlighted incident's detail, when, the marker seen."""

    lines: list[IncidentLine]
    detail: IncidentDetail | None
    read_at: datetime
    marker: int
    cells: tuple[tuple[Text, ...], ...] = ()
    """Each line's cells, coloured in the read's thread (2,000 open incidents took
    150 ms of the event loop to colour); empty: made when shown."""


def clock_text(clock: ReportClock, palette: Palette) -> Text:
    """The clock as a coloured cell: red when due today or late."""
    return Text(clock.label, style=palette.clock(clock))


class IncidentLogScreen(LiveTableScreen[IncidentPage, IncidentLine]):
    """Adverse events with their reporting clocks, live."""

    BINDINGS = [
        bind(
            "incidents.open-patient",
            "enter",
            "open_patient",
            "Patient",
            "Open the incident's patient",
        ),
        bind(
            "incidents.add-entry",
            "e",
            "add_entry",
            "Entry",
            "Add a note or contact to the timeline",
        ),
        bind(
            "incidents.classify",
            "s",
            "classify",
            "Classify",
            "Set seriousness, grade, causality, product",
        ),
        bind(
            "incidents.correct-dates",
            "d",
            "correct_dates",
            "Dates",
            "Correct the onset date and day 0",
        ),
        bind(
            "incidents.record-report",
            "p",
            "report",
            "Report",
            "Record the MFDS report: date and reference",
        ),
        bind(
            "incidents.record-khidi",
            "k",
            "khidi",
            "KHIDI",
            "Record a KHIDI escalation: date and reference",
        ),
        bind(
            "incidents.close",
            "x",
            "close",
            "Close",
            "Close with an outcome, or reopen a closed one",
        ),
        bind(
            "incidents.filter.status",
            "o",
            "cycle_status",
            "Status",
            "Show open, closed or all incidents",
        ),
        bind(
            "incidents.filter.overdue",
            "v",
            "toggle_overdue",
            "Overdue",
            "Only incidents whose report is late",
        ),
        bind(
            "incidents.filter.category",
            "g",
            "cycle_category",
            "Category",
            "Filter by category (cycles)",
        ),
        bind(
            "incidents.filter.country",
            "w",
            "country",
            "Country",
            "Filter by the patient's current country",
        ),
        bind(
            "incidents.export-csv",
            "X",
            "export_csv",
            "CSV",
            "Write the listed incidents to a CSV file",
        ),
        *screen_keys("incidents", reload="Read the incident log now"),
    ]

    HELP_TITLE = "Incident log"
    FULL_READ_EVERY = FULL_READ_EVERY
    READ_GROUP = "incidents-read"
    WHAT = "the incident log"
    NAME = "incidents"
    LOADING = "Loading the incident log…"
    COLUMNS = COLUMNS

    def __init__(self, wanted: IncidentFilter | None = None) -> None:
        super().__init__()
        self.wanted = wanted or IncidentFilter()
        self._detail_for: int | None = None
        self._palette: FrozenPalette | None = None
        """The palette the next read colours its cells with (read on the event loop)."""

    # -- reading -----------------------------------------------------------

    def read_page(self, clinic: Clinic, now: datetime, marker: int) -> IncidentPage:
        """The filtered log and the highlighted incident's timeline (in a worker thread)."""
        read = clinic.incident_log(self.wanted, self._detail_for, now)
        today, palette = clinic_today(now), self._palette
        cells = tuple(_cells(line, today, palette) for line in read.lines) if palette else ()
        return IncidentPage(read.lines, read.detail, now, marker, cells)

    def poll(self) -> None:
        """Read (tui.live), with the palette the cells are to be coloured in."""
        self._palette = self.palette.frozen()
        super().poll()

    def show_page(self, page: IncidentPage) -> None:
        """Rows, summary and the highlighted incident."""
        today, palette = clinic_today(page.read_at), self.palette
        cells = page.cells or tuple(_cells(line, today, palette) for line in page.lines)
        self.show_rows(
            {str(line.incident_id): line for line in page.lines},
            [(str(line.incident_id), made) for line, made in zip(page.lines, cells, strict=True)],
        )
        self._show_summary(page)
        self._show_detail()

    def _show_summary(self, page: IncidentPage) -> None:
        today = clinic_today(page.read_at)
        clocks = [line.clock(today) for line in page.lines]
        late = sum(c.state is ClockState.OVERDUE for c in clocks)
        today_due = sum(c.state is ClockState.DUE_TODAY for c in clocks)
        header = Text()
        header.append("Incident log  ", style="bold")
        header.append(f"{len(page.lines)} {self.wanted.describe()}")
        if late:
            header.append(f"   {late} report{'s' if late != 1 else ''} late", style="bold red")
        if today_due:
            header.append(f"   {today_due} due today", style="bold red")
        if len(page.lines) >= LIST_LIMIT:
            header.append(f"   (first {LIST_LIMIT}: narrow the filter)", style="yellow")
        self.query_one("#incidents-summary", Static).update(header)
        tz = self.aftercare.clinic_tz
        self.show_status(
            Text(
                f"{self.signed_in_as()} · read {page.read_at.astimezone(tz):%H:%M:%S} "
                f"· today {today:%d %b} KST"
            )
        )

    @on(DataTable.RowHighlighted, "#incidents-table")
    def _highlighted(self) -> None:
        line = self.highlighted()
        incident_id = line.incident_id if line is not None else None
        if incident_id != self._detail_for:
            self._detail_for = incident_id
            page = self.page
            if page is not None and (
                page.detail is None or page.detail.line.incident_id != incident_id
            ):
                # The pane needs this incident's timeline: read it now.
                self.refresh_now()
                return
        self._show_detail()

    def _show_detail(self) -> None:
        pane = self.query_one("#incidents-detail-text", Static)
        page = self.page
        line = self.highlighted()
        if page is None:
            pane.update(Text(""))
            return
        if line is None:
            pane.update(Text("No incident matches this filter.", style="dim"))
            return
        self._detail_for = line.incident_id
        if page.detail is None or page.detail.line.incident_id != line.incident_id:
            pane.update(Text("Reading the timeline…", style="dim"))
            return
        pane.update(_detail(page.detail, page.read_at, self.aftercare.clinic_tz, self.palette))

    def current_detail(self) -> IncidentDetail | None:
        """The highlighted incident as last read (with the version changes name)."""
        line, page = self.highlighted(), self.page
        if line is None or page is None or page.detail is None:
            return None
        return page.detail if page.detail.line.incident_id == line.incident_id else None

    # -- filters -----------------------------------------------------------

    def _refilter(self, wanted: IncidentFilter) -> None:
        self.wanted = wanted
        self.refresh_now()

    def action_cycle_status(self) -> None:
        """Open, then closed, then all incidents."""
        self._refilter(replace(self.wanted, status=next_in(_STATUS_CYCLE, self.wanted.status)))

    def action_toggle_overdue(self) -> None:
        """Only incidents whose report is past due and not submitted."""
        self._refilter(replace(self.wanted, overdue_only=not self.wanted.overdue_only))

    def action_cycle_category(self) -> None:
        """Every category in turn, then all again."""
        category = next_in(_CATEGORY_CYCLE, self.wanted.category)
        self._refilter(replace(self.wanted, category=category))

    def action_country(self) -> None:
        """Ask for a two-letter country code; empty shows every country."""

        def chosen(answer: str | None) -> None:
            if answer is None:
                return
            code = answer.strip().upper() or None
            if code is not None and (len(code) != 2 or not code.isalpha()):
                self.notify(f"{answer!r} is not a two-letter country code.", severity="error")
                return
            self._refilter(replace(self.wanted, country=code))

        self.app.push_screen(
            TextPromptModal(
                "Country (two letters, e.g. JP; empty for all)",
                value=self.wanted.country or "",
            ),
            chosen,
        )

    # -- changes -------------------------------------------------------------

    def _ready_incident(self, verb: str) -> tuple[Actor, IncidentDetail] | None:
        return self.acting_on(
            verb,
            self.current_detail(),
            "No incident selected (or its timeline is still loading).",
        )

    def _ask(
        self,
        verb: str,
        form: Callable[[IncidentDetail], FormModal[Answer]],
        describe: Callable[[int, Answer], str],
        change: Callable[[Actor, IncidentDetail, Answer], object],
    ) -> None:
        """Open `form` for the highlighted incident; once saved, make `change` with
        the answer (see `_ask_on`)."""
        ready = self._ready_incident(verb)
        if ready is not None:
            actor, detail = ready
            self._ask_on(actor, detail, form(detail), describe, change)

    def _ask_on(
        self,
        actor: Actor,
        detail: IncidentDetail,
        form: FormModal[Answer],
        describe: Callable[[int, Answer], str],
        change: Callable[[Actor, IncidentDetail, Answer], object],
    ) -> None:
        """Open `form`; once saved, make `change` with its answer on `detail`'s
        incident; `describe` words the toast from the incident's number and the answer."""
        incident_id = detail.line.incident_id
        self._write_answer(
            form,
            lambda answer: describe(incident_id, answer),
            lambda who, answer: change(who, detail, answer),
            actor,
        )

    def action_add_entry(self) -> None:
        """Append a note, a contact, or a correction to the timeline."""
        clinic = self.aftercare.clinic
        self._ask(
            "add entries",
            lambda d: EntryModal(_title(d.line)),
            lambda n, form: f"#{n}: {form.kind.label.lower()} added.",
            lambda who, d, form: clinic.add_incident_entry(
                who, d.line.incident_id, form.kind, form.text
            ),
        )

    class ProductsRead(Message):
        """The suspect-product choices were read: the classify form can open."""

        def __init__(
            self, actor: Actor, detail: IncidentDetail, products: list[tuple[int | str, str]]
        ) -> None:
            self.actor = actor
            self.detail = detail
            self.products = products
            super().__init__()

    def action_classify(self) -> None:
        """Seriousness, grade, category, causality, actions and suspect product."""
        ready = self._ready_incident("classify incidents")
        if ready is None:
            return
        # The form needs the product list: read it off the event loop, then open it.
        self._read_products(*ready)

    @work(thread=True, group="incident-products", exit_on_error=False)
    def _read_products(self, actor: Actor, detail: IncidentDetail) -> None:
        try:
            products = self.aftercare.clinic.suspect_product_choices(detail.line.incident_id)
        except Exception as exc:  # the form cannot open without them: say why
            reason = str(exc) if isinstance(exc, Refused) else f"could not read them ({exc})"
            self.post_message(ReadFailed(f"Could not read the products: {reason}"))
            return
        self.post_message(self.ProductsRead(actor, detail, products))

    @on(ProductsRead)
    def _products_read(self, message: ProductsRead) -> None:
        detail = message.detail
        self._ask_on(
            message.actor,
            detail,
            ClassifyModal(_title(detail.line), current_classification(detail), message.products),
            lambda n, _: f"#{n} classified.",
            _from_version_read(self.aftercare.clinic.classify_incident),
        )

    @on(ReadFailed)
    def _read_failed(self, message: ReadFailed) -> None:
        self.notify(message.reason, severity="error", markup=False)

    def action_correct_dates(self) -> None:
        """Correct the onset date and day 0 with a reason; the clock follows day 0."""
        today = clinic_today(self.aftercare.clock.now())
        self._ask(
            "correct incident dates",
            lambda d: DateCorrectionModal(_title(d.line), today, d.onset_date, d.line.learned_on),
            lambda n, _: f"#{n}: dates corrected.",
            _from_version_read(self.aftercare.clinic.correct_incident_dates),
        )

    def _dated_reference(
        self,
        verb: str,
        what: str,
        title: Callable[[IncidentDetail], str],
        record: IncidentChange[DatedReference],
        replacing: Callable[[IncidentDetail], str | None] = lambda _: None,
    ) -> None:
        """Ask for a date and a reference, then record them on the highlighted incident."""
        today = clinic_today(self.aftercare.clock.now())
        self._ask(
            verb,
            lambda d: DatedReferenceModal(
                title(d), today, what, earliest=d.line.learned_on, replacing=replacing(d)
            ),
            lambda n, _: f"#{n}: {what} recorded.",
            _from_version_read(record),
        )

    def action_report(self) -> None:
        """Record the MFDS report as submitted: the clock stops."""
        self._dated_reference(
            "record reports",
            "MFDS report",
            lambda d: f"MFDS report submitted for {_title(d.line)}",
            self.aftercare.clinic.record_mfds_report,
            replacing=lambda d: (
                f"{d.line.reported_on:%Y-%m-%d}, reference {d.report_reference}"
                if d.line.reported_on
                else None
            ),
        )

    def action_khidi(self) -> None:
        """Record that the case was escalated to KHIDI."""
        self._dated_reference(
            "record KHIDI escalations",
            "KHIDI escalation",
            lambda d: f"KHIDI escalation for {_title(d.line)}",
            self.aftercare.clinic.record_khidi_escalation,
        )

    def action_close(self) -> None:
        """Close with an outcome; on a closed incident, reopen with a reason."""
        ready = self._ready_incident("close incidents")
        if ready is None:
            return
        actor, detail = ready
        clinic, title = self.aftercare.clinic, _title(detail.line)
        if detail.line.status is IncidentStatus.CLOSED:
            # The prompt refuses an empty reason, so a saved answer always says why.
            self._ask_on(
                actor,
                detail,
                TextPromptModal(f"Reopen {title}: why?", required=True),
                lambda n, _: f"#{n} reopened.",
                _from_version_read(clinic.reopen_incident),
            )
            return

        warning = (
            "The MFDS report is not recorded yet: it stays on the overdue list until it is."
            if detail.line.reported_on is None
            else None
        )
        self._ask_on(
            actor,
            detail,
            CloseModal(title, warning),
            lambda n, form: f"#{n} closed ({words(form.outcome)}).",
            _from_version_read(clinic.close_incident),
        )

    def action_export_csv(self) -> None:
        """Write the incidents this filter lists to a CSV file."""
        from tui.exports_tui import export_incidents_csv

        export_incidents_csv(self, self.wanted)

    # -- navigation ----------------------------------------------------------

    # The table takes enter for itself: selecting a row opens its patient too.
    @on(DataTable.RowSelected, "#incidents-table")
    def action_open_patient(self) -> None:
        """The highlighted incident's patient screen."""
        line = self.highlighted()
        if line is not None:
            self.aftercare.open_patient(line.patient_id)


def _title(line: IncidentLine) -> str:
    return plain_str(f"#{line.incident_id} ({line.patient_code} {line.patient_name})")


def _cells(line: IncidentLine, today: date, palette: Palette) -> tuple[Text, ...]:
    clock = line.clock(today)
    due = line.report_due_on
    return (
        Text(f"#{line.incident_id}", style="bold"),
        clock_text(clock, palette),
        Text(f"{due:%d %b}" if due else "—", style="" if clock.owed else "dim"),
        Text(f"{line.patient_code} {line.patient_name}"[:24]),
        Text(line.country),
        Text(category_words(line.category)[:18]),
        Text(words(line.seriousness), style=palette.seriousness(line.seriousness)),
        Text(str(line.severity_grade) if line.severity_grade else "—"),
        Text(line.status.value, style="" if line.status is IncidentStatus.OPEN else "dim"),
    )


def _detail(detail: IncidentDetail, now: datetime, tz: tzinfo, palette: Palette) -> RenderableType:
    """The highlighted incident: facts, clocks, routes, then the timeline."""
    # Stored text (names, entries, references) drawn as data (tui.plain).
    detail = shown_fields(detail)
    line = detail.line
    today = clinic_today(now)
    head = Text.assemble(
        (f"#{line.incident_id} ", "bold"),
        (line.patient_code, "bold"),
        " ",
        line.patient_name,
        f"   {category_words(line.category)}   {words(line.seriousness)}",
        f"   grade {line.severity_grade or '—'}   {line.status.value}",
        f", outcome {words(line.outcome)}",
    )
    clock = line.clock(today)
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column(overflow="fold")
    onset = (f"{detail.onset_date:%d %b %Y}" if detail.onset_date else "date not recorded") + (
        f" (day {detail.onset_day})" if detail.onset_day is not None else ""
    )
    if detail.downgraded:
        facts.add_row(
            Text("Downgraded", style="bold yellow"),
            Text(f"{detail.downgraded} (only a physician's decision drops it)"),
        )
    facts.add_row("Onset", onset)
    facts.add_row("Day 0", f"{line.learned_on:%d %b %Y} (the clinic learned of it)")
    report = Text()
    report.append_text(clock_text(clock, palette))
    if line.report_due_on:
        report.append(f"  due {line.report_due_on:%d %b %Y}")
    if line.reported_on:
        report.append(f"  submitted {line.reported_on:%d %b %Y}, ref {detail.report_reference}")
    facts.add_row("MFDS report", report)
    facts.add_row(
        "KHIDI",
        f"{line.khidi_escalated_on:%d %b %Y}, ref {detail.khidi_reference}"
        if line.khidi_escalated_on
        else "not escalated",
    )
    facts.add_row(
        "Suspect product", detail.suspect_product or "not chosen yet (a physician chooses)"
    )
    facts.add_row("Causality", detail.causality or "not assessed")
    facts.add_row("Actions taken", detail.actions_taken or "none recorded")
    timeline = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, expand=True)
    timeline.add_column("When (KST)", no_wrap=True)
    timeline.add_column("What", no_wrap=True)
    timeline.add_column("By", no_wrap=True)
    timeline.add_column("Entry", overflow="fold", ratio=1)
    for item in reversed(detail.timeline):
        timeline.add_row(
            Text(f"{item.at.astimezone(tz):%d %b %H:%M}"),
            Text(item.label, style="bold" if item.label.startswith("Correction") else ""),
            Text(item.staff or "—"),
            Text(item.text),
        )
    return Group(
        head,
        facts,
        reporting_routes(line.country, detail.home_country),
        Text("Timeline, newest first", style="bold"),
        timeline,
    )
