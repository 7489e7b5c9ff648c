"""Reading the patients for the patient CSV export, and recording that disclosure.

Each patient comes with their latest episode (the latest procedure), read by
`db.records` exactly as the record-of-care form opens it, so the file says
what the form says. Demo patients are left out: they are made up, and a file
that goes to another database or a spreadsheet should carry only the
clinic's patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.patient_export import Exported
from core.permissions import Action
from db import audit
from db.followup import Actor, mark_changed, require
from db.models import Patient
from db.models import TreatmentEpisode as Episode
from db.records import episode_record, patient_record

EXPORTED = "export.patients_csv"


@dataclass(frozen=True)
class PatientsExported:
    """What the patient CSV export wrote."""

    patients: int
    product_rows: int
    """Rows of products and add-ons (written only with a products file)."""
    path: Path
    products_path: Path | None


def latest_episodes(session: Session) -> list[Exported]:
    """Every patient who is not demo data, with their latest episode (a patient
    without any episode has nothing the import could take, and is left out)."""
    latest: dict[int, int] = {}
    episodes = (
        select(Episode.patient_id, Episode.id)
        .join(Patient, Patient.id == Episode.patient_id)
        .where(Patient.is_demo.is_not(True))
        .order_by(Episode.patient_id, Episode.procedure_at, Episode.id)
    )
    for patient_id, episode_id in session.execute(episodes):
        latest[patient_id] = episode_id  # ordered: the last one seen is the latest
    exported = []
    for patient_id, episode_id in latest.items():
        patient = patient_record(session, patient_id)
        episode = episode_record(session, episode_id)
        assert patient is not None and episode is not None  # read in this session
        exported.append((patient, episode))
    return exported


def disclose_patients(
    session: Session,
    now: datetime,
    actor: Actor,
    *,
    files: list[str],
) -> list[Exported]:
    """The patients to export, read once the actor's role is checked, with the
    audit event naming every patient code and the files (`files`) written."""
    require(session, actor, Action.EXPORT)
    # The change marker first: it serialises audit appends (see db.audit).
    mark_changed(session, now)
    exported = latest_episodes(session)
    disclosed = {
        "patients": len(exported),
        "codes": sorted(patient.code for patient, _ in exported),
        "files": files,
    }
    # About many patients, so about no one row.
    audit.log(session, now, actor, EXPORTED, ("patient", None), after=disclosed)
    return exported
