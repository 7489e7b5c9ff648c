"""One patient's dossier: who, where, whom to call, what was given, what happened.

The dossier is read through the app's `Clinic` in a thread worker and posted
back as a message, like the queue; every write (follow-up keys, triage, an
incident by hand) is one Clinic use case run by `FollowUpActions._write`.

Top of the screen, always visible: the patient, their local time beside
clinic time, and the emergency number for the country they are in now.
Below, in one scrollable body: contact details, what is normal on the day it
is now for the latest episode's protocol (read before any triage), the
timeline (what has happened, most recent first, then the touchpoints still to
come) and the treatment episodes with products, lots and the documentation
checklist. The bottom line says who decides the latest triage's outcome.

Patient- and staff-written text (names, handles, notes, allergies, product
names) is always put on screen as `rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey
from textual.worker import get_current_worker

from core.addons import triage_addon_codes
from core.commands import NewIncident, TriageEntry
from core.countries import country_name, emergency_contact
from core.domain import Disposition
from core.dossier import (
    DECISION_NOTE,
    AddOn,
    EpisodeRecord,
    PatientDossier,
    PatientIdentity,
    ProductRecord,
    TimelineEntry,
    TimelineKind,
    channel_label,
    local_times,
    patient_zone,
    recorded_words,
)
from core.incidents import clinic_today
from core.labels import utc_offset_words
from core.plain_text import shown
from core.records import RecordSaved
from core.refusals import Refused
from core.schedules import CLINIC_TZ, days_after_procedure
from core.triage import DECIDED_BY
from core.triage.course import NormalCourse, normal_course
from db.followup import Actor
from db.triage import SavedTriage
from tui.actions import FOLLOW_UP_BINDINGS, FollowUpTarget, FollowUpWritten
from tui.exports_tui import export_patient
from tui.footer import ClinicFooter
from tui.incident_forms import NewIncidentModal
from tui.keys import bind
from tui.plain import shown_fields
from tui.queue_cells import TEMPLATE_WORDS
from tui.screens.common import ClinicScreen, ReadFailed
from tui.styles import Palette
from tui.tables import reporting_routes
from tui.triage_form import TriageContext, TriageModal, course_text

# Timeline states worth a colour; anything else is shown plain.
_STATE_STYLE = {
    "overdue": "bold red",
    "due": "yellow",
    "scheduled": "dim",
    "done": "green",
    "skipped": "dim",
    "unreachable": "red",
    "no_answer": "yellow",
    "open": "yellow",
    "acknowledged": "green",
    "resolved": "green",
    "closed": "green",
}
_DISPOSITIONS = {d.value: d for d in Disposition}

_WHEN_WIDTH = 16  # "22 Nov 15:00 KST"
_ENTRY_WIDTH = 12  # "acknowledged"
# Cell padding of three columns, the table's and the body's scrollbars, one spare.
_TABLE_CHROME = 3 * 2 + 2 + 2 + 1
_MIN_WHAT_WIDTH = 24

_LOADING = "Loading the patient…"
_NOTHING = "—"


class PatientScreen(ClinicScreen):
    """Everything the clinic knows about one patient, for the coordinator on the case."""

    DEFAULT_CSS = """
    PatientScreen {
        layout: vertical;
    }
    PatientScreen #patient-banner {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    PatientScreen #patient-times, PatientScreen #patient-emergency {
        height: auto;
        padding: 0 1;
    }
    PatientScreen #patient-body {
        height: 1fr;
    }
    PatientScreen #patient-body > Static {
        height: auto;
        padding: 0 1;
    }
    PatientScreen .section-title {
        text-style: bold;
        margin-top: 1;
    }
    PatientScreen #patient-timeline {
        height: auto;
        max-height: 60vh;
    }
    PatientScreen #patient-problem {
        height: auto;
        padding: 0 1;
        display: none;
    }
    PatientScreen #patient-course {
        border-left: thick $success;
        margin-top: 1;
    }
    PatientScreen #patient-status {
        height: auto;
        max-height: 2;
        padding: 0 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        bind("patient.back", "escape", "back", "Back", "Back to the queue"),
        bind("patient.reload", "r", "reload", "Reload", "Read the patient again"),
        bind("patient.triage", "t", "triage", "Triage", "Triage what the patient reports"),
        bind(
            "patient.new-incident",
            "n",
            "new_incident",
            "Incident",
            "Open an incident by hand (a home physician's call, a letter)",
        ),
        bind(
            "patient.export-summary",
            "e",
            "export_summary",
            "Summary",
            "Write the home-physician summary (Markdown and PDF) to the export folder",
        ),
        bind(
            "patient.export-fhir",
            "f",
            "export_fhir",
            "FHIR",
            "Write the FHIR R4 bundle (JSON) to the export folder",
        ),
        bind(
            "patient.where-now",
            "W",
            "where_now",
            "Where now",
            "Where is the patient now: country and time zone together, phone, handle, e-mail",
            show=False,
        ),
        bind(
            "patient.checklist",
            "k",
            "checklist",
            "Checklist",
            "Documentation checklist: tick the documents the patient left with",
            show=False,
        ),
        bind(
            "patient.new-episode",
            "E",
            "new_episode",
            "New episode",
            "Record a new treatment episode (a returning patient)",
            show=False,
        ),
        bind(
            "patient.correct-record",
            "R",
            "correct_record",
            "Correct the record",
            "Correct the latest episode: procedure time, products and lots, add-ons, physician",
            show=False,
        ),
        bind(
            "patient.correct-details",
            "P",
            "correct_details",
            "Correct details",
            "Correct who the patient is: names, birth date, home country, language, channel",
            show=False,
        ),
        *FOLLOW_UP_BINDINGS,
        bind("patient.help", "question_mark", "help", "Help", "Every key of this screen"),
    ]

    HELP_TITLE = "Patient"

    class Loaded(Message):
        """A thread worker finished reading the dossier (None: no such patient)."""

        def __init__(self, dossier: PatientDossier | None) -> None:
            self.dossier = dossier
            super().__init__()

    def __init__(self, patient_id: int) -> None:
        super().__init__()
        self.patient_id = patient_id
        """Which patient this screen shows."""
        self.dossier: PatientDossier | None = None
        """The last successful read, for tests and for actions added to this screen."""
        self._drawn: PatientDossier | None = None
        """`dossier` as drawn: its text with control characters visible (tui.plain)."""
        self._what_width = 0

    def compose(self) -> ComposeResult:
        yield Static(_LOADING, id="patient-banner")
        yield Static("", id="patient-times")
        yield Static("", id="patient-emergency")
        with VerticalScroll(id="patient-body"):
            yield Static("", id="patient-identity")
            yield Static("", id="patient-course")
            yield Static("", id="patient-reporting")
            yield Static(
                "Timeline: most recent first, then what is still to come",
                classes="section-title",
            )
            table: DataTable[Text] = DataTable(
                id="patient-timeline", cursor_type="row", zebra_stripes=True
            )
            table.add_column("When KST/local", width=_WHEN_WIDTH, key="when")
            table.add_column("Kind/state", width=_ENTRY_WIDTH, key="entry")
            table.add_column("What", width=_MIN_WHAT_WIDTH, key="what")
            yield table
            yield Static("Treatment", classes="section-title")
            yield Static("", id="patient-episodes")
        yield Static("", id="patient-problem")
        # Decision support only: who decides stays on screen whatever else happens.
        yield Static(Text(DECISION_NOTE), id="patient-status")
        yield ClinicFooter()

    def on_mount(self) -> None:
        self.reload()

    def show_clock(self) -> None:
        """ "Local time now" must not go stale while the screen stays open (the app's
        clock calls this every half minute, tui.app)."""
        self._show_times()

    def reload(self) -> None:
        """Read the dossier again from the database (off the event loop)."""
        self._read_dossier()

    def action_reload(self) -> None:
        """Read the patient again."""
        self.reload()

    def follow_up_target(self) -> FollowUpTarget | None:
        """This patient and their next touchpoint (what c, d, s, a and y act on)."""
        if self.dossier is None:
            return None
        identity = self.dossier.identity
        wanted = f"touchpoint-{identity.next_touchpoint_id}"
        label = shown(next((e.title for e in self.dossier.timeline if e.key == wanted), ""))
        return FollowUpTarget(
            patient_id=identity.patient_id,
            patient_label=shown(f"{identity.code} {identity.display_name}"),
            touchpoint_id=identity.next_touchpoint_id,
            touchpoint_label=label,
            channel=identity.channel,
            assigned_to_id=identity.assigned_to_id,
        )

    def action_triage(self) -> None:
        """Open the triage form; saving writes the assessment, incident and alert at once."""
        actor = self.acting("record a triage")
        if actor is None:
            return
        if self.dossier is None or not self.dossier.episodes:
            self.notify("This patient has no treatment episode to triage.", severity="warning")
            return
        identity, episode = self.dossier.identity, self.dossier.episodes[0]
        settings = self.aftercare.settings
        clinic = self.aftercare.clinic
        context = TriageContext(
            patient_label=shown(f"{identity.code} {identity.display_name}"),
            day=max(
                0,
                days_after_procedure(
                    episode.procedure_at, self.aftercare.clock.now(), identity.timezone
                ),
            ),
            country=identity.current_country,
            protocol=episode.protocol,
            # High-dose glutathione is judged by the dose given, at the clinic's threshold.
            addons=triage_addon_codes(
                (_recorded_addon(addon) for addon in episode.addons),
                settings.high_dose_glutathione_mg,
            ),
            language=identity.language,
        )

        def triage(who: Actor, entry: TriageEntry) -> FollowUpWritten:
            saved = clinic.record_triage(who, identity.patient_id, entry)
            sending = None
            if saved.escalation_id is not None and saved.disposition.opens_incident:
                # Whether anyone is sending the page, said at the moment it matters most.
                try:
                    sending = clinic.alert_path().after_save()
                except Refused:
                    sending = "could not tell whether a dispatcher is sending it"
            return FollowUpWritten(saved_summary(saved, entry.outcome.disposition, sending))

        self._write_answer(TriageModal(context), "Triage saved.", triage, actor)

    def action_new_incident(self) -> None:
        """Open an incident by hand; its clock starts today (day 0)."""
        actor = self.acting("open an incident")
        if actor is None or self.dossier is None:
            return
        identity = self.dossier.identity
        clinic = self.aftercare.clinic

        def open_incident(who: Actor, incident: NewIncident) -> FollowUpWritten:
            incident_id = clinic.open_incident_by_hand(who, identity.patient_id, incident)
            return FollowUpWritten(f"Incident #{incident_id} opened; see the log (i).")

        today = clinic_today(self.aftercare.clock.now())
        label = f"{identity.code} {identity.display_name}"
        self._write_answer(NewIncidentModal(label, today), "Incident opened.", open_incident, actor)

    def action_export_summary(self) -> None:
        """The English summary for the home physician, as Markdown and as PDF."""
        if self.dossier is not None:
            export_patient(self, self.dossier.identity.patient_id, ("summary", "pdf"))

    def action_export_fhir(self) -> None:
        """The FHIR R4 bundle of this patient."""
        if self.dossier is not None:
            export_patient(self, self.dossier.identity.patient_id, ("fhir",))

    def action_where_now(self) -> None:
        """Where is the patient now: a new country moves the zone, the windows not yet
        open, the messages and the emergency number with it; contact details too."""
        # Imported here: this screen's module-level imports serve its rendering.
        from core.commands import Whereabouts
        from tui.record_forms import WhereaboutsModal, whereabouts_shown

        actor = self.acting("change where a patient is")
        if actor is None or self.dossier is None:
            return
        who = self.dossier.identity
        shown = whereabouts_shown(
            who.current_country, who.timezone, who.channel_handle, who.phone, who.email
        )
        clinic = self.aftercare.clinic

        def save(acting: Actor, wanted: Whereabouts) -> FollowUpWritten:
            saved = clinic.save_whereabouts(acting, who.patient_id, wanted, expected=shown)
            return FollowUpWritten(saved.words())

        form = WhereaboutsModal(
            f"{who.code} {who.display_name}",
            shown,
            channel=who.channel,
            home_country=who.home_country,
        )
        self._write_answer(form, "Saved.", save, actor)

    def action_checklist(self) -> None:
        """Tick the documents the patient left with; who and when are kept per item."""
        from core.dossier import ChecklistTicks
        from tui.checklist_form import ChecklistModal

        actor = self.acting("tick the documentation checklist")
        if actor is None or self.dossier is None:
            return
        if not self.dossier.episodes:
            self.notify("This patient has no treatment episode.", severity="warning")
            return
        who, episode = self.dossier.identity, self.dossier.episodes[0]
        clinic = self.aftercare.clinic

        def save(acting: Actor, changed: ChecklistTicks) -> FollowUpWritten:
            if not changed.ticks:
                return FollowUpWritten("Nothing to change: the checklist matched the record.")
            clinic.tick_documents(
                acting,
                episode.episode_id,
                dict(changed.ticks),
                expected_version=episode.version or 0,
            )
            return FollowUpWritten("Documentation checklist saved.")

        form = ChecklistModal(f"{who.code} {who.display_name}", episode.documentation)
        self._write_answer(form, "Documentation checklist saved.", save, actor)

    def action_new_episode(self) -> None:
        """A returning patient's new treatment episode, with its follow-up."""
        from tui.care_opening import open_new_episode

        actor = self.acting("record a treatment episode")
        if actor is not None and self.dossier is not None:
            open_new_episode(self, actor, self.dossier.identity, self._recorded)

    def action_correct_record(self) -> None:
        """Correct the latest episode as stored now; a colleague's correction made
        meanwhile refuses the save."""
        from tui.care_opening import open_episode_correction

        actor = self.acting("correct the record of care")
        if actor is None or self.dossier is None:
            return
        if not self.dossier.episodes:
            self.notify("This patient has no treatment episode to correct.", severity="warning")
            return
        episode_id = self.dossier.episodes[0].episode_id
        open_episode_correction(self, actor, self.dossier.identity, episode_id, self._recorded)

    def action_correct_details(self) -> None:
        """Correct who the patient is; where they are now is `W`."""
        from tui.care_opening import open_details_correction

        actor = self.acting("correct a patient's details")
        if actor is not None and self.dossier is not None:
            open_details_correction(self, actor, self.dossier.identity, self._recorded)

    def _recorded(self, saved: RecordSaved) -> None:
        """A record of care saved: say what it did, and show it."""
        from tui.care_opening import saved_words

        self.notify(shown(saved_words(saved)), markup=False)
        self.reload()

    def after_follow_up(self) -> None:
        """Show the write at once."""
        self.reload()

    @work(thread=True, exclusive=True, group="patient-load")
    def _read_dossier(self) -> None:
        worker = get_current_worker()
        try:
            dossier = self.aftercare.clinic.patient_dossier(self.patient_id)
        except Refused as exc:  # the database is unavailable: the Clinic says why
            self.post_message(ReadFailed(str(exc)))
            return
        except Exception as exc:  # a database gone for a moment must not kill the app
            self.post_message(ReadFailed(f"could not read the patient: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(self.Loaded(dossier))

    @on(Loaded)
    def _show(self, message: Loaded) -> None:
        dossier = message.dossier
        if dossier is None:
            self.dossier = self._drawn = None
            self.query_one("#patient-banner", Static).update(
                Text(f"No patient with id {self.patient_id}: removed or never saved.", "bold red")
            )
            return
        self.dossier = dossier
        # Drawn from a copy whose stored text shows any control character an old
        # record holds, visibly: never sent to the terminal (tui.plain). Forms and
        # actions keep the record as stored.
        self._drawn = dossier = shown_fields(dossier)
        identity = dossier.identity
        with self.app.batch_update():
            self.query_one("#patient-banner", Static).update(_banner(identity, self.palette))
            self._show_times()
            self.query_one("#patient-emergency", Static).update(_emergency(identity, self.palette))
            self.query_one("#patient-identity", Static).update(_identity(dossier))
            self.query_one("#patient-course", Static).update(_course(dossier))
            self.query_one("#patient-reporting", Static).update(_reporting(identity))
            self._show_timeline(force=True)
            self.query_one("#patient-episodes", Static).update(_episodes(dossier))
            self.query_one("#patient-status", Static).update(_who_decides(identity))
            self._show_problem(None)

    @on(ReadFailed)
    def _show_failure(self, message: ReadFailed) -> None:
        # Keep what is shown: stale but visible beats empty.
        self._show_problem(message.reason)

    def _show_problem(self, reason: str | None) -> None:
        problem = self.query_one("#patient-problem", Static)
        problem.display = reason is not None
        problem.update(Text(shown(f"⚠ {reason}"), style="bold red") if reason else "")

    def on_resize(self, event: events.Resize) -> None:
        # Timeline rows wrap to the width; re-lay them when the terminal changes size.
        self._show_timeline(force=False)

    def _show_times(self) -> None:
        if self._drawn is None:
            return
        times = local_times(self.aftercare.clock.now(), self._drawn.identity.timezone)
        style = "" if times.patient_zone_known else "bold yellow"
        self.query_one("#patient-times", Static).update(
            Text.assemble((times.patient_label, style), "   ", times.clinic_label)
        )

    def _show_timeline(self, *, force: bool) -> None:
        if self._drawn is None:
            return
        width = max(_MIN_WHAT_WIDTH, self.size.width - _WHEN_WIDTH - _ENTRY_WIDTH - _TABLE_CHROME)
        if width == self._what_width and not force:
            return
        self._what_width = width
        table: DataTable[Text] = self.query_one("#patient-timeline", DataTable)
        table.columns[ColumnKey("what")].width = width
        # A reload or a resize must not move the coordinator's place in the story.
        kept = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if table.row_count
            else None
        )
        zone, palette = patient_zone(self._drawn.identity.timezone), self.palette
        rows = _most_recent_first(self._drawn.timeline, self._drawn.read_at)
        table.clear()
        for entry in rows:
            table.add_row(*_timeline_cells(entry, zone, palette), height=None, key=entry.key)
        keys = [entry.key for entry in rows]
        if kept in keys:
            table.move_cursor(row=keys.index(kept), animate=False)
        elif rows:
            # The newest event is row 0, so nothing scrolls on a first read and
            # the screen looks the same on every run.
            table.move_cursor(row=0, animate=False)


def _most_recent_first(timeline: tuple[TimelineEntry, ...], now: datetime) -> list[TimelineEntry]:
    """What has happened, newest first, then the touchpoints still to come, soonest first.

    The coordinator opens a patient to see what happened last; the plan ahead
    reads best in its own order, after it.
    """
    happened = [entry for entry in timeline if entry.at <= now]
    upcoming = [entry for entry in timeline if entry.at > now]
    return [*reversed(happened), *upcoming]


def _banner(identity: PatientIdentity, palette: Palette) -> Text:
    disposition = identity.latest_disposition
    latest = (
        Text(disposition.value, style=palette.disposition(disposition))
        if disposition
        else Text("not triaged", style="dim")
    )
    return Text.assemble(
        (identity.code, "bold"),
        "  ",
        (identity.display_name, "bold"),
        "   latest triage: ",
        latest,
        "   coordinator: ",
        identity.assigned_coordinator or ("unassigned", "dim"),
    )


def _emergency(identity: PatientIdentity, palette: Palette) -> Group:
    contact = emergency_contact(identity.current_country)
    verified = f"  table verified {contact.last_verified:%d %b %Y}" if contact.last_verified else ""
    lines: list[RenderableType] = [
        Text.assemble(
            ("Emergency", "bold"),
            f" (now in {contact.country_name}): call ",
            (f" {contact.numbers_text} ", palette.alarm),
            (verified, "dim"),
        )
    ]
    if contact.warning:
        lines.append(Text(f"⚠ {contact.warning}", style="bold yellow"))
    return Group(*lines)


def _reporting(identity: PatientIdentity) -> Group:
    """Where an adverse event is reported: the country the patient is in, and home if different."""
    return reporting_routes(identity.current_country, identity.home_country)


def _identity(dossier: PatientDossier) -> Group:
    who = dossier.identity
    born = f"{who.birth_date:%d %b %Y}" if who.birth_date else _NOTHING
    lines: list[RenderableType] = [
        Text.assemble(
            ("Born ", "bold"),
            born,
            ("  Home ", "bold"),
            _country(who.home_country),
            ("  Now in ", "bold"),
            _country(who.current_country),
            ("  Language ", "bold"),
            who.language,
            ("  Time zone ", "bold"),
            who.timezone,
        ),
        Text.assemble(
            ("Channel ", "bold"),
            f"{channel_label(who.channel)} ",
            who.channel_handle,
            ("  Phone ", "bold"),
            who.phone or _NOTHING,
            ("  Email ", "bold"),
            who.email or _NOTHING,
        ),
    ]
    if who.native_name:
        # Beside the passport name in the banner: the name the patient writes.
        lines.insert(0, Text.assemble(("Name in own script ", "bold"), who.native_name))
    if who.next_touchpoint_id is None:
        # No open or planned check-in: nothing will bring this patient back to
        # the queue by itself, so say it rather than show an empty schedule.
        lines.append(Text("Outside the schedule: no check-in is open or planned.", style="bold"))
    missing = [item.label for e in dossier.episodes for item in e.missing_documents]
    if missing:
        lines.append(Text(f"Documents missing: {'; '.join(missing)}", style="bold red"))
    return Group(*lines)


def _timeline_cells(
    entry: TimelineEntry, zone: ZoneInfo | None, palette: Palette
) -> tuple[Text, Text, Text]:
    clinic = entry.at.astimezone(CLINIC_TZ)
    local = entry.at.astimezone(zone) if zone is not None else None
    # The offset, never the zone's letters: Taipei's and Shanghai's "CST" read as US Central.
    local_label = (
        f"{local:%a %H:%M} {utc_offset_words(local.utcoffset())}" if local else "local unknown"
    )
    when = Text(f"{clinic:%d %b %H:%M} KST\n{local_label}")
    state = entry.state or ""
    disposition = _DISPOSITIONS.get(state)
    style = palette.disposition(disposition) if disposition else _STATE_STYLE.get(state, "")
    kind = Text.assemble((entry.kind.value, "bold"), "\n", (state.replace("_", " "), style))
    title = entry.title
    if entry.kind is TimelineKind.TOUCHPOINT:
        # Templates added by events have names, not words ("triage-recheck").
        for name, words in TEMPLATE_WORDS.items():
            title = title.replace(f"({name})", f"({words})")
    what = Text(title, style="bold")
    if entry.detail:
        what.append("\n")
        what.append(entry.detail)
    return when, kind, what


def saved_summary(saved: SavedTriage, computed: Disposition, sending: str | None = None) -> str:
    """What one saved triage wrote, in words, for the toast after saving; `sending`
    (core.alert_health) says whether a dispatcher is sending the physician alert."""
    downgraded = saved.disposition.severity < computed.severity
    head = f"Triage saved: {saved.disposition.value.upper()}"
    if saved.disposition is not computed:
        head += f" (computed {computed.value})"
    parts = [head]
    if saved.incident_id is not None:
        marked = ", marked downgraded" if downgraded else ""
        parts.append(f"incident #{saved.incident_id} opened{marked}")
    if saved.escalation_id is not None:
        if saved.disposition.opens_incident:
            told = f"{saved.notifications} physician target" + (
                "" if saved.notifications == 1 else "s"
            )
            queued = f"physician alert E-{saved.escalation_id} queued for {told}"
            parts.append(f"{queued}: {sending}" if sending else queued)
        else:
            parts.append(
                f"the treating physician is told once (E-{saved.escalation_id}) that you chose "
                "otherwise and why"
            )
    if saved.recheck_touchpoint_id is not None:
        parts.append("re-check added in 48 hours")
    return "; ".join(parts) + "."


def normal_course_now(dossier: PatientDossier) -> NormalCourse | None:
    """What is normal today for the latest episode's protocol; None without an episode."""
    if not dossier.episodes:
        return None
    episode = dossier.episodes[0]
    day = max(
        0, days_after_procedure(episode.procedure_at, dossier.read_at, dossier.identity.timezone)
    )
    return normal_course(episode.protocol, day, country=dossier.identity.current_country or None)


def _course(dossier: PatientDossier) -> Text:
    course = normal_course_now(dossier)
    if course is None:
        return Text("No treatment episode: no expected course to show.", style="dim")
    return course_text(course)


def _who_decides(identity: PatientIdentity) -> Text:
    """Who decides the latest triage's outcome; the general note before any triage."""
    latest = identity.latest_disposition
    if latest is None:
        return Text(DECISION_NOTE)
    return Text(f"Latest triage ({latest.value}): {DECIDED_BY[latest]}")


def _recorded_addon(addon: AddOn) -> object:
    # Back to the form the episode stores, so the dose is judged as recorded.
    return {"name": addon.code, "dose": addon.dose} if addon.dose else addon.code


def _episodes(dossier: PatientDossier) -> RenderableType:
    if not dossier.episodes:
        return Text("No treatment episode recorded.", style="dim")
    blocks: list[RenderableType] = []
    for episode in dossier.episodes:
        blocks.extend(_episode(episode, dossier.read_at))
    return Group(*blocks)


def _episode(episode: EpisodeRecord, now: datetime) -> list[RenderableType]:
    day = days_after_procedure(episode.procedure_at, now)
    procedure = episode.procedure_at.astimezone(CLINIC_TZ)
    allergies = Text(
        episode.allergies_words,
        style="bold yellow"
        if (episode.allergies or "").strip()
        else _answer_style(episode.has_allergies),
    )
    addons = Text(
        "; ".join(f"{a.label} {a.dose}" if a.dose else a.label for a in episode.addons)
        or episode.no_addons_words,
        style="" if episode.addons or episode.addons_recorded else _NOT_RECORDED_STYLE,
    )
    header = Text.assemble(
        (f"{episode.protocol_label}", "bold underline"),
        f"  {procedure:%d %b %Y %H:%M} KST (day {day})",
        ("  schedules: ", "dim"),
        (", ".join(episode.schedule_templates) or _NOTHING, "dim"),
    )
    facts = Text.assemble(
        ("Physician ", "bold"),
        episode.treating_physician or _NOTHING,
        ("  Nurse ", "bold"),
        episode.nurse_name or _NOTHING,
        ", licence ",
        episode.nurse_license_ref or _NOTHING,
        "\n",
        ("Departed ", "bold"),
        _day(episode.departure_date),
        ("  Insurance ", "bold"),
        episode.travel_insurer or _NOTHING,
        ", policy ",
        episode.travel_policy_number or _NOTHING,
        ("  KHIDI cover ", "bold"),
        episode.khidi_cover_ref or _NOTHING,
        "\n",
        ("Allergies ", "bold"),
        allergies,
        ("  Vasovagal history ", "bold"),
        _answer(episode.vasovagal_history),
        ("  Sensitive skin ", "bold"),
        _answer(episode.sensitive_skin),
        "\n",
        ("Add-ons ", "bold"),
        addons,
    )
    products = _products(episode.products, procedure.date(), episode.no_products_words)
    return [header, facts, products, _checklist(episode)]


_NOT_RECORDED_STYLE = "italic"


def _answer_style(value: bool | None) -> str:
    """A "yes" stands out; "not recorded" reads apart from a "no"."""
    if value is None:
        return _NOT_RECORDED_STYLE
    return "bold yellow" if value else ""


def _answer(value: bool | None) -> Text:
    return Text(recorded_words(value), style=_answer_style(value))


def _products(products: tuple[ProductRecord, ...], used_on: date, empty: str) -> RenderableType:
    if not products:
        return Text(f"Products given: {empty}", style="dim")
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False)
    for heading in ("Product", "MFDS ref", "Lot", "Expiry", "Dose"):
        table.add_column(heading)
    for product in products:
        expired = product.expiry_date is not None and product.expiry_date < used_on
        table.add_row(
            Text(product.name),
            Text(product.mfds_reference or _NOTHING),
            Text(product.lot_number or _NOTHING),
            Text(
                _day(product.expiry_date) + (" EXPIRED at use" if expired else ""),
                style="bold red" if expired else "",
            ),
            Text(product.dose or _NOTHING),
        )
    return table


def _checklist(episode: EpisodeRecord) -> Text:
    text = Text()
    text.append("Documentation checklist\n", style="bold")
    for item in episode.documentation:
        if item.given:
            text.append("  ✓ ", style="green")
            text.append(item.label)
        else:
            text.append("  ✗ ", style="bold red")
            text.append(f"{item.label} — MISSING", style="bold red")
        if item.words():
            text.append(f" ({item.words()})", style="dim")
        text.append("\n")
    text.rstrip()
    return text


def _country(code: str) -> str:
    name = country_name(code)
    return code if name == code else f"{name} ({code})"


def _day(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value else _NOTHING
