"""The demo's touchpoints and contact attempts, resolved as a working clinic's would be.

This is both the hot path (about 900,000 touchpoints and 700,000 attempts per
100,000 patients, hence plain tuples and locals) and the place that decides
what the queue looks like at `now`, so the realism rules are all here:

- windows that have not opened are left alone (scheduled);
- open windows are sometimes done early or tried once (due);
- closed windows of the main trip are mostly done, some skipped or marked
  unreachable, and a few left open (overdue): mostly ones that closed in the
  last three weeks, a handful older (`_OVERDUE_CHANCE`);
- a returning patient's previous trip was followed up completely: every
  window that has opened is resolved.

It also keeps each patient's next touchpoint (the unresolved one with the
smallest (closes_at, opens_at, id), the rule of `db.followup`), so the
patient row's cache is filled without a query.

Windows come from `core.schedules.touchpoint_window`, memoised per (procedure
date, time zone, template), so there is still one definition of a window.
The touchpoints added by events (the week-4 liver panel reminder) are written
the same way, under their own template name.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from core.domain import ContactOutcome, TouchpointResolution
from core.schedules import ScheduleTemplate, builtin_templates, event_plans, touchpoint_window
from db.demo import catalog
from db.demo.context import Context, EpisodeFacts, PatientState, pick
from db.demo.tables import Rows

# Enum values as plain str, looked up once rather than per row.
_DONE = TouchpointResolution.DONE.value
_SKIPPED = TouchpointResolution.SKIPPED.value
_UNREACHABLE = TouchpointResolution.UNREACHABLE.value
_REACHED = ContactOutcome.REACHED.value
_PHOTO = ContactOutcome.PHOTO_RECEIVED.value
_MESSAGE_SENT = ContactOutcome.MESSAGE_SENT.value
_FAILED = (ContactOutcome.NO_ANSWER.value, ContactOutcome.MESSAGE_SENT.value)
_NOT_YET = (*_FAILED, ContactOutcome.CALL_LATER.value)
_HEARD = frozenset(o.value for o in ContactOutcome if o.heard_from_patient)

# Chance that a main-trip window which closed less than `age` ago is still
# unresolved, youngest first; older ones use _OVERDUE_OLDER. Together about
# 4-5% of a main trip's closed windows, nine in ten closed in the last three
# weeks (tests/db/test_demo.py holds these bounds).
_OVERDUE_CHANCE: tuple[tuple[timedelta, float], ...] = (
    (timedelta(days=7), 0.22),
    (timedelta(days=21), 0.14),
    (timedelta(days=60), 0.006),
)
_OVERDUE_OLDER = 0.001
# Of the closed windows that were resolved, these shares were skipped or unreachable.
_SKIPPED_SHARE = 0.06
_UNREACHABLE_SHARE = 0.05


class Slot(NamedTuple):
    """One touchpoint window of one template, with its values pre-encoded."""

    day: int
    ask: str
    photos: bool
    opens_at: datetime
    closes_at: datetime
    seconds: int  # length of the window
    due_db: Any
    opens_db: Any
    closes_db: Any


class Touchpoints:
    """Writes an episode's touchpoints and attempts; all randomness comes from the context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.templates = builtin_templates()
        # Event touchpoints as one-touchpoint templates, so they share the window memo.
        for name, plan in event_plans(high_dose_glutathione=True):
            self.templates[name] = ScheduleTemplate(name, "added by an event", (plan,))
        self.zones: dict[str, ZoneInfo] = {}
        self.slots: dict[tuple[date, str, str], tuple[Slot, ...]] = {}
        self.attempt_ids = ctx.ids["contact_attempt"]
        self.attempts: list[tuple[Any, ...]] = []
        # Closed-since thresholds as instants, so the hot path compares datetimes.
        self.overdue_chance = tuple((ctx.now - age, chance) for age, chance in _OVERDUE_CHANCE)

    def write(
        self,
        patient: PatientState,
        episode: EpisodeFacts,
        templates: list[str],
        tz_name: str,
        previous_trip: bool,
        rows: Rows,
    ) -> list[tuple[int, datetime]]:
        """Touchpoints resolved as a real queue would look at `now`.

        Returns (touchpoint id, when) of done touchpoints where the patient replied:
        the moments a triage can plausibly have happened.
        """
        # Runs ~900k times per 100k patients: locals instead of attribute lookups.
        ctx = self.ctx
        rng, now, ts, random_ = ctx.rng, ctx.now, ctx.ts, ctx.rng.random
        attempt, between, next_id = self._attempt, ctx.between, ctx.ids["touchpoint"].__next__
        self.attempts = rows["contact_attempt"]
        staff_id = episode.coordinator
        out = rows["touchpoint"]
        heard: list[tuple[int, datetime]] = []
        following = patient.next_touchpoint
        for template in templates:
            notes = catalog.NOTES_BY_TEMPLATE.get(template, catalog.DONE_NOTES)
            for slot in self._windows(episode.procedure_at, episode.local_day, tz_name, template):
                touchpoint_id = next_id()
                opens, closes = slot.opens_at, slot.closes_at
                resolution: str | None = None
                resolved_at: datetime | None = None
                resolved_db: Any = None
                note: str | None = None
                if closes <= now:
                    roll = random_()
                    overdue = 0.0 if previous_trip else self._overdue_chance(closes)
                    if roll < overdue:  # left open: overdue, maybe after failed tries
                        for _ in range(pick(rng, (0, 0, 1, 2))):
                            at = between(opens, slot.seconds)
                            attempt(patient, touchpoint_id, at, pick(rng, _FAILED), staff_id)
                    elif roll < overdue + _SKIPPED_SHARE:
                        resolution, note = _SKIPPED, pick(rng, catalog.SKIP_REASONS)
                        resolved_at = between(opens, slot.seconds)
                        resolved_db = ts(resolved_at)
                        if random_() < 0.4:  # the patient asked to skip it
                            attempt(
                                patient, touchpoint_id, resolved_at, _REACHED, staff_id, resolved_db
                            )
                    elif roll < overdue + _SKIPPED_SHARE + _UNREACHABLE_SHARE:
                        resolution, note = _UNREACHABLE, pick(rng, catalog.UNREACHABLE_NOTES)
                        tries = sorted(
                            between(opens, slot.seconds) for _ in range(2 + (random_() < 0.5))
                        )
                        for at in tries:
                            attempt(patient, touchpoint_id, at, pick(rng, _FAILED), staff_id)
                        resolved_at = tries[-1]
                        resolved_db = ts(resolved_at)
                    else:
                        resolution, note = _DONE, pick(rng, notes)
                        resolved_at, resolved_db = self._done(
                            patient, touchpoint_id, slot, slot.seconds, staff_id, heard
                        )
                elif opens <= now:
                    so_far = int((now - opens).total_seconds())
                    # Done early, before the window closes; on a previous trip always
                    # (the patient has since come back, so the reminder was settled).
                    if previous_trip or random_() < 0.25:
                        resolution, note = _DONE, pick(rng, notes)
                        resolved_at, resolved_db = self._done(
                            patient, touchpoint_id, slot, so_far, staff_id, heard
                        )
                    elif random_() < 0.35:  # tried, no reply yet
                        at = between(opens, so_far)
                        attempt(patient, touchpoint_id, at, pick(rng, _NOT_YET), staff_id)
                if resolution is None:
                    key = (closes, opens, touchpoint_id)
                    if following is None or key < following:
                        following = key
                # A plain tuple in TouchpointRow order: ~900k rows, and the SQLite driver
                # binds exact tuples noticeably faster than named ones.
                out.append((
                    touchpoint_id, episode.id, patient.id, template, slot.day, slot.due_db,
                    slot.opens_db, slot.closes_db, slot.ask, slot.photos, resolution,
                    resolved_db, staff_id if resolution else None, note, 1,
                ))  # fmt: skip
        patient.next_touchpoint = following
        return heard

    def _overdue_chance(self, closes_at: datetime) -> float:
        """How likely a main-trip window that closed at `closes_at` is still open."""
        for since, chance in self.overdue_chance:
            if closes_at > since:
                return chance
        return _OVERDUE_OLDER

    def _windows(
        self, procedure_at: datetime, local_day: date, tz_name: str, template: str
    ) -> tuple[Slot, ...]:
        # A window depends only on the clinic-local procedure date, the zone and the
        # plan, so a few thousand calls cover a hundred thousand episodes.
        key = (local_day, tz_name, template)
        slots = self.slots.get(key)
        if slots is None:
            zone = self.zones.get(tz_name) or self.zones.setdefault(tz_name, ZoneInfo(tz_name))
            built = []
            for plan in self.templates[template].touchpoints:
                window = touchpoint_window(procedure_at, plan, zone)
                opens, closes = window.opens_at, window.closes_at
                seconds = int((closes - opens).total_seconds())
                encoded = (self.ctx.day(window.due_date), self.ctx.ts(opens), self.ctx.ts(closes))
                built.append(
                    Slot(plan.day, plan.ask, plan.photos, opens, closes, seconds, *encoded)
                )
            slots = self.slots[key] = tuple(built)
        return slots

    def _done(
        self,
        patient: PatientState,
        touchpoint_id: int,
        slot: Slot,
        seconds: int,
        staff_id: int,
        heard: list[tuple[int, datetime]],
    ) -> tuple[datetime, Any]:
        """Attempts for a touchpoint completed within `seconds` of its opening.

        Returns when it was resolved (and that instant encoded). Completions where
        the patient replied go to `heard`, return-cycle reminders excepted.
        """
        ctx = self.ctx
        random_ = ctx.rng.random
        resolved_at = ctx.between(slot.opens_at, seconds)
        resolved_db = ctx.ts(resolved_at)
        if random_() < 0.85:  # the rest were completed without a logged attempt
            if random_() < 0.3:
                first = ctx.between(
                    slot.opens_at, int((resolved_at - slot.opens_at).total_seconds())
                )
                self._attempt(patient, touchpoint_id, first, _MESSAGE_SENT, staff_id)
            outcome = _PHOTO if slot.photos and random_() < 0.6 else _REACHED
            self._attempt(patient, touchpoint_id, resolved_at, outcome, staff_id, resolved_db)
            if slot.day < 365:
                heard.append((touchpoint_id, resolved_at))
        return resolved_at, resolved_db

    def _attempt(
        self,
        patient: PatientState,
        touchpoint_id: int,
        at: datetime,
        outcome: str,
        staff_id: int,
        at_db: Any = None,
    ) -> None:
        """Record one contact attempt and keep the patient's last contact/heard in step."""
        rng = self.ctx.rng
        channel = patient.channel if rng.random() < 0.88 else patient.fallback
        note = pick(rng, catalog.ATTEMPT_NOTES) if rng.random() < 0.2 else None
        # A plain tuple in AttemptRow order (see `write`).
        self.attempts.append((
            next(self.attempt_ids), touchpoint_id, patient.id,
            self.ctx.ts(at) if at_db is None else at_db, channel, outcome, note, staff_id,
        ))  # fmt: skip
        if patient.last_contact is None or at > patient.last_contact:
            patient.last_contact = at
        if outcome in _HEARD and (patient.last_heard is None or at > patient.last_heard):
            patient.last_heard = at
