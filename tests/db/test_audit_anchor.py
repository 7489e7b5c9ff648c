"""Anchors catch what the keyless chain cannot: a deleted tail, a re-hashed chain, an
older copy of the database put back. And an untouched database passes.

Tampering is done as a member of the clinic group with the database open would:
plain SQL, and for the re-hash the project's own `event_hash`, so the chain check
alone says "intact" each time (asserted, so the anchors are seen to be what finds it).
Both backends, since what matters is that the anchored hashes survive each one's
round trip; the anchors go through a real file.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from core.audit_anchor import Anchor, AnchorFileError, ChainHead, append_anchor, read_anchors
from core.clock import FixedClock
from core.domain import Disposition, Role
from db.audit import GENESIS, event_hash, record, verify_chain
from db.audit_anchor import AnchorReport, chain_head, check_anchors
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent
from db.transfer import copy_database
from tests.factories import add_staff, add_triaged_patient

ROUTINE = {"day": 3, "symptoms": [], "country": "JP"}


def _events(engine: Engine, clock: FixedClock, count: int, start: int = 0) -> None:
    with transaction(make_session_factory(engine)) as session:
        for n in range(start, start + count):
            record(
                session,
                at=clock.now() + timedelta(minutes=n),
                actor="rn.kim",
                action="touchpoint.resolve",
                entity="touchpoint",
                entity_id=n + 1,
                after={"resolution": "reached", "note": f"call {n}"},
            )


def _anchor(engine: Engine, file: Path, clock: FixedClock, why: str = "daily") -> Anchor:
    """Anchor the chain's head as it is now, into `file`, a day after the last."""
    clock.advance(timedelta(days=1))
    with make_session_factory(engine)() as session:
        anchor = Anchor(chain_head(session), clock.now(), why)
    append_anchor(file, anchor)
    return anchor


def _check(engine: Engine, file: Path) -> tuple[bool, AnchorReport]:
    """(the chain check alone says intact, the anchors' verdict)."""
    with make_session_factory(engine)() as session:
        return verify_chain(session).ok, check_anchors(session, read_anchors(file))


@pytest.fixture
def anchors(tmp_path: Path) -> Path:
    folder = tmp_path / "audit-anchors"
    folder.mkdir(mode=0o750)
    return folder / "anchors.jsonl"


def test_an_untouched_database_passes_every_anchor(
    engine: Engine, clock: FixedClock, anchors: Path
) -> None:
    _anchor(engine, anchors, clock)  # the empty chain, anchored too
    _events(engine, clock, 4)
    first = _anchor(engine, anchors, clock)
    _events(engine, clock, 3, start=4)
    _anchor(engine, anchors, clock)
    _anchor(engine, anchors, clock)  # nothing new since: the same head again
    _events(engine, clock, 2, start=7)  # the clinic goes on after the newest anchor
    chain_ok, report = _check(engine, anchors)
    assert chain_ok and report.ok and (report.checked, report.total) == (4, 4)
    assert first.head.event_id > 0 and first.head.events == 4
    # Read back from the file exactly as written (the hash as stored, times aware).
    assert read_anchors(anchors)[1] == Anchor(first.head, first.anchored_at, "daily", line=2)


def test_deleting_the_newest_events_is_found(
    engine: Engine, clock: FixedClock, anchors: Path
) -> None:
    _events(engine, clock, 5)
    _anchor(engine, anchors, clock)
    _events(engine, clock, 5, start=5)
    newest = _anchor(engine, anchors, clock)
    with transaction(make_session_factory(engine)) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id > newest.head.event_id - 3))
    chain_ok, report = _check(engine, anchors)
    assert chain_ok, "the chain alone cannot see a removed tail"
    assert report.first_problem is not None and report.first_problem.number == 2
    assert report.first_problem.message == (
        f"the audit trail ends at event {newest.head.event_id - 3}, before the anchored event "
        f"{newest.head.event_id}: the newest events were removed, or an older copy of the "
        f"database was put back"
    )


def _rehash_everything(session: Session) -> None:
    """Compute every hash again, in order, as someone who read db/audit.py would."""
    previous = GENESIS
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)):
        event.prev_hash = previous
        event.hash = previous = event_hash(
            previous,
            event.at,
            event.actor,
            event.action,
            event.entity,
            event.entity_id,
            event.before,
            event.after,
        )
        session.flush()  # one row at a time: the hash column is unique


def test_a_triage_changed_and_the_whole_chain_rehashed_is_found(
    engine: Engine, clock: FixedClock, anchors: Path
) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, clock.now())
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        add_triaged_patient(session, "JP-1", now=clock.now(), actor=actor, findings=ROUTINE)
        saved = add_triaged_patient(
            session,
            "JP-2",
            now=clock.now(),
            actor=actor,
            findings={"day": 2, "symptoms": ["throat_tightness"], "country": "JP"},
        )
        triage_id = str(saved.assessment_id)
    _anchor(engine, anchors, clock)
    _events(engine, clock, 3)
    _anchor(engine, anchors, clock)
    with transaction(sessions) as session:
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "triage.record", AuditEvent.entity_id == triage_id
            )
        ).one()
        assert event.after is not None and event.after["chosen"] == Disposition.EMERGENCY.value
        event.after = {**event.after, "chosen": Disposition.EXPECTED.value}
        event.actor = "dr.nobody"
        session.flush()
        _rehash_everything(session)
    chain_ok, report = _check(engine, anchors)
    assert chain_ok, "a re-hashed chain verifies on its own"
    assert report.first_problem is not None and report.first_problem.number == 1
    assert report.first_problem.message.startswith(
        f"audit event {report.first_problem.anchor.head.event_id} no longer has the anchored "
        f"hash: the events up to it were changed and every hash computed again"
    )


def test_an_older_copy_put_back_is_found(
    engine: Engine,
    db_url: str,
    clock: FixedClock,
    anchors: Path,
    tmp_path: Path,
    _sqlite_template: Path,
) -> None:
    _events(engine, clock, 4)
    kept = _anchor(engine, anchors, clock, why="backup")
    # The earlier copy, taken with the project's own copy tool (SQLite or PostgreSQL alike).
    # The suite's migrated file as the target spares migrating one from nothing.
    shutil.copyfile(_sqlite_template, tmp_path / "earlier.db")
    earlier = f"sqlite:///{tmp_path / 'earlier.db'}"
    copy_database(db_url, earlier)
    _events(engine, clock, 6, start=4)
    later = _anchor(engine, anchors, clock)
    # Put the earlier copy back over the database.
    copy_database(earlier, db_url, force=True, on_replace=lambda counts: None)
    chain_ok, report = _check(engine, anchors)
    assert chain_ok, "the older copy's chain is whole"
    assert report.first_problem is not None
    assert (report.checked, report.first_problem.number) == (2, 2)
    assert report.first_problem.anchor.head == later.head
    assert "an older copy of the database was put back" in report.first_problem.message
    # The clinic goes on from the old copy: the anchored ids come back with other hashes.
    _events(engine, clock, 7, start=100)
    chain_ok, report = _check(engine, anchors)
    assert chain_ok and report.first_problem is not None
    assert report.first_problem.number == 2 and "no longer has the anchored hash" in (
        report.first_problem.message
    )
    assert kept.head.events == 4


def test_an_event_removed_from_inside_is_counted(
    engine: Engine, clock: FixedClock, anchors: Path
) -> None:
    """Without hashing again the chain check names the gap; the anchors, checked on
    their own, see the anchored event unchanged but fewer events than they counted."""
    _events(engine, clock, 5)
    anchor = _anchor(engine, anchors, clock)
    with transaction(make_session_factory(engine)) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == anchor.head.event_id - 2))
    chain_ok, report = _check(engine, anchors)
    assert not chain_ok
    assert report.first_problem is not None and report.first_problem.message == (
        "the audit trail holds 4 events, fewer than the 5 anchored: events were removed"
    )


def test_anchor_files_others_could_write_are_refused(tmp_path: Path, clock: FixedClock) -> None:
    head_anchor = Anchor(chain_head_of_nothing(), clock.now(), "by hand")
    open_folder = tmp_path / "shared"
    open_folder.mkdir()
    open_folder.chmod(0o770)
    with pytest.raises(AnchorFileError, match=r"folder .* is writable by others"):
        append_anchor(open_folder / "anchors.jsonl", head_anchor)
    assert not (open_folder / "anchors.jsonl").exists()
    own = tmp_path / "own"
    own.mkdir(mode=0o750)
    file = own / "anchors.jsonl"
    append_anchor(file, head_anchor)
    assert file.stat().st_mode & 0o777 == 0o640 & ~_umask()
    file.chmod(0o660)
    with pytest.raises(AnchorFileError, match="writable by others than its owner"):
        append_anchor(file, head_anchor)
    assert len(read_anchors(file)) == 1
    file.write_text(file.read_text() + '{"event_id": 3}\n')
    with pytest.raises(AnchorFileError, match=r"line 2 of .* is not an anchor: its events"):
        read_anchors(file)


def chain_head_of_nothing() -> ChainHead:
    return ChainHead(0, GENESIS, None, 0)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
