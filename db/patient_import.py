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
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.addons import DEFAULT_HIGH_DOSE_GLUTATHIONE_MG
from core.patient_import import PatientRow
from core.permissions import Action
from core.records import RecordRefused
from core.schedules import ScheduleTemplate
from db import audit
from db.followup import Actor, FollowUpConflict, mark_changed, require
from db.models import AuditEvent, Patient, ProductGiven, Touchpoint, TreatmentEpisode
from db.records import add_episode

# Codes per IN (...) query: well under every database's parameter limit.
_CODES_PER_QUERY = 500


@dataclass(frozen=True)
class ImportSummary:
    """What one import wrote."""

    patients: int
    episodes: int
    touchpoints: int
    # Codes of patients an earlier import cut short had staged, removed first.
    removed_unfinished: tuple[str, ...] = ()


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
        _, added = _add_patient(
            session, now, actor, row, source, templates, high_dose_glutathione_mg
        )
        touchpoints += added
    # About the whole file, so about no one patient.
    imported: dict[str, object] = {"file": source, "sha256": sha256, "patients": len(rows)}
    if products_source is not None:
        imported |= {"products_file": products_source, "products_sha256": products_sha256}
    audit.log(session, now, actor, "patient.import", ("patient", None), after=imported)
    return ImportSummary(patients=len(rows), episodes=len(rows), touchpoints=touchpoints)


def _add_patient(
    session: Session,
    now: datetime,
    actor: Actor,
    row: PatientRow,
    source: str,
    templates: Mapping[str, ScheduleTemplate],
    high_dose_glutathione_mg: int,
) -> tuple[Patient, int]:
    """One row's patient and episode, audited; returns the patient and its touchpoints."""
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
    return patient, saved.touchpoints_added


# --- an import in chunks ----------------------------------------------------------------
#
# One transaction for a whole file held SQLite's write lock for minutes (10,000
# rows: 88 s), so the dispatcher and every coordinator met "database is locked".
# A file now goes in as short transactions: a start (audited, naming the batch
# and its codes), the rows a few hundred at a time, then one publish. Until the
# publish the new patients are *staged*: their next-touchpoint cache is empty, so
# no queue band shows them. The publish fills it for the whole file in one
# statement; a failure instead deletes every staged row. For the person
# importing it stays all or nothing. Each staged patient carries the batch
# (`Patient.import_batch`) until then, so search and lookups by code leave it
# out too, and a patient already published is never taken for a staged one.

STARTED = "patient.import.started"
PUBLISHED = "patient.import"
ABANDONED = "patient.import.abandoned"

# An unfinished import older than this was cut short (a crash, a killed
# process): the next import deletes what it had staged. A younger one may still
# be running, and the next import waits for it instead.
UNFINISHED_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class StagedChunk:
    """What one chunk staged: its touchpoints and each patient's hidden next touchpoint."""

    touchpoints: int
    hidden: list[dict[str, object]]


def start_import(
    session: Session,
    now: datetime,
    actor: Actor,
    codes: Sequence[str],
    *,
    batch: str,
    source: str,
    sha256: str,
) -> list[str]:
    """Open an import batch: checks, cleans up imports cut short, audits the start.

    Returns the codes of the patients removed with an import cut short (the
    caller says so). Raises PermissionRefused unless the actor may import,
    FollowUpConflict when a code is taken or another import is running.
    """
    require(session, actor, Action.IMPORT_PATIENTS)
    mark_changed(session, now)
    removed: list[str] = []
    for event in unfinished_imports(session):
        if now - event.at < UNFINISHED_AFTER:
            raise FollowUpConflict(
                f"another patient import (by {event.actor}) is still being written; "
                "nothing was imported, try again when it has finished"
            )
        after = event.after or {}
        left = [str(code) for code in after.get("codes", [])]
        removed += delete_staged(session, left)
        audit.log(
            session,
            now,
            actor,
            ABANDONED,
            ("patient", None),
            after={"batch": after.get("batch"), "reason": "cut short", "removed": len(left)},
        )
    taken = existing_codes(session, codes)
    if taken:
        raise FollowUpConflict(
            f"patient code {', '.join(sorted(taken))} was added to the database "
            "while the file was being checked; nothing was imported"
        )
    audit.log(
        session,
        now,
        actor,
        STARTED,
        ("patient", None),
        after={"batch": batch, "file": source, "sha256": sha256, "codes": list(codes)},
    )
    return removed


def stage_patients(
    session: Session,
    now: datetime,
    actor: Actor,
    rows: Sequence[PatientRow],
    *,
    batch: str,
    source: str,
    templates: Mapping[str, ScheduleTemplate],
    high_dose_glutathione_mg: int = DEFAULT_HIGH_DOSE_GLUTATHIONE_MG,
) -> StagedChunk:
    """Write one chunk of rows, each patient marked with `batch`, unseen until the publish."""
    require(session, actor, Action.IMPORT_PATIENTS)
    mark_changed(session, now)
    taken = existing_codes(session, (row.code for row in rows))
    if taken:
        raise FollowUpConflict(
            f"patient code {', '.join(sorted(taken))} was added to the database "
            "during the import; nothing was imported"
        )
    touchpoints = 0
    ids: list[int] = []
    for row in rows:
        patient, added = _add_patient(
            session, now, actor, row, source, templates, high_dose_glutathione_mg
        )
        touchpoints += added
        ids.append(patient.id)
    session.flush()
    cache = (Patient.id, Patient.next_touchpoint_id, Patient.next_opens_at, Patient.next_closes_at)
    hidden: list[dict[str, object]] = [
        dict(row._mapping) for row in session.execute(select(*cache).where(Patient.id.in_(ids)))
    ]
    session.execute(
        update(Patient)
        .where(Patient.id.in_(ids))
        .values(
            next_touchpoint_id=None, next_opens_at=None, next_closes_at=None, import_batch=batch
        )
        .execution_options(synchronize_session=False)
    )
    for found in hidden:
        found["import_batch"] = None  # what the publish writes back
    return StagedChunk(touchpoints=touchpoints, hidden=hidden)


def publish_import(
    session: Session,
    now: datetime,
    actor: Actor,
    hidden: Sequence[dict[str, object]],
    *,
    batch: str,
    source: str,
    sha256: str,
    products_source: str | None = None,
    products_sha256: str | None = None,
) -> None:
    """Show every staged patient of the batch at once, and audit the import."""
    require(session, actor, Action.IMPORT_PATIENTS)
    mark_changed(session, now)
    if hidden:
        session.execute(update(Patient), list(hidden))
    imported: dict[str, object] = {
        "batch": batch,
        "file": source,
        "sha256": sha256,
        "patients": len(hidden),
    }
    if products_source is not None:
        imported |= {"products_file": products_source, "products_sha256": products_sha256}
    audit.log(session, now, actor, PUBLISHED, ("patient", None), after=imported)


def abandon_import(
    session: Session, now: datetime, actor: str, codes: Sequence[str], *, batch: str, reason: str
) -> int:
    """Delete what a failed import staged; the audit trail says so. Returns how many."""
    mark_changed(session, now)
    removed = delete_staged(session, codes)
    audit.log(
        session,
        now,
        actor,
        ABANDONED,
        ("patient", None),
        after={"batch": batch, "reason": reason, "removed": len(removed)},
    )
    return len(removed)


def unfinished_imports(session: Session) -> list[AuditEvent]:
    """The start events of imports neither published nor abandoned."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_((STARTED, PUBLISHED, ABANDONED)))
        .order_by(AuditEvent.id)
    ).all()
    open_: dict[object, AuditEvent] = {}
    for event in events:
        batch = (event.after or {}).get("batch")
        if event.action == STARTED:
            open_[batch] = event
        else:
            open_.pop(batch, None)
    return list(open_.values())


def delete_staged(session: Session, codes: Sequence[str]) -> list[str]:
    """Delete the patients of `codes` still staged (import not published) with all it wrote.

    A staged patient has only what the import wrote: episodes, their products
    and touchpoints. One already published is left alone.
    """
    removed: list[str] = []
    wanted = sorted(set(codes))
    for start in range(0, len(wanted), _CODES_PER_QUERY):
        chunk = wanted[start : start + _CODES_PER_QUERY]
        staged = session.execute(
            select(Patient.id, Patient.code).where(
                Patient.code.in_(chunk), Patient.import_batch.is_not(None)
            )
        ).all()
        ids = [row[0] for row in staged]
        if not ids:
            continue
        episodes = select(TreatmentEpisode.id).where(TreatmentEpisode.patient_id.in_(ids))
        session.execute(delete(Touchpoint).where(Touchpoint.patient_id.in_(ids)))
        session.execute(delete(ProductGiven).where(ProductGiven.episode_id.in_(episodes)))
        session.execute(delete(TreatmentEpisode).where(TreatmentEpisode.patient_id.in_(ids)))
        session.execute(delete(Patient).where(Patient.id.in_(ids)))
        removed += [row[1] for row in staged]
    return removed
