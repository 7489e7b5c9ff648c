"""The incident log in the database: listing, reading one incident, and every
change a coordinator or physician makes to it.

Each change runs in the caller's transaction and, in that same transaction,
bumps the change marker, appends a timeline entry (entries are never edited:
a correction is a new entry) and an audit event with before and after. Every
change names the version it was made from; if someone else changed the
incident since, `StaleIncident` (a `core.refusals.StaleEdit`) says who and
nothing is written.

An incident is opened in one way, `open_incident`, whether a triage opened it
(db.triage) or a person did by hand (`open_by_hand`): the same row, the same
first timeline entry and the same audit event shape.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core.commands import Closing, DateCorrection, DatedReference, NewIncident, dates_problem
from core.domain import IncidentCategory, IncidentOutcome, IncidentStatus, Seriousness
from core.dossier import IncidentNote, ProductRecord, parse_addons
from core.incident_log import (
    HAND_WRITTEN,
    EntryKind,
    IncidentDetail,
    IncidentExport,
    IncidentFilter,
    IncidentLine,
    StatusFilter,
    TimelineItem,
    check_grade,
    disagreement,
    order_incidents,
    words,
)
from core.incidents import (
    DEFAULT_REPORTING,
    ReportingPolicy,
    clinic_today,
    triage_clock_disposition,
)
from core.permissions import Action, allowed
from core.refusals import NotFound, StaleEdit
from core.schedules import CLINIC_TZ
from db import audit
from db.conflicts import ACTION_WORDS, last_change
from db.followup import Actor, FollowUpConflict, PermissionRefused, mark_changed, require
from db.models import (
    AuditEvent,
    ContactAttempt,
    Incident,
    IncidentEntry,
    Patient,
    ProductGiven,
    Staff,
    TreatmentEpisode,
    TriageAssessment,
)

# The log is a working list, not an archive: past this many rows the filter
# should be narrowed (the screen says so). 4,400 incidents per 100,000 demo
# patients leaves a wide margin.
LIST_LIMIT = 5000

REFERENCE_MAX = 120


class StaleIncident(FollowUpConflict, StaleEdit):
    """Someone changed the incident since it was read; `str()` names the change and who."""


class MissingIncident(FollowUpConflict, NotFound):
    """The incident does not exist (any more)."""


# --- reading ----------------------------------------------------------------


def _line_columns() -> tuple[Any, ...]:
    return (
        Incident.id,
        Incident.patient_id,
        Patient.code,
        Patient.family_name + " " + Patient.given_name,
        Patient.current_country,
        Incident.category,
        Incident.seriousness,
        Incident.severity_grade,
        Incident.outcome,
        Incident.status,
        Incident.learned_on,
        Incident.report_due_on,
        Incident.reported_on,
        Incident.khidi_escalated_on,
        Incident.created_at,
    )


def list_incidents(
    session: Session, wanted: IncidentFilter, today: date, *, limit: int = LIST_LIMIT
) -> list[IncidentLine]:
    """The incidents `wanted` selects, most urgent report first (core.incident_log)."""
    query = select(*_line_columns()).join(Patient, Patient.id == Incident.patient_id)
    owed = and_(Incident.reported_on.is_(None), Incident.report_due_on.is_not(None))
    # The same rule as IncidentFilter.matches: overdue ignores status, and
    # "open" keeps closed incidents whose report is still owed.
    if wanted.overdue_only:
        query = query.where(Incident.reported_on.is_(None), Incident.report_due_on < today)
    elif wanted.status is StatusFilter.OPEN:
        query = query.where(or_(Incident.status == IncidentStatus.OPEN, owed))
    elif wanted.status is StatusFilter.CLOSED:
        query = query.where(Incident.status == IncidentStatus.CLOSED)
    if wanted.category is not None:
        query = query.where(Incident.category == wanted.category)
    if wanted.country is not None:
        query = query.where(Patient.current_country == wanted.country)
    # Owed reports first by due date, so the limit never cuts an urgent one.
    owed_first = or_(Incident.reported_on.is_not(None), Incident.report_due_on.is_(None))
    query = query.order_by(owed_first, Incident.report_due_on, Incident.id.desc()).limit(limit)
    return order_incidents((IncidentLine(*row) for row in session.execute(query)), today)


def incident_countries(session: Session) -> list[str]:
    """Countries that have incidents, for the country filter."""
    rows = session.execute(
        select(Patient.current_country)
        .join(Incident, Incident.patient_id == Patient.id)
        .distinct()
        .order_by(Patient.current_country)
    )
    return [country for (country,) in rows]


@dataclass(frozen=True)
class IncidentRead:
    """One incident as stored, with its patient, suspect product and own timeline
    entries: the one read the log, the patient's dossier and the exports make
    their views from (each words it for its reader)."""

    line: IncidentLine
    home_country: str
    episode_id: int | None
    triage_id: int | None
    onset_date: date | None
    onset_day: int | None
    causality: str | None
    actions_taken: str | None
    report_reference: str | None
    khidi_reference: str | None
    suspect_product_id: int | None
    suspect_product: ProductRecord | None
    version: int
    entries: tuple[IncidentNote, ...]
    """The incident's own entries in the order written; empty when not asked for."""


def read_incidents(
    session: Session,
    *,
    patient_id: int | None = None,
    incident_ids: Sequence[int] | None = None,
    with_entries: bool = True,
) -> list[IncidentRead]:
    """The incidents of one patient, or the ones named, oldest first: one query for
    the incidents (with patient and suspect product), one for all their entries."""
    query = (
        select(*_line_columns(), Patient.home_country, Incident, ProductGiven)
        .join(Patient, Patient.id == Incident.patient_id)
        .outerjoin(ProductGiven, ProductGiven.id == Incident.suspect_product_id)
        .order_by(Incident.created_at, Incident.id)
    )
    if patient_id is not None:
        query = query.where(Incident.patient_id == patient_id)
    if incident_ids is not None:
        query = query.where(Incident.id.in_(list(incident_ids)))
    rows = session.execute(query).all()
    if not rows:
        return []
    entries: dict[int, list[IncidentNote]] = defaultdict(list)
    if with_entries:
        wanted = (
            IncidentEntry.incident_id.in_([row[-2].id for row in rows])
            if patient_id is None
            else Incident.patient_id == patient_id
        )
        for entry, staff in session.execute(
            select(IncidentEntry, Staff.display_name)
            .join(Incident, Incident.id == IncidentEntry.incident_id)
            .outerjoin(Staff, Staff.id == IncidentEntry.staff_id)
            .where(wanted)
            .order_by(IncidentEntry.id)
        ):
            entries[entry.incident_id].append(
                IncidentNote(
                    entry_id=entry.id, at=entry.at, kind=entry.kind, text=entry.text, staff=staff
                )
            )
    reads = []
    for row in rows:
        incident: Incident = row[-2]
        product: ProductGiven | None = row[-1]
        reads.append(
            IncidentRead(
                line=IncidentLine(*row[:-3]),
                home_country=row[-3],
                episode_id=incident.episode_id,
                triage_id=incident.triage_id,
                onset_date=incident.onset_date,
                onset_day=incident.onset_day,
                causality=incident.causality,
                actions_taken=incident.actions_taken,
                report_reference=incident.report_reference,
                khidi_reference=incident.khidi_reference,
                suspect_product_id=incident.suspect_product_id,
                suspect_product=product_record(product) if product is not None else None,
                version=incident.version,
                entries=tuple(entries[incident.id]),
            )
        )
    return reads


def product_record(product: ProductGiven) -> ProductRecord:
    """A product given, as the dossier and the incident read show it."""
    return ProductRecord(
        name=product.name,
        mfds_reference=product.mfds_reference,
        manufacturer=product.manufacturer,
        lot_number=product.lot_number,
        expiry_date=product.expiry_date,
        dose=product.dose,
    )


def load_incident(session: Session, incident_id: int) -> IncidentDetail | None:
    """One incident with its timeline, or None if there is no such incident."""
    found = read_incidents(session, incident_ids=[incident_id])
    if not found:
        return None
    (read,) = found
    return _detail(session, read, read.line, with_timeline=True)


def _detail(
    session: Session, read: IncidentRead, line: IncidentLine, *, with_timeline: bool
) -> IncidentDetail:
    """An incident as the screen shows it; without its timeline, as the CSV exports it."""
    return IncidentDetail(
        line=line,
        home_country=read.home_country,
        onset_date=read.onset_date,
        onset_day=read.onset_day,
        suspect_product=product_words(read.suspect_product),
        causality=read.causality,
        actions_taken=read.actions_taken,
        report_reference=read.report_reference,
        khidi_reference=read.khidi_reference,
        suspect_product_id=read.suspect_product_id,
        triage_id=read.triage_id,
        version=read.version,
        timeline=tuple(_timeline(session, read)) if with_timeline else (),
        downgraded=downgraded_words(session, read) if with_timeline else None,
    )


def _downgrade(session: Session, incident: Incident | IncidentRead) -> TriageAssessment | None:
    """The triage that opened the incident, when the coordinator chose a lower
    disposition than the computed one."""
    if incident.triage_id is None:
        return None
    triage = session.get(TriageAssessment, incident.triage_id)
    if triage is None or triage.chosen_disposition.severity >= triage.computed_disposition.severity:
        return None
    return triage


def downgraded_words(session: Session, incident: Incident | IncidentRead) -> str | None:
    """'computed urgent, coordinator chose monitor: <reason>' for an incident whose
    triage was overridden down; None otherwise."""
    triage = _downgrade(session, incident)
    if triage is None:
        return None
    return (
        f"computed {triage.computed_disposition.value}, coordinator chose "
        f"{triage.chosen_disposition.value}: {triage.override_reason or 'no reason recorded'}"
    )


def product_words(product: ProductGiven | ProductRecord | None) -> str | None:
    """'Exosome 5 mL (MFDS 2024-123, lot EX-42)'."""
    if product is None:
        return None
    extra = [f"MFDS {product.mfds_reference}" if product.mfds_reference else "no MFDS reference"]
    extra.append(f"lot {product.lot_number}" if product.lot_number else "no lot recorded")
    return f"{product.name} ({', '.join(extra)})"


def _timeline(session: Session, incident: IncidentRead) -> list[TimelineItem]:
    items = [
        TimelineItem(entry.at, _entry_label(entry.kind), entry.text, entry.staff)
        for entry in incident.entries
    ]
    # Contact with the patient is logged on the queue; it belongs to the
    # incident's story from the moment the incident was opened.
    for attempt, staff in session.execute(
        select(ContactAttempt, Staff.display_name)
        .outerjoin(Staff, Staff.id == ContactAttempt.staff_id)
        .where(
            ContactAttempt.patient_id == incident.line.patient_id,
            ContactAttempt.at >= incident.line.opened_at,
        )
        .order_by(ContactAttempt.at, ContactAttempt.id)
    ):
        text = f"{words(attempt.channel)}: {words(attempt.outcome)}"
        if attempt.note:
            text += f" ({attempt.note})"
        items.append(TimelineItem(attempt.at, "Contact attempt (queue)", text, staff))
    # A stable sort keeps entries written in one instant in the order written.
    return sorted(items, key=lambda item: item.at)


def _entry_label(kind: str) -> str:
    try:
        return EntryKind(kind).label
    except ValueError:
        return kind.replace("_", " ").capitalize()


def last_changed_by(session: Session, incident_id: int) -> str | None:
    """Who (login) made the latest change to an incident; entries change nothing."""
    return session.scalar(
        select(AuditEvent.actor)
        .where(
            AuditEvent.entity == "incident",
            AuditEvent.entity_id == str(incident_id),
            AuditEvent.action.in_(_CHANGES),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )


# --- changing ----------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    """What a physician sets when grading an incident."""

    category: IncidentCategory
    seriousness: Seriousness
    severity_grade: int | None
    causality: str | None
    actions_taken: str | None
    suspect_product_id: int | None
    outcome: IncidentOutcome | None = None
    """None leaves the outcome as it is (it is usually set on closing)."""
    suspect_addon: str | None = None
    """An add-on of the incident's episode with no product row yet (an
    `episode_products` choice); it wins over `suspect_product_id`."""


def current_classification(detail: IncidentDetail) -> Classification:
    """The grading as it stands: where a physician's new grading starts from."""
    return Classification(
        category=detail.line.category,
        seriousness=detail.line.seriousness,
        severity_grade=detail.line.severity_grade,
        causality=detail.causality,
        actions_taken=detail.actions_taken,
        suspect_product_id=detail.suspect_product_id,
        outcome=detail.line.outcome,
    )


def _snapshot(incident: Incident) -> dict[str, Any]:
    return {
        "category": incident.category.value,
        "seriousness": incident.seriousness.value,
        "severity_grade": incident.severity_grade,
        "causality": incident.causality,
        "actions_taken": incident.actions_taken,
        "suspect_product": incident.suspect_product_id,
        "outcome": incident.outcome.value,
        "status": incident.status.value,
        "onset_date": incident.onset_date.isoformat() if incident.onset_date else None,
        "onset_day": incident.onset_day,
        "learned_on": incident.learned_on.isoformat(),
        "report_due_on": incident.report_due_on.isoformat() if incident.report_due_on else None,
        "reported_on": incident.reported_on.isoformat() if incident.reported_on else None,
        "report_reference": incident.report_reference,
        "khidi_escalated_on": (
            incident.khidi_escalated_on.isoformat() if incident.khidi_escalated_on else None
        ),
        "khidi_reference": incident.khidi_reference,
        "version": incident.version,
    }


def _locked(session: Session, incident_id: int, expected_version: int, now: datetime) -> Incident:
    """The incident about to change, locked, still at the version its editor read.

    The change marker is taken first: it serialises writers (see db.audit) and
    tells every open queue that something changed.
    """
    mark_changed(session, now)
    incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
    if incident is None:
        raise MissingIncident(f"incident #{incident_id} no longer exists")
    if incident.version != expected_version:
        # Entries are appends and leave the version alone: name the change that moved it.
        change = last_change(session, "incident", incident_id, _CHANGES)
        more = incident.version - expected_version - 1
        earlier = f" (after {more} earlier change{'s' if more > 1 else ''})" if more > 0 else ""
        raise StaleIncident(
            f"incident #{incident_id} was {change.words if change else 'changed'}{earlier} "
            "since you opened it; nothing was saved. The screen now shows the current state: "
            "check it and try again"
        )
    return incident


# The audited actions that change an incident (and its version).
_CHANGES = [action for action in ACTION_WORDS if action.startswith("incident.")]


# Each change an incident's timeline records, and the audited action it is.
_CHANGE_ACTION = {
    EntryKind.CLASSIFIED: "incident.classify",
    EntryKind.REPORTED: "incident.report",
    EntryKind.KHIDI: "incident.khidi",
    EntryKind.CLOSED: "incident.close",
    EntryKind.DATES_CORRECTED: "incident.correct_dates",
    EntryKind.REOPENED: "incident.reopen",
}


def _commit_change(
    session: Session,
    incident: Incident,
    before: dict[str, Any],
    kind: EntryKind,
    text: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Bump the version, append the timeline entry and audit what changed since `before`."""
    action = _CHANGE_ACTION[kind]
    incident.version += 1
    session.add(
        IncidentEntry(
            incident_id=incident.id, at=now, staff_id=actor.staff_id, kind=kind, text=text
        )
    )
    session.flush()
    after = _snapshot(incident)
    changed = {key for key in after if before.get(key) != after[key]}
    was = {key: before[key] for key in sorted(changed)}
    now_is = {**{key: after[key] for key in sorted(changed)}, "entry": text}
    audit.log(session, now, actor, action, incident, before=was, after=now_is)


def _required(text: str | None, what: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise FollowUpConflict(f"{what} is required")
    return cleaned


def _reference(text: str | None, what: str) -> str:
    cleaned = _required(text, what)
    if len(cleaned) > REFERENCE_MAX:
        raise FollowUpConflict(f"{what} is longer than {REFERENCE_MAX} characters")
    return cleaned


def _check_day(day: date, incident: Incident, now: datetime, what: str) -> None:
    today = clinic_today(now)
    if day > today:
        raise FollowUpConflict(
            f"{what} {day:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d})"
        )
    if day < incident.learned_on:
        raise FollowUpConflict(
            f"{what} {day:%Y-%m-%d} is before the clinic learned of the event "
            f"({incident.learned_on:%Y-%m-%d})"
        )


def add_entry(
    session: Session, now: datetime, actor: Actor, incident_id: int, *, kind: EntryKind, text: str
) -> None:
    """Append a note, a contact with the patient or home physician, or a correction.

    No version check: an entry changes nothing already written, so two people
    adding entries at once both keep theirs.
    """
    require(session, actor, Action.EDIT_INCIDENT)
    if kind not in HAND_WRITTEN:
        raise FollowUpConflict(f"'{kind.value}' entries are written by the application")
    body = _required(text, "the entry's text")
    mark_changed(session, now)
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise MissingIncident(f"incident #{incident_id} no longer exists")
    entry = IncidentEntry(
        incident_id=incident.id, at=now, staff_id=actor.staff_id, kind=kind, text=body
    )
    session.add(entry)
    session.flush()
    written = {"entry": entry.id, "kind": kind.value, "text": body}
    audit.log(session, now, actor, "incident.entry", incident, after=written)


def classify(
    session: Session,
    now: datetime,
    actor: Actor,
    incident_id: int,
    *,
    expected_version: int,
    classification: Classification,
    reporting: ReportingPolicy = DEFAULT_REPORTING,
) -> None:
    """Set category, seriousness, grade, outcome, causality, actions and suspect product.

    Seriousness, grade and outcome must agree (`core.incident_log.disagreement`).
    While no report is recorded, the due date follows the seriousness (day 0
    stays the day the clinic learned of the event); while it is not yet
    assessed, it follows the triage that opened the incident.
    """
    require(session, actor, Action.CLASSIFY_INCIDENT)
    try:
        grade = check_grade(classification.severity_grade)
    except ValueError as exc:
        raise FollowUpConflict(str(exc)) from None
    incident = _locked(session, incident_id, expected_version, now)
    if (
        classification.seriousness is Seriousness.NOT_ASSESSED
        and incident.seriousness is not Seriousness.NOT_ASSESSED
    ):
        raise FollowUpConflict(
            f"seriousness is already assessed ({words(incident.seriousness)}); it cannot go back "
            "to not yet assessed: choose the criterion that applies now"
        )
    outcome = classification.outcome or incident.outcome
    problem = disagreement(classification.seriousness, grade, outcome)
    if problem:
        raise FollowUpConflict(problem)
    product_id = classification.suspect_product_id
    if classification.suspect_addon:
        product_id = _addon_product(session, incident, classification.suspect_addon)
    elif product_id is not None:
        _check_product(session, incident, product_id)
    before = _snapshot(incident)
    incident.category = classification.category
    incident.seriousness = classification.seriousness
    incident.severity_grade = grade
    incident.outcome = outcome
    incident.causality = (classification.causality or "").strip() or None
    incident.actions_taken = (classification.actions_taken or "").strip() or None
    incident.suspect_product_id = product_id
    _follow_the_clock(session, incident, reporting, now)
    after = _snapshot(incident)
    changes = [
        f"{label} {_said(session, key, before[key])} -> {_said(session, key, after[key])}"
        for key, label in _CLASSIFICATION_LABELS
        if before[key] != after[key]
    ]
    if not changes:
        raise FollowUpConflict("nothing changed; the classification is as it was")
    _commit_change(session, incident, before, EntryKind.CLASSIFIED, "; ".join(changes), actor, now)


def _said(session: Session, key: str, value: Any) -> str:
    """A snapshot value as the timeline says it: words, never a stored code."""
    if value is None or value == "":
        return "-"
    if key == "seriousness":
        return words(Seriousness(value))
    if key == "suspect_product":
        return product_words(session.get(ProductGiven, value)) or str(value)
    return str(value).replace("_", " ")


_CLASSIFICATION_LABELS = (
    ("category", "category"),
    ("seriousness", "seriousness"),
    ("severity_grade", "grade"),
    ("outcome", "outcome"),
    ("causality", "causality"),
    ("actions_taken", "actions"),
    ("suspect_product", "suspect product"),
    ("report_due_on", "report due"),
)


def due_on(session: Session, incident: Incident, reporting: ReportingPolicy) -> date:
    """The MFDS deadline the incident's seriousness and day 0 give.

    Not yet assessed and opened from a triage: the deadline that triage
    suggests (the higher of its computed and chosen disposition).
    """
    if incident.seriousness is Seriousness.NOT_ASSESSED and incident.triage_id is not None:
        triage = session.get(TriageAssessment, incident.triage_id)
        if triage is not None:
            disposition = triage_clock_disposition(
                triage.computed_disposition, triage.chosen_disposition
            )
            return reporting.due_on_triage(disposition, incident.learned_on)
    return reporting.due_on(incident.seriousness, incident.learned_on)


def _follow_the_clock(
    session: Session, incident: Incident, reporting: ReportingPolicy, now: datetime
) -> None:
    if incident.reported_on is not None:
        return
    due = due_on(session, incident, reporting)
    current = incident.report_due_on
    # A downgrade must not turn a missed deadline into a running one: once the
    # due date has passed, it only ever moves earlier.
    if current is None or due <= current or clinic_today(now) <= current:
        incident.report_due_on = due


def _check_product(session: Session, incident: Incident, product_id: int) -> None:
    episode_id = session.scalar(
        select(ProductGiven.episode_id)
        .join(TreatmentEpisode, TreatmentEpisode.id == ProductGiven.episode_id)
        .where(ProductGiven.id == product_id, TreatmentEpisode.patient_id == incident.patient_id)
    )
    if episode_id is None:
        raise FollowUpConflict(f"product {product_id} was not given to this patient")


def episode_products(session: Session, incident_id: int) -> list[tuple[int | str, str]]:
    """The suspect-product choices: every product given to the incident's patient,
    newest episode first, then each add-on of the incident's episode that no product
    row names (its code as the key; choosing it records it as a product).

    Allergic reactions trace more often to the add-on infusions than to the
    exosome, so every one of them is choosable, none is preselected.
    """
    incident = session.get(Incident, incident_id)
    if incident is None:
        return []
    rows = list(
        session.scalars(
            select(ProductGiven)
            .join(TreatmentEpisode, TreatmentEpisode.id == ProductGiven.episode_id)
            .where(TreatmentEpisode.patient_id == incident.patient_id)
            .order_by(TreatmentEpisode.procedure_at.desc(), ProductGiven.id)
        )
    )
    choices: list[tuple[int | str, str]] = [
        (product.id, product_words(product) or "") for product in rows
    ]
    for code, label in _unrecorded_addons(session, incident):
        choices.append((code, f"{label} (add-on; no product record, MFDS reference or lot)"))
    return choices


def _unrecorded_addons(session: Session, incident: Incident) -> list[tuple[str, str]]:
    """(code, words) of the episode's add-ons that no product row of the episode names."""
    episode = session.get(TreatmentEpisode, incident.episode_id) if incident.episode_id else None
    if episode is None:
        return []
    names = [
        name.casefold()
        for name in session.scalars(
            select(ProductGiven.name).where(ProductGiven.episode_id == episode.id)
        )
    ]
    found = []
    for addon in parse_addons(list(episode.addons or [])):
        label = f"{addon.label}, {addon.dose}" if addon.dose else addon.label
        # "Glutathione, high dose" is recorded as "Glutathione 600 mg/5 mL injection".
        key = addon.label.split(",")[0].strip().casefold()
        if not any(key in name or addon.code.casefold() in name for name in names):
            found.append((addon.code, label))
    return found


def _addon_product(session: Session, incident: Incident, code: str) -> int:
    """The product row of an add-on chosen as suspect, recorded now if need be."""
    for known, label in _unrecorded_addons(session, incident):
        if known == code:
            assert incident.episode_id is not None
            product = ProductGiven(episode_id=incident.episode_id, name=label, exosome=False)
            session.add(product)
            session.flush()
            return product.id
    raise FollowUpConflict(f"the add-on {code!r} is not recorded on this incident's episode")


def record_report(
    session: Session,
    now: datetime,
    actor: Actor,
    incident_id: int,
    report: DatedReference,
    *,
    expected_version: int,
) -> None:
    """Record the MFDS report as submitted; the reporting clock stops.

    Replacing a recorded report (a wrong date or reference) needs a reason,
    which the timeline keeps with the earlier record.
    """
    require(session, actor, Action.EDIT_INCIDENT)
    ref = _reference(report.reference, "the report's reference")
    incident = _locked(session, incident_id, expected_version, now)
    reported_on = report.on
    _check_day(reported_on, incident, now, "the report date")
    previous, previous_ref = incident.reported_on, incident.report_reference
    why = (report.replacing_because or "").strip()
    if previous is not None and not why:
        raise FollowUpConflict(
            f"a report is already recorded ({previous:%Y-%m-%d}, reference {previous_ref}); "
            "replacing it needs a reason"
        )
    before = _snapshot(incident)
    incident.reported_on = reported_on
    incident.report_reference = ref
    text = f"MFDS report submitted {reported_on:%Y-%m-%d}, reference {ref}"
    if previous is not None:
        text += (
            f" (replaces the earlier record of {previous:%Y-%m-%d}, reference {previous_ref}: "
            f"{why})"
        )
    _commit_change(session, incident, before, EntryKind.REPORTED, text, actor, now)


def record_khidi(
    session: Session,
    now: datetime,
    actor: Actor,
    incident_id: int,
    escalation: DatedReference,
    *,
    expected_version: int,
) -> None:
    """Record that the case went to KHIDI (the medical-tourism dispute route)."""
    require(session, actor, Action.EDIT_INCIDENT)
    ref = _reference(escalation.reference, "the KHIDI reference")
    incident = _locked(session, incident_id, expected_version, now)
    escalated_on = escalation.on
    _check_day(escalated_on, incident, now, "the KHIDI escalation date")
    before = _snapshot(incident)
    incident.khidi_escalated_on = escalated_on
    incident.khidi_reference = ref
    text = f"Escalated to KHIDI {escalated_on:%Y-%m-%d}, reference {ref}"
    _commit_change(session, incident, before, EntryKind.KHIDI, text, actor, now)


def close(
    session: Session,
    now: datetime,
    actor: Actor,
    incident_id: int,
    closing: Closing,
    *,
    expected_version: int,
) -> None:
    """Close with an outcome. An unsubmitted report stays owed and visible."""
    require(session, actor, Action.EDIT_INCIDENT)
    outcome, note = closing.outcome, (closing.note or "").strip()
    incident = _locked(session, incident_id, expected_version, now)
    if incident.status is IncidentStatus.CLOSED:
        raise FollowUpConflict(f"incident #{incident_id} is already closed")
    problem = disagreement(incident.seriousness, incident.severity_grade, outcome)
    if problem:
        # A death is reported within 7 days: the seriousness must say so first.
        raise FollowUpConflict(f"{problem} Classify first (s).")
    _physician_drops_a_downgrade(session, incident, actor)
    before = _snapshot(incident)
    incident.status = IncidentStatus.CLOSED
    incident.outcome = outcome
    text = f"Closed, outcome {words(outcome)}"
    if note:
        text += f": {note}"
    if incident.reported_on is None:
        text += " (MFDS report not yet recorded: it stays on the overdue list until it is)"
    _commit_change(session, incident, before, EntryKind.CLOSED, text, actor, now)


def correct_dates(
    session: Session,
    now: datetime,
    actor: Actor,
    incident_id: int,
    correction: DateCorrection,
    *,
    expected_version: int,
    reporting: ReportingPolicy = DEFAULT_REPORTING,
) -> None:
    """Correct the onset date and day 0 (the day the clinic learned of the event).

    The reason is required and kept on the timeline with both the old and the new
    dates. The reporting clock follows day 0, except that a deadline already
    passed never moves later.
    """
    require(session, actor, Action.EDIT_INCIDENT)
    why = _required(correction.reason, "a reason for the correction")
    onset_date, learned_on = correction.onset_date, correction.learned_on
    incident = _locked(session, incident_id, expected_version, now)
    problem = dates_problem(onset_date, learned_on, clinic_today(now))
    if problem:
        raise FollowUpConflict(problem)
    for recorded, what in (
        (incident.reported_on, "the MFDS report"),
        (incident.khidi_escalated_on, "the KHIDI escalation"),
    ):
        if recorded is not None and recorded < learned_on:
            raise FollowUpConflict(
                f"day 0 ({learned_on:%Y-%m-%d}) would fall after {what} ({recorded:%Y-%m-%d})"
            )
    if (onset_date, learned_on) == (incident.onset_date, incident.learned_on):
        raise FollowUpConflict("nothing changed; the onset date and day 0 are as they were")
    before = _snapshot(incident)
    incident.onset_date = onset_date
    incident.onset_day = _onset_day(session, incident, onset_date)
    incident.learned_on = learned_on
    _follow_the_clock(session, incident, reporting, now)
    after = _snapshot(incident)
    changes = [
        f"{label} {before[key] if before[key] is not None else '-'} -> "
        f"{after[key] if after[key] is not None else '-'}"
        for key, label in (
            ("onset_date", "onset"),
            ("onset_day", "onset day"),
            ("learned_on", "day 0"),
            ("report_due_on", "report due"),
        )
        if before[key] != after[key]
    ]
    text = f"{'; '.join(changes)}: {why}"
    _commit_change(session, incident, before, EntryKind.DATES_CORRECTED, text, actor, now)


def _onset_day(session: Session, incident: Incident, onset: date | None) -> int | None:
    """Day N after the procedure's Seoul calendar date."""
    if onset is None or incident.episode_id is None:
        return None
    procedure_at = session.scalar(
        select(TreatmentEpisode.procedure_at).where(TreatmentEpisode.id == incident.episode_id)
    )
    if procedure_at is None:
        return None
    return (onset - procedure_at.astimezone(CLINIC_TZ).date()).days


def _physician_drops_a_downgrade(session: Session, incident: Incident, actor: Actor) -> None:
    """A suspected adverse event the coordinator chose to rate lower stays documented
    until a physician decides: only a physician closes it while it is not yet assessed."""
    if (
        incident.seriousness is not Seriousness.NOT_ASSESSED
        or _downgrade(session, incident) is None
    ):
        return
    role = session.scalar(select(Staff.role).where(Staff.id == actor.staff_id))
    if role is not None and allowed(role, Action.CLASSIFY_INCIDENT):
        return
    raise PermissionRefused(
        role,
        Action.CLASSIFY_INCIDENT,
        f"Incident #{incident.id} was opened from a triage the coordinator chose to rate lower "
        "than computed; only a physician's decision drops it: a physician closes it, or "
        "classifies it first.",
    )


def reopen(
    session: Session,
    now: datetime,
    actor: Actor,
    incident_id: int,
    *,
    expected_version: int,
    reason: str,
) -> None:
    """Reopen a closed incident; the reason is required and kept."""
    require(session, actor, Action.EDIT_INCIDENT)
    why = _required(reason, "a reason to reopen")
    incident = _locked(session, incident_id, expected_version, now)
    if incident.status is IncidentStatus.OPEN:
        raise FollowUpConflict(f"incident #{incident_id} is open already")
    before = _snapshot(incident)
    incident.status = IncidentStatus.OPEN
    _commit_change(session, incident, before, EntryKind.REOPENED, f"Reopened: {why}", actor, now)


def open_by_hand(
    session: Session,
    now: datetime,
    actor: Actor,
    patient_id: int,
    incident: NewIncident,
    *,
    reporting: ReportingPolicy = DEFAULT_REPORTING,
) -> int:
    """Open an incident not raised by a triage (a call from a home physician, say).

    `incident.learned_on` is day 0 of the reporting clock: the day the clinic
    first heard of the event (default today), which may be before it is entered.
    """
    require(session, actor, Action.OPEN_INCIDENT)
    text = _required(incident.description, "a description of what happened")
    onset_date, seriousness = incident.onset_date, incident.seriousness
    mark_changed(session, now)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise FollowUpConflict(f"patient {patient_id} no longer exists")
    today = clinic_today(now)
    learned = incident.learned_on or today
    problem = dates_problem(onset_date, learned, today)
    if problem:
        raise FollowUpConflict(problem)
    episode = session.scalar(
        select(TreatmentEpisode)
        .where(TreatmentEpisode.patient_id == patient_id)
        .order_by(TreatmentEpisode.procedure_at.desc())
        .limit(1)
    )
    onset_day = None
    if onset_date is not None and episode is not None:
        onset_day = (onset_date - episode.procedure_at.astimezone(CLINIC_TZ).date()).days
    return open_incident(
        session,
        patient_id=patient_id,
        episode_id=episode.id if episode else None,
        triage_id=None,
        category=incident.category,
        seriousness=seriousness,
        onset_date=onset_date,
        onset_day=onset_day,
        learned_on=learned,
        report_due_on=reporting.due_on(seriousness, learned),
        entry=f"Opened by hand: {text}",
        actor=actor,
        now=now,
    )


def open_incident(
    session: Session,
    *,
    patient_id: int,
    episode_id: int | None,
    triage_id: int | None,
    category: IncidentCategory,
    seriousness: Seriousness,
    onset_date: date | None,
    onset_day: int | None,
    learned_on: date,
    report_due_on: date | None,
    entry: str,
    actor: Actor,
    now: datetime,
    downgraded: bool = False,
) -> int:
    """Open an incident in the caller's transaction (which has bumped the change
    marker): the row, its first timeline entry `entry`, and the audit event;
    returns its number. The one way in, for a triage and for a person alike.

    It opens with outcome unknown and no suspect product: a physician chooses
    that among every product and add-on given (classify); the exosome is not
    presumed. `downgraded` says the triage that opened it was rated lower than
    computed.
    """
    incident = Incident(
        patient_id=patient_id,
        episode_id=episode_id,
        triage_id=triage_id,
        category=category,
        onset_date=onset_date,
        onset_day=onset_day,
        learned_on=learned_on,
        seriousness=seriousness,
        outcome=IncidentOutcome.UNKNOWN,
        status=IncidentStatus.OPEN,
        suspect_product_id=None,
        report_due_on=report_due_on,
        created_at=now,
    )
    session.add(incident)
    session.flush()
    session.add(
        IncidentEntry(
            incident_id=incident.id,
            at=now,
            staff_id=actor.staff_id,
            kind=EntryKind.OPENED,
            text=entry,
        )
    )
    opened = {
        "by_hand": triage_id is None,
        "triage": triage_id,
        "downgraded": downgraded,
        **_snapshot(incident),
        "entry": entry,
    }
    audit.log(session, now, actor, "incident.open", incident, after=opened)
    return incident.id


def export_incidents(session: Session, wanted: IncidentFilter, today: date) -> list[IncidentExport]:
    """Every incident `wanted` selects, with the fields the CSV carries, in log order."""
    lines = {line.incident_id: line for line in list_incidents(session, wanted, today, limit=10**9)}
    if not lines:
        return []
    extra: dict[int, IncidentExport] = {}
    ids = list(lines)
    # Chunks keep the IN list under every driver's parameter limit.
    for start in range(0, len(ids), 500):
        for read in read_incidents(
            session, incident_ids=ids[start : start + 500], with_entries=False
        ):
            line = lines[read.line.incident_id]
            extra[line.incident_id] = _detail(session, read, line, with_timeline=False)
    return [extra[incident_id] for incident_id in ids]
