"""The English summary for a home physician, as document blocks.

Read as its reader reads it: a physician abroad who has never seen the
clinic's screens. So every time names its zone with its offset (never `KST`
or `CST`), every stored code is said in words from the one label table
(`core.labels`), and each triage outcome word is explained once.

Procedure, products with MFDS reference and lot, one timeline of check-ins,
contact attempts (with their notes), triages (findings in words, lab
suggestions) and physician alerts (who was paged, who acknowledged, when);
each incident once, named by what was found, with whether a physician has
assessed it; the current status as it stands on the day of the export; how
to reach the clinic. Return-trip planning (the long-cycle reminders, the
departure date, the discharge checklist) is the clinic's business, not the
clinical handover, and stays out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.countries import country_name, reporting_route
from core.domain import Disposition, IncidentStatus, Seriousness, TouchpointState
from core.dossier import (
    DECISION_NOTE,
    AlertRecord,
    AttemptRecord,
    EpisodeRecord,
    IncidentNote,
    TouchpointRecord,
    TriageRecord,
    channel_label,
    patient_zone,
    recorded_words,
    symptom_words,
    triage_findings,
    triage_lines,
    triage_title,
)
from core.exports.document import Block, Bullet, BulletList, Document, Heading, Paragraph, Table
from core.exports.labels import (
    WHO_DECIDES,
    addon_words,
    clinic_and_local_time,
    clinic_zone_words,
    patient_zone_words,
    product_words,
    report_words,
)
from core.exports.records import ClinicContact, IncidentDetail, PatientExport
from core.incident_log import EntryKind
from core.labels import (
    ALERT_STATUS_WORDS,
    CHECK_IN_STATE_WORDS,
    CONTACT_OUTCOME_WORDS,
    DISPOSITION_EXPLANATIONS,
    INCIDENT_STATUS_WORDS,
    NOT_YET_ASSESSED,
    OUTCOME_LABELS,
    PAGE_STATUS_WORDS,
    SERIOUSNESS_LABELS,
    category_words,
    clinic_time_words,
    date_words,
    days_words,
    disposition_word,
    entry_words,
)
from core.messages import language_name
from core.schedules import touchpoint_state

TITLE = "Post-treatment follow-up summary for the home physician"
NATIVE_NAME_NOT_PRINTABLE = "(recorded in the workstation; this PDF cannot print that script)"

RETURN_PLANNING_TEMPLATES = frozenset({"return-cycle"})
"""Schedule templates that plan the patient's next trip rather than follow their
recovery: their reminders are left out of the clinical handover."""

_PRODUCT_HEADER = ("Product", "MFDS reference", "Lot number", "Expiry", "Manufacturer", "Dose")


def build_summary(export: PatientExport, clinic: ClinicContact) -> Document:
    """The whole summary for one patient, as of `export.read_at`."""
    identity = export.identity
    blocks: list[Block] = [
        Paragraph(
            f"From {clinic.name}, Seoul, for the home physician of "
            f"{identity.display_name} ({identity.code}). "
            f"Prepared {clinic_time_words(export.read_at)}."
        ),
        Paragraph(
            "This is the clinic's follow-up record, kept by coordinators as decision "
            f"support; it is not a diagnosis. {DECISION_NOTE}"
        ),
        *_patient(export),
        *_procedures(export),
        *_timeline(export),
        *_outcomes(export),
        *_incidents(export),
        *_status(export),
        *_contact(export, clinic),
    ]
    # Both names on every page: the passport name as "Family, Given" (so "Brown, Ryan"
    # never reads as given name Brown) and the name in the patient's own script.
    running = f"{identity.family_name}, {identity.given_name}"
    if identity.native_name:
        running += f" / {identity.native_name}"
    return Document(
        title=TITLE, blocks=tuple(blocks), running_names=running, language=identity.language
    )


# --- patient and procedure -------------------------------------------------------------


def _patient(export: PatientExport) -> list[Block]:
    who = export.identity
    born = date_words(who.birth_date) if who.birth_date else "not recorded"
    return [
        Heading("Patient"),
        BulletList(
            (
                Bullet(
                    f"Name (family, given): {who.family_name}, {who.given_name} "
                    "(as in the passport)"
                ),
                *_native_name(who.native_name),
                Bullet(f"Clinic patient code: {who.code}"),
                Bullet(f"Date of birth: {born}"),
                Bullet(f"Home country: {_country(who.home_country)}"),
                Bullet(f"Now in: {_country(who.current_country)}"),
                Bullet(f"Language: {_language(who.language)}"),
                Bullet(f"Time zone: {patient_zone_words(export.read_at, who.timezone)}"),
            )
        ),
    ]


def _native_name(name: str | None) -> tuple[Bullet, ...]:
    if not name:
        return ()
    return (
        Bullet(
            f"Name in own script: {name}",
            print_text=f"Name in own script: {NATIVE_NAME_NOT_PRINTABLE}",
        ),
    )


def _language(tag: str) -> str:
    name = language_name(tag)
    return f"{name} ({tag})" if name != tag else tag


def _procedures(export: PatientExport) -> list[Block]:
    blocks: list[Block] = [Heading("Procedure")]
    if not export.episodes:
        return [*blocks, Paragraph("No treatment episode is recorded.")]
    for episode in export.episodes:
        blocks += _episode(episode, export.identity.timezone)
    return blocks


def _episode(episode: EpisodeRecord, patient_timezone: str) -> list[Block]:
    when = clinic_and_local_time(episode.procedure_at, patient_timezone)
    nurse = episode.nurse_name or "not recorded"
    if episode.nurse_name and episode.nurse_license_ref:
        nurse += f" (licence {episode.nurse_license_ref})"
    addons = addon_words(episode)
    schedules = [t for t in episode.schedule_templates if t not in RETURN_PLANNING_TEMPLATES]
    facts = [
        Bullet(f"Procedure: {when}"),
        Bullet(f"Treating physician: {episode.treating_physician or 'not recorded'}"),
        Bullet(f"Nurse: {nurse}"),
        Bullet(f"Add-on infusions: {addons or episode.no_addons_words}"),
        Bullet(f"Known allergies: {episode.allergies_words}"),
        Bullet(f"Vasovagal history: {recorded_words(episode.vasovagal_history)}"),
        Bullet(f"Sensitive skin: {recorded_words(episode.sensitive_skin)}"),
        Bullet(f"Follow-up schedules: {', '.join(schedules) or 'none'}"),
    ]
    blocks: list[Block] = [
        Heading(f"{episode.protocol_label}, {clinic_time_words(episode.procedure_at)}", 3),
        BulletList(tuple(facts)),
        Heading("Products given", 4),
    ]
    if not episode.products:
        return [*blocks, Paragraph(f"Products given: {episode.no_products_words}.")]
    rows = tuple(
        (
            p.name,
            p.mfds_reference or "not recorded",
            p.lot_number or "not recorded",
            date_words(p.expiry_date) if p.expiry_date else "not recorded",
            p.manufacturer or "",
            p.dose or "",
        )
        for p in episode.products
    )
    return [*blocks, Table(_PRODUCT_HEADER, rows)]


# --- the timeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """One timeline item before it is laid out: sorted by time, then kind, then id."""

    at: datetime
    order: int
    ident: int
    text: str
    details: tuple[str, ...] = ()


def _timeline(export: PatientExport) -> list[Block]:
    zone = export.identity.timezone
    lines = sorted(
        [
            *(_check_in_line(tp, export.read_at) for tp in _clinical_check_ins(export)),
            *(_attempt_line(a) for a in export.dossier.attempts),
            *(_triage_line(t) for t in export.dossier.triages),
            *(_incident_line(i, export) for i in export.incidents),
            *(_alert_line(a) for a in export.dossier.alerts),
        ],
        key=lambda line: (line.at, line.order, line.ident),
    )
    intro = Paragraph(
        "Oldest first. Each time is given in clinic time (Seoul) and in the patient's own "
        "time, each with its zone and UTC offset. Check-ins not yet done are listed when "
        "their window opens. Incident entries are under Incidents below."
    )
    if not lines:
        return [Heading("Timeline"), intro, Paragraph("Nothing recorded yet.")]
    items = tuple(
        Bullet(f"{clinic_and_local_time(line.at, zone)}: {line.text}", line.details)
        for line in lines
    )
    return [Heading("Timeline"), intro, BulletList(items)]


def _clinical_check_ins(export: PatientExport) -> list[TouchpointRecord]:
    return [
        tp
        for tps in export.episode_touchpoints.values()
        for tp in tps
        if tp.template not in RETURN_PLANNING_TEMPLATES
    ]


def _check_in_line(tp: TouchpointRecord, now: datetime) -> _Line:
    state = touchpoint_state(now, tp.opens_at, tp.closes_at, tp.resolution)
    at = tp.resolved_at if tp.resolution is not None and tp.resolved_at else tp.opens_at
    by = f" by {tp.resolved_by}" if tp.resolved_by else ""
    details = (tp.ask, *([f"Note{by}: {tp.note}"] if tp.note else []))
    return _Line(
        at,
        0,
        tp.touchpoint_id,
        f"Day {tp.day} check-in ({tp.template}), due {date_words(tp.due_date)}: "
        f"{CHECK_IN_STATE_WORDS[state]}",
        details,
    )


def _attempt_line(attempt: AttemptRecord) -> _Line:
    by = f" by {attempt.staff}" if attempt.staff else ""
    outcome = CONTACT_OUTCOME_WORDS[attempt.outcome]
    note = (f"Note: {attempt.note}",) if attempt.note and attempt.note.strip() else ()
    return _Line(
        attempt.at,
        1,
        attempt.attempt_id,
        f"Contact attempt via {channel_label(attempt.channel)}{by}: {outcome}",
        note,
    )


def _triage_line(triage: TriageRecord) -> _Line:
    return _Line(
        triage.assessed_at, 2, triage.triage_id, triage_title(triage), triage_lines(triage)
    )


def _incident_line(incident: IncidentDetail, export: PatientExport) -> _Line:
    # Once per incident: its entries are listed under Incidents, not here again.
    return _Line(
        incident.opened_at,
        3,
        incident.incident_id,
        f"Incident #{incident.incident_id} opened: {_incident_name(incident, export)}; "
        "its details and entries are under Incidents below",
    )


def _alert_line(alert: AlertRecord) -> _Line:
    pages = tuple(
        f"Paged {page.to}: {PAGE_STATUS_WORDS[page.status]}, {clinic_time_words(page.at)}"
        for page in alert.pages
    )
    if alert.acknowledged_at is not None:
        by = f" by {alert.acknowledged_by}" if alert.acknowledged_by else ""
        answered = f"Acknowledged{by}, {clinic_time_words(alert.acknowledged_at)}"
    else:
        answered = f"Not acknowledged; {ALERT_STATUS_WORDS[alert.status]}"
    about = f" on incident #{alert.incident_id}" if alert.incident_id is not None else ""
    return _Line(
        alert.created_at,
        4,
        alert.escalation_id,
        f"Physician alert ({disposition_word(alert.disposition)}){about}",
        (*pages, answered) if pages else ("No page was queued", answered),
    )


# --- the legend ----------------------------------------------------------------------------


def _outcomes(export: PatientExport) -> list[Block]:
    """Each triage outcome word the summary uses, explained once, with who decides."""
    used = {d for t in export.dossier.triages for d in (t.computed, t.chosen)}
    used |= {a.disposition for a in export.dossier.alerts}
    if export.identity.latest_disposition is not None:
        used.add(export.identity.latest_disposition)
    blocks: list[Block] = [Heading("Triage outcomes and who decides"), Paragraph(WHO_DECIDES)]
    if not used:
        return [*blocks, Paragraph("No triage has been recorded.")]
    words = tuple(Bullet(DISPOSITION_EXPLANATIONS[d]) for d in Disposition if d in used)
    return [*blocks, BulletList(words)]


# --- incidents -----------------------------------------------------------------------------


def _opening_triage(incident: IncidentDetail, export: PatientExport) -> TriageRecord | None:
    triage_id = next(
        (i.triage_id for i in export.dossier.incidents if i.incident_id == incident.incident_id),
        None,
    )
    return next((t for t in export.dossier.triages if t.triage_id == triage_id), None)


def _incident_name(incident: IncidentDetail, export: PatientExport) -> str:
    """What was found, not a stronger claim: an incident a triage opened is named by
    the findings of that triage ('hives (urticaria)'), never by its category alone
    ('allergic reaction or anaphylaxis'), which is a bucket for reporting."""
    triage = _opening_triage(incident, export)
    if triage is not None and triage.symptoms:
        return f"{symptom_words(triage.symptoms)} (found at the day {triage.day} triage)"
    return category_words(incident.category)


def _assessment(incident: IncidentDetail) -> tuple[str, str]:
    """(assessment words, who chose the category) from the incident's own entries."""
    classified = [n for n in incident.notes if n.kind == EntryKind.CLASSIFIED]
    if incident.seriousness is Seriousness.NOT_ASSESSED:
        return NOT_YET_ASSESSED, "suggested from the findings, not yet assessed by a physician"
    if classified:
        last = classified[-1]
        by = f" by {last.staff}" if last.staff else ""
        return (
            f"assessed{by}, {clinic_time_words(last.at)}",
            "as classified at that assessment",
        )
    return "assessed", "as recorded by the clinic"


def _closed_on(incident: IncidentDetail) -> IncidentNote | None:
    """The entry that closed the incident (the latest close after any reopening)."""
    for note in reversed(incident.notes):
        if note.kind == EntryKind.REOPENED:
            return None
        if note.kind == EntryKind.CLOSED:
            return note
    return None


def _status_words(incident: IncidentDetail) -> str:
    if incident.status is IncidentStatus.CLOSED:
        closed = _closed_on(incident)
        return f"closed {clinic_time_words(closed.at)}" if closed else "closed"
    return INCIDENT_STATUS_WORDS[incident.status]


def _incidents(export: PatientExport) -> list[Block]:
    blocks: list[Block] = [Heading("Incidents (adverse events)")]
    if not export.incidents:
        return [*blocks, Paragraph("No adverse event has been recorded.")]
    for incident in export.incidents:
        blocks += _incident(incident, export)
    route = reporting_route(export.identity.home_country)
    if route is not None:
        phone = f" (phone {route.phone})" if route.phone else ""
        blocks.append(
            Paragraph(
                f"Reporting an adverse event in {route.country_name}: "
                f"{route.authority}, {route.route}{phone}."
            )
        )
    return blocks


def _incident(incident: IncidentDetail, export: PatientExport) -> list[Block]:
    patient_timezone = export.identity.timezone
    product = (
        product_words(incident.suspect_product) if incident.suspect_product else "not recorded"
    )
    report = report_words(incident.report_due_on, incident.reported_on, incident.report_reference)
    assessment, category_source = _assessment(incident)
    triage = _opening_triage(incident, export)
    found = (
        [Bullet(f"Found at the day {triage.day} triage: {triage_findings(triage)}")]
        if triage is not None
        else []
    )
    facts = [
        *found,
        Bullet(f"Category for reporting: {category_words(incident.category)} ({category_source})"),
        Bullet(f"Physician assessment: {assessment}"),
        Bullet(f"Onset: {_onset(incident)}"),
        Bullet(f"Seriousness (ICH E2A): {_seriousness(incident.seriousness)}"),
        Bullet(
            "Severity grade (CTCAE-style): "
            + (
                str(incident.severity_grade)
                if incident.severity_grade is not None
                else "not graded"
            )
        ),
        Bullet(f"Outcome: {OUTCOME_LABELS[incident.outcome]}"),
        Bullet(f"Status: {_status_words(incident)}"),
        Bullet(f"Suspect product: {product}"),
        Bullet(f"Causality: {incident.causality or 'not assessed'}"),
        Bullet(f"Actions taken: {incident.actions_taken or 'none recorded'}"),
        Bullet(f"Report to MFDS: {report}"),
    ]
    if incident.khidi_escalated_on:
        reference = f", reference {incident.khidi_reference}" if incident.khidi_reference else ""
        facts.append(
            Bullet(
                "Escalated to KHIDI (Korea Health Industry Development Institute): "
                f"{date_words(incident.khidi_escalated_on)}{reference}"
            )
        )
    blocks: list[Block] = [
        Heading(f"Incident #{incident.incident_id}: {_incident_name(incident, export)}", 3),
        BulletList(tuple(facts)),
    ]
    if incident.notes:
        entries = tuple(
            Bullet(
                f"{clinic_and_local_time(note.at, patient_timezone)}: "
                f"{entry_words(note.kind)}" + (f" by {note.staff}" if note.staff else ""),
                tuple(line for line in note.text.splitlines() if line.strip()),
            )
            for note in incident.notes
        )
        blocks += [Paragraph("Entries, oldest first:"), BulletList(entries)]
    return blocks


def _seriousness(seriousness: Seriousness) -> str:
    words = SERIOUSNESS_LABELS[seriousness]
    if seriousness is Seriousness.NOT_ASSESSED:
        # A triage opened it; until a physician classifies it, the report
        # deadline is the one the triage suggests.
        return f"{words}; until then the report deadline follows the triage"
    return words


def _onset(incident: IncidentDetail) -> str:
    parts = []
    if incident.onset_day is not None:
        parts.append(f"day {incident.onset_day} after the procedure")
    if incident.onset_date is not None:
        parts.append(date_words(incident.onset_date))
    learned = f"clinic learned of it {date_words(incident.learned_on)}"
    return ", ".join([*parts, learned])


# --- current status --------------------------------------------------------------------------


def _status(export: PatientExport) -> list[Block]:
    """What is true on the day of the export: a closed incident is not current, and a
    check-in past its window is called overdue, with since when."""
    touchpoints = _clinical_check_ins(export)
    states = Counter(
        touchpoint_state(export.read_at, tp.opens_at, tp.closes_at, tp.resolution)
        for tp in touchpoints
    )
    counted = ", ".join(
        f"{states[s]} {CHECK_IN_STATE_WORDS[s]}" for s in TouchpointState if states[s]
    )
    return [
        Heading("Current status"),
        BulletList(
            (
                Bullet(f"Latest triage: {_latest_triage(export)}"),
                Bullet(f"Open incidents: {_open_incidents(export)}"),
                Bullet(f"Follow-up check-ins: {counted or 'none planned'}"),
                Bullet(f"Next check-in: {_next_check_in(export, touchpoints)}"),
            )
        ),
    ]


def _latest_triage(export: PatientExport) -> str:
    triages = export.dossier.triages
    if not triages:
        latest = export.identity.latest_disposition
        return disposition_word(latest) if latest is not None else "no triage yet"
    triage = triages[-1]
    said = (
        f"{disposition_word(triage.chosen)} on day {triage.day}, "
        f"{clinic_time_words(triage.assessed_at)}"
    )
    opened = [
        i
        for i in export.incidents
        if any(
            r.incident_id == i.incident_id and r.triage_id == triage.triage_id
            for r in export.dossier.incidents
        )
    ]
    if not opened:
        said += "; no incident was opened from it"
        if export.incidents:
            last = export.incidents[-1]
            said += f" (the latest incident, #{last.incident_id}, is {_status_words(last)})"
        return said
    return f"{said}; " + "; ".join(
        f"its incident #{i.incident_id} is {_status_words(i)}" for i in opened
    )


def _open_incidents(export: PatientExport) -> str:
    open_now = [i for i in export.incidents if i.status is IncidentStatus.OPEN]
    closed = [i for i in export.incidents if i.status is IncidentStatus.CLOSED]
    said = (
        "; ".join(f"#{i.incident_id}, {_incident_name(i, export)}" for i in open_now)
        if open_now
        else "none"
    )
    if closed:
        ids = ", ".join(f"#{i.incident_id}" for i in closed)
        said += f" (closed, so not current: {ids})"
    return said


def _next_check_in(export: PatientExport, touchpoints: Iterable[TouchpointRecord]) -> str:
    waiting = [tp for tp in touchpoints if tp.resolution is None]
    if not waiting:
        return "none planned"
    nxt = min(waiting, key=lambda tp: (tp.closes_at, tp.day, tp.touchpoint_id))
    said = f"day {nxt.day} ({nxt.template}), due {date_words(nxt.due_date)}"
    state = touchpoint_state(export.read_at, nxt.opens_at, nxt.closes_at, nxt.resolution)
    if state is TouchpointState.OVERDUE:
        zone = patient_zone(export.identity.timezone)
        today = export.read_at.astimezone(zone).date() if zone else export.read_at.date()
        late = max((today - nxt.due_date).days, 0)
        return f"{said}: overdue since {date_words(nxt.due_date)} ({days_words(late)})"
    return f"{said} (the patient's local date): {CHECK_IN_STATE_WORDS[state]}"


# --- contact ---------------------------------------------------------------------------------


def _contact(export: PatientExport, clinic: ClinicContact) -> list[Block]:
    items = [
        Bullet(f"Clinic: {clinic.name}, Seoul, South Korea ({clinic_zone_words(export.read_at)})"),
        Bullet(f"How to reach the clinic: {clinic.contact_line}"),
    ]
    items += [Bullet(f"Treating physician: {line}") for line in _physicians(export)]
    if export.identity.assigned_coordinator:
        items.append(Bullet(f"Follow-up coordinator: {export.identity.assigned_coordinator}"))
    return [Heading("Clinic contact"), BulletList(tuple(items))]


def _physicians(export: PatientExport) -> Iterable[str]:
    seen: set[str] = set()
    for episode in export.episodes:
        physician = export.physicians.get(episode.episode_id)
        if physician is None or physician.name in seen:
            continue
        seen.add(physician.name)
        reach = [
            f"licence {physician.license_ref}" if physician.license_ref else None,
            physician.email,
            physician.phone,
        ]
        extra = "; ".join(r for r in reach if r)
        yield f"{physician.name} ({extra})" if extra else physician.name


def _country(code: str) -> str:
    name = country_name(code)
    return f"{name} ({code})" if name != code else code
