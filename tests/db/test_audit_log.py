"""`audit.log` names a stored row by its table and key, and stores the very event
`audit.record` would for that entity and id, so the chain reads the same either way.

Runs on SQLite and PostgreSQL, like the chain tests.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.domain import Role
from db import audit
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, OnCallShift, Staff


def _staff(clock: FixedClock) -> Staff:
    return Staff(
        username="dr.park",
        display_name="Dr. Park",
        role=Role.PHYSICIAN,
        created_at=clock.now(),
    )


def test_an_event_about_a_row_is_the_one_record_stores_for_its_table_and_key(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        staff = _staff(clock)
        session.add(staff)
        session.flush()
        kim = Actor(staff_id=staff.id, username="rn.kim", display_name="RN Kim")
        logged = audit.log(
            session, clock.now(), kim, "staff.add", staff, after={"username": "dr.park"}
        )
        recorded = audit.record(
            session,
            at=clock.now(),
            actor="rn.kim",
            action="staff.add",
            entity="staff",
            entity_id=staff.id,
            after={"username": "dr.park"},
        )
        # Same fields, so the same hash over the same previous one.
        expected = audit.event_hash(
            logged.prev_hash,
            clock.now(),
            "rn.kim",
            "staff.add",
            "staff",
            str(staff.id),
            None,
            {"username": "dr.park"},
        )
    assert (logged.entity, logged.entity_id, logged.actor) == ("staff", str(staff.id), "rn.kim")
    assert (recorded.entity, recorded.entity_id) == (logged.entity, logged.entity_id)
    assert logged.hash == expected
    with make_session_factory(engine)() as session:
        assert audit.verify_chain(session).ok


def test_a_table_with_an_underscore_is_named_as_the_table_is(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        staff = _staff(clock)
        session.add(staff)
        session.flush()
        shift = OnCallShift(
            staff_id=staff.id,
            starts_at=clock.now(),
            ends_at=clock.now() + timedelta(hours=12),
            created_at=clock.now(),
            created_by="rn.kim",
        )
        session.add(shift)
        session.flush()
        event = audit.log(session, clock.now(), "rn.kim", "oncall.set", shift)
    assert (event.entity, event.entity_id) == ("oncall_shift", str(shift.id))


def test_an_event_about_many_rows_names_the_entity_and_no_id(
    engine: Engine, clock: FixedClock
) -> None:
    with transaction(make_session_factory(engine)) as session:
        event = audit.log(
            session, clock.now(), "rn.kim", "export.incidents_csv", ("incident", None)
        )
    assert (event.entity, event.entity_id) == ("incident", None)


def test_a_row_not_yet_stored_is_refused_and_nothing_is_recorded(
    engine: Engine, clock: FixedClock
) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        with pytest.raises(ValueError, match="staff row"):
            audit.log(session, clock.now(), "rn.kim", "staff.add", _staff(clock))
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0
