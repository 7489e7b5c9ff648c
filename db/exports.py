"""Reading one patient for an export, and recording that the record was disclosed.

The dossier the patient screen reads (`db.dossier.load_dossier`) supplies the
identity, episodes, products and timeline; this adds what exports need beyond
it, each part in one query filtered by the patient: touchpoints per episode,
incidents (through `db.incidents.read_incidents`, the one incident read),
treating physicians.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from core.dossier import TouchpointRecord
from core.exports.formats import AUDIT_ACTION, AUDIT_FORMAT, ExportKind
from core.exports.records import IncidentDetail, PatientExport, PhysicianContact
from db import audit
from db.dossier import load_dossier, touchpoints_of
from db.followup import mark_changed
from db.incidents import read_incidents
from db.models import Staff, TreatmentEpisode


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
    session: Session, now: datetime, actor: str, patient_id: int, *, kind: ExportKind
) -> None:
    """Append the audit event for disclosing a patient's record, in the caller's transaction."""
    # The change marker first: it serialises audit appends (see db.audit).
    mark_changed(session, now)
    disclosed = {"format": AUDIT_FORMAT[kind]}
    audit.log(session, now, actor, AUDIT_ACTION[kind], ("patient", patient_id), after=disclosed)


def _touchpoints_by_episode(
    session: Session, patient_id: int
) -> dict[int, tuple[TouchpointRecord, ...]]:
    by_episode: dict[int, list[TouchpointRecord]] = defaultdict(list)
    for episode_id, touchpoint in touchpoints_of(session, patient_id):
        by_episode[episode_id].append(touchpoint)
    return {episode_id: tuple(tps) for episode_id, tps in by_episode.items()}


def _incidents(session: Session, patient_id: int) -> tuple[IncidentDetail, ...]:
    return tuple(
        IncidentDetail(
            incident_id=read.line.incident_id,
            episode_id=read.episode_id,
            opened_at=read.line.opened_at,
            category=read.line.category,
            onset_date=read.onset_date,
            onset_day=read.onset_day,
            learned_on=read.line.learned_on,
            seriousness=read.line.seriousness,
            severity_grade=read.line.severity_grade,
            outcome=read.line.outcome,
            status=read.line.status,
            suspect_product=read.suspect_product,
            causality=read.causality,
            triage_id=read.triage_id,
            actions_taken=read.actions_taken,
            report_due_on=read.line.report_due_on,
            reported_on=read.line.reported_on,
            report_reference=read.report_reference,
            khidi_escalated_on=read.line.khidi_escalated_on,
            khidi_reference=read.khidi_reference,
            # Documents list a timeline by when it happened.
            notes=tuple(sorted(read.entries, key=lambda note: (note.at, note.entry_id))),
        )
        for read in read_incidents(session, patient_id=patient_id)
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
