"""What the patient screen shows: one patient's identity, episodes and timeline.

The database fills these plain frozen values (`db.dossier.load_dossier`); the
screen only formats them. Contacts, triages, incidents and physician alerts
are merged into ONE timeline, sorted by time, so a coordinator reads the
follow-up as a single story. Touchpoint states come from
`core.schedules.touchpoint_state`, the one definition every screen shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.domain import (
    Channel,
    ContactOutcome,
    Disposition,
    EscalationStatus,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    NotificationStatus,
    Protocol,
    Seriousness,
    TouchpointResolution,
    Trend,
)
from core.labels import CONTACT_OUTCOME_WORDS, finding_words, utc_offset_words
from core.labels import entry_words as _entry_words
from core.schedules import CLINIC_TZ, touchpoint_state

DECISION_NOTE = "Decision: the treating physician or local emergency services decide."
"""Shown beside every triage outcome: this is decision support, not a diagnosis."""

# The documents a patient should leave with (the clinic's discharge checklist),
# in the order the clinic hands them over. Keys are those stored on the episode.
DOCUMENT_ITEMS: tuple[tuple[str, str], ...] = (
    ("itemised_receipt", "Itemised receipt"),
    ("aftercare_card", "Aftercare card in the patient's language"),
    ("protocol_summary", "Written protocol summary"),
    ("mfds_reference", "MFDS product reference"),
    ("lot_and_expiry", "Lot number and expiry (packaging photo)"),
    ("nurse_licensure", "Nurse licensure reference"),
)

_ADDON_LABELS = {
    "b_complex": "B-complex",
    "glutathione": "Glutathione",
    "glutathione_high_dose": "Glutathione, high dose (liver panel at week 4)",
}

_PROTOCOL_LABELS = {
    Protocol.EXOSOME_IV: "Exosome IV",
    Protocol.MICRONEEDLING: "Microneedling",
    Protocol.EXOSOME_IV_MICRONEEDLING: "Exosome IV + microneedling",
    Protocol.PRP: "PRP",
}

_CHANNEL_LABELS = {
    Channel.LINE: "LINE",
    Channel.WECHAT: "WeChat",
    Channel.WHATSAPP: "WhatsApp",
    Channel.KAKAOTALK: "KakaoTalk",
    Channel.EMAIL: "email",
    Channel.PHONE: "phone",
    Channel.SMS: "SMS",
}

# --- identity and episodes -------------------------------------------------


@dataclass(frozen=True)
class PatientIdentity:
    """Who the patient is and how to reach them."""

    patient_id: int
    code: str
    given_name: str
    family_name: str
    birth_date: date | None
    home_country: str
    current_country: str
    language: str
    timezone: str
    channel: Channel
    channel_handle: str
    phone: str | None
    email: str | None
    assigned_coordinator: str | None
    latest_disposition: Disposition | None
    assigned_to_id: int | None = None
    """Staff id of the coordinator holding the patient (claim and release use it)."""
    next_touchpoint_id: int | None = None
    """The unresolved touchpoint closing first: what the follow-up keys act on."""
    native_name: str | None = None
    """The name in the patient's own script (the two above are the passport's)."""

    @property
    def display_name(self) -> str:
        """Family name first, as the clinic files it."""
        return f"{self.family_name} {self.given_name}"


@dataclass(frozen=True)
class ProductRecord:
    """A product given in an episode, traceable to its lot."""

    name: str
    mfds_reference: str | None
    manufacturer: str | None
    lot_number: str | None
    expiry_date: date | None
    dose: str | None


@dataclass(frozen=True)
class AddOn:
    """An add-on infusion recorded on the episode."""

    code: str
    label: str
    dose: str | None


@dataclass(frozen=True)
class ChecklistItem:
    """One document the patient should have left with, and who ticked it when.

    `by` (a login) and `at` are None for items recorded before ticks kept them
    (a plain true/false on the episode) and for items nobody has ticked yet.
    """

    key: str
    label: str
    given: bool
    by: str | None = None
    at: datetime | None = None

    def words(self) -> str:
        """'given by rn.park, 22 Nov 10:05'; '' when nobody is known to have ticked it."""
        if self.by is None:
            return ""
        said = "given" if self.given else "marked not given"
        when = f", {self.at.astimezone(CLINIC_TZ):%d %b %H:%M}" if self.at else ""
        return f"{said} by {self.by}{when}"


@dataclass(frozen=True)
class EpisodeRecord:
    """One trip's treatment as the patient screen shows it."""

    episode_id: int
    procedure_at: datetime
    protocol: Protocol
    treating_physician: str | None
    nurse_name: str | None
    nurse_license_ref: str | None
    addons: tuple[AddOn, ...]
    schedule_templates: tuple[str, ...]
    departure_date: date | None
    travel_insurer: str | None
    travel_policy_number: str | None
    khidi_cover_ref: str | None
    allergies: str | None
    vasovagal_history: bool | None
    """None: nobody recorded it (an import), which is not "no"."""
    sensitive_skin: bool | None
    products: tuple[ProductRecord, ...]
    documentation: tuple[ChecklistItem, ...]
    has_allergies: bool | None = None
    """False: asked, none known. None: never asked. True goes with `allergies`."""
    products_recorded: bool | None = None
    """Whether an empty `products` means "none given" (True) or "not recorded"."""
    addons_recorded: bool | None = None
    """Whether an empty `addons` means "none given" (True) or "not recorded"."""
    version: int | None = None
    """The episode's version when read: a checklist tick from this view is checked against it."""

    @property
    def allergies_words(self) -> str:
        """The allergies as every surface says them (`allergy_words`)."""
        return allergy_words(self.has_allergies, self.allergies)

    @property
    def no_addons_words(self) -> str:
        """What an empty add-on list means: 'none given' or 'not recorded'."""
        return nothing_given_words(self.addons_recorded)

    @property
    def no_products_words(self) -> str:
        """What an empty product list means: 'none given' or 'not recorded'."""
        return nothing_given_words(self.products_recorded)

    @property
    def protocol_label(self) -> str:
        """The protocol as a coordinator says it."""
        return _PROTOCOL_LABELS.get(self.protocol, self.protocol.value)

    @property
    def missing_documents(self) -> tuple[ChecklistItem, ...]:
        """Checklist items the patient did not leave with."""
        return tuple(item for item in self.documentation if not item.given)


# --- recorded or not ----------------------------------------------------------
# A history question nobody asked is not a "no". Every surface (patient screen,
# summary, PDF, FHIR) says these through the functions below, so none of them
# can turn a blank into a reassuring negative.

NOT_RECORDED = "not recorded"


def recorded_words(value: bool | None) -> str:
    """A yes/no history answer: 'yes', 'no', or 'not recorded' when nobody asked."""
    if value is None:
        return NOT_RECORDED
    return "yes" if value else "no"


def allergy_words(has_allergies: bool | None, allergies: str | None) -> str:
    """The allergies in words; 'none known' only when someone confirmed there are none.

    The text wins whenever there is one (older rows hold text without the flag).
    """
    text = (allergies or "").strip()
    if text:
        return text
    if has_allergies is False:
        return "none known"
    if has_allergies is True:
        return "yes, details not recorded"
    return NOT_RECORDED


def nothing_given_words(recorded: bool | None) -> str:
    """What an empty product or add-on list means: 'none given' when recorded as
    empty, 'not recorded' when nobody filled it in."""
    return "none given" if recorded else NOT_RECORDED


def channel_label(channel: Channel) -> str:
    """The messenger as patients spell it: 'LINE', 'WeChat', 'KakaoTalk'."""
    return _CHANNEL_LABELS.get(channel, channel.value)


def documentation_checklist(recorded: Mapping[str, object]) -> tuple[ChecklistItem, ...]:
    """The full discharge checklist from what the episode recorded.

    An item never recorded counts as not given, so a half-filled checklist
    shows its gaps; items the clinic added beyond the standard list follow.
    Each item is stored as {"given", "by", "at"}; rows written before ticks
    kept who and when hold a plain true/false and still read.
    """
    known = {key for key, _ in DOCUMENT_ITEMS}
    standard = [_checklist_item(key, label, recorded.get(key)) for key, label in DOCUMENT_ITEMS]
    extra = [
        _checklist_item(key, key.replace("_", " ").capitalize(), value)
        for key, value in recorded.items()
        if key not in known
    ]
    return (*standard, *extra)


def _checklist_item(key: str, label: str, stored: object) -> ChecklistItem:
    if not isinstance(stored, Mapping):
        return ChecklistItem(key, label, stored is True)
    by, at = stored.get("by"), stored.get("at")
    try:
        when = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:  # a hand-edited time must not hide the tick itself
        when = None
    return ChecklistItem(key, label, stored.get("given") is True, str(by) if by else None, when)


def documents_missing(recorded: Mapping[str, object]) -> bool:
    """Whether any checklist item is not given (what the queue marks once the
    patient has left Seoul)."""
    return any(not item.given for item in documentation_checklist(recorded))


def document_tick(given: bool, by: str, at: datetime) -> dict[str, object]:
    """One checklist item as the episode stores it: given or not, by whom, when."""
    return {"given": given, "by": by, "at": at.isoformat()}


@dataclass(frozen=True)
class ChecklistTicks:
    """What the checklist form changed: item key -> given, only the items changed."""

    ticks: tuple[tuple[str, bool], ...]


def parse_addons(recorded: Sequence[object]) -> tuple[AddOn, ...]:
    """Add-ons as stored on the episode: codes ("glutathione_high_dose") or
    objects with a name and dose ({"name": "glutathione", "dose": "1200 mg"})."""
    addons: list[AddOn] = []
    for item in recorded:
        if isinstance(item, Mapping):
            code = str(item.get("name") or item.get("code") or "?")
            dose = item.get("dose")
            addons.append(AddOn(code, _addon_label(code), None if dose is None else str(dose)))
        else:
            addons.append(AddOn(str(item), _addon_label(str(item)), None))
    return tuple(addons)


def _addon_label(code: str) -> str:
    return _ADDON_LABELS.get(code, code.replace("_", " ").capitalize())


# --- the parts of the timeline ----------------------------------------------


@dataclass(frozen=True)
class TouchpointRecord:
    """A planned contact, with its stored resolution if any."""

    touchpoint_id: int
    template: str
    day: int
    due_date: date
    opens_at: datetime
    closes_at: datetime
    ask: str
    resolution: TouchpointResolution | None
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


@dataclass(frozen=True)
class AttemptRecord:
    """One try to reach the patient."""

    attempt_id: int
    at: datetime
    channel: Channel
    outcome: ContactOutcome
    note: str | None
    staff: str | None


@dataclass(frozen=True)
class TriageRecord:
    """A recorded triage with the computed and the chosen disposition."""

    triage_id: int
    assessed_at: datetime
    day: int
    temperature_c: float | None
    trend: Trend | None
    symptoms: tuple[str, ...]
    computed: Disposition
    chosen: Disposition
    override_reason: str | None
    reasons: tuple[str, ...]
    note: str | None
    staff: str | None
    labs: tuple[str, ...] = ()
    """Lab suggestions for the home physician (not orders), in words, as the
    triage made them; empty for triages recorded before they were kept."""
    needs: tuple[str, ...] = ()
    """Inputs missing at the time that could have raised the outcome, in words
    ("trend not recorded")."""


LAB_SUGGESTIONS_TITLE = "Lab suggestions for the home physician (not orders)"
"""Introduces a triage's lab suggestions wherever they are shown."""

_NEEDS_WORDS = {
    "trend": "trend not recorded",
    "protocol": "treatment protocol not recorded",
}


def needs_words(needs: Iterable[str]) -> tuple[str, ...]:
    """The inputs a triage was missing, in words: ("trend",) -> ("trend not recorded",)."""
    return tuple(_NEEDS_WORDS.get(need, f"{need.replace('_', ' ')} not recorded") for need in needs)


def lab_suggestions_line(labs: Sequence[str]) -> str | None:
    """One line with every lab suggestion of a triage, or None when it made none.

    Each suggestion is a sentence of its own, so suggestions whose wording
    holds a semicolon still read apart.
    """
    if not labs:
        return None
    return f"{LAB_SUGGESTIONS_TITLE}: " + " ".join(_sentence(lab) for lab in labs)


def needs_line(needs: Sequence[str]) -> str | None:
    """What the triage was missing, as one line, or None when nothing was."""
    if not needs:
        return None
    return "Missing when assessed (could have raised the outcome): " + "; ".join(needs)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass(frozen=True)
class IncidentNote:
    """One append-only entry of an incident's own timeline."""

    entry_id: int
    at: datetime
    kind: str
    text: str
    staff: str | None


@dataclass(frozen=True)
class IncidentRecord:
    """An adverse event and its reporting clock."""

    incident_id: int
    opened_at: datetime
    category: IncidentCategory
    seriousness: Seriousness
    severity_grade: int | None
    outcome: IncidentOutcome
    status: IncidentStatus
    report_due_on: date | None
    reported_on: date | None
    suspect_product: str | None
    notes: tuple[IncidentNote, ...]
    triage_id: int | None = None
    """The triage that opened it; None for one opened by hand."""


@dataclass(frozen=True)
class AlertPage:
    """One page of a physician alert: to whom, at which step, and what became of it."""

    step: int
    cycle: int
    to: str
    """Words: 'Dr Lee Seo-yeon', 'the on-call physician, Dr Kim', 'the senior group'."""
    status: NotificationStatus
    at: datetime
    """When it was sent, or queued when it was not sent."""


@dataclass(frozen=True)
class AlertRecord:
    """A physician escalation and how its notifications fared."""

    escalation_id: int
    created_at: datetime
    disposition: Disposition
    status: EscalationStatus
    current_step: int
    cycle: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    notifications: Mapping[NotificationStatus, int]
    """How many outbox rows are in each status."""
    last_error: str | None
    pages: tuple[AlertPage, ...] = ()
    """Every page of the alert, oldest first: who was paged."""
    triage_id: int | None = None
    incident_id: int | None = None


# --- the timeline ------------------------------------------------------------


class TimelineKind(StrEnum):
    """What a timeline entry is about."""

    TOUCHPOINT = "touchpoint"
    ATTEMPT = "attempt"
    TRIAGE = "triage"
    INCIDENT = "incident"
    ALERT = "alert"


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the patient's story."""

    kind: TimelineKind
    at: datetime
    """UTC instant the entry is filed under."""
    title: str
    detail: str
    state: str | None
    """Touchpoint state, contact outcome, chosen disposition, incident or escalation status."""
    key: str
    """Unique within one dossier, e.g. 'triage-12', for table row keys."""


def build_timeline(
    now: datetime,
    touchpoints: Iterable[TouchpointRecord] = (),
    attempts: Iterable[AttemptRecord] = (),
    triages: Iterable[TriageRecord] = (),
    incidents: Iterable[IncidentRecord] = (),
    alerts: Iterable[AlertRecord] = (),
) -> tuple[TimelineEntry, ...]:
    """Merge every part into one list, oldest first.

    A resolved touchpoint is filed when it was resolved, an open one when its
    window opens (so future touchpoints come last). Ties keep a stable order:
    touchpoint, attempt, triage, incident, alert, then by key.
    """
    entries = [
        *(_touchpoint_entry(t, now) for t in touchpoints),
        *(_attempt_entry(a) for a in attempts),
        *(_triage_entry(t) for t in triages),
        *(e for i in incidents for e in _incident_entries(i)),
        *(_alert_entry(a) for a in alerts),
    ]
    kinds = list(TimelineKind)
    return tuple(sorted(entries, key=lambda e: (e.at, kinds.index(e.kind), _key_order(e.key))))


def _key_order(key: str) -> tuple[str, int]:
    # "attempt-10" after "attempt-9": compare the id as a number.
    prefix, _, number = key.rpartition("-")
    return (prefix, int(number)) if number.isdigit() else (key, 0)


def _touchpoint_entry(tp: TouchpointRecord, now: datetime) -> TimelineEntry:
    state = touchpoint_state(now, tp.opens_at, tp.closes_at, tp.resolution)
    at = tp.resolved_at if tp.resolution is not None and tp.resolved_at else tp.opens_at
    by = f" by {tp.resolved_by}" if tp.resolved_by else ""
    detail = _join(tp.ask, f"Note{by}: {tp.note}" if tp.note else None)
    return TimelineEntry(
        kind=TimelineKind.TOUCHPOINT,
        at=at,
        title=f"Day {tp.day} check-in ({tp.template}), due {tp.due_date:%d %b}",
        detail=detail,
        state=state.value,
        key=f"touchpoint-{tp.touchpoint_id}",
    )


def _attempt_entry(attempt: AttemptRecord) -> TimelineEntry:
    by = f" by {attempt.staff}" if attempt.staff else ""
    outcome = CONTACT_OUTCOME_WORDS.get(attempt.outcome, attempt.outcome.value)
    return TimelineEntry(
        kind=TimelineKind.ATTEMPT,
        at=attempt.at,
        title=f"Contact via {channel_label(attempt.channel)}{by}: {outcome}",
        detail=attempt.note or "",
        state=attempt.outcome.value,
        key=f"attempt-{attempt.attempt_id}",
    )


def triage_title(triage: TriageRecord) -> str:
    """'Triage day 2 by Kim RN: urgent (computed emergency)'."""
    overridden = triage.chosen is not triage.computed
    outcome = (
        f"{triage.chosen.value} (computed {triage.computed.value})"
        if overridden
        else triage.chosen.value
    )
    by = f" by {triage.staff}" if triage.staff else ""
    return f"Triage day {triage.day}{by}: {outcome}"


def triage_findings(triage: TriageRecord) -> str:
    """What the patient reported, in words: 'chills, 38.6 °C, trend stable'."""
    findings = symptom_words(triage.symptoms) or "nothing reported"
    temperature = f"{triage.temperature_c:.1f} °C" if triage.temperature_c is not None else None
    trend = f"trend {triage.trend.value}" if triage.trend else None
    return ", ".join(p for p in (findings, temperature, trend) if p)


def triage_lines(triage: TriageRecord) -> tuple[str, ...]:
    """A triage's detail, one line each: findings, rules, what was missing, lab
    suggestions, an override's reason, the note (the decision note is not among
    them: each surface says it where it fits)."""
    override = triage.override_reason if triage.chosen is not triage.computed else None
    lines = (
        f"Findings: {triage_findings(triage)}",
        "Rules: " + "; ".join(triage.reasons) if triage.reasons else None,
        needs_line(triage.needs),
        lab_suggestions_line(triage.labs),
        f"Override reason: {override}" if override else None,
        f"Note: {triage.note}" if triage.note else None,
    )
    return tuple(line for line in lines if line)


def _triage_entry(triage: TriageRecord) -> TimelineEntry:
    detail = _join(*triage_lines(triage), DECISION_NOTE)
    return TimelineEntry(
        kind=TimelineKind.TRIAGE,
        at=triage.assessed_at,
        title=triage_title(triage),
        detail=detail,
        state=triage.chosen.value,
        key=f"triage-{triage.triage_id}",
    )


def _incident_entries(incident: IncidentRecord) -> list[TimelineEntry]:
    grade = f", grade {incident.severity_grade}" if incident.severity_grade is not None else ""
    clock = (
        f"reported {incident.reported_on:%d %b %Y}"
        if incident.reported_on
        else f"report due {incident.report_due_on:%d %b %Y}"
        if incident.report_due_on
        else "no report due date"
    )
    opened = TimelineEntry(
        kind=TimelineKind.INCIDENT,
        at=incident.opened_at,
        title=(
            f"Incident #{incident.incident_id} opened: {_words(incident.category)} "
            f"({seriousness_words(incident.seriousness)}{grade})"
        ),
        detail=_join(
            f"Outcome {_words(incident.outcome)}; {clock}",
            f"Suspect product: {incident.suspect_product}" if incident.suspect_product else None,
        ),
        state=incident.status.value,
        key=f"incident-{incident.incident_id}",
    )
    notes = [
        TimelineEntry(
            kind=TimelineKind.INCIDENT,
            at=note.at,
            title=f"Incident #{incident.incident_id}: {entry_words(note.kind)}"
            + (f" by {note.staff}" if note.staff else ""),
            detail=note.text,
            state=None,
            key=f"incident-note-{note.entry_id}",
        )
        for note in incident.notes
    ]
    return [opened, *notes]


def _alert_entry(alert: AlertRecord) -> TimelineEntry:
    counts = ", ".join(
        f"{count} {status.value}" for status, count in sorted(alert.notifications.items()) if count
    )
    acknowledged = (
        f"Acknowledged {clinic_time_label(alert.acknowledged_at)}"
        + (f" by {alert.acknowledged_by}" if alert.acknowledged_by else "")
        if alert.acknowledged_at
        else None
    )
    return TimelineEntry(
        kind=TimelineKind.ALERT,
        at=alert.created_at,
        title=(
            f"Physician alert ({alert.disposition.value}), "
            f"step {alert.current_step}, cycle {alert.cycle}"
        ),
        detail=_join(
            f"Notifications: {counts}" if counts else "No notifications queued",
            acknowledged,
            f"Last delivery error: {alert.last_error}" if alert.last_error else None,
        ),
        state=alert.status.value,
        key=f"alert-{alert.escalation_id}",
    )


def entry_words(kind: str) -> str:
    """An incident entry's stored kind as the incident screen names it:
    'home_physician_contact' -> 'Contact with home physician' (`core.labels`)."""
    return _entry_words(kind)


def symptom_words(codes: Iterable[str]) -> str:
    """Stored symptom codes as a nurse says them: 'redness (erythema), warmth'
    (`core.labels.finding_words`, the one table)."""
    return finding_words(codes)


def seriousness_words(seriousness: Seriousness) -> str:
    """Seriousness as the timeline says it; an unassessed one is never 'non-serious'."""
    if seriousness is Seriousness.NOT_ASSESSED:
        return "seriousness not yet assessed"
    return _words(seriousness)


def _join(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def _words(value: StrEnum) -> str:
    return value.value.replace("_", " ")


# --- the whole dossier and "local time now" ----------------------------------


@dataclass(frozen=True)
class PatientDossier:
    """Everything the patient screen shows, read at one instant."""

    identity: PatientIdentity
    episodes: tuple[EpisodeRecord, ...]
    """Most recent procedure first."""
    timeline: tuple[TimelineEntry, ...]
    """Oldest first."""
    read_at: datetime
    triages: tuple[TriageRecord, ...] = ()
    """The triages of the timeline as records, oldest first: what exports
    carry beyond the timeline's words (lab suggestions, who decides)."""
    attempts: tuple[AttemptRecord, ...] = ()
    """Every try to reach the patient, oldest first (the summary lists them with notes)."""
    incidents: tuple[IncidentRecord, ...] = ()
    """The incidents of the timeline as records, oldest first (which triage opened each)."""
    alerts: tuple[AlertRecord, ...] = ()
    """Physician alerts with their pages, oldest first."""


@dataclass(frozen=True)
class LocalTimes:
    """'Now' for the clinic and for the patient, each with its label."""

    clinic: datetime
    """Now in Asia/Seoul."""
    patient: datetime
    """Now on the patient's wall clock (UTC when their zone is unknown)."""
    patient_zone: str
    """The IANA name recorded for the patient."""
    patient_zone_known: bool

    @property
    def clinic_label(self) -> str:
        """'Clinic (KST): Sun 22 Nov 15:00'."""
        return f"Clinic (KST): {self.clinic:%a %d %b %H:%M}"

    @property
    def patient_label(self) -> str:
        """'Patient local (Asia/Tokyo, UTC+9): Sun 22 Nov 15:00': the zone's name and
        offset, never letters ("CST" is China to the clinic, US Central to others)."""
        if not self.patient_zone_known:
            return (
                f"Patient local: unknown time zone {self.patient_zone!r}; "
                f"UTC now {self.patient:%a %d %b %H:%M}"
            )
        zone = f"{self.patient_zone}, {utc_offset_words(self.patient.utcoffset())}"
        return f"Patient local ({zone}): {self.patient:%a %d %b %H:%M}"


def local_times(now: datetime, patient_timezone: str) -> LocalTimes:
    """Clinic time (Asia/Seoul) and the patient's wall-clock time at `now`.

    A time zone the system cannot load is said to be unknown rather than
    silently shown as clinic time.
    """
    zone = patient_zone(patient_timezone)
    return LocalTimes(
        clinic=now.astimezone(CLINIC_TZ),
        patient=now.astimezone(zone or UTC),
        patient_zone=patient_timezone,
        patient_zone_known=zone is not None,
    )


def patient_zone(name: str) -> ZoneInfo | None:
    """The patient's time zone, or None when the name is not a loadable IANA zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def clinic_time_label(at: datetime) -> str:
    """An instant in clinic time, labelled: '20 Nov 14:05 KST'."""
    return f"{at.astimezone(CLINIC_TZ):%d %b %H:%M} KST"
