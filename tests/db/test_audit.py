"""The audit chain verifies when untouched and names the first tampered event.

Tampering is done the way an intruder with database access would: plain SQL
updates, deletes and inserts that bypass `audit.record`. Every test runs on
SQLite and PostgreSQL, because what matters is that hashes survive each
database's round trip of timestamps and JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from core.clock import FixedClock
from db.audit import ChainReport, event_hash, record, verify_chain
from db.engine import make_session_factory, transaction
from db.models import AuditEvent

EVENTS = 10


def _write_events(engine: Engine, clock: FixedClock, count: int = EVENTS) -> list[int]:
    """Record `count` events a few minutes apart, with odd microseconds; return their ids."""
    ids = []
    with transaction(make_session_factory(engine)) as session:
        for n in range(count):
            event = record(
                session,
                at=clock.now() + timedelta(minutes=n, microseconds=123_457 * n),
                actor="rn.kim",
                action="touchpoint.resolve",
                entity="touchpoint",
                entity_id=n + 1,
                before={"resolution": None, "n": n},
                after={"resolution": "reached", "note": f"call {n}: 좋아요", "temp": 37.2},
            )
            ids.append(event.id)
    return ids


def _verify(engine: Engine, batch_size: int = 1000) -> ChainReport:
    with make_session_factory(engine)() as session:
        return verify_chain(session, batch_size=batch_size)


def _problem(report: ChainReport) -> tuple[int, str]:
    assert not report.ok
    assert report.first_problem is not None
    return report.first_problem.event_id, report.first_problem.message


def _hash_of(session: Session, event_id: int) -> str:
    found = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == event_id))
    assert found is not None
    return found


def _forge(session: Session, *, prev_hash: str, event_id: int | None = None) -> AuditEvent:
    """Insert an event whose own hash is correct, as someone who read this code would."""
    fields: dict[str, Any] = {
        "at": datetime(2026, 11, 22, 7, 0, tzinfo=UTC),
        "actor": "intruder",
        "action": "touchpoint.resolve",
        "entity": "touchpoint",
        "entity_id": "99",
        "before": None,
        "after": {"resolution": "reached"},
    }
    forged = AuditEvent(
        **fields,
        prev_hash=prev_hash,
        hash=event_hash(prev_hash, **fields),
    )
    if event_id is not None:
        forged.id = event_id
    session.add(forged)
    session.flush()
    return forged


def test_empty_and_intact_chains_verify(engine: Engine, clock: FixedClock) -> None:
    assert _verify(engine) == ChainReport(checked=0)
    _write_events(engine, clock)
    report = _verify(engine)
    assert report.ok
    assert report.checked == EVENTS
    # Walking in small batches sees the same chain.
    assert _verify(engine, batch_size=3) == report


def test_times_in_any_zone_hash_as_they_read_back(engine: Engine) -> None:
    seoul = datetime(2026, 11, 22, 15, 0, 0, 654_321, tzinfo=ZoneInfo("Asia/Seoul"))
    with transaction(make_session_factory(engine)) as session:
        event = record(session, at=seoul, actor="a", action="x", entity="e", entity_id=None)
        event_id = event.id
    with make_session_factory(engine)() as session:
        stored = session.scalar(select(AuditEvent.at).where(AuditEvent.id == event_id))
    assert stored == seoul and stored is not None and stored.utcoffset() == timedelta(0)
    assert _verify(engine).ok


def test_naive_time_is_refused(engine: Engine) -> None:
    with make_session_factory(engine)() as session, pytest.raises(ValueError, match="naive"):
        record(session, at=datetime(2026, 1, 1), actor="a", action="x", entity="e", entity_id=1)


@pytest.mark.parametrize(
    "change",
    [
        {"after": {"resolution": "no_answer"}},
        {"actor": "someone.else"},
        {"at": datetime(2026, 11, 22, 6, 1, tzinfo=UTC)},
        {"entity_id": None},
    ],
    ids=["after", "actor", "at", "entity_id"],
)
def test_edited_event_is_named(engine: Engine, clock: FixedClock, change: dict[str, Any]) -> None:
    ids = _write_events(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[6]).values(**change))
    report = _verify(engine, batch_size=3)  # the edit sits past the first batches
    assert _problem(report) == (
        ids[6],
        f"audit event {ids[6]} was edited (its hash does not match it)",
    )
    assert report.checked == 7


def test_removed_event_is_named(engine: Engine, clock: FixedClock) -> None:
    ids = _write_events(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[4]))
    assert _problem(_verify(engine)) == (
        ids[4],
        f"audit event {ids[4]} was removed "
        f"(event {ids[5]} points to a hash that is not event {ids[3]}'s)",
    )


def test_several_removed_events_are_named_as_a_range(engine: Engine, clock: FixedClock) -> None:
    ids = _write_events(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids[3:6])))
    event_id, message = _problem(_verify(engine))
    assert event_id == ids[3]
    assert message.startswith(f"audit events {ids[3]}-{ids[5]} were removed")


def test_removed_first_event_is_named(engine: Engine, clock: FixedClock) -> None:
    ids = _write_events(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[0]))
    event_id, message = _problem(_verify(engine))
    assert event_id == ids[1]
    assert message.startswith(f"audit events before event {ids[1]} were removed")


def test_event_rewritten_with_a_fresh_hash_is_named(engine: Engine, clock: FixedClock) -> None:
    # The intruder edits event 4 and recomputes its hash, so event 4 checks out
    # on its own; event 5 still points to the original hash.
    ids = _write_events(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        row = session.get_one(AuditEvent, ids[3])
        forged_after = {"resolution": "no_answer"}
        forged_hash = event_hash(
            row.prev_hash,
            row.at,
            row.actor,
            row.action,
            row.entity,
            row.entity_id,
            row.before,
            forged_after,
        )
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.id == ids[3])
            .values(after=forged_after, hash=forged_hash)
        )
    assert _problem(_verify(engine)) == (
        ids[3],
        f"audit event {ids[3]} was inserted or rewritten with a forged hash "
        f"(event {ids[4]} points to a hash that is not event {ids[3]}'s)",
    )


def test_event_appended_on_an_old_hash_is_named(engine: Engine, clock: FixedClock) -> None:
    # A new last event that links to event 5 instead of the real last one.
    ids = _write_events(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        forged = _forge(session, prev_hash=_hash_of(session, ids[4]))
        forged_id = forged.id
    assert _problem(_verify(engine)) == (
        forged_id,
        f"audit event {forged_id} was inserted "
        f"(it points to event {ids[4]}, but event {ids[-1]} comes before it)",
    )


def test_event_inserted_into_an_id_gap_is_named(engine: Engine, clock: FixedClock) -> None:
    # Ids are not hashed and may legitimately have gaps (PostgreSQL skips the
    # ids of rolled-back transactions). Make one by moving events 6-10 up to
    # 16-20: the chain stays intact. Then squeeze a forged event in as id 8,
    # linked to event 5 with a correct hash of its own; event 16 still links
    # to event 5, skipping it.
    ids = _write_events(engine, clock)
    assert ids == list(range(1, EVENTS + 1))  # fresh table on both databases
    with transaction(make_session_factory(engine)) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id > 5).values(id=AuditEvent.id + 10))
    assert _verify(engine) == ChainReport(checked=EVENTS)
    with transaction(make_session_factory(engine)) as session:
        _forge(session, prev_hash=_hash_of(session, 5), event_id=8)
    assert _problem(_verify(engine)) == (
        8,
        "audit event 8 was inserted (event 16 points to event 5, skipping it)",
    )
    # A second forged event chained after the first: both are named as a range.
    with transaction(make_session_factory(engine)) as session:
        _forge(session, prev_hash=_hash_of(session, 8), event_id=9)
    assert _problem(_verify(engine)) == (
        8,
        "audit events 8-9 were inserted (event 16 points to event 5, skipping them)",
    )
