"""A big patient import does not block the alert path, on SQLite and PostgreSQL.

The file goes in a chunk of rows per short transaction (db.patient_import), so
an emergency saved by a coordinator meanwhile is paged out by the real
dispatcher to a real receiver before the import ends; the new patients stay
out of every queue band until the last chunk is in; a failure in a late chunk,
or an import cut short, leaves nothing behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from bench.support import patient_file_rows
from core.clock import FixedClock
from core.commands import TriageEntry
from core.config import Settings
from core.domain import Role
from core.patient_import import PatientRow
from core.refusals import Refused
from core.triage import assess, parse_triage_input
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Patient, ProductGiven, Staff, Touchpoint, TreatmentEpisode
from db.patient_import import ImportSummary, stage_patients, start_import, unfinished_imports
from db.queue import count_queue
from db.services import Clinic
from db.services.admin import _next_chunk
from notifiers.delivery import apprise_deliverer
from notifiers.dispatcher import Dispatcher
from tests.factories import add_patient, add_staff
from tests.notifiers.receivers import HttpReceiver

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
ROWS = 400
CHUNK = 50


@dataclass
class Desk:
    clinic: Clinic
    engine: Engine
    clock: FixedClock
    admin: Actor
    nurse: Actor
    rows: list[PatientRow]

    def count(self, model: type) -> int:
        with make_session_factory(self.engine)() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def imported_in_queue(self) -> int:
        """Imported patients a queue band shows (the bands read the next-touchpoint cache)."""
        with make_session_factory(self.engine)() as session:
            found = select(func.count()).where(
                Patient.code.like("IM-%"), Patient.next_touchpoint_id.is_not(None)
            )
            return session.scalar(found) or 0

    def import_all(self, progress: Callable[[int], None] | None = None) -> ImportSummary:
        return self.clinic.import_patients(
            self.admin,
            self.rows,
            templates=self.clinic.templates,
            source="patients.csv",
            sha256="0" * 64,
            chunk=CHUNK,
            progress=progress,
        )


@pytest.fixture
def desk(engine: Engine, clock: FixedClock) -> Desk:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "it.choi", Role.ADMIN, now)
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        actors = [Actor(s.id, s.username, s.display_name) for s in (admin, nurse)]
    settings = Settings(database_url="sqlite:///unused.db")
    clinic = Clinic(Database(engine, make_session_factory(engine)), settings, clock)
    return Desk(
        clinic,
        engine,
        clock,
        actors[0],
        actors[1],
        patient_file_rows(clock.now(), dict(clinic.templates), ROWS),
    )


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


def _dispatcher(desk: Desk, receiver: HttpReceiver, tmp_path: Path) -> Dispatcher:
    path = tmp_path / "apprise.yml"
    path.write_text(
        "version: 1\nurls:\n"
        f"  - {receiver.url('/alerts')}:\n"
        "      tag: oncall, senior, physicians\n"
        f"  - {receiver.url('/dr-lee')}:\n"
        "      tag: dr-lee\n"
    )
    path.chmod(0o600)
    return Dispatcher(desk.clinic.database, apprise_deliverer(path), desk.clock, owner="test")


class Importing(threading.Thread):
    """The import on its own thread; `first_chunk` is set once a chunk is in."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(daemon=True)
        self.desk = desk
        self.first_chunk = threading.Event()
        self.failure: BaseException | None = None
        self.ended_at = 0.0

    def run(self) -> None:
        try:
            self.desk.import_all(progress=lambda _: self.first_chunk.set())
        except BaseException as exc:  # reported by the test
            self.failure = exc
        finally:
            self.ended_at = time.monotonic()


def test_an_emergency_saved_during_a_big_import_is_paged_before_the_import_ends(
    desk: Desk, receiver: HttpReceiver, tmp_path: Path
) -> None:
    dispatcher = _dispatcher(desk, receiver, tmp_path)
    with transaction(desk.clinic.database.sessions) as session:
        now = desk.clock.now()
        patient_id = add_patient(
            session, "P-1", procedure_at=now - timedelta(days=2), created_at=now
        ).id
    importing = Importing(desk)
    importing.start()
    assert importing.first_chunk.wait(60)
    saved_at = time.monotonic()
    parsed = parse_triage_input(EMERGENCY)
    saved = desk.clinic.record_triage(desk.nurse, patient_id, TriageEntry(parsed, assess(parsed)))
    assert saved.escalation_id is not None
    while not receiver.posts and time.monotonic() - saved_at < 30:
        dispatcher.run_once()
    paged_at = time.monotonic()
    assert receiver.posts, "no page while the import was running"
    importing.join(300)
    assert importing.failure is None, importing.failure
    # Paged while rows were still going in, and quickly: a chunk is about a second.
    assert paged_at < importing.ended_at
    assert paged_at - saved_at < 15
    assert desk.imported_in_queue() == ROWS


def test_the_queue_never_shows_half_an_import(desk: Desk) -> None:
    importing = Importing(desk)
    importing.start()
    seen: set[int] = set()
    with make_session_factory(desk.engine)() as session:
        while importing.is_alive():
            seen.add(desk.imported_in_queue())
            counts = count_queue(session, desk.clock.now())
            seen.add(counts.overdue + counts.due + counts.upcoming)
            session.rollback()
            time.sleep(0.05)
    importing.join()
    assert importing.failure is None, importing.failure
    assert seen <= {0, ROWS}
    assert 0 in seen  # looked while chunks were being written
    assert desk.imported_in_queue() == ROWS


def test_a_failure_in_a_late_chunk_leaves_nothing_visible_and_nothing_behind(desk: Desk) -> None:
    before = {m: desk.count(m) for m in (Patient, TreatmentEpisode, Touchpoint, ProductGiven)}

    staged_when_left: list[int] = []

    def disable_the_physician(written: int) -> None:
        # The treating physician leaves mid-import, once most rows are in (chunks
        # shrink on a loaded machine, so "most" is not an exact chunk boundary).
        if written >= ROWS - 2 * CHUNK and not staged_when_left:
            staged_when_left.append(written)
            with transaction(desk.clinic.database.sessions) as session:
                session.execute(
                    update(Staff).where(Staff.username == "dr.lee").values(active=False)
                )

    with pytest.raises(Refused, match="nothing was imported"):
        desk.import_all(progress=disable_the_physician)
    assert staged_when_left and staged_when_left[0] < ROWS
    assert {m: desk.count(m) for m in before} == before
    with make_session_factory(desk.engine)() as session:
        assert unfinished_imports(session) == []
        abandoned = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "patient.import.abandoned")
        ).one()
        assert abandoned.after is not None and abandoned.after["removed"] == staged_when_left[0]
        assert "dr.lee" in abandoned.after["reason"]


def test_an_import_cut_short_is_removed_by_the_next_one_which_says_so(desk: Desk) -> None:
    codes = [row.code for row in desk.rows]
    now = desk.clock.now()
    with transaction(desk.clinic.database.sessions) as session:
        start_import(
            session, now, desk.admin, codes, batch="crashed", source="old.csv", sha256="1" * 64
        )
    with transaction(desk.clinic.database.sessions) as session:
        stage_patients(
            session,
            now,
            desk.admin,
            desk.rows[:CHUNK],
            batch="crashed",
            source="old.csv",
            templates=desk.clinic.templates,
        )
    assert desk.imported_in_queue() == 0
    # Not yet in the records: neither a search nor a code on the command line finds them.
    assert desk.clinic.find_patients(codes[0]) == []
    assert desk.clinic.find_patients("Yui1") == []
    assert desk.clinic.patient_by_reference(codes[0]) is None
    # Within the hour it may still be running: the next import waits, writing nothing.
    with pytest.raises(Refused, match="another patient import"):
        desk.import_all()
    assert desk.count(Patient) == CHUNK
    desk.clock.advance(timedelta(hours=2))
    summary = desk.import_all()
    assert sorted(summary.removed_unfinished) == codes[:CHUNK]
    assert desk.imported_in_queue() == ROWS
    assert desk.count(Patient) == ROWS
    assert [hit.code for hit in desk.clinic.find_patients(codes[0])] == [codes[0]]
    assert desk.clinic.patient_by_reference(codes[0]) is not None


def test_a_chunk_that_held_the_lock_too_long_makes_the_next_one_smaller() -> None:
    # 200 rows took 5.3 s on a loaded machine (the dispatcher's busy timeout is 5 s).
    assert _next_chunk(200, 5.3, 200) == 37
    assert _next_chunk(37, 0.9, 200) == 37  # within the second: kept
    assert _next_chunk(37, 0.1, 200) == 74  # quick again: grows back
    assert _next_chunk(150, 0.01, 200) == 200  # never past the largest asked for
    assert _next_chunk(10, 9.0, 200) == 10  # never below ten rows
    assert _next_chunk(11, 1.05, 200) == 10  # always smaller after a slow one
