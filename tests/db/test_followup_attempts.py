"""Contact attempts and `unreachable`, on SQLite and PostgreSQL: only a real failure
counts (an unanswered call, or a message still without reply after the reply window),
and the coordinator is told in words when a touchpoint becomes unreachable. Also the
aftercare message as the database writes it: today's day and the IV question."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.clock import FixedClock
from core.domain import Channel, ContactOutcome, Protocol, Role, TouchpointResolution
from db.engine import make_session_factory, transaction
from db.followup import (
    Actor,
    AttemptFact,
    ContactLogged,
    aftercare_message,
    count_failed_attempts,
    record_contact_attempt,
)
from db.models import AuditEvent, Patient, Touchpoint, TreatmentEpisode
from tests.factories import add_patient, add_staff

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass
class Clinic:
    engine: Engine
    clock: FixedClock
    nurse: Actor
    patient_id: int
    day1: int
    day3: int


@pytest.fixture
def clinic(engine: Engine, clock: FixedClock) -> Clinic:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        # Procedure five days ago: the day-1 and day-3 touchpoints are both open.
        patient = add_patient(session, "P-1", procedure_at=now - 5 * DAY, created_at=now)
        touchpoints = dict(
            session.execute(
                select(Touchpoint.day, Touchpoint.id).where(Touchpoint.patient_id == patient.id)
            ).all()
        )
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        return Clinic(engine, clock, actor, patient.id, touchpoints[1], touchpoints[3])


def attempt(
    clinic: Clinic,
    outcome: ContactOutcome,
    *,
    touchpoint: int | None = None,
    reply_window: timedelta = 24 * HOUR,
) -> ContactLogged:
    with transaction(make_session_factory(clinic.engine)) as session:
        return record_contact_attempt(
            session,
            touchpoint_id=clinic.day1 if touchpoint is None else touchpoint,
            channel=Channel.LINE,
            outcome=outcome,
            note=None,
            actor=clinic.nurse,
            now=clinic.clock.now(),
            unreachable_after=3,
            reply_window=reply_window,
        )


def resolution(clinic: Clinic, touchpoint_id: int) -> TouchpointResolution | None:
    with make_session_factory(clinic.engine)() as session:
        return session.get_one(Touchpoint, touchpoint_id).resolution


def test_three_copied_messages_leave_the_touchpoint_open(clinic: Clinic) -> None:
    for _ in range(3):
        logged = attempt(clinic, ContactOutcome.MESSAGE_SENT)
        assert logged.became_unreachable is None
        assert logged.failed.total == 0
    assert resolution(clinic, clinic.day1) is None


def test_messages_sent_within_one_reply_window_are_one_attempt(clinic: Clinic) -> None:
    for _ in range(3):
        attempt(clinic, ContactOutcome.MESSAGE_SENT)
        clinic.clock.advance(timedelta(minutes=5))
    clinic.clock.advance(25 * HOUR)
    logged = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert (logged.failed.unanswered_messages, logged.failed.unanswered_calls) == (1, 1)
    assert resolution(clinic, clinic.day1) is None


def test_third_unanswered_call_makes_it_unreachable_in_words(clinic: Clinic) -> None:
    first = attempt(clinic, ContactOutcome.NO_ANSWER)
    second = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert first.became_unreachable is None and second.became_unreachable is None
    third = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert third.became_unreachable == (
        "Day 1 check-in is now unreachable after 3 failed attempts (3 unanswered calls); "
        "moved to the next touchpoint."
    )
    assert resolution(clinic, clinic.day1) is TouchpointResolution.UNREACHABLE
    with make_session_factory(clinic.engine)() as session:
        touchpoint = session.get_one(Touchpoint, clinic.day1)
        assert touchpoint.note == "unreachable after 3 failed attempts (3 unanswered calls)"
        patient = session.get_one(Patient, clinic.patient_id)
        assert patient.next_touchpoint_id == clinic.day3
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "touchpoint.unreachable")
        ).one()
        assert event.entity_id == str(clinic.day1)


def test_a_message_without_reply_after_the_window_is_a_failure(clinic: Clinic) -> None:
    attempt(clinic, ContactOutcome.MESSAGE_SENT)
    clinic.clock.advance(25 * HOUR)
    attempt(clinic, ContactOutcome.NO_ANSWER)
    logged = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert logged.became_unreachable == (
        "Day 1 check-in is now unreachable after 3 failed attempts "
        "(2 unanswered calls, 1 message without reply for 24 h); moved to the next touchpoint."
    )
    assert resolution(clinic, clinic.day1) is TouchpointResolution.UNREACHABLE


def test_a_message_inside_the_window_is_not_yet_a_failure(clinic: Clinic) -> None:
    attempt(clinic, ContactOutcome.MESSAGE_SENT)
    clinic.clock.advance(23 * HOUR)
    attempt(clinic, ContactOutcome.NO_ANSWER)
    logged = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert logged.failed.total == 2
    assert resolution(clinic, clinic.day1) is None
    # An hour later the first message has waited its 24 hours: the next attempt
    # logged, even another message, finds three failures.
    clinic.clock.advance(HOUR)
    logged = attempt(clinic, ContactOutcome.MESSAGE_SENT)
    assert logged.became_unreachable is not None
    assert "1 message without reply for 24 h" in logged.became_unreachable
    assert resolution(clinic, clinic.day1) is TouchpointResolution.UNREACHABLE


def test_a_message_with_a_reply_is_not_a_failure(clinic: Clinic) -> None:
    attempt(clinic, ContactOutcome.MESSAGE_SENT)
    clinic.clock.advance(30 * HOUR)  # the reply came late, after the window: it still counts
    attempt(clinic, ContactOutcome.PHOTO_RECEIVED)
    clinic.clock.advance(HOUR)
    attempt(clinic, ContactOutcome.NO_ANSWER)
    logged = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert logged.failed.total == 2
    assert logged.failed.unanswered_messages == 0
    assert resolution(clinic, clinic.day1) is None


def test_a_reply_on_another_touchpoint_also_answers_the_message(clinic: Clinic) -> None:
    attempt(clinic, ContactOutcome.MESSAGE_SENT)
    clinic.clock.advance(2 * HOUR)
    attempt(clinic, ContactOutcome.REACHED, touchpoint=clinic.day3)
    clinic.clock.advance(DAY)
    attempt(clinic, ContactOutcome.NO_ANSWER)
    logged = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert logged.failed.total == 2
    assert resolution(clinic, clinic.day1) is None


def test_the_reply_window_setting_is_used(clinic: Clinic) -> None:
    attempt(clinic, ContactOutcome.MESSAGE_SENT, reply_window=6 * HOUR)
    clinic.clock.advance(7 * HOUR)
    attempt(clinic, ContactOutcome.NO_ANSWER, reply_window=6 * HOUR)
    logged = attempt(clinic, ContactOutcome.NO_ANSWER, reply_window=6 * HOUR)
    assert logged.became_unreachable is not None
    assert "1 message without reply for 6 h" in logged.became_unreachable


def test_the_last_touchpoint_says_none_is_left(clinic: Clinic) -> None:
    for _ in range(3):
        attempt(clinic, ContactOutcome.NO_ANSWER, touchpoint=clinic.day3)
    with transaction(make_session_factory(clinic.engine)) as session:
        later = session.scalars(
            select(Touchpoint).where(Touchpoint.patient_id == clinic.patient_id, Touchpoint.day > 3)
        ).all()
        for touchpoint in later:
            touchpoint.resolution = TouchpointResolution.SKIPPED
    for _ in range(2):
        attempt(clinic, ContactOutcome.NO_ANSWER)
    logged = attempt(clinic, ContactOutcome.NO_ANSWER)
    assert logged.became_unreachable is not None
    assert logged.became_unreachable.endswith("no touchpoint is left open for this patient.")


# --- the aftercare message as written from the database -------------------------------


def _message(session: Session, clinic: Clinic, touchpoint_id: int) -> str:
    return aftercare_message(
        session,
        touchpoint_id=touchpoint_id,
        actor=clinic.nurse,
        clinic_name="Myeongdong Skin Clinic",
        now=clinic.clock.now(),
    ).text


def test_message_says_today_in_the_patients_own_calendar(clinic: Clinic) -> None:
    # 06:00 UTC on 22 November: 15:00 in Seoul and Tokyo, 20:00 the day before in Honolulu.
    clinic.clock.set(datetime(2026, 11, 22, 6, 0, tzinfo=UTC))
    with transaction(make_session_factory(clinic.engine)) as session:
        patient = session.get_one(Patient, clinic.patient_id)
        patient.language = "en"
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient.id)
        ).one()
        episode.procedure_at = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)  # 17 Nov in Seoul
        session.flush()
        assert "Today is day 5 " in _message(session, clinic, clinic.day3)
        patient.timezone = "Pacific/Honolulu"
        session.flush()
        assert "Today is day 4 " in _message(session, clinic, clinic.day3)


def test_iv_question_only_after_an_infusion(clinic: Clinic) -> None:
    drip = "where the drip went in"
    with transaction(make_session_factory(clinic.engine)) as session:
        session.get_one(Patient, clinic.patient_id).language = "en"
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == clinic.patient_id)
        ).one()
        assert episode.protocol is Protocol.EXOSOME_IV
        assert drip in _message(session, clinic, clinic.day1)
        episode.protocol = Protocol.MICRONEEDLING
        episode.addons = []
        session.flush()
        assert drip not in _message(session, clinic, clinic.day1)
        episode.addons = ["b_complex"]  # an add-on infusion has a drip too
        session.flush()
        assert drip in _message(session, clinic, clinic.day1)


# --- the rule itself, without a database ------------------------------------------------

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _fact(n: int, outcome: ContactOutcome, at: datetime, touchpoint: int | None = 1) -> AttemptFact:
    return AttemptFact(n, touchpoint, at, outcome)


def test_rule_counts_expired_messages_and_calls_since_the_last_reply() -> None:
    facts = [
        _fact(1, ContactOutcome.NO_ANSWER, T0),
        _fact(2, ContactOutcome.REACHED, T0 + HOUR),  # resets the count
        _fact(3, ContactOutcome.MESSAGE_SENT, T0 + 2 * HOUR),
        _fact(4, ContactOutcome.NO_ANSWER, T0 + 3 * HOUR),
        _fact(5, ContactOutcome.NO_ANSWER, T0 + 4 * HOUR, touchpoint=2),  # another touchpoint
    ]
    early = count_failed_attempts(facts, touchpoint_id=1, now=T0 + 25 * HOUR, reply_window=DAY)
    assert (early.unanswered_calls, early.unanswered_messages) == (1, 0)
    late = count_failed_attempts(facts, touchpoint_id=1, now=T0 + 26 * HOUR, reply_window=DAY)
    assert (late.unanswered_calls, late.unanswered_messages) == (1, 1)
    assert late.words() == "2 failed attempts (1 unanswered call, 1 message without reply for 24 h)"


def test_rule_reads_order_by_time_not_by_logging_order() -> None:
    # A colleague's reply logged later (higher id) but made earlier still precedes the call.
    facts = [
        _fact(1, ContactOutcome.NO_ANSWER, T0 + 2 * HOUR),
        _fact(2, ContactOutcome.REACHED, T0 + HOUR),
    ]
    counted = count_failed_attempts(facts, touchpoint_id=1, now=T0 + 3 * HOUR, reply_window=DAY)
    assert counted.unanswered_calls == 1
