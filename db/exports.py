"""Reading one patient for an export, and recording that the record was disclosed.

The dossier the patient screen reads (`db.dossier.load_dossier`) supplies the
identity, episodes, products and timeline; this adds what exports need beyond
it, each part in one query filtered by the patient: touchpoints per episode,
incidents with their suspect product and entries, treating physicians.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from core.dossier import IncidentNote, ProductRecord, TouchpointRecord
from core.exports.formats import AUDIT_ACTION, AUDIT_FORMAT, ExportKind
from core.exports.records import IncidentDetail, PatientExport, PhysicianContact
from db import audit
from db.dossier import load_dossier
from db.followup import mark_changed
from db.models import (
    Incident,
    IncidentEntry,
    Patient,
    ProductGiven,
    Staff,
    Touchpoint,
    TreatmentEpisode,
)


def find_patient(session: Session, reference: str) -> int | None:
    """The id of the patient a person named on the command line, or None.

    The clinic's patient code ("AC-000123") wins; a plain number that is no
    one's code is taken as the database id.
    """
    wanted = reference.strip()
    by_code = session.scalar(select(Patient.id).where(Patient.code == wanted))
    if by_code is not None:
        return by_code
    if wanted.isascii() and wanted.isdigit():
        return session.scalar(select(Patient.id).where(Patient.id == int(wanted)))
    return None


def load_patient_export(session: Session, patient_id: int, now: datetime) -> PatientExport | None:
    """Everything an export of `patient_id` shows at `now`; None if there is no such patient."""
    dossier = load_dossier(session, patient_id, now)
    if dossier is None:
        return None
    return PatientExport(
        dossier=dossier,
        incidents=_incidents(session, patient_id),
        episode_touchpoints=_touchpoints_by_episode(session, patient_id),
        physicians=_physicians(session, patient_id),
    )


def record_export(
    session: Session, *, patient_id: int, kind: ExportKind, actor: str, now: datetime
) -> None:
    """Append the audit event for disclosing a patient's record, in the caller's transaction."""
    # The change marker first: it serialises audit appends (see db.audit).
    mark_changed(session, now)
    audit.record(
        session,
        at=now,
        actor=actor,
        action=AUDIT_ACTION[kind],
        entity="patient",
        entity_id=patient_id,
        after={"format": AUDIT_FORMAT[kind]},
    )


def _touchpoints_by_episode(
    session: Session, patient_id: int
) -> dict[int, tuple[TouchpointRecord, ...]]:
    by_episode: dict[int, list[TouchpointRecord]] = defaultdict(list)
    for tp, resolved_by in session.execute(
        select(Touchpoint, Staff.display_name)
        .outerjoin(Staff, Staff.id == Touchpoint.resolved_by_id)
        .where(Touchpoint.patient_id == patient_id)
        .order_by(Touchpoint.episode_id, Touchpoint.opens_at, Touchpoint.day, Touchpoint.id)
    ):
        by_episode[tp.episode_id].append(
            TouchpointRecord(
                touchpoint_id=tp.id,
                template=tp.template,
                day=tp.day,
                due_date=tp.due_date,
                opens_at=tp.opens_at,
                closes_at=tp.closes_at,
                ask=tp.ask,
                resolution=tp.resolution,
                resolved_at=tp.resolved_at,
                resolved_by=resolved_by,
                note=tp.note,
            )
        )
    return {episode_id: tuple(tps) for episode_id, tps in by_episode.items()}


def _incidents(session: Session, patient_id: int) -> tuple[IncidentDetail, ...]:
    rows = session.execute(
        select(Incident, ProductGiven)
        .outerjoin(ProductGiven, ProductGiven.id == Incident.suspect_product_id)
        .where(Incident.patient_id == patient_id)
        .order_by(Incident.created_at, Incident.id)
    ).all()
    if not rows:
        return ()
    notes: dict[int, list[IncidentNote]] = defaultdict(list)
    for entry, staff in session.execute(
        select(IncidentEntry, Staff.display_name)
        .join(Incident, Incident.id == IncidentEntry.incident_id)
        .outerjoin(Staff, Staff.id == IncidentEntry.staff_id)
        .where(Incident.patient_id == patient_id)
        .order_by(IncidentEntry.at, IncidentEntry.id)
    ):
        notes[entry.incident_id].append(
            IncidentNote(
                entry_id=entry.id, at=entry.at, kind=entry.kind, text=entry.text, staff=staff
            )
        )
    return tuple(
        IncidentDetail(
            incident_id=incident.id,
            episode_id=incident.episode_id,
            opened_at=incident.created_at,
            category=incident.category,
            onset_date=incident.onset_date,
            onset_day=incident.onset_day,
            learned_on=incident.learned_on,
            seriousness=incident.seriousness,
            severity_grade=incident.severity_grade,
            outcome=incident.outcome,
            status=incident.status,
            suspect_product=_product(product) if product is not None else None,
            causality=incident.causality,
            actions_taken=incident.actions_taken,
            report_due_on=incident.report_due_on,
            reported_on=incident.reported_on,
            report_reference=incident.report_reference,
            khidi_escalated_on=incident.khidi_escalated_on,
            khidi_reference=incident.khidi_reference,
            notes=tuple(notes[incident.id]),
        )
        for incident, product in rows
    )


def _product(product: ProductGiven) -> ProductRecord:
    return ProductRecord(
        name=product.name,
        mfds_reference=product.mfds_reference,
        manufacturer=product.manufacturer,
        lot_number=product.lot_number,
        expiry_date=product.expiry_date,
        dose=product.dose,
    )


def _physicians(session: Session, patient_id: int) -> dict[int, PhysicianContact]:
    physician = aliased(Staff)
    return {
        episode_id: PhysicianContact(
            name=staff.display_name,
            email=staff.email,
            phone=staff.phone,
            license_ref=staff.license_ref,
        )
        for episode_id, staff in session.execute(
            select(TreatmentEpisode.id, physician)
            .join(physician, physician.id == TreatmentEpisode.treating_physician_id)
            .where(TreatmentEpisode.patient_id == patient_id)
        ).all()
    }
