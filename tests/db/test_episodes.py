"""Episodes generate touchpoints; moving the procedure moves the open ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.domain import Channel, Protocol, Role, TouchpointResolution
from core.schedules import builtin_templates
from db.engine import make_session_factory, transaction
from db.episodes import create_episode, move_procedure
from db.followup import Actor, FollowUpConflict, resolve_touchpoint
from db.models import AuditEvent, Patient, Touchpoint
from tests.factories import add_staff

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def setup(engine: Engine, clock: FixedClock) -> tuple[Actor, int]:
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        patient = Patient(
            code="P-1",
            given_name="Emily",
            family_name="Smith",
            home_country="US",
            current_country="US",
            language="en",
            timezone="America/Chicago",
            channel=Channel.WHATSAPP,
            channel_handle="wa:emily",
            created_at=clock.now(),
        )
        session.add(patient)
        session.flush()
        return Actor(nurse.id, nurse.username, nurse.display_name), patient.id


def test_exosome_episode_gets_its_schedules(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    actor, patient_id = setup
    procedure = datetime(2026, 11, 20, 10, 0, tzinfo=SEOUL)
    with transaction(make_session_factory(engine)) as session:
        episode = create_episode(
            session,
            patient_id=patient_id,
            procedure_at=procedure,
            protocol=Protocol.EXOSOME_IV,
            schedule=["standard"],
            templates=builtin_templates(),
            actor=actor,
            now=clock.now(),
            details={"nurse_name": "Kim RN"},
        )
        assert episode.schedule_templates == ["standard", "granuloma-watch"]
    with make_session_factory(engine)() as session:
        days = session.execute(
            select(Touchpoint.template, Touchpoint.day).order_by(Touchpoint.closes_at)
        ).all()
        assert [d for _, d in days] == [1, 3, 7, 21, 30, 60, 90]
        patient = session.get_one(Patient, patient_id)
        first = session.scalar(select(Touchpoint).where(Touchpoint.day == 1))
        assert first is not None and patient.next_touchpoint_id == first.id
        assert patient.next_closes_at == first.closes_at
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1


def test_unknown_template_is_refused(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    actor, patient_id = setup
    with (
        pytest.raises(FollowUpConflict, match="unknown schedule template weekly"),
        transaction(make_session_factory(engine)) as session,
    ):
        create_episode(
            session,
            patient_id=patient_id,
            procedure_at=clock.now(),
            protocol=Protocol.PRP,
            schedule=["weekly"],
            templates=builtin_templates(),
            actor=actor,
            now=clock.now(),
        )
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Touchpoint)) == 0


def test_moving_the_procedure_moves_only_open_touchpoints(
    engine: Engine, clock: FixedClock, setup: tuple[Actor, int]
) -> None:
    actor, patient_id = setup
    procedure = datetime(2026, 11, 1, 10, 0, tzinfo=SEOUL)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        episode = create_episode(
            session,
            patient_id=patient_id,
            procedure_at=procedure,
            protocol=Protocol.MICRONEEDLING,
            schedule=["standard"],
            templates=builtin_templates(),
            actor=actor,
            now=clock.now(),
        )
        episode_id = episode.id
        day1 = session.scalar(select(Touchpoint).where(Touchpoint.day == 1))
        assert day1 is not None
        resolve_touchpoint(
            session,
            touchpoint_id=day1.id,
            resolution=TouchpointResolution.DONE,
            note=None,
            actor=actor,
            now=clock.now(),
        )
    with factory() as session:
        before = {
            t.day: (t.due_date, t.opens_at, t.closes_at)
            for t in session.scalars(select(Touchpoint))
        }
    with transaction(factory) as session:
        # Across the US end of daylight saving (1 November 2026): windows stay local midnights.
        moved = move_procedure(
            session,
            episode_id=episode_id,
            procedure_at=procedure + timedelta(days=3),
            actor=actor,
            now=clock.now(),
        )
    assert moved == 3
    chicago = ZoneInfo("America/Chicago")
    with factory() as session:
        after = {
            t.day: (t.due_date, t.opens_at, t.closes_at)
            for t in session.scalars(select(Touchpoint))
        }
        patient = session.get_one(Patient, patient_id)
        day3 = session.scalar(select(Touchpoint).where(Touchpoint.day == 3))
        assert day3 is not None and patient.next_touchpoint_id == day3.id
    assert after[1] == before[1]
    for day in (3, 7, 21):
        assert after[day][0] == before[day][0] + timedelta(days=3)
        opens_local = after[day][1].astimezone(chicago)
        assert (opens_local.hour, opens_local.minute) == (0, 0)
        assert after[day][1].tzinfo is not None and after[day][1].utcoffset() == timedelta(0)
    assert after[3][2] - after[3][1] == before[3][2] - before[3][1]
    # Day 3 of a 4 November procedure: local midnight of 7 November in Chicago (CST).
    assert after[3][1] == datetime(2026, 11, 7, 6, tzinfo=UTC)
