"""What happens when a patient reports a problem: triage, incidents, escalations.

Kept apart from `generate` and `touchpoints` because this is the part a
demo viewer reads as a story: a triage at a touchpoint where the patient
replied, with findings plausible for that day after the procedure, its lab
suggestions and what was missing; from `review` up an incident with its
reporting clock; from `urgent` up a physician page that was already
acknowledged (the demo must never page anyone), with its sent outbox rows.
About 1% of patients end up with such a worst-case story.

An incident opened from a triage is not a physician's assessment: until the
treating physician classifies it, its seriousness is "not yet assessed", it
has no grade and no suspect product, and its clock runs at the deadline the
triage suggests (7 days from emergency, 15 from urgent, 30 from review).
Most demo incidents were classified within hours; the fresh ones may not be.
A classified incident's seriousness, grade and outcome agree (grade 4 only
with a serious seriousness; the demo has no deaths, so no grade 5).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from core.domain import (
    Disposition,
    EscalationStatus,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    NotificationStatus,
    Seriousness,
    Trend,
)
from core.exports.labels import SERIOUSNESS_LABELS
from core.incident_log import EntryKind
from core.incidents import DEFAULT_REPORTING, triage_clock_disposition
from core.schedules import CLINIC_TZ
from db.demo import catalog
from db.demo.context import Context, EpisodeFacts, PatientState, Weighted, pick, randint
from db.demo.tables import EntryRow, EscalationRow, IncidentRow, OutboxRow, Rows, TriageRow
from db.demo.triage import RULES_VERSION, demo_labs, demo_needs, demo_triage, nudge

# Pages younger than this are still being followed up (acknowledged, not resolved).
_OPEN_PAGE = timedelta(days=3)
# Share of incidents the physician classified at the first review, when that was
# under three days ago; older ones were all classified by now.
_CLASSIFIED_EARLY = 0.5


class Events:
    """Adds triages and what follows from them; all randomness comes from the context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.scenario_pick: dict[tuple[int, bool], Weighted[catalog.Scenario]] = {}

    def _scenario(self, day: int, iv: bool) -> catalog.Scenario:
        key = (min(day, 10_000), iv)
        chooser = self.scenario_pick.get(key)
        if chooser is None:
            fits = [
                (s, s.weight)
                for s in catalog.SCENARIOS
                if s.first_day <= day <= s.last_day and (iv or not s.iv_only)
            ]
            chooser = self.scenario_pick[key] = Weighted(fits)
        return chooser.pick(self.ctx.rng)

    def triage(
        self,
        patient: PatientState,
        episode: EpisodeFacts,
        touchpoint_id: int,
        assessed_at: datetime,
        rows: Rows,
    ) -> None:
        """A triage when the patient replied at `assessed_at`, and what it leads to.

        The findings are a scenario plausible for that day after the procedure;
        the chosen disposition sometimes overrides the computed one, as staff do.
        """
        ctx = self.ctx
        rng = ctx.rng
        day = (assessed_at.astimezone(CLINIC_TZ).date() - episode.local_day).days
        scenario = self._scenario(day, episode.protocol in catalog.IV_PROTOCOLS)
        computed, reasons = demo_triage(
            day, scenario.temperature_c, scenario.trend, scenario.symptoms
        )
        chosen, override = computed, None
        roll = rng.random()
        if computed in (Disposition.EXPECTED, Disposition.MONITOR) and roll < 0.04:
            chosen, override = nudge(computed, +1), catalog.OVERRIDE_UP
        elif computed is Disposition.REVIEW and roll < 0.08:
            chosen, override = nudge(computed, -1), catalog.OVERRIDE_DOWN
        triage_id = self._add_triage(
            patient, episode, touchpoint_id, assessed_at, day, scenario.temperature_c,
            scenario.trend, scenario.symptoms, computed, chosen, override, reasons, rows,
        )  # fmt: skip
        incident_id = None
        if chosen.opens_incident:
            clock = triage_clock_disposition(computed, chosen)
            incident_id = self._incident(
                patient, episode, triage_id, clock, scenario, assessed_at, rows
            )
        if chosen.pages_physician:
            self._escalation(
                patient, episode, incident_id, triage_id, chosen, day, scenario, assessed_at, rows
            )
        follow_up = assessed_at + timedelta(days=2, minutes=randint(rng, -90, 90))
        if chosen.opens_incident and follow_up <= ctx.now and rng.random() < 0.35:
            # Two days later the patient reports things settling: the latest word.
            symptoms = scenario.symptoms[:1]
            later_day = (follow_up.astimezone(CLINIC_TZ).date() - episode.local_day).days
            later, later_reasons = demo_triage(later_day, None, Trend.IMPROVING, symptoms)
            self._add_triage(
                patient, episode, None, follow_up, later_day, None, Trend.IMPROVING, symptoms,
                later, later, None, later_reasons, rows,
            )  # fmt: skip

    def _add_triage(
        self,
        patient: PatientState,
        episode: EpisodeFacts,
        touchpoint_id: int | None,
        assessed_at: datetime,
        day: int,
        temperature_c: float | None,
        trend: Trend | None,
        symptoms: tuple[str, ...],
        computed: Disposition,
        chosen: Disposition,
        override: str | None,
        reasons: list[dict[str, str]],
        rows: Rows,
    ) -> int:
        ctx = self.ctx
        triage_id = ctx.take("triage_assessment")
        needs = demo_needs(day, trend, symptoms)
        addons = episode.triage_addons
        rows["triage_assessment"].append(
            TriageRow(
                id=triage_id,
                patient_id=patient.id,
                episode_id=episode.id,
                touchpoint_id=touchpoint_id,
                assessed_at=ctx.ts(assessed_at),
                day=day,
                temperature_c=temperature_c,
                trend=trend.value if trend else None,
                symptoms=ctx.json(("symptoms", *symptoms), list, symptoms),
                current_country=patient.country,
                computed_disposition=computed.value,
                chosen_disposition=chosen.value,
                override_reason=override,
                reasons=ctx.encode_json(reasons),
                rules_version=RULES_VERSION,
                note="Photos reviewed with the patient." if ctx.rng.random() < 0.3 else None,
                staff_id=episode.coordinator,
                labs=ctx.encode_json(demo_labs(temperature_c, symptoms, episode.triage_addons)),
                needs=ctx.json(("needs", *needs), list, needs),
                protocol=episode.protocol.value,
                addons=ctx.json(("triage_addons", *addons), list, addons),
            )
        )
        if patient.latest_triage is None or assessed_at >= patient.latest_triage[0]:
            patient.latest_triage = (assessed_at, chosen)
        return triage_id

    def _incident(
        self,
        patient: PatientState,
        episode: EpisodeFacts,
        triage_id: int,
        chosen: Disposition,
        scenario: catalog.Scenario,
        assessed_at: datetime,
        rows: Rows,
    ) -> int:
        ctx = self.ctx
        rng, today, day = ctx.rng, ctx.today, ctx.day
        found = set(scenario.symptoms)
        category = next(
            (category for codes, category in catalog.CATEGORY_BY_SYMPTOM if codes & found),
            IncidentCategory.SYSTEMIC if scenario.temperature_c else IncidentCategory.OTHER,
        )
        learned_on = assessed_at.astimezone(CLINIC_TZ).date()
        onset = max(episode.local_day, learned_on - timedelta(days=randint(rng, 0, 2)))
        age = (today - learned_on).days
        review_at = assessed_at + timedelta(hours=randint(rng, 2, 20))
        reviewed = review_at <= ctx.now
        classified = reviewed and (age >= 3 or rng.random() < _CLASSIFIED_EARLY)
        seriousness, grade = Seriousness.NOT_ASSESSED, None
        suspect = causality = actions = None
        # Not yet assessed: the clock the triage suggests. Classified (hours later, so
        # that deadline has not passed): the clock of the seriousness (ICH E2A/E2D).
        triage_days = DEFAULT_REPORTING.days_for_triage(chosen)
        clock_days = triage_days
        if classified:
            seriousness, grade = _seriousness(rng, chosen, category)
            suspect = self._suspect(episode, category)
            causality = pick(rng, catalog.CAUSALITY)
            actions = pick(rng, catalog.INCIDENT_ACTIONS)
            clock_days = DEFAULT_REPORTING.days_for(seriousness)
        due = learned_on + timedelta(days=clock_days)
        reported_on = None
        # Most past-due reports were filed; a few are late so the clock shows red.
        # Only classified events are reported: the report needs the physician's word.
        if classified and (
            (due < today and rng.random() < 0.85) or (age > 1 and rng.random() < 0.3)
        ):
            reported_on = learned_on + timedelta(days=randint(rng, 1, max(1, min(clock_days, age))))
        outcome = _incident_outcome(rng, age)
        closed = reported_on is not None and outcome is IncidentOutcome.RESOLVED
        khidi_on = None
        if classified and seriousness is not Seriousness.NON_SERIOUS and rng.random() < 0.3:
            khidi_on = min(today, learned_on + timedelta(days=randint(rng, 1, 3)))
        incident_id = ctx.take("incident")
        rows["incident"].append(
            IncidentRow(
                id=incident_id,
                patient_id=patient.id,
                episode_id=episode.id,
                triage_id=triage_id,
                category=category.value,
                onset_date=day(onset),
                onset_day=(onset - episode.local_day).days,
                learned_on=day(learned_on),
                seriousness=seriousness.value,
                severity_grade=grade,
                outcome=outcome.value,
                suspect_product_id=suspect,
                causality=causality,
                actions_taken=actions,
                status=(IncidentStatus.CLOSED if closed else IncidentStatus.OPEN).value,
                report_due_on=day(due),
                reported_on=day(reported_on) if reported_on else None,
                report_reference=(
                    f"MFDS-AE-{reported_on:%Y}-{randint(rng, 1, 99999):05d}"
                    if reported_on
                    else None
                ),
                khidi_escalated_on=day(khidi_on) if khidi_on else None,
                khidi_reference=f"KHIDI-{khidi_on:%Y}-{randint(rng, 1, 9999):04d}"
                if khidi_on
                else None,
                created_at=ctx.ts(assessed_at),
                version=1,
            )
        )
        coordinator = episode.coordinator
        opened = (
            f"Opened from {'a' if chosen is Disposition.REVIEW else 'an'} {chosen.value} "
            "triage; seriousness not yet assessed, "
            f"report clock {triage_days} days until a physician classifies it."
        )
        entries = [(assessed_at, coordinator, EntryKind.OPENED.value, opened)]
        if reviewed:
            doctor = ctx.staff.names[episode.physician]
            if classified:
                words = (
                    f"{doctor} reviewed photos and classified the event: "
                    f"{SERIOUSNESS_LABELS[seriousness].lower()}, grade {grade}, "
                    f"causality {causality}; report due in {clock_days} days."
                )
                entries.append((review_at, episode.physician, EntryKind.CLASSIFIED.value, words))
            else:
                words = f"{doctor} reviewed photos; classification to follow."
                entries.append((review_at, episode.physician, EntryKind.NOTE.value, words))
        if reported_on is not None:
            at = datetime.combine(reported_on, time(10, 0), CLINIC_TZ).astimezone(UTC)
            if assessed_at < at <= ctx.now:
                entries.append((at, coordinator, EntryKind.REPORTED.value, "Reported to MFDS."))
        for at, staff_id, kind, words in entries:
            rows["incident_entry"].append(
                EntryRow(
                    id=ctx.take("incident_entry"),
                    incident_id=incident_id,
                    at=ctx.ts(at),
                    staff_id=staff_id,
                    kind=kind,
                    text=words,
                )
            )
        return incident_id

    def _suspect(self, episode: EpisodeFacts, category: IncidentCategory) -> int:
        """The product the physician names: allergic reactions trace more often to an
        add-on than to the exosome, so those mostly point at an add-on when there is one."""
        rng = self.ctx.rng
        if episode.addon_products and category is IncidentCategory.ALLERGIC and rng.random() < 0.6:
            return pick(rng, episode.addon_products)
        if episode.addon_products and rng.random() < 0.1:
            return pick(rng, episode.addon_products)
        return episode.main_products[0]

    def _escalation(
        self,
        patient: PatientState,
        episode: EpisodeFacts,
        incident_id: int | None,
        triage_id: int,
        chosen: Disposition,
        day: int,
        scenario: catalog.Scenario,
        created_at: datetime,
        rows: Rows,
    ) -> None:
        """An escalation already acknowledged or resolved: the demo must never page anyone."""
        ctx = self.ctx
        rng, now, ts, staff = ctx.rng, ctx.now, ctx.ts, ctx.staff
        escalation_id = ctx.take("escalation")
        ack_minutes = randint(rng, 3, 28)
        # Step 2 (the senior physician) only went out if nobody acknowledged within 15 min.
        steps = 2 if ack_minutes > 15 and created_at + timedelta(minutes=16) <= now else 1
        acknowledged_at = min(now, created_at + timedelta(minutes=ack_minutes))
        # Older pages were mostly closed; the last few days' are still being followed up.
        resolved_at: datetime | None = acknowledged_at + timedelta(hours=randint(rng, 2, 30))
        if resolved_at is not None and (resolved_at > now - _OPEN_PAGE or rng.random() < 0.15):
            resolved_at = None
        status = EscalationStatus.RESOLVED if resolved_at else EscalationStatus.ACKNOWLEDGED
        rows["escalation"].append(
            EscalationRow(
                id=escalation_id,
                patient_id=patient.id,
                incident_id=incident_id,
                triage_id=triage_id,
                disposition=chosen.value,
                status=status.value,
                current_step=steps,
                cycle=1,
                next_step_at=None,
                created_at=ts(created_at),
                acknowledged_at=ts(acknowledged_at),
                acknowledged_by_id=staff.on_call if rng.random() < 0.6 else episode.physician,
                resolved_at=ts(resolved_at) if resolved_at else None,
                version=1,
            )
        )
        findings = ", ".join(s.replace("_", " ") for s in scenario.symptoms) or "no skin findings"
        if scenario.temperature_c is not None:
            findings += f", {scenario.temperature_c} °C"
        body = (
            f"{patient.code} (now in {patient.country}), day {day} after "
            f"{catalog.PROTOCOL_WORDS[episode.protocol]}: {chosen.value.upper()}. "
            f"Findings: {findings}. "
            f"Treating: {staff.names[episode.physician]}. Acknowledge in aftercare."
        )
        for step in range(1, steps + 1):
            # Step 1 pages the on-call and the treating physician, step 2 the senior one.
            if step == 1:
                targets = [staff.tags[staff.on_call], staff.tags[episode.physician]]
            else:
                targets = [staff.tags[staff.senior]]
            step_at = created_at + timedelta(minutes=15 * (step - 1))
            for tag in dict.fromkeys(targets):
                sent_at = min(now, step_at + timedelta(seconds=randint(rng, 1, 9)))
                results = [
                    {"service": "mailto://***@example.com", "status": "sent", "attempts": 1,
                     "elapsed_ms": randint(rng, 180, 1400)},
                ]  # fmt: skip
                rows["outbox_notification"].append(
                    OutboxRow(
                        id=ctx.take("outbox_notification"),
                        escalation_id=escalation_id,
                        step=step,
                        cycle=1,
                        target_tag=tag,
                        idempotency_key=f"esc-{escalation_id}-step-{step}-{tag}",
                        title=f"[E-{escalation_id} step {step}] {chosen.value.upper()}",
                        body=body,
                        status=NotificationStatus.SENT.value,
                        attempts=1,
                        next_attempt_at=ts(step_at),
                        lease_owner=None,
                        lease_expires_at=None,
                        sent_at=ts(sent_at),
                        last_error=None,
                        results=ctx.encode_json(results),
                        created_at=ts(step_at),
                    )
                )


def _seriousness(
    rng: random.Random, chosen: Disposition, category: IncidentCategory
) -> tuple[Seriousness, int]:
    """ICH E2A seriousness and a CTCAE-style grade: mostly non-serious, a few serious."""
    if chosen is Disposition.EMERGENCY:
        roll = rng.random()
        if category is IncidentCategory.ALLERGIC and roll < 0.3:
            return Seriousness.LIFE_THREATENING, 4
        if roll < 0.6:
            return Seriousness.HOSPITALISATION, 3
        if roll < 0.85:
            return Seriousness.MEDICALLY_IMPORTANT, 3
        return Seriousness.NON_SERIOUS, 3
    if chosen is Disposition.URGENT:
        serious = rng.random() < 0.1
        return (Seriousness.MEDICALLY_IMPORTANT if serious else Seriousness.NON_SERIOUS), 2
    return Seriousness.NON_SERIOUS, 1 if rng.random() < 0.7 else 2


def _incident_outcome(rng: random.Random, days_since_learned: int) -> IncidentOutcome:
    """Older events have mostly resolved; fresh ones are still in progress."""
    if days_since_learned > 30:
        return IncidentOutcome.RESOLVED if rng.random() < 0.8 else IncidentOutcome.RECOVERING
    if days_since_learned > 7:
        return pick(rng, (IncidentOutcome.RECOVERING, IncidentOutcome.RESOLVED))
    return pick(
        rng, (IncidentOutcome.RECOVERING, IncidentOutcome.NOT_RESOLVED, IncidentOutcome.UNKNOWN)
    )
