"""Treatment episodes and the touchpoints their schedules generate.

Creating an episode records its products and writes one touchpoint per
planned contact of each chosen template. What was given adds more: the
granuloma watch when the protocol or any product is an exosome preparation
(an ampoule applied with microneedling counts), and the week-4 liver panel
reminder when glutathione was given at a high dose (judged by the dose, see
`core.addons`). Moving the
procedure date moves every touchpoint not yet resolved by the same number of
calendar days, keeping each window's shape; resolved ones are history and
stay where they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.addons import DEFAULT_HIGH_DOSE_GLUTATHIONE_MG, has_high_dose_glutathione
from core.domain import Protocol
from core.permissions import Action
from core.refusals import NotFound
from core.schedules import (
    ScheduleTemplate,
    TouchpointPlan,
    event_plans,
    gets_granuloma_watch,
    procedure_local_date,
    touchpoint_window,
)
from db import audit
from db.conflicts import last_change, when
from db.followup import Actor, FollowUpConflict, mark_changed, refresh_next_touchpoint, require
from db.models import Patient, ProductGiven, Touchpoint, TreatmentEpisode

# What a product given may record (the ProductGiven columns a caller fills in).
PRODUCT_FIELDS = frozenset(
    {"name", "mfds_reference", "manufacturer", "lot_number", "expiry_date", "dose", "exosome"}
)

# Audit events name an episode "episode", as they always have, not by its table
# (treatment_episode): renaming it would split one episode's history in two.
AUDITED_AS = "episode"


def schedules_for(
    protocol: Protocol,
    chosen: Sequence[str],
    templates: Mapping[str, ScheduleTemplate],
    product_exosome_flags: Iterable[bool | None] = (),
) -> list[ScheduleTemplate]:
    """The templates an episode follows: the chosen ones, plus the exosome defaults
    when the protocol or a product given calls for the granuloma watch."""
    names = list(dict.fromkeys(chosen))
    if gets_granuloma_watch(protocol, product_exosome_flags):
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
    products: Sequence[Mapping[str, Any]] = (),
    high_dose_glutathione_mg: int = DEFAULT_HIGH_DOSE_GLUTATHIONE_MG,
) -> TreatmentEpisode:
    """Record an episode, its products and its touchpoints, in the caller's transaction.

    `details` are further episode columns (add-ons among them); `products` are
    the products given, each with the ProductGiven columns (`exosome` True when
    it is an exosome preparation). `high_dose_glutathione_mg` is the clinic's
    threshold (setting `high_dose_glutathione_mg`).
    """
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise FollowUpConflict(f"patient {patient_id} does not exist")
    for product in products:
        unknown = sorted(set(product) - PRODUCT_FIELDS)
        if unknown or not product.get("name"):
            raise FollowUpConflict(
                f"a product given needs a name and only {', '.join(sorted(PRODUCT_FIELDS))}"
                + (f" (not {', '.join(unknown)})" if unknown else "")
            )
    followed = schedules_for(
        protocol, schedule, templates, [product.get("exosome") for product in products]
    )
    details = dict(details or {})
    events = event_plans(
        high_dose_glutathione=has_high_dose_glutathione(
            details.get("addons") or (), high_dose_glutathione_mg
        )
    )
    episode = TreatmentEpisode(
        patient_id=patient.id,
        procedure_at=procedure_at,
        protocol=protocol,
        schedule_templates=[t.name for t in followed],
        created_at=now,
        **details,
    )
    session.add(episode)
    session.flush()
    for product in products:
        session.add(ProductGiven(episode_id=episode.id, **product))
    zone = ZoneInfo(patient.timezone)
    for template in followed:
        session.add_all(new_touchpoints(episode, template.name, template.touchpoints, zone))
    for name, plan in events:
        session.add_all(new_touchpoints(episode, name, (plan,), zone))
    created = {
        "patient": patient.id,
        "procedure_at": procedure_at.isoformat(),
        "protocol": protocol.value,
        "schedule": episode.schedule_templates,
        "products": len(products),
        "added": [name for name, _ in events],
    }
    audit.log(session, now, actor, "episode.create", (AUDITED_AS, episode.id), after=created)
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


def locked_episode(
    session: Session, now: datetime, actor: Actor, episode_id: int
) -> TreatmentEpisode:
    """The episode `actor` is about to edit: permission checked, every open queue
    told something changes, the row locked and read fresh (NotFound if it is gone).
    The caller checks the version it expects, with words for what it edits."""
    require(session, actor, Action.EDIT_EPISODE)
    mark_changed(session, now)
    episode = session.get(
        TreatmentEpisode, episode_id, with_for_update=True, populate_existing=True
    )
    if episode is None:
        raise NotFound(f"episode {episode_id} does not exist; nothing was saved")
    return episode


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
    episode = locked_episode(session, now, actor, episode_id)
    if expected_version is not None and episode.version != expected_version:
        change = last_change(session, AUDITED_AS, episode_id, ["episode.move_procedure"])
        raise FollowUpConflict(
            f"episode {episode_id} was {change.words if change else 'changed'} since you opened "
            f"it (procedure now {when(episode.procedure_at)}); nothing was saved"
        )
    patient = session.get(Patient, episode.patient_id)
    assert patient is not None
    before = episode.procedure_at
    moved = shift_open_touchpoints(session, episode, procedure_at, ZoneInfo(patient.timezone))
    episode.procedure_at = procedure_at
    episode.version += 1
    after = {"procedure_at": procedure_at.isoformat(), "touchpoints_moved": moved}
    was = {"procedure_at": before.isoformat()}
    about = (AUDITED_AS, episode.id)
    audit.log(session, now, actor, "episode.move_procedure", about, before=was, after=after)
    refresh_next_touchpoint(session, patient.id)
    return moved


def shift_open_touchpoints(
    session: Session, episode: TreatmentEpisode, procedure_at: datetime, zone: ZoneInfo
) -> int:
    """Move every touchpoint of `episode` not yet done by as many calendar days as the
    procedure moves to `procedure_at`; returns how many moved. The caller sets the
    episode's new time."""
    shift = procedure_local_date(procedure_at) - procedure_local_date(episode.procedure_at)
    if not shift:
        return 0
    moved = 0
    open_touchpoints = session.scalars(
        select(Touchpoint)
        .where(Touchpoint.episode_id == episode.id, Touchpoint.resolution.is_(None))
        .execution_options(populate_existing=True)
    )
    for touchpoint in open_touchpoints:
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
    return moved


def new_touchpoints(
    episode: TreatmentEpisode, template: str, plans: Iterable[TouchpointPlan], zone: ZoneInfo
) -> list[Touchpoint]:
    """The touchpoints one template (or one rule's event) plans for `episode`."""
    return [_touchpoint(episode, template, plan, zone) for plan in plans]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)
