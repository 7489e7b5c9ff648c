"""What happens when a patient reports a problem: triage, incidents, escalations.

Kept apart from `generate` and `touchpoints` because this is the part a
demo viewer reads as a story: a triage at a touchpoint where the patient
replied, with findings plausible for that day after the procedure; from
`review` up an incident with its reporting clock; from `urgent` up a physician
page that was already acknowledged (the demo must never page anyone), with its
sent outbox rows. About 1% of patients end up with such a worst-case story.
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
from core.schedules import CLINIC_TZ
from db.demo import catalog
from db.demo.context import Context, EpisodeFacts, PatientState, Weighted, pick, randint
from db.demo.tables import EntryRow, EscalationRow, IncidentRow, OutboxRow, Rows, TriageRow
from db.demo.triage import RULES_VERSION, demo_triage, nudge

# Pages younger than this are still being followed up (acknowledged, not resolved).
_OPEN_PAGE = timedelta(days=3)


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
            incident_id = self._incident(
                patient, episode, triage_id, chosen, scenario, assessed_at, rows
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
        seriousness, grade = _seriousness(rng, chosen, category)
        learned_on = assessed_at.astimezone(CLINIC_TZ).date()
        onset = max(episode.local_day, learned_on - timedelta(days=randint(rng, 0, 2)))
        # DOMAIN.md section 6: 7 days fatal/life-threatening, 15 other serious, 30 non-serious.
        if seriousness in (Seriousness.DEATH, Seriousness.LIFE_THREATENING):
            clock_days = 7
        elif seriousness is Seriousness.NON_SERIOUS:
            clock_days = 30
        else:
            clock_days = 15
        due = learned_on + timedelta(days=clock_days)
        age = (today - learned_on).days
        reported_on = None
        # Most past-due reports were filed; a few are late so the clock shows red.
        if (due < today and rng.random() < 0.85) or (age > 1 and rng.random() < 0.3):
            reported_on = learned_on + timedelta(days=randint(rng, 1, max(1, min(clock_days, age))))
        outcome = _incident_outcome(rng, age)
        closed = reported_on is not None and outcome is IncidentOutcome.RESOLVED
        khidi_on = None
        if seriousness is not Seriousness.NON_SERIOUS and rng.random() < 0.3:
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
                suspect_product_id=episode.suspect_product,
                causality=pick(rng, catalog.CAUSALITY),
                actions_taken=pick(rng, catalog.INCIDENT_ACTIONS),
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
        entries = [(assessed_at, coordinator, "opened", f"Opened from triage ({chosen.value}).")]
        review_at = assessed_at + timedelta(hours=randint(rng, 2, 20))
        if review_at <= ctx.now:
            doctor = ctx.staff.names[episode.physician]
            entries.append((review_at, episode.physician, "review", f"{doctor} reviewed photos."))
        if reported_on is not None:
            at = datetime.combine(reported_on, time(10, 0), CLINIC_TZ).astimezone(UTC)
            if assessed_at < at <= ctx.now:
                entries.append((at, coordinator, "reported", "Reported to MFDS."))
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
        findings = ", ".join(scenario.symptoms) or "no skin findings"
        if scenario.temperature_c is not None:
            findings += f", {scenario.temperature_c} °C"
        body = (
            f"{patient.code} (now in {patient.country}), day {day} after "
            f"{episode.protocol.value}: {chosen.value.upper()}. Findings: {findings}. "
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
