"""Writing a checked patient file: every patient, episode and touchpoint, or none.

The rows come from `core.patient_import`, which has already checked each of
them (and the products file with them). Each patient gets one treatment
episode through `db.records.add_episode`, the door a returning patient's
episode recorded by hand goes through, so its columns, products, add-ons,
touchpoints, rule-added follow-up (granuloma watch, liver panel) and audit
trail are exactly those of a hand-recorded one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.addons import DEFAULT_HIGH_DOSE_GLUTATHIONE_MG
from core.patient_import import PatientRow
from core.permissions import Action
from core.records import RecordRefused
from core.schedules import ScheduleTemplate
from db import audit
from db.followup import Actor, FollowUpConflict, mark_changed, require
from db.models import Patient
from db.records import add_episode

# Codes per IN (...) query: well under every database's parameter limit.
_CODES_PER_QUERY = 500


@dataclass(frozen=True)
class ImportSummary:
    """What one import wrote."""

    patients: int
    episodes: int
    touchpoints: int


def existing_codes(session: Session, codes: Iterable[str]) -> set[str]:
    """Those of `codes` that a patient in the database already has."""
    wanted = sorted(set(codes))
    found: set[str] = set()
    for start in range(0, len(wanted), _CODES_PER_QUERY):
        chunk = wanted[start : start + _CODES_PER_QUERY]
        found.update(session.scalars(select(Patient.code).where(Patient.code.in_(chunk))))
    return found


def import_patients(
    session: Session,
    now: datetime,
    actor: Actor,
    rows: Sequence[PatientRow],
    *,
    templates: Mapping[str, ScheduleTemplate],
    source: str,
    sha256: str,
    products_source: str | None = None,
    products_sha256: str | None = None,
    high_dose_glutathione_mg: int = DEFAULT_HIGH_DOSE_GLUTATHIONE_MG,
) -> ImportSummary:
    """Add every row's patient and episode in the caller's transaction.

    `source` (the file name) and `sha256` (of its bytes) go into the audit
    trail, and the products file's likewise when there was one.
    `high_dose_glutathione_mg` is the clinic's threshold for the liver panel
    (setting `high_dose_glutathione_mg`). Raises PermissionRefused unless the
    actor may import patients, and FollowUpConflict when a code was taken, or
    a treating physician disabled, since the file was checked.
    """
    require(session, actor, Action.IMPORT_PATIENTS)
    # Taken first: on SQLite the write lock, on PostgreSQL the marker row, so
    # the codes cannot be taken between this check and the inserts.
    mark_changed(session, now)
    taken = existing_codes(session, (row.code for row in rows))
    if taken:
        raise FollowUpConflict(
            f"patient code {', '.join(sorted(taken))} was added to the database "
            "while the file was being checked; nothing was imported"
        )
    touchpoints = 0
    for row in rows:
        patient = Patient(
            code=row.code,
            given_name=row.given_name,
            family_name=row.family_name,
            native_name=row.native_name,
            birth_date=row.birth_date,
            home_country=row.home_country,
            current_country=row.country_now,
            language=row.language,
            timezone=row.timezone,
            channel=row.channel,
            channel_handle=row.channel_handle,
            phone=row.phone,
            email=row.email,
            is_demo=False,
            created_at=now,
        )
        session.add(patient)
        session.flush()
        created = {"code": row.code, "source": source}
        audit.log(session, now, actor, "patient.create", patient, after=created)
        # What the file leaves empty stays NULL, which every surface reads as
        # "not recorded", never as a "no" nobody gave.
        try:
            saved = add_episode(
                session,
                now,
                actor,
                patient.id,
                row.episode_record(),
                templates=templates,
                high_dose_glutathione_mg=high_dose_glutathione_mg,
            )
        except RecordRefused as refused:
            # Checked with the file; only a change since (a physician disabled) gets here.
            said = "; ".join(str(problem) for problem in refused.problems)
            raise FollowUpConflict(f"patient {row.code}: {said}; nothing was imported") from None
        touchpoints += saved.touchpoints_added
    # About the whole file, so about no one patient.
    imported: dict[str, object] = {"file": source, "sha256": sha256, "patients": len(rows)}
    if products_source is not None:
        imported |= {"products_file": products_source, "products_sha256": products_sha256}
    audit.log(session, now, actor, "patient.import", ("patient", None), after=imported)
    return ImportSummary(patients=len(rows), episodes=len(rows), touchpoints=touchpoints)
