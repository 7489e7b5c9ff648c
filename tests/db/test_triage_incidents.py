"""What a triage is not, on SQLite and PostgreSQL: the incident a triage opens is
not yet assessed, on the clock the triage suggests, with the category of the
rules that fired and no suspect product; seriousness, grade and outcome must
agree; onset and day 0 are corrected with a reason; overriding down still
documents the event and tells the treating physician once; a monitor triage
adds a re-check 48 hours later."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.commands import Closing, DateCorrection, TriageEntry
from core.domain import (
    Disposition,
    EscalationStatus,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    Role,
    Seriousness,
)
from core.incident_log import EntryKind
from core.incidents import clinic_today
from core.triage import assess, parse_triage_input
from db import incidents as store
from db.engine import make_session_factory, transaction
from db.followup import Actor, FollowUpConflict, PermissionRefused
from db.models import (
    AuditEvent,
    Escalation,
    Incident,
    IncidentEntry,
    OutboxNotification,
    Patient,
    ProductGiven,
    Touchpoint,
    TreatmentEpisode,
    TriageAssessment,
)
from db.triage import RECHECK_TEMPLATE, SavedTriage, record_triage
from tests.factories import add_patient, add_staff, add_triaged_patient

REVIEW = {"day": 8, "symptoms": ["swelling"], "trend": "stable", "country": "JP"}
URGENT = {"day": 3, "symptoms": ["pus"], "country": "JP"}
EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
MONITOR = {"day": 5, "symptoms": ["erythema"], "trend": "stable", "country": "JP"}


@dataclass
class Clinic:
    engine: Engine
    nurse: Actor
    doctor: Actor
    now: datetime

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction, committed on leaving, rolled back on an exception."""
        with transaction(make_session_factory(self.engine)) as session:
            yield session

    def read(self) -> Session:
        """A session for reading what was committed."""
        return make_session_factory(self.engine)()


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "treating-lee"
        return Clinic(
            engine,
            Actor(nurse.id, nurse.username, nurse.display_name),
            Actor(doctor.id, doctor.username, doctor.display_name, Role.PHYSICIAN),
            now,
        )


def _triage(clinic: Clinic, code: str, findings: dict[str, Any], **kwargs: Any) -> SavedTriage:
    with clinic.session() as session:
        return add_triaged_patient(
            session,
            code,
            now=clinic.now,
            actor=clinic.nurse,
            findings=findings,
            treating_id=clinic.doctor.staff_id,
            **kwargs,
        )


def _incident(clinic: Clinic, incident_id: int | None) -> Incident:
    assert incident_id is not None
    with clinic.read() as session:
        return session.get_one(Incident, incident_id)


def _entries(clinic: Clinic, incident_id: int) -> list[tuple[str, str]]:
    with clinic.read() as session:
        return [
            (entry.kind, entry.text)
            for entry in session.scalars(
                select(IncidentEntry)
                .where(IncidentEntry.incident_id == incident_id)
                .order_by(IncidentEntry.id)
            )
        ]


def _classify(clinic: Clinic, incident_id: int, **fields: Any) -> None:
    incident = _incident(clinic, incident_id)
    values: dict[str, Any] = {
        "category": incident.category,
        "seriousness": incident.seriousness,
        "severity_grade": incident.severity_grade,
        "causality": None,
        "actions_taken": None,
        "suspect_product_id": incident.suspect_product_id,
        **fields,
    }
    with clinic.session() as session:
        store.classify(
            session,
            incident_id=incident_id,
            expected_version=incident.version,
            classification=store.Classification(**values),
            actor=clinic.doctor,
            now=clinic.now,
        )


@pytest.mark.parametrize(
    ("findings", "days"), [(REVIEW, 30), (URGENT, 15), (EMERGENCY, 7)], ids=lambda v: str(v)
)
def test_a_triage_incident_is_not_yet_assessed_on_the_clock_the_triage_suggests(
    clinic: Clinic, findings: dict[str, Any], days: int
) -> None:
    saved = _triage(clinic, "P-1", findings)
    incident = _incident(clinic, saved.incident_id)
    today = clinic_today(clinic.now)
    assert incident.seriousness is Seriousness.NOT_ASSESSED
    assert incident.report_due_on == today + timedelta(days=days)
    assert incident.suspect_product_id is None


@pytest.mark.parametrize(
    ("findings", "category"),
    [
        ({"day": 2, "symptoms": ["hives", "dizziness"]}, IncidentCategory.ALLERGIC),
        ({"day": 2, "symptoms": ["wheezing"]}, IncidentCategory.ALLERGIC),
        ({"day": 3, "symptoms": ["pus"]}, IncidentCategory.INFECTION),
        ({"day": 4, "symptoms": ["warmth"], "trend": "stable"}, IncidentCategory.INFECTION),
        ({"day": 20, "symptoms": ["nodule"]}, IncidentCategory.NODULE),
        ({"day": 2, "symptoms": ["iv_site_pain"]}, IncidentCategory.IV_SITE),
        ({"day": 2, "symptoms": [], "temperature_c": 38.7}, IncidentCategory.SYSTEMIC),
        ({"day": 2, "symptoms": ["chills"]}, IncidentCategory.SYSTEMIC),
    ],
    ids=lambda v: str(v),
)
def test_the_category_comes_from_the_rules_that_fired(
    clinic: Clinic, findings: dict[str, Any], category: IncidentCategory
) -> None:
    saved = _triage(clinic, "P-1", {**findings, "country": "JP"})
    assert _incident(clinic, saved.incident_id).category is category


def test_the_suspect_product_is_chosen_from_every_product_and_add_on(clinic: Clinic) -> None:
    with clinic.session() as session:
        patient = add_patient(
            session, "P-1", procedure_at=clinic.now - timedelta(days=2), created_at=clinic.now
        )
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient.id)
        ).one()
        episode.addons = [{"name": "glutathione", "dose": "1200 mg"}, "b_complex"]
        session.add_all(
            [
                ProductGiven(episode_id=episode.id, name="ExoRene IV 5 mL", lot_number="EX-1"),
                # The B-complex has its own product row: it is not listed twice.
                ProductGiven(episode_id=episode.id, name="Vitamin B-complex injection 2 mL"),
            ]
        )
        parsed = parse_triage_input({"day": 2, "symptoms": ["hives"], "country": "JP"})
        saved = record_triage(
            session,
            patient_id=patient.id,
            entry=TriageEntry(parsed, assess(parsed)),
            actor=clinic.nurse,
            now=clinic.now,
        )
    assert saved.incident_id is not None
    assert _incident(clinic, saved.incident_id).suspect_product_id is None
    with clinic.read() as session:
        choices = store.episode_products(session, saved.incident_id)
    assert [label for _, label in choices] == [
        "ExoRene IV 5 mL (no MFDS reference, lot EX-1)",
        "Vitamin B-complex injection 2 mL (no MFDS reference, no lot recorded)",
        "Glutathione, 1200 mg (add-on; no product record, MFDS reference or lot)",
    ]
    assert choices[2][0] == "glutathione"
    _classify(clinic, saved.incident_id, suspect_addon="glutathione")
    incident = _incident(clinic, saved.incident_id)
    with clinic.read() as session:
        product = session.get_one(ProductGiven, incident.suspect_product_id)
        assert (product.name, product.episode_id, product.exosome) == (
            "Glutathione, 1200 mg",
            incident.episode_id,
            False,
        )
        # Once recorded, it is an ordinary product choice, still listed once.
        again = store.episode_products(session, saved.incident_id)
    assert len(again) == 3 and again[2][0] == product.id
    assert "suspect product - -> Glutathione, 1200 mg" in _entries(clinic, saved.incident_id)[-1][1]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"seriousness": Seriousness.HOSPITALISATION, "severity_grade": 5},
            "Severity grade and seriousness disagree: grade 5 is death",
        ),
        (
            {"seriousness": Seriousness.DEATH, "severity_grade": 5},
            "Severity grade and outcome disagree: grade 5 is death, so the outcome must be fatal",
        ),
        (
            {"seriousness": Seriousness.NON_SERIOUS, "severity_grade": 4},
            "Severity grade and seriousness disagree: grade 4 is life-threatening",
        ),
        (
            {"seriousness": Seriousness.NOT_ASSESSED, "severity_grade": 4},
            r"grade 4 .* \(it is not yet assessed\)",
        ),
        (
            {"seriousness": Seriousness.HOSPITALISATION, "outcome": IncidentOutcome.FATAL},
            "Outcome and seriousness disagree: a fatal outcome needs seriousness 'death'",
        ),
    ],
    ids=[
        "grade5-seriousness",
        "grade5-outcome",
        "grade4-non-serious",
        "grade4-unassessed",
        "fatal",
    ],
)
def test_seriousness_grade_and_outcome_must_agree(
    clinic: Clinic, fields: dict[str, Any], message: str
) -> None:
    saved = _triage(clinic, "P-1", EMERGENCY)
    assert saved.incident_id is not None
    with pytest.raises(FollowUpConflict, match=message):
        _classify(clinic, saved.incident_id, **fields)
    incident = _incident(clinic, saved.incident_id)
    assert (incident.seriousness, incident.severity_grade, incident.version) == (
        Seriousness.NOT_ASSESSED,
        None,
        1,
    )


def test_agreeing_fields_are_accepted_and_closing_checks_them_too(clinic: Clinic) -> None:
    saved = _triage(clinic, "P-1", EMERGENCY)
    assert saved.incident_id is not None
    _classify(clinic, saved.incident_id, seriousness=Seriousness.LIFE_THREATENING, severity_grade=4)
    with (
        pytest.raises(FollowUpConflict, match="Outcome and seriousness disagree"),
        clinic.session() as session,
    ):
        store.close(
            session,
            incident_id=saved.incident_id,
            expected_version=2,
            closing=Closing(IncidentOutcome.FATAL),
            actor=clinic.doctor,
            now=clinic.now,
        )
    _classify(
        clinic,
        saved.incident_id,
        seriousness=Seriousness.DEATH,
        severity_grade=5,
        outcome=IncidentOutcome.FATAL,
    )
    incident = _incident(clinic, saved.incident_id)
    assert (incident.seriousness, incident.severity_grade, incident.outcome) == (
        Seriousness.DEATH,
        5,
        IncidentOutcome.FATAL,
    )
    with (
        pytest.raises(FollowUpConflict, match="Severity grade and outcome disagree"),
        clinic.session() as session,
    ):
        store.close(
            session,
            incident_id=saved.incident_id,
            expected_version=3,
            closing=Closing(IncidentOutcome.RESOLVED),
            actor=clinic.doctor,
            now=clinic.now,
        )
    # Assessed once, it cannot go back to "not yet assessed".
    with pytest.raises(FollowUpConflict, match="cannot go back to not yet assessed"):
        _classify(clinic, saved.incident_id, seriousness=Seriousness.NOT_ASSESSED)


def test_onset_and_day_0_are_corrected_with_a_reason_and_the_clock_follows(
    clinic: Clinic,
) -> None:
    saved = _triage(clinic, "P-1", URGENT, procedure_days_ago=3)
    assert saved.incident_id is not None
    incident_id = saved.incident_id
    today = clinic_today(clinic.now)
    before = _incident(clinic, incident_id)
    assert (before.learned_on, before.report_due_on) == (today, today + timedelta(days=15))

    def correct(onset: Any, learned: Any, reason: str, at: datetime | None = None) -> None:
        with clinic.session() as session:
            store.correct_dates(
                session,
                incident_id=incident_id,
                expected_version=_incident(clinic, incident_id).version,
                correction=DateCorrection(onset, learned, reason),
                actor=clinic.nurse,
                now=at or clinic.now,
            )

    with pytest.raises(FollowUpConflict, match="reason for the correction is required"):
        correct(today - timedelta(days=2), today - timedelta(days=2), " ")
    with pytest.raises(FollowUpConflict, match="before the onset"):
        correct(today - timedelta(days=1), today - timedelta(days=2), "typo")
    correct(
        today - timedelta(days=2),
        today - timedelta(days=2),
        "the patient wrote on day 1; seen late",
    )
    after = _incident(clinic, incident_id)
    assert (after.onset_date, after.onset_day, after.learned_on) == (
        today - timedelta(days=2),
        1,
        today - timedelta(days=2),
    )
    # The clock follows day 0: 15 days from the day the clinic really learned of it.
    assert after.report_due_on == today + timedelta(days=13)
    assert after.version == 2
    kind, text = _entries(clinic, incident_id)[-1]
    assert kind == EntryKind.DATES_CORRECTED
    assert f"day 0 {today} -> {today - timedelta(days=2)}" in text
    assert f"report due {today + timedelta(days=15)} -> {today + timedelta(days=13)}" in text
    assert text.endswith(": the patient wrote on day 1; seen late")
    with clinic.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "incident.correct_dates")
        ).one()
    assert event.before is not None and event.after is not None
    assert event.before["learned_on"] == today.isoformat()
    assert event.after["learned_on"] == (today - timedelta(days=2)).isoformat()
    # A deadline already passed never moves later, even when day 0 does.
    late = clinic.now + timedelta(days=20)
    correct(today - timedelta(days=2), today, "day 0 was right after all", at=late)
    assert _incident(clinic, incident_id).report_due_on == today + timedelta(days=13)


def test_overriding_down_from_urgent_still_documents_and_tells_the_physician_once(
    clinic: Clinic,
) -> None:
    saved = _triage(
        clinic,
        "P-1",
        URGENT,
        chosen=Disposition.MONITOR,
        override_reason="photo shows a healing pustule, no spreading redness",
    )
    assert saved.disposition is Disposition.MONITOR and saved.incident_id is not None
    incident = _incident(clinic, saved.incident_id)
    today = clinic_today(clinic.now)
    # Category and clock from the computed outcome, not the chosen one.
    assert (incident.category, incident.seriousness, incident.report_due_on) == (
        IncidentCategory.INFECTION,
        Seriousness.NOT_ASSESSED,
        today + timedelta(days=15),
    )
    assert _entries(clinic, saved.incident_id)[0] == (
        "opened",
        f"Opened from triage #{saved.assessment_id}: computed urgent, coordinator chose "
        "monitor: photo shows a healing pustule, no spreading redness",
    )
    with clinic.read() as session:
        detail = store.load_incident(session, saved.incident_id)
        assert detail is not None
        assert detail.downgraded == (
            "computed urgent, coordinator chose monitor: "
            "photo shows a healing pustule, no spreading redness"
        )
        patient = session.scalars(select(Patient)).one()
        assert patient.latest_disposition is Disposition.MONITOR
        escalation = session.scalars(select(Escalation)).one()
        # No paging chain and no queue alert: one message, never advanced.
        assert (escalation.disposition, escalation.status, escalation.next_step_at) == (
            Disposition.REVIEW,
            EscalationStatus.OPEN,
            None,
        )
        rows = session.scalars(select(OutboxNotification)).all()
    assert saved.notifications == 1 and len(rows) == 1
    assert rows[0].target_tag == "treating-lee"
    assert rows[0].title == f"[E-{escalation.id}] URGENT computed, coordinator chose monitor"
    assert (
        "The triage computed URGENT; the coordinator chose monitor instead: "
        "photo shows a healing pustule, no spreading redness" in rows[0].body
    )
    assert f"Incident #{saved.incident_id} stays open until a physician decides" in rows[0].body
    # Only a physician's decision drops it.
    with (
        pytest.raises(PermissionRefused, match="only a physician's decision drops it"),
        clinic.session() as session,
    ):
        store.close(
            session,
            incident_id=saved.incident_id,
            expected_version=1,
            closing=Closing(IncidentOutcome.RESOLVED),
            actor=clinic.nurse,
            now=clinic.now,
        )
    with clinic.session() as session:
        store.close(
            session,
            incident_id=saved.incident_id,
            expected_version=1,
            closing=Closing(IncidentOutcome.RESOLVED, "Reviewed the photos: healing"),
            actor=clinic.doctor,
            now=clinic.now,
        )
    assert _incident(clinic, saved.incident_id).status is IncidentStatus.CLOSED


def test_overriding_down_from_review_opens_the_incident_without_a_message(
    clinic: Clinic,
) -> None:
    saved = _triage(clinic, "P-1", REVIEW, chosen=Disposition.EXPECTED, override_reason="old photo")
    incident = _incident(clinic, saved.incident_id)
    assert incident.report_due_on == clinic_today(clinic.now) + timedelta(days=30)
    assert (
        "computed review, coordinator chose expected: old photo"
        in (_entries(clinic, incident.id)[0][1])
    )
    assert (saved.escalation_id, saved.notifications) == (None, 0)


def test_overriding_emergency_down_to_review_says_so_in_the_review_email(clinic: Clinic) -> None:
    saved = _triage(
        clinic, "P-1", EMERGENCY, chosen=Disposition.REVIEW, override_reason="seen on video"
    )
    with clinic.read() as session:
        rows = session.scalars(select(OutboxNotification)).all()
    assert len(rows) == 1 and rows[0].target_tag == "treating-lee"
    assert "The triage computed EMERGENCY; the coordinator chose review instead" in rows[0].body
    # The clock stays the emergency's (presumed life-threatening) until a physician says.
    incident = _incident(clinic, saved.incident_id)
    assert incident.report_due_on == clinic_today(clinic.now) + timedelta(days=7)


def test_a_monitor_triage_adds_a_re_check_48_hours_later(clinic: Clinic) -> None:
    saved = _triage(clinic, "P-1", MONITOR, procedure_days_ago=5, template="granuloma-watch")
    assert saved.incident_id is None and saved.recheck_touchpoint_id is not None
    zone = ZoneInfo("Asia/Tokyo")
    on = (clinic.now + timedelta(hours=48)).astimezone(zone).date()
    with clinic.read() as session:
        touchpoint = session.get_one(Touchpoint, saved.recheck_touchpoint_id)
        patient = session.get_one(Patient, touchpoint.patient_id)
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "touchpoint.add")
        ).one()
    assert (touchpoint.template, touchpoint.due_date, touchpoint.day) == (
        RECHECK_TEMPLATE,
        on,
        7,
    )
    assert touchpoint.ask == (
        "Re-check after the monitor triage of day 5: is it better, the same or worse?"
    )
    assert touchpoint.opens_at.astimezone(zone).date() == on
    assert touchpoint.opens_at.astimezone(zone).hour == 0
    assert touchpoint.closes_at - touchpoint.opens_at == timedelta(days=2)
    # The granuloma watch starts on day 30: the re-check is the next touchpoint now.
    assert patient.next_touchpoint_id == touchpoint.id
    assert event.after is not None and event.after["triage"] == saved.assessment_id


def test_a_non_monitor_triage_adds_no_re_check(clinic: Clinic) -> None:
    saved = _triage(clinic, "P-1", REVIEW)
    assert saved.recheck_touchpoint_id is None
    with clinic.read() as session:
        assert (
            session.scalars(select(Touchpoint).where(Touchpoint.template == RECHECK_TEMPLATE)).all()
            == []
        )


def test_the_assessment_keeps_labs_needs_protocol_and_add_ons(clinic: Clinic) -> None:
    saved = _triage(
        clinic,
        "P-1",
        {
            "day": 3,
            "symptoms": ["pus"],
            "country": "JP",
            "protocol": "exosome_iv",
            "addons": ["glutathione_high_dose"],
        },
    )
    with clinic.read() as session:
        assessment = session.get_one(TriageAssessment, saved.assessment_id)
    assert [lab["lab"] for lab in assessment.labs][:1] == ["crp_esr"]
    assert all(isinstance(lab["text"], str) and lab["text"] for lab in assessment.labs)
    assert assessment.needs == []
    assert assessment.protocol is not None and assessment.protocol.value == "exosome_iv"
    assert assessment.addons == ["glutathione_high_dose"]


def test_a_triage_missing_the_trend_is_not_saved(clinic: Clinic) -> None:
    with pytest.raises(FollowUpConflict, match="trend not recorded: choose improving, stable"):
        _triage(clinic, "P-1", {"day": 8, "symptoms": ["swelling"], "country": "JP"})
    with clinic.read() as session:
        assert session.scalars(select(TriageAssessment)).all() == []
