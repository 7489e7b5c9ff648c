"""The record of care written by hand: a new patient with their first episode, a
new episode for a returning patient, and corrections to either.

Every write re-checks the typed record (`core.records.episode_problems`), so no
door skips a rule, and names the field at fault. An edit compares the fields
the form was opened with against what is stored now (the field-level check of
`db.whereabouts`: a colleague's claim does not make it stale, their correction
does), is audited with before and after, and leaves a correction entry on the
timeline of every incident of the episode, so the incident says which record
it was judged on.

What an edit does to the follow-up:
- a new procedure time moves every touchpoint not yet done by the same number
  of days (`db.episodes.shift_open_touchpoints`);
- templates added (by hand, or by the rules: an exosome product brings the
  granuloma watch, a high glutathione dose the liver panel) get their
  touchpoints whose window has not closed yet;
- templates no longer followed have their touchpoints not yet done withdrawn
  (resolved as skipped, with the reason): history is never deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.addons import has_high_dose_glutathione
from core.commands import ContactDetails, PatientMove
from core.contacts import FieldRefused, checked_contacts, checked_move
from core.domain import Role, TouchpointResolution
from core.incident_log import EntryKind
from core.permissions import Action
from core.records import (
    AddOn,
    EpisodeRecord,
    FieldProblem,
    NewPatient,
    PatientRecord,
    Product,
    RecordRefused,
    RecordSaved,
    episode_problems,
    field_words,
)
from core.refusals import NotFound, StaleEdit
from core.schedules import ScheduleTemplate, event_plans
from db import audit
from db.conflicts import last_change
from db.episodes import (
    AUDITED_AS,
    create_episode,
    locked_episode,
    new_touchpoints,
    schedules_for,
    shift_open_touchpoints,
)
from db.followup import Actor, FollowUpConflict, mark_changed, refresh_next_touchpoint, require
from db.models import Incident, IncidentEntry, Patient, ProductGiven, Staff, Touchpoint
from db.models import TreatmentEpisode as Episode

EDITED = "episode.edit"
PATIENT_EDITED = "patient.edit"


class StaleRecord(FollowUpConflict, StaleEdit):
    """Someone corrected the record since the form was opened; the sentence says who."""


def episode_record(session: Session, episode_id: int) -> EpisodeRecord | None:
    """The episode as a form opens it (None: no such episode)."""
    episode = session.get(Episode, episode_id)
    return None if episode is None else _stored(session, episode)


def patient_record(session: Session, patient_id: int) -> PatientRecord | None:
    """The patient as a form opens them (None: no such patient)."""
    patient = session.get(Patient, patient_id)
    return None if patient is None else _stored_patient(patient)


def physicians(session: Session) -> list[tuple[str, str]]:
    """The active physicians a form offers as treating physician: (login, name)."""
    rows = session.execute(
        select(Staff.username, Staff.display_name)
        .where(Staff.role == Role.PHYSICIAN, Staff.active)
        .order_by(Staff.display_name)
    )
    return [(login, name) for login, name in rows]


def create_patient(
    session: Session,
    now: datetime,
    actor: Actor,
    new: NewPatient,
    *,
    templates: Mapping[str, ScheduleTemplate],
    high_dose_glutathione_mg: int,
) -> RecordSaved:
    """A patient recorded by hand, with their first episode and its touchpoints."""
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    patient_in = _checked_patient(new.patient)
    if session.scalar(select(Patient.id).where(Patient.code == patient_in.code)) is not None:
        raise RecordRefused(
            [FieldProblem("code", f"{patient_in.code!r} is already a patient; choose another")]
        )
    problems = _episode_refusals(session, new.episode, now, templates)
    if problems:
        raise RecordRefused(problems)
    patient = Patient(
        **{f.name: getattr(patient_in, f.name) for f in fields(PatientRecord)},
        is_demo=False,
        created_at=now,
    )
    patient.current_country = patient_in.current_country or patient_in.home_country
    session.add(patient)
    session.flush()
    audit.log(
        session, now, actor, "patient.create", patient, after={"code": patient.code, "by": "hand"}
    )
    saved = _add(session, now, actor, patient, new.episode, templates, high_dose_glutathione_mg)
    return replace(saved, created=f"patient {patient.code} and their episode")


def add_episode(
    session: Session,
    now: datetime,
    actor: Actor,
    patient_id: int,
    record: EpisodeRecord,
    *,
    templates: Mapping[str, ScheduleTemplate],
    high_dose_glutathione_mg: int,
) -> RecordSaved:
    """A returning patient's new treatment episode."""
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound(f"patient {patient_id} does not exist; nothing was saved")
    problems = _episode_refusals(session, record, now, templates)
    if problems:
        raise RecordRefused(problems)
    saved = _add(session, now, actor, patient, record, templates, high_dose_glutathione_mg)
    return replace(saved, created=f"a new episode for {patient.code}")


def edit_episode(
    session: Session,
    now: datetime,
    actor: Actor,
    episode_id: int,
    record: EpisodeRecord,
    *,
    expected: EpisodeRecord,
    templates: Mapping[str, ScheduleTemplate],
    high_dose_glutathione_mg: int,
) -> RecordSaved:
    """Correct an episode: every field the form shows, checked as on creation."""
    episode = locked_episode(session, now, actor, episode_id)
    patient = session.get(Patient, episode.patient_id)
    assert patient is not None  # a foreign key
    stored = _stored(session, episode)
    if stored != expected:
        change = last_change(session, AUDITED_AS, episode.id)
        by = change.words if change else "changed"
        raise StaleRecord(
            f"the record of care of {patient.code} was {by} since you opened the form; "
            "nothing was saved, open it again"
        )
    problems = _episode_refusals(session, record, now, templates, keep=stored)
    problems += _removed_suspects(session, episode, record)
    if problems:
        raise RecordRefused(problems)
    before, after = _differences(stored, record)
    if not before and not after:
        return RecordSaved(patient.id, episode.id)
    zone = ZoneInfo(patient.timezone)
    moved = 0
    if record.procedure_at != stored.procedure_at:
        moved = shift_open_touchpoints(session, episode, record.procedure_at, zone)
        episode.procedure_at = record.procedure_at
    _write_details(session, episode, record)
    followed = schedules_for(
        record.protocol,
        record.schedule,
        templates,
        [p.exosome for p in record.products or ()],
    )
    episode.schedule_templates = [t.name for t in followed]
    added, withdrawn = _follow(
        session, now, actor, episode, followed, record, zone, high_dose_glutathione_mg
    )
    episode.version += 1
    noted = _note_on_incidents(session, now, actor, episode, before, after)
    audit.log(
        session,
        now,
        actor,
        EDITED,
        (AUDITED_AS, episode.id),
        before=before,
        after={
            **after,
            "touchpoints_moved": moved,
            "touchpoints_added": added,
            "touchpoints_withdrawn": withdrawn,
            "incidents_noted": list(noted),
        },
    )
    refresh_next_touchpoint(session, patient.id)
    changed = tuple(field_words(key) for key in dict.fromkeys([*before, *after]))
    return RecordSaved(
        patient.id,
        episode.id,
        changed=changed,
        touchpoints_moved=moved,
        touchpoints_added=added,
        touchpoints_withdrawn=withdrawn,
        incidents_noted=noted,
        warnings=_warnings(record, now, templates),
    )


def edit_patient(
    session: Session,
    now: datetime,
    actor: Actor,
    patient_id: int,
    record: PatientRecord,
    *,
    expected: PatientRecord,
) -> RecordSaved:
    """Correct who the patient is: names, birth date, language, home country,
    channel. The code stays (it is on every export); where the patient is now and
    the contact details have their own form (`db.whereabouts`), which moves windows."""
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    patient = session.get(Patient, patient_id, with_for_update=True, populate_existing=True)
    if patient is None:
        raise NotFound(f"patient {patient_id} does not exist; nothing was saved")
    stored = _stored_patient(patient)
    if stored != expected:
        change = last_change(session, "patient", patient.id, [PATIENT_EDITED, "patient.move"])
        raise StaleRecord(
            f"{patient.code} was {change.words if change else 'changed'} since you opened the "
            "form; nothing was saved, open it again"
        )
    if record.code != stored.code:
        raise RecordRefused([FieldProblem("code", "the patient code cannot be changed")])
    kept = ("current_country", "timezone", "phone", "email")
    moved = [key for key in kept if getattr(record, key) != getattr(stored, key)]
    if moved:
        raise RecordRefused(
            [FieldProblem(moved[0], "change it with 'Where is the patient now' (W)")]
        )
    wanted = _checked_patient(record)
    before = {
        f.name: _plain(getattr(stored, f.name))
        for f in fields(PatientRecord)
        if getattr(stored, f.name) != getattr(wanted, f.name)
    }
    if not before:
        return RecordSaved(patient.id, _latest_episode_id(session, patient.id))
    after = {key: _plain(getattr(wanted, key)) for key in before}
    for key in before:
        setattr(patient, key, getattr(wanted, key))
    patient.version += 1
    audit.log(session, now, actor, PATIENT_EDITED, patient, before=before, after=after)
    return RecordSaved(
        patient.id,
        _latest_episode_id(session, patient.id),
        changed=tuple(field_words(k) for k in before),
    )


# -- reading the stored record ---------------------------------------------------


def _stored(session: Session, episode: Episode) -> EpisodeRecord:
    products = session.scalars(
        select(ProductGiven)
        .where(ProductGiven.episode_id == episode.id)
        .order_by(ProductGiven.id)
        .execution_options(populate_existing=True)
    ).all()
    login = (
        session.scalar(select(Staff.username).where(Staff.id == episode.treating_physician_id))
        if episode.treating_physician_id
        else None
    )
    return EpisodeRecord(
        procedure_at=episode.procedure_at,
        protocol=episode.protocol,
        schedule=tuple(episode.schedule_templates or ()),
        treating_physician=login,
        nurse_name=episode.nurse_name,
        nurse_license_ref=episode.nurse_license_ref,
        products=(
            tuple(
                Product(p.name, p.mfds_reference, p.lot_number, p.expiry_date, p.exosome)
                for p in products
            )
            if products or episode.products_recorded
            else None
        ),
        addons=(
            tuple(_addon(a) for a in episode.addons or ())
            if episode.addons or episode.addons_recorded
            else None
        ),
        departure_date=episode.departure_date,
        travel_insurer=episode.travel_insurer,
        travel_policy_number=episode.travel_policy_number,
        khidi_cover_ref=episode.khidi_cover_ref,
        has_allergies=episode.has_allergies,
        allergies=episode.allergies,
        vasovagal_history=episode.vasovagal_history,
        sensitive_skin=episode.sensitive_skin,
    )


def _addon(stored: object) -> AddOn:
    """An add-on as kept: a code ("b_complex") or {"name", "dose"} (core.addons)."""
    from core.addons import dose_mg

    if isinstance(stored, dict):
        return AddOn(str(stored.get("name", "")), dose_mg(stored.get("dose")))
    return AddOn(str(stored))


def _stored_patient(patient: Patient) -> PatientRecord:
    return PatientRecord(
        code=patient.code,
        family_name=patient.family_name,
        given_name=patient.given_name,
        home_country=patient.home_country,
        language=patient.language,
        timezone=patient.timezone,
        channel=patient.channel,
        channel_handle=patient.channel_handle,
        native_name=patient.native_name,
        birth_date=patient.birth_date,
        current_country=patient.current_country,
        phone=patient.phone,
        email=patient.email,
    )


def _latest_episode_id(session: Session, patient_id: int) -> int:
    found = session.scalar(
        select(Episode.id)
        .where(Episode.patient_id == patient_id)
        .order_by(Episode.procedure_at.desc())
    )
    return found or 0


# -- checking -----------------------------------------------------------------


def _checked_patient(record: PatientRecord) -> PatientRecord:
    """The contact and place fields checked as the import and the whereabouts form do."""
    try:
        move = checked_move(
            PatientMove(record.current_country or record.home_country, record.timezone)
        )
        contacts = checked_contacts(
            ContactDetails(record.channel_handle, record.phone, record.email),
            record.channel,
            record.home_country,
        )
    except FieldRefused as refused:
        key = {"country": "current_country"}.get(refused.field, refused.field)
        raise RecordRefused([FieldProblem(key, refused.problem)]) from None
    return PatientRecord(
        code=record.code,
        family_name=record.family_name,
        given_name=record.given_name,
        home_country=record.home_country,
        language=record.language,
        timezone=str(move.timezone),
        channel=record.channel,
        channel_handle=contacts.channel_handle,
        native_name=record.native_name,
        birth_date=record.birth_date,
        current_country=move.country,
        phone=contacts.phone,
        email=contacts.email,
    )


def _episode_refusals(
    session: Session,
    record: EpisodeRecord,
    now: datetime,
    templates: Mapping[str, ScheduleTemplate],
    *,
    keep: EpisodeRecord | None = None,
) -> list[FieldProblem]:
    problems = [p for p in episode_problems(record, now=now, templates=templates) if not p.warning]
    if keep is not None and record.procedure_at == keep.procedure_at:
        # An old episode keeps its procedure time: the 366-day rule is for new records.
        problems = [p for p in problems if p.field != "procedure_at"]
    chosen = record.treating_physician
    changed = chosen and (keep is None or chosen != keep.treating_physician)
    if changed and _physician_id(session, chosen or "") is None:
        listed = ", ".join(login for login, _ in physicians(session)) or "none on the list"
        problems.append(
            FieldProblem(
                "treating_physician",
                f"{chosen!r} is not an active physician; physicians: {listed}",
            )
        )
    return problems


def _warnings(
    record: EpisodeRecord, now: datetime, templates: Mapping[str, ScheduleTemplate]
) -> tuple[str, ...]:
    return tuple(
        str(p) for p in episode_problems(record, now=now, templates=templates) if p.warning
    )


def _physician_id(session: Session, login: str) -> int | None:
    return session.scalar(
        select(Staff.id).where(Staff.username == login, Staff.role == Role.PHYSICIAN, Staff.active)
    )


def _removed_suspects(
    session: Session, episode: Episode, record: EpisodeRecord
) -> list[FieldProblem]:
    """Products an incident names as suspect cannot be removed: correct them instead."""
    kept = len(record.products or ())
    rows = _product_rows(session, episode)
    problems = []
    for n, row in enumerate(rows[kept:], start=kept + 1):
        incident = session.scalar(select(Incident.id).where(Incident.suspect_product_id == row.id))
        if incident is not None:
            problems.append(
                FieldProblem(
                    f"product-{n}-name",
                    f"{row.name} is the suspect product of incident #{incident}; "
                    "it cannot be removed, correct its fields instead",
                )
            )
    return problems


# -- writing --------------------------------------------------------------------


def _add(
    session: Session,
    now: datetime,
    actor: Actor,
    patient: Patient,
    record: EpisodeRecord,
    templates: Mapping[str, ScheduleTemplate],
    high_dose_glutathione_mg: int,
) -> RecordSaved:
    episode = create_episode(
        session,
        patient_id=patient.id,
        procedure_at=record.procedure_at,
        protocol=record.protocol,
        schedule=record.schedule,
        templates=templates,
        actor=actor,
        now=now,
        details=_details(session, record),
        products=[_product_columns(p) for p in record.products or ()],
        high_dose_glutathione_mg=high_dose_glutathione_mg,
    )
    warnings = _warnings(record, now, templates)
    if warnings:
        audit.log(
            session,
            now,
            actor,
            "episode.warnings",
            (AUDITED_AS, episode.id),
            after={"confirmed": list(warnings)},
        )
    added = session.scalar(
        select(func.count()).select_from(Touchpoint).where(Touchpoint.episode_id == episode.id)
    )
    return RecordSaved(patient.id, episode.id, touchpoints_added=added or 0, warnings=warnings)


def _details(session: Session, record: EpisodeRecord) -> dict[str, Any]:
    """The episode's columns besides procedure, protocol and schedule."""
    return {
        "treating_physician_id": (
            _physician_id(session, record.treating_physician) if record.treating_physician else None
        ),
        "nurse_name": record.nurse_name,
        "nurse_license_ref": record.nurse_license_ref,
        "addons": [a.stored() for a in record.addons or ()],
        "addons_recorded": None if record.addons is None else True,
        "products_recorded": None if record.products is None else True,
        "departure_date": record.departure_date,
        "travel_insurer": record.travel_insurer,
        "travel_policy_number": record.travel_policy_number,
        "khidi_cover_ref": record.khidi_cover_ref,
        "has_allergies": record.has_allergies,
        "allergies": record.allergies,
        "vasovagal_history": record.vasovagal_history,
        "sensitive_skin": record.sensitive_skin,
    }


def _product_columns(product: Product) -> dict[str, Any]:
    return {
        "name": product.name,
        "mfds_reference": product.mfds_reference,
        "lot_number": product.lot_number,
        "expiry_date": product.expiry_date,
        "exosome": product.exosome,
    }


def _product_rows(session: Session, episode: Episode) -> list[ProductGiven]:
    return list(
        session.scalars(
            select(ProductGiven)
            .where(ProductGiven.episode_id == episode.id)
            .order_by(ProductGiven.id)
            .execution_options(populate_existing=True)
        )
    )


def _write_details(session: Session, episode: Episode, record: EpisodeRecord) -> None:
    episode.protocol = record.protocol
    for key, value in _details(session, record).items():
        setattr(episode, key, value)
    rows = _product_rows(session, episode)
    wanted = list(record.products or ())
    # Corrected in place, row by row, so an incident's suspect product stays the same row.
    for row, product in zip(rows, wanted, strict=False):
        for key, value in _product_columns(product).items():
            setattr(row, key, value)
    for row in rows[len(wanted) :]:
        session.delete(row)
    for product in wanted[len(rows) :]:
        session.add(ProductGiven(episode_id=episode.id, **_product_columns(product)))


def _follow(
    session: Session,
    now: datetime,
    actor: Actor,
    episode: Episode,
    followed: Sequence[ScheduleTemplate],
    record: EpisodeRecord,
    zone: ZoneInfo,
    high_dose_glutathione_mg: int,
) -> tuple[int, int]:
    """Touchpoints for templates now followed, withdrawn for ones no longer followed."""
    events = event_plans(
        high_dose_glutathione=has_high_dose_glutathione(
            [a.stored() for a in record.addons or ()], high_dose_glutathione_mg
        )
    )
    wanted = {t.name: t.touchpoints for t in followed} | {name: (plan,) for name, plan in events}
    existing = session.scalars(
        select(Touchpoint)
        .where(Touchpoint.episode_id == episode.id)
        .execution_options(populate_existing=True)
    ).all()
    had = {t.template for t in existing}
    added = 0
    for name, plans in wanted.items():
        if name in had:
            continue
        for touchpoint in new_touchpoints(episode, name, plans, zone):
            if touchpoint.closes_at > now:
                session.add(touchpoint)
                added += 1
    withdrawn = 0
    for touchpoint in existing:
        if touchpoint.template not in wanted and touchpoint.resolution is None:
            touchpoint.resolution = TouchpointResolution.SKIPPED
            touchpoint.resolved_at = now
            touchpoint.resolved_by_id = actor.staff_id
            touchpoint.note = f"withdrawn: {touchpoint.template} is no longer followed"
            touchpoint.version += 1
            withdrawn += 1
    return added, withdrawn


def _note_on_incidents(
    session: Session,
    now: datetime,
    actor: Actor,
    episode: Episode,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> tuple[int, ...]:
    incidents = session.scalars(
        select(Incident.id).where(Incident.episode_id == episode.id).order_by(Incident.id)
    ).all()
    if not incidents:
        return ()
    said = "; ".join(
        f"{field_words(key)}: {_shown(before.get(key))} -> {_shown(after.get(key))}"
        for key in dict.fromkeys([*before, *after])
    )
    for incident_id in incidents:
        session.add(
            IncidentEntry(
                incident_id=incident_id,
                at=now,
                staff_id=actor.staff_id,
                kind=EntryKind.CORRECTION,
                text=f"Record of care corrected after this incident was opened. {said}",
            )
        )
    return tuple(incidents)


def _differences(
    stored: EpisodeRecord, wanted: EpisodeRecord
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Before and after of each changed field; products and add-ons row by row."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for f in fields(EpisodeRecord):
        if f.name in ("products", "addons"):
            continue
        old, new = getattr(stored, f.name), getattr(wanted, f.name)
        if old != new:
            before[f.name], after[f.name] = _plain(old), _plain(new)
    for kind, old_rows, new_rows in (
        ("product", stored.products, wanted.products),
        ("addon", stored.addons, wanted.addons),
    ):
        if old_rows is None or new_rows is None:
            if old_rows != new_rows:
                key = f"{kind}s"
                before[key] = _plain_rows(old_rows)
                after[key] = _plain_rows(new_rows)
            continue
        for n in range(1, max(len(old_rows), len(new_rows)) + 1):
            old = old_rows[n - 1] if n <= len(old_rows) else None
            new = new_rows[n - 1] if n <= len(new_rows) else None
            if old == new:
                continue
            if old is None or new is None:
                before[f"{kind}-{n}-name"] = old.name if old else None
                after[f"{kind}-{n}-name"] = new.name if new else None
                continue
            for g in fields(old):
                if getattr(old, g.name) != getattr(new, g.name):
                    before[f"{kind}-{n}-{g.name}"] = _plain(getattr(old, g.name))
                    after[f"{kind}-{n}-{g.name}"] = _plain(getattr(new, g.name))
    return before, after


def _plain_rows(rows: tuple[Product, ...] | tuple[AddOn, ...] | None) -> Any:
    if rows is None:
        return "not recorded"
    return [{g.name: _plain(getattr(row, g.name)) for g in fields(row)} for row in rows]


def _plain(value: Any) -> Any:
    """A value as JSON keeps it in the audit trail."""
    if isinstance(value, datetime) or hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value.value if hasattr(value, "value") else value


def _shown(value: Any) -> str:
    if value is None:
        return "not recorded"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)
