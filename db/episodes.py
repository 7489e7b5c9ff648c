"""Treatment episodes and the touchpoints their schedules generate.

Creating an episode writes one touchpoint per planned contact of each chosen
template (exosome protocols always get the granuloma watch). Moving the
procedure date moves every touchpoint not yet resolved by the same number of
calendar days, keeping each window's shape; resolved ones are history and
stay where they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain import Protocol
from core.permissions import Action
from core.schedules import (
    ScheduleTemplate,
    TouchpointPlan,
    procedure_local_date,
    touchpoint_window,
)
from db import audit
from db.conflicts import last_change, when
from db.followup import Actor, FollowUpConflict, mark_changed, refresh_next_touchpoint, require
from db.models import Patient, Touchpoint, TreatmentEpisode


def schedules_for(
    protocol: Protocol, chosen: Sequence[str], templates: Mapping[str, ScheduleTemplate]
) -> list[ScheduleTemplate]:
    """The templates an episode follows: the chosen ones, plus the exosome defaults."""
    names = list(dict.fromkeys(chosen))
    if protocol.involves_exosomes:
        names += [
            t.name for t in templates.values() if t.default_for_exosome and t.name not in names
        ]
    unknown = [n for n in names if n not in templates]
    if unknown:
        raise FollowUpConflict(
            f"unknown schedule template {', '.join(unknown)}; known: {', '.join(sorted(templates))}"
        )
    return [templates[n] for n in names]


def create_episode(
    session: Session,
    *,
    patient_id: int,
    procedure_at: datetime,
    protocol: Protocol,
    schedule: Sequence[str],
    templates: Mapping[str, ScheduleTemplate],
    actor: Actor,
    now: datetime,
    details: Mapping[str, Any] | None = None,
) -> TreatmentEpisode:
    """Record an episode and generate its touchpoints, in the caller's transaction."""
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise FollowUpConflict(f"patient {patient_id} does not exist")
    followed = schedules_for(protocol, schedule, templates)
    episode = TreatmentEpisode(
        patient_id=patient.id,
        procedure_at=procedure_at,
        protocol=protocol,
        schedule_templates=[t.name for t in followed],
        created_at=now,
        **dict(details or {}),
    )
    session.add(episode)
    session.flush()
    zone = ZoneInfo(patient.timezone)
    for template in followed:
        for plan in template.touchpoints:
            session.add(_touchpoint(episode, template.name, plan, zone))
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="episode.create",
        entity="episode",
        entity_id=episode.id,
        after={
            "patient": patient.id,
            "procedure_at": procedure_at.isoformat(),
            "protocol": protocol.value,
            "schedule": episode.schedule_templates,
        },
    )
    refresh_next_touchpoint(session, patient.id)
    return episode


def _touchpoint(
    episode: TreatmentEpisode, template: str, plan: TouchpointPlan, zone: ZoneInfo
) -> Touchpoint:
    window = touchpoint_window(episode.procedure_at, plan, zone)
    return Touchpoint(
        episode_id=episode.id,
        patient_id=episode.patient_id,
        template=template,
        day=plan.day,
        due_date=window.due_date,
        opens_at=window.opens_at,
        closes_at=window.closes_at,
        ask=plan.ask,
        photos_wanted=plan.photos,
    )


def move_procedure(
    session: Session,
    *,
    episode_id: int,
    procedure_at: datetime,
    actor: Actor,
    now: datetime,
    expected_version: int | None = None,
) -> int:
    """Change the procedure time; returns how many open touchpoints moved.

    With `expected_version` (the episode's version when the screen read it), a
    move made from a stale view is refused, naming who moved it in between.
    """
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    episode = session.get(
        TreatmentEpisode, episode_id, with_for_update=True, populate_existing=True
    )
    if episode is None:
        raise FollowUpConflict(f"episode {episode_id} does not exist")
    if expected_version is not None and episode.version != expected_version:
        change = last_change(session, "episode", episode_id, ["episode.move_procedure"])
        raise FollowUpConflict(
            f"episode {episode_id} was {change.words if change else 'changed'} since you opened "
            f"it (procedure now {when(episode.procedure_at)}); nothing was saved"
        )
    patient = session.get(Patient, episode.patient_id)
    assert patient is not None
    zone = ZoneInfo(patient.timezone)
    before = episode.procedure_at
    shift = procedure_local_date(procedure_at) - procedure_local_date(before)
    episode.procedure_at = procedure_at
    episode.version += 1
    moved = 0
    open_touchpoints = session.scalars(
        select(Touchpoint)
        .where(Touchpoint.episode_id == episode.id, Touchpoint.resolution.is_(None))
        .execution_options(populate_existing=True)
    )
    for touchpoint in open_touchpoints:
        if shift:
            # Keep the window's shape: days before and after the due date, in the
            # patient's zone, so a DST change in between is handled by zoneinfo.
            opens_day = touchpoint.opens_at.astimezone(zone).date()
            closes_day = touchpoint.closes_at.astimezone(zone).date()
            due = touchpoint.due_date + shift
            touchpoint.opens_at = _midnight(due - (touchpoint.due_date - opens_day), zone)
            touchpoint.closes_at = _midnight(due + (closes_day - touchpoint.due_date), zone)
            touchpoint.due_date = due
            touchpoint.version += 1
            moved += 1
    audit.record(
        session,
        at=now,
        actor=actor.username,
        action="episode.move_procedure",
        entity="episode",
        entity_id=episode.id,
        before={"procedure_at": before.isoformat()},
        after={"procedure_at": procedure_at.isoformat(), "touchpoints_moved": moved},
    )
    refresh_next_touchpoint(session, patient.id)
    return moved


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)
