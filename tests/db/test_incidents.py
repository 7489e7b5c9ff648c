"""The incident log in the database, on SQLite and PostgreSQL: opening from a
triage or by hand, every change with its timeline entry and audit event, the
optimistic lock, the filters, and the CSV records."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.commands import Closing, DatedReference, NewIncident, TriageEntry
from core.domain import IncidentCategory, IncidentOutcome, IncidentStatus, Role, Seriousness
from core.incident_log import EntryKind, IncidentFilter, StatusFilter
from core.incidents import DEFAULT_REPORTING, ClockState, ReportingPolicy, clinic_today
from core.triage import assess, parse_triage_input
from db import incidents as store
from db.audit import verify_chain
from db.engine import make_session_factory, transaction
from db.followup import Actor, FollowUpConflict
from db.models import AuditEvent, Incident, IncidentEntry, ProductGiven, TreatmentEpisode
from db.triage import record_triage
from tests.factories import add_patient, add_staff

# Swelling after day 7 is review; the trend is given, since a missing one is not saved.
REVIEW = {"day": 8, "symptoms": ["swelling"], "trend": "stable", "country": "JP"}
EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}


@dataclass
class Clinic:
    engine: Engine
    nurse: Actor
    doctor: Actor
    now: datetime

    def session(self) -> AbstractContextManager[Session]:
        """One transaction, committed on leaving, rolled back on an exception."""
        return transaction(make_session_factory(self.engine))


def _triaged(
    session: Session,
    code: str,
    findings: dict[str, object],
    actor: Actor,
    now: datetime,
    *,
    country: str = "JP",
    reporting: ReportingPolicy | None = None,
) -> int:
    patient = add_patient(
        session, code, procedure_at=now - timedelta(days=8), created_at=now, country=country
    )
    episode = session.scalars(
        select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient.id)
    ).one()
    session.add_all(
        [
            ProductGiven(
                episode_id=episode.id,
                name="ExoRene IV 5 mL",
                mfds_reference="MFDS-TEST-001",
                lot_number=f"LOT-{code}",
            ),
            ProductGiven(episode_id=episode.id, name="Saline 100 mL", lot_number="S-1"),
        ]
    )
    session.flush()
    parsed = parse_triage_input({**findings, "country": country})
    saved = record_triage(
        session,
        patient_id=patient.id,
        entry=TriageEntry(parsed, assess(parsed)),
        actor=actor,
        now=now,
        reporting=reporting or DEFAULT_REPORTING,
    )
    assert saved.incident_id is not None
    return saved.incident_id


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        return Clinic(
            engine,
            Actor(nurse.id, nurse.username, nurse.display_name),
            Actor(doctor.id, doctor.username, doctor.display_name),
            now,
        )


def _get(clinic: Clinic, incident_id: int) -> Incident:
    with make_session_factory(clinic.engine)() as session:
        return session.get_one(Incident, incident_id)


def _entries(clinic: Clinic, incident_id: int) -> list[tuple[str, str]]:
    with make_session_factory(clinic.engine)() as session:
        return [
            (e.kind, e.text)
            for e in session.scalars(
                select(IncidentEntry)
                .where(IncidentEntry.incident_id == incident_id)
                .order_by(IncidentEntry.id)
            )
        ]


def _audit(clinic: Clinic, action: str) -> list[AuditEvent]:
    with make_session_factory(clinic.engine)() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def test_triage_opens_an_unassessed_incident_on_the_triage_clock_without_a_suspect(
    clinic: Clinic,
) -> None:
    policy = ReportingPolicy(life_threatening_days=5, serious_days=10, non_serious_days=20)
    with clinic.session() as session:
        review = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now, reporting=policy)
        emergency = _triaged(session, "P-2", EMERGENCY, clinic.nurse, clinic.now, reporting=policy)
    today = clinic_today(clinic.now)
    first, second = _get(clinic, review), _get(clinic, emergency)
    # A triage is not a physician's assessment: not yet assessed, on the clock the
    # triage suggests (review: the periodic one; emergency: presumed life-threatening).
    assert (first.seriousness, first.learned_on, first.report_due_on) == (
        Seriousness.NOT_ASSESSED,
        today,
        today + timedelta(days=20),
    )
    assert (second.seriousness, second.report_due_on) == (
        Seriousness.NOT_ASSESSED,
        today + timedelta(days=5),
    )
    assert (first.suspect_product_id, second.suspect_product_id) == (None, None)
    with make_session_factory(clinic.engine)() as session:
        detail = store.load_incident(session, review)
    assert detail is not None
    assert detail.suspect_product is None and detail.downgraded is None
    assert [item.label for item in detail.timeline] == ["Opened"]


def test_raising_seriousness_recomputes_the_due_date_from_day_0(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    learned = _get(clinic, incident_id).learned_on
    later = clinic.now + timedelta(days=4)
    with clinic.session() as session:
        products = store.episode_products(session, incident_id)
        assert isinstance(products[0][0], int)
        store.classify(
            session,
            incident_id=incident_id,
            expected_version=1,
            classification=store.Classification(
                category=IncidentCategory.ALLERGIC,
                seriousness=Seriousness.HOSPITALISATION,
                severity_grade=3,
                causality="probable",
                actions_taken="Admitted for observation",
                suspect_product_id=products[0][0],
            ),
            actor=clinic.doctor,
            now=later,
        )
    incident = _get(clinic, incident_id)
    # Day 0 stays the day the clinic first learned of it: 15 days from then, not from today.
    assert incident.report_due_on == learned + timedelta(days=15)
    assert (incident.severity_grade, incident.causality, incident.version) == (3, "probable", 2)
    kind, text = _entries(clinic, incident_id)[-1]
    assert kind == EntryKind.CLASSIFIED
    assert "seriousness not yet assessed -> hospitalisation" in text and "grade - -> 3" in text
    assert "suspect product - -> ExoRene IV 5 mL (MFDS MFDS-TEST-001, lot LOT-P-1)" in text
    event = _audit(clinic, "incident.classify")[-1]
    assert event.actor == "dr.lee"
    assert event.before is not None and event.after is not None
    assert event.before["seriousness"] == "not_assessed"
    assert event.after["seriousness"] == "hospitalisation"
    assert event.after["report_due_on"] == (learned + timedelta(days=15)).isoformat()


def test_a_stale_version_is_refused_and_nothing_is_written(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    with clinic.session() as session:
        store.record_khidi(
            session,
            incident_id=incident_id,
            expected_version=1,
            escalation=DatedReference(clinic_today(clinic.now), "KHIDI-77"),
            actor=clinic.doctor,
            now=clinic.now,
        )
    entries_before = _entries(clinic, incident_id)
    with (
        pytest.raises(FollowUpConflict, match=r"escalated to KHIDI by Dr\.Lee at .+ KST since"),
        clinic.session() as session,
    ):
        store.record_report(
            session,
            incident_id=incident_id,
            expected_version=1,  # read before the KHIDI change
            report=DatedReference(clinic_today(clinic.now), "MFDS-1"),
            actor=clinic.nurse,
            now=clinic.now,
        )
    incident = _get(clinic, incident_id)
    assert (incident.reported_on, incident.version) == (None, 2)
    assert _entries(clinic, incident_id) == entries_before


def test_recording_the_report_stops_the_clock_and_checks_the_date(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    today = clinic_today(clinic.now)

    def report(day: date, reference: str = "MFDS-2026-0042") -> None:
        with clinic.session() as session:
            store.record_report(
                session,
                incident_id=incident_id,
                expected_version=_get(clinic, incident_id).version,
                report=DatedReference(day, reference),
                actor=clinic.nurse,
                now=clinic.now,
            )

    with pytest.raises(FollowUpConflict, match="in the future"):
        report(today + timedelta(days=1))
    with pytest.raises(FollowUpConflict, match="before the clinic learned"):
        report(today - timedelta(days=1))
    with pytest.raises(FollowUpConflict, match="reference is required"):
        report(today, "   ")
    assert _get(clinic, incident_id).reported_on is None
    report(today)
    incident = _get(clinic, incident_id)
    assert (incident.reported_on, incident.report_reference) == (today, "MFDS-2026-0042")
    with make_session_factory(clinic.engine)() as session:
        line = store.list_incidents(session, IncidentFilter(), today)[0]
    assert line.clock(today).state is ClockState.REPORTED
    assert _entries(clinic, incident_id)[-1] == (
        "reported",
        f"MFDS report submitted {today:%Y-%m-%d}, reference MFDS-2026-0042",
    )


def test_entries_are_appended_never_edited_and_only_hand_kinds_by_hand(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    for kind, text in [
        (EntryKind.PHYSICIAN_CONTACT, "Dr Smith (Osaka) called back; will see her tomorrow"),
        (EntryKind.CORRECTION, "Correction: onset was day 7, not day 8"),
    ]:
        with clinic.session() as session:
            store.add_entry(
                session,
                incident_id=incident_id,
                kind=kind,
                text=text,
                actor=clinic.nurse,
                now=clinic.now,
            )
    with (
        pytest.raises(FollowUpConflict, match="written by the application"),
        clinic.session() as session,
    ):
        store.add_entry(
            session,
            incident_id=incident_id,
            kind=EntryKind.REPORTED,
            text="sneaky",
            actor=clinic.nurse,
            now=clinic.now,
        )
    with pytest.raises(FollowUpConflict, match="text is required"), clinic.session() as session:
        store.add_entry(
            session,
            incident_id=incident_id,
            kind=EntryKind.NOTE,
            text=" ",
            actor=clinic.nurse,
            now=clinic.now,
        )
    kinds = [kind for kind, _ in _entries(clinic, incident_id)]
    assert kinds == ["opened", "home_physician_contact", "correction"]
    # An entry changes nothing written: the version (the lock others hold) stays.
    assert _get(clinic, incident_id).version == 1


def test_close_keeps_an_unfiled_report_overdue_and_reopen_needs_a_reason(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    with clinic.session() as session:
        store.close(
            session,
            incident_id=incident_id,
            expected_version=1,
            closing=Closing(IncidentOutcome.RESOLVED, "Swelling gone"),
            actor=clinic.doctor,
            now=clinic.now,
        )
    incident = _get(clinic, incident_id)
    assert (incident.status, incident.outcome) == (IncidentStatus.CLOSED, IncidentOutcome.RESOLVED)
    assert "stays on the overdue list" in _entries(clinic, incident_id)[-1][1]
    assert incident.report_due_on is not None
    late = incident.report_due_on + timedelta(days=1)
    with make_session_factory(clinic.engine)() as session:
        overdue = store.list_incidents(
            session, IncidentFilter(status=StatusFilter.ALL, overdue_only=True), late
        )
        assert [line.incident_id for line in overdue] == [incident_id]
        # Closed but owing its report: still on the default (open) view.
        assert [
            line.incident_id for line in store.list_incidents(session, IncidentFilter(), late)
        ] == [incident_id]
    with pytest.raises(FollowUpConflict, match="already closed"), clinic.session() as session:
        store.close(
            session,
            incident_id=incident_id,
            expected_version=2,
            closing=Closing(IncidentOutcome.RESOLVED),
            actor=clinic.doctor,
            now=clinic.now,
        )
    with (
        pytest.raises(FollowUpConflict, match="reason to reopen is required"),
        clinic.session() as session,
    ):
        store.reopen(
            session,
            incident_id=incident_id,
            expected_version=2,
            reason="",
            actor=clinic.doctor,
            now=clinic.now,
        )
    with clinic.session() as session:
        store.reopen(
            session,
            incident_id=incident_id,
            expected_version=2,
            reason="Swelling came back",
            actor=clinic.doctor,
            now=clinic.now,
        )
    assert _get(clinic, incident_id).status is IncidentStatus.OPEN


def test_filters_in_sql_agree_with_the_core_rule(clinic: Clinic) -> None:
    with clinic.session() as session:
        ids = [
            _triaged(session, "P-JP", REVIEW, clinic.nurse, clinic.now, country="JP"),
            _triaged(session, "P-US", EMERGENCY, clinic.nurse, clinic.now, country="US"),
            _triaged(session, "P-TW", REVIEW, clinic.nurse, clinic.now, country="TW"),
        ]
        store.close(
            session,
            incident_id=ids[2],
            expected_version=1,
            closing=Closing(IncidentOutcome.UNKNOWN),
            actor=clinic.nurse,
            now=clinic.now,
        )
    today = clinic_today(clinic.now)
    with make_session_factory(clinic.engine)() as session:
        everything = store.list_incidents(session, IncidentFilter(StatusFilter.ALL), today)
        assert store.incident_countries(session) == ["JP", "TW", "US"]
        for day in (today, today + timedelta(days=16), today + timedelta(days=31)):
            for wanted in [
                IncidentFilter(),
                IncidentFilter(StatusFilter.CLOSED),
                IncidentFilter(StatusFilter.ALL, overdue_only=True),
                IncidentFilter(country="US"),
                IncidentFilter(StatusFilter.ALL, category=IncidentCategory.ALLERGIC),
            ]:
                in_sql = [line.incident_id for line in store.list_incidents(session, wanted, day)]
                in_core = [line.incident_id for line in everything if wanted.matches(line, day)]
                assert sorted(in_sql) == sorted(in_core), (wanted, day)
        # Most urgent report first: the emergency (7 days) before the reviews (30);
        # the closed TW one still owes its report, so it stays on the open view.
        assert [
            line.incident_id for line in store.list_incidents(session, IncidentFilter(), today)
        ] == [ids[1], ids[0], ids[2]]
        overdue_16 = store.list_incidents(
            session, IncidentFilter(overdue_only=True), today + timedelta(days=16)
        )
        assert [line.incident_id for line in overdue_16] == [ids[1]]


def test_open_by_hand_and_export_records(clinic: Clinic) -> None:
    with clinic.session() as session:
        triaged = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
        patient_id = session.get_one(Incident, triaged).patient_id
        by_hand = store.open_by_hand(
            session,
            patient_id=patient_id,
            incident=NewIncident(
                category=IncidentCategory.INFECTION,
                seriousness=Seriousness.LIFE_THREATENING,
                onset_date=clinic_today(clinic.now) - timedelta(days=1),
                learned_on=None,
                description="Home physician reports cellulitis, admitted",
            ),
            actor=clinic.nurse,
            now=clinic.now,
        )
        store.record_report(
            session,
            incident_id=by_hand,
            expected_version=1,
            report=DatedReference(clinic_today(clinic.now), "MFDS-URGENT-9"),
            actor=clinic.nurse,
            now=clinic.now,
        )
    incident = _get(clinic, by_hand)
    assert incident.report_due_on == clinic_today(clinic.now) + timedelta(days=7)
    assert incident.onset_day == 7  # procedure 8 days ago, onset yesterday
    with make_session_factory(clinic.engine)() as session:
        records = store.export_incidents(
            session, IncidentFilter(StatusFilter.ALL), clinic_today(clinic.now)
        )
    assert [r.line.incident_id for r in records] == [triaged, by_hand]
    assert records[1].report_reference == "MFDS-URGENT-9"
    # Opened by hand too, the suspect product waits for a physician's choice.
    assert records[1].suspect_product is None


def test_every_change_is_audited_and_the_chain_holds(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    # Each step takes the session and the version it expects to change.
    steps: list[Callable[[Session, int], object]] = [
        lambda s, v: store.add_entry(
            s,
            incident_id=incident_id,
            kind=EntryKind.NOTE,
            text="n",
            actor=clinic.nurse,
            now=clinic.now,
        ),
        lambda s, v: store.record_khidi(
            s,
            incident_id=incident_id,
            expected_version=v,
            escalation=DatedReference(clinic_today(clinic.now), "K-1"),
            actor=clinic.nurse,
            now=clinic.now,
        ),
        lambda s, v: store.record_report(
            s,
            incident_id=incident_id,
            expected_version=v,
            report=DatedReference(clinic_today(clinic.now), "R-1"),
            actor=clinic.nurse,
            now=clinic.now,
        ),
        lambda s, v: store.close(
            s,
            incident_id=incident_id,
            expected_version=v,
            closing=Closing(IncidentOutcome.RESOLVED),
            actor=clinic.nurse,
            now=clinic.now,
        ),
    ]
    for step in steps:
        with clinic.session() as session:
            step(session, session.get_one(Incident, incident_id).version)
    with make_session_factory(clinic.engine)() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity == "incident", AuditEvent.entity_id == str(incident_id))
                .order_by(AuditEvent.id)
            )
        )
        assert actions == [
            "incident.open",
            "incident.entry",
            "incident.khidi",
            "incident.report",
            "incident.close",
        ]
        assert verify_chain(session).ok
        assert session.scalar(select(func.count()).select_from(IncidentEntry)) == 5


def test_a_missing_incident_is_a_clear_conflict(clinic: Clinic) -> None:
    with make_session_factory(clinic.engine)() as session:
        assert store.load_incident(session, 999) is None
    with (
        pytest.raises(FollowUpConflict, match="#999 no longer exists"),
        clinic.session() as session,
    ):
        store.close(
            session,
            incident_id=999,
            expected_version=1,
            closing=Closing(IncidentOutcome.RESOLVED),
            actor=clinic.nurse,
            now=clinic.now,
        )


def test_downgrading_after_the_deadline_does_not_restart_the_clock(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", EMERGENCY, clinic.nurse, clinic.now)
    incident = _get(clinic, incident_id)
    due = incident.report_due_on
    assert due is not None and incident.seriousness is Seriousness.NOT_ASSESSED

    def downgrade(at: datetime, version: int) -> None:
        with clinic.session() as session:
            store.classify(
                session,
                incident_id=incident_id,
                expected_version=version,
                classification=store.Classification(
                    category=incident.category,
                    seriousness=Seriousness.NON_SERIOUS,
                    severity_grade=1,
                    causality=None,
                    actions_taken=None,
                    suspect_product_id=incident.suspect_product_id,
                ),
                actor=clinic.doctor,
                now=at,
            )

    # Three days after the 7-day deadline (emergency triage): downgrading keeps it late.
    downgrade(clinic.now + timedelta(days=10), 1)
    after = _get(clinic, incident_id)
    assert (after.seriousness, after.report_due_on) == (Seriousness.NON_SERIOUS, due)
    # Before the deadline a downgrade moves it (the clock has not run out).
    with clinic.session() as session:
        second = _triaged(session, "P-2", EMERGENCY, clinic.nurse, clinic.now)
    incident = _get(clinic, second)
    incident_id = second
    downgrade(clinic.now + timedelta(days=3), 1)
    assert _get(clinic, second).report_due_on == incident.learned_on + timedelta(days=30)


def test_a_fatal_outcome_needs_seriousness_death(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    with pytest.raises(FollowUpConflict, match="seriousness 'death' first"), clinic.session() as s:
        store.close(
            s,
            incident_id=incident_id,
            expected_version=1,
            closing=Closing(IncidentOutcome.FATAL),
            actor=clinic.doctor,
            now=clinic.now,
        )
    assert _get(clinic, incident_id).status is IncidentStatus.OPEN


def test_replacing_a_recorded_report_needs_a_reason_and_keeps_both(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    today = clinic_today(clinic.now)

    def report(reference: str, version: int, reason: str | None = None) -> None:
        with clinic.session() as session:
            store.record_report(
                session,
                incident_id=incident_id,
                expected_version=version,
                report=DatedReference(today, reference, replacing_because=reason),
                actor=clinic.nurse,
                now=clinic.now,
            )

    report("MFDS-1", 1)
    with pytest.raises(FollowUpConflict, match=r"already recorded .*MFDS-1.*needs a reason"):
        report("MFDS-2", 2)
    report("MFDS-2", 2, "typo in the reference")
    assert _get(clinic, incident_id).report_reference == "MFDS-2"
    assert "reference MFDS-1: typo in the reference" in _entries(clinic, incident_id)[-1][1]


def test_by_hand_day_0_may_be_earlier_but_not_before_onset_or_future(clinic: Clinic) -> None:
    today = clinic_today(clinic.now)
    with clinic.session() as session:
        triaged = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
        patient_id = session.get_one(Incident, triaged).patient_id

    def open_one(onset: date | None, learned: date) -> int:
        with clinic.session() as session:
            return store.open_by_hand(
                session,
                patient_id=patient_id,
                incident=NewIncident(
                    IncidentCategory.OTHER, Seriousness.DEATH, onset, learned, "Relative called"
                ),
                actor=clinic.nurse,
                now=clinic.now,
            )

    with pytest.raises(FollowUpConflict, match="in the future"):
        open_one(None, today + timedelta(days=1))
    with pytest.raises(FollowUpConflict, match="before the onset"):
        open_one(today - timedelta(days=1), today - timedelta(days=2))
    incident_id = open_one(today - timedelta(days=3), today - timedelta(days=2))
    # Learned two days ago: 5 of the 7 days are left.
    assert _get(clinic, incident_id).report_due_on == today + timedelta(days=5)


def test_a_triage_incident_gets_its_onset_date_from_the_procedure_day(clinic: Clinic) -> None:
    with clinic.session() as session:
        incident_id = _triaged(session, "P-1", REVIEW, clinic.nurse, clinic.now)
    incident = _get(clinic, incident_id)
    # _triaged puts the procedure 8 days ago and REVIEW reports day 8: onset today.
    assert (incident.onset_day, incident.onset_date) == (8, clinic_today(clinic.now))
