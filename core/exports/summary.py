"""The English summary for a home physician, as document blocks.

Procedure, products with MFDS reference and lot, the timeline of touchpoints,
triages (with their lab suggestions) and incidents, what each triage outcome
means and who decides, the incidents in full, the current status and how to
reach the clinic. Contact attempts and physician-alert delivery stay out: they
are the clinic's own working steps, and the summary is the clinical story.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from core.countries import country_name, reporting_route
from core.domain import Disposition, IncidentStatus, Seriousness, TouchpointState
from core.dossier import (
    DECISION_NOTE,
    EpisodeRecord,
    TimelineEntry,
    TimelineKind,
    entry_words,
    recorded_words,
)
from core.exports.document import Block, Bullet, BulletList, Document, Heading, Paragraph, Table
from core.exports.labels import (
    DISPOSITION_EXPLANATIONS,
    OUTCOME_LABELS,
    SERIOUSNESS_LABELS,
    WHO_DECIDES,
    addon_words,
    clinic_and_local_time,
    product_words,
    report_words,
)
from core.exports.records import ClinicContact, IncidentDetail, PatientExport
from core.incidents import CATEGORY_LABELS
from core.schedules import CLINIC_TZ, touchpoint_state

TITLE = "Post-treatment follow-up summary for the home physician"
NATIVE_NAME_NOT_PRINTABLE = "(recorded in the workstation; this PDF cannot print that script)"

# What the timeline section keeps from the dossier's merged timeline.
_TIMELINE_KINDS = (TimelineKind.TOUCHPOINT, TimelineKind.TRIAGE, TimelineKind.INCIDENT)

_PRODUCT_HEADER = ("Product", "MFDS reference", "Lot number", "Expiry", "Manufacturer", "Dose")


def build_summary(export: PatientExport, clinic: ClinicContact) -> Document:
    """The whole summary for one patient, as of `export.read_at`."""
    identity = export.identity
    prepared = f"{export.read_at.astimezone(CLINIC_TZ):%d %b %Y %H:%M} KST"
    blocks: list[Block] = [
        Paragraph(
            f"From {clinic.name}, Seoul, for the home physician of "
            f"{identity.display_name} ({identity.code}). Prepared {prepared}."
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
    return Document(title=TITLE, blocks=tuple(blocks))


def _patient(export: PatientExport) -> list[Block]:
    who = export.identity
    born = f"{who.birth_date:%d %b %Y}" if who.birth_date else "not recorded"
    return [
        Heading("Patient"),
        BulletList(
            (
                Bullet(f"Name (family, given): {who.family_name}, {who.given_name}"),
                *_native_name(who.native_name),
                Bullet(f"Clinic patient code: {who.code}"),
                Bullet(f"Date of birth: {born}"),
                Bullet(f"Home country: {_country(who.home_country)}"),
                Bullet(f"Now in: {_country(who.current_country)}"),
                Bullet(f"Language: {who.language}; time zone {who.timezone}"),
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
    facts = [
        Bullet(f"Procedure: {when}"),
        Bullet(f"Treating physician: {episode.treating_physician or 'not recorded'}"),
        Bullet(f"Nurse: {nurse}"),
        Bullet(f"Add-on infusions: {addons or episode.no_addons_words}"),
        Bullet(f"Known allergies: {episode.allergies_words}"),
        Bullet(f"Vasovagal history: {recorded_words(episode.vasovagal_history)}"),
        Bullet(f"Sensitive skin: {recorded_words(episode.sensitive_skin)}"),
        Bullet(
            "Flew home: "
            + (f"{episode.departure_date:%d %b %Y}" if episode.departure_date else "not recorded")
        ),
        Bullet(f"Follow-up schedules: {', '.join(episode.schedule_templates) or 'none'}"),
    ]
    blocks: list[Block] = [
        Heading(
            f"{episode.protocol_label}, {episode.procedure_at.astimezone(CLINIC_TZ):%d %b %Y}", 3
        ),
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
            f"{p.expiry_date:%d %b %Y}" if p.expiry_date else "not recorded",
            p.manufacturer or "",
            p.dose or "",
        )
        for p in episode.products
    )
    return [*blocks, Table(_PRODUCT_HEADER, rows)]


def _timeline(export: PatientExport) -> list[Block]:
    entries = [e for e in export.dossier.timeline if e.kind in _TIMELINE_KINDS]
    intro = Paragraph(
        "Oldest first, in clinic time (KST) with the patient's local time. Check-ins "
        "not yet done are listed when their window opens."
    )
    if not entries:
        return [Heading("Timeline"), intro, Paragraph("Nothing recorded yet.")]
    zone = export.identity.timezone
    return [Heading("Timeline"), intro, BulletList(tuple(_timeline_item(e, zone) for e in entries))]


def _timeline_item(entry: TimelineEntry, patient_timezone: str) -> Bullet:
    text = f"{clinic_and_local_time(entry.at, patient_timezone)}: {entry.title}"
    if entry.kind is TimelineKind.TOUCHPOINT and entry.state:
        text += f" [{entry.state}]"
    # The decision note is said once at the top, not under every triage.
    details = tuple(
        line for line in entry.detail.splitlines() if line.strip() and line != DECISION_NOTE
    )
    return Bullet(text, details)


def _outcomes(export: PatientExport) -> list[Block]:
    """Each triage outcome word the summary uses, explained once, with who decides."""
    used = {d for t in export.dossier.triages for d in (t.computed, t.chosen)}
    if export.identity.latest_disposition is not None:
        used.add(export.identity.latest_disposition)
    blocks: list[Block] = [Heading("Triage outcomes and who decides"), Paragraph(WHO_DECIDES)]
    if not used:
        return [*blocks, Paragraph("No triage has been recorded.")]
    words = tuple(Bullet(DISPOSITION_EXPLANATIONS[d]) for d in Disposition if d in used)
    return [*blocks, BulletList(words)]


def _incidents(export: PatientExport) -> list[Block]:
    blocks: list[Block] = [Heading("Incidents (adverse events)")]
    if not export.incidents:
        return [*blocks, Paragraph("No adverse event has been recorded.")]
    zone = export.identity.timezone
    for incident in export.incidents:
        blocks += _incident(incident, zone)
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


def _incident(incident: IncidentDetail, patient_timezone: str) -> list[Block]:
    onset = _onset(incident)
    product = (
        product_words(incident.suspect_product) if incident.suspect_product else "not recorded"
    )
    report = report_words(incident.report_due_on, incident.reported_on, incident.report_reference)
    facts = [
        Bullet(f"Onset: {onset}"),
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
        Bullet(f"Status: {incident.status.value}"),
        Bullet(f"Suspect product: {product}"),
        Bullet(f"Causality: {incident.causality or 'not assessed'}"),
        Bullet(f"Actions taken: {incident.actions_taken or 'none recorded'}"),
        Bullet(f"Report to MFDS: {report}"),
    ]
    if incident.khidi_escalated_on:
        reference = f", reference {incident.khidi_reference}" if incident.khidi_reference else ""
        facts.append(Bullet(f"KHIDI escalation: {incident.khidi_escalated_on:%d %b %Y}{reference}"))
    blocks: list[Block] = [
        Heading(f"Incident #{incident.incident_id}: {CATEGORY_LABELS[incident.category]}", 3),
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
        parts.append(f"{incident.onset_date:%d %b %Y}")
    learned = f"clinic learned of it {incident.learned_on:%d %b %Y}"
    return ", ".join([*parts, learned])


def _status(export: PatientExport) -> list[Block]:
    identity = export.identity
    latest = identity.latest_disposition.value if identity.latest_disposition else "not triaged"
    open_incidents = [i for i in export.incidents if i.status is IncidentStatus.OPEN]
    open_text = ", ".join(f"#{i.incident_id}" for i in open_incidents) if open_incidents else "none"
    touchpoints = [tp for tps in export.episode_touchpoints.values() for tp in tps]
    states = Counter(
        touchpoint_state(export.read_at, tp.opens_at, tp.closes_at, tp.resolution)
        for tp in touchpoints
    )
    counted = ", ".join(f"{states[s]} {s.value}" for s in TouchpointState if states[s])
    nxt = next((tp for tp in touchpoints if tp.touchpoint_id == identity.next_touchpoint_id), None)
    next_text = (
        f"day {nxt.day} ({nxt.template}), due {nxt.due_date:%d %b %Y} patient local date"
        if nxt
        else "none planned"
    )
    return [
        Heading("Current status"),
        BulletList(
            (
                Bullet(f"Latest triage outcome: {latest}"),
                Bullet(f"Open incidents: {open_text}"),
                Bullet(f"Follow-up check-ins: {counted or 'none planned'}"),
                Bullet(f"Next check-in: {next_text}"),
            )
        ),
    ]


def _contact(export: PatientExport, clinic: ClinicContact) -> list[Block]:
    items = [
        Bullet(f"Clinic: {clinic.name}, Seoul, South Korea"),
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
