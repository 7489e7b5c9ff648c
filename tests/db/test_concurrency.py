"""Twenty people editing the same five patients for thirty seconds, on SQLite and
PostgreSQL: every stale edit is refused with a message naming what changed and
who changed it, and nothing the database accepted is lost or overwritten.

Each writer thread has its own Session on the application's engine (opened the
way the app opens it, so SQLite runs in WAL mode with the app's busy timeout).
A write first reads the screen's view in one transaction (the patient's next
touchpoint, an incident's version, an alert's status) and then edits from
that view in another, as a coordinator does between looking and pressing a
key. Every writer logs what was accepted (committed) and every refusal it was
told about. Afterwards the database is checked against those logs.
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.commands import Closing, DatedReference, TriageEntry
from core.domain import (
    Channel,
    ContactOutcome,
    EscalationStatus,
    IncidentOutcome,
    IncidentStatus,
    Protocol,
    Role,
    Seriousness,
    TouchpointResolution,
)
from core.incident_log import EntryKind
from core.incidents import clinic_today
from core.schedules import builtin_templates
from core.triage import assess, parse_triage_input
from db import episodes, escalations, followup, incidents
from db.audit import verify_chain
from db.database import Database, initialise_database, open_database
from db.engine import make_session_factory, transaction
from db.errors import StorageError
from db.followup import Actor, FollowUpConflict
from db.models import (
    AuditEvent,
    ContactAttempt,
    Escalation,
    Incident,
    IncidentEntry,
    Patient,
    Staff,
    Touchpoint,
    TreatmentEpisode,
)
from db.triage import record_triage
from tests.conftest import TEST_NOW
from tests.factories import add_staff, add_triaged_patient

WRITERS = 20
PATIENTS = 5
DURATION_SECONDS = float(os.environ.get("AFTERCARE_TEST_CONCURRENCY_SECONDS", "5"))
"""How long the writers run at least, per backend. The issue asked for thirty seconds;
the suite runs a few so CI stays quick, going on (up to FULL_SECONDS) until the race
has produced what the test needs to judge it. AFTERCARE_TEST_CONCURRENCY_SECONDS=30
runs the full half minute."""
FULL_SECONDS = 30.0
RACED_KINDS = ("claim", "release", "contact", "done", "classify", "acknowledge")

UNREACHABLE_AFTER = 3
EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
TIME_SAID = r"\d\d \w{3} \d\d:\d\d KST"


class MovingClock:
    """Clinic time that starts at TEST_NOW and moves with the wall clock."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def now(self) -> datetime:
        return TEST_NOW + timedelta(seconds=time.monotonic() - self._started)


@dataclass
class Accepted:
    """One committed write: the rows it edited (with the version each now has),
    the audit events it appended, and what it set, for the overwrite checks."""

    writer: str
    kind: str
    at: datetime
    edits: list[tuple[str, int, int]] = field(default_factory=list)
    audit: list[tuple[str, str]] = field(default_factory=list)
    sets: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    appended: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """A write the writer was told it could not make; nothing of it was saved."""

    writer: str
    kind: str
    target: tuple[str, int]
    message: str
    busy: bool = False


@dataclass
class Log:
    accepted: list[Accepted] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


Work = Callable[[Session, datetime], Accepted]


class Writer:
    """One person at a terminal, looking at the shared patients and editing them."""

    def __init__(
        self,
        number: int,
        actor: Actor,
        role: Role,
        database: Database,
        clock: MovingClock,
        patient_ids: list[int],
    ) -> None:
        self.actor = actor
        self.role = role
        self.clock = clock
        self.patients = patient_ids
        self.rng = random.Random(number)
        self.session = database.sessions()
        self.log = Log()
        self.held: set[int] = set()
        self.serial = 0
        coordinator: list[tuple[Callable[[int], None], int]] = [
            (self.claim_or_release, 3),
            (self.contact, 3),
            (self.done, 2),
            (self.skip, 1),
            (self.entry, 2),
            (self.move_procedure, 1),
            (self.triage, 1),
            (self.new_episode, 1),
        ]
        physician: list[tuple[Callable[[int], None], int]] = [
            (self.classify, 3),
            (self.report, 2),
            (self.close_or_reopen, 1),
            (self.acknowledge, 2),
            (self.resolve, 1),
            (self.entry, 2),
        ]
        chosen = coordinator if role is Role.COORDINATOR else physician
        self.actions = [action for action, _ in chosen]
        self.weights = [weight for _, weight in chosen]

    # --- the loop -------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                action = self.rng.choices(self.actions, self.weights)[0]
                action(self.rng.choice(self.patients))
        except BaseException as exc:  # any surprise fails the test, in the main thread
            self.log.errors.append(exc)
        finally:
            self.session.close()

    def unique(self) -> str:
        self.serial += 1
        return f"{self.actor.username}-{self.serial}"

    def view(self, query: Any) -> list[Any]:
        """What the screen shows: read in its own transaction, then a moment passes."""
        with self.session.begin():
            rows = list(self.session.execute(query).all())
        time.sleep(self.rng.uniform(0, 0.003))
        return rows

    def write(self, kind: str, target: tuple[str, int], work: Work) -> bool:
        """One transaction; logs what the database accepted or why it refused."""
        now = self.clock.now()
        try:
            # The app's unit of work (db.engine.transaction), on this writer's own Session.
            with transaction(lambda: self.session) as session:
                accepted = work(session, now)
        except FollowUpConflict as exc:
            self.log.refused.append(Refused(self.actor.username, kind, target, str(exc)))
            return False
        except StorageError as exc:
            if "is locked" not in str(exc):
                raise
            # SQLite waited out its busy timeout: the person is told, nothing is saved.
            self.log.refused.append(Refused(self.actor.username, kind, target, str(exc), busy=True))
            return False
        accepted.writer, accepted.kind, accepted.at = self.actor.username, kind, now
        self.log.accepted.append(accepted)
        return True

    # --- coordinator ----------------------------------------------------------

    def claim_or_release(self, patient_id: int) -> None:
        target = ("patient", patient_id)
        if patient_id in self.held:

            def release(session: Session, now: datetime) -> Accepted:
                followup.release_patient(session, patient_id=patient_id, actor=self.actor, now=now)
                return _patient_edit(session, patient_id, "patient.release", None)

            if self.write("release", target, release):
                self.held.discard(patient_id)
            return

        def claim(session: Session, now: datetime) -> Accepted:
            followup.claim_patient(session, patient_id=patient_id, actor=self.actor, now=now)
            return _patient_edit(session, patient_id, "patient.claim", self.actor.staff_id)

        if self.write("claim", target, claim):
            self.held.add(patient_id)

    def next_touchpoint(self, patient_id: int) -> int | None:
        rows = self.view(select(Patient.next_touchpoint_id).where(Patient.id == patient_id))
        return rows[0][0] if rows else None

    def contact(self, patient_id: int) -> None:
        touchpoint_id = self.next_touchpoint(patient_id)
        if touchpoint_id is None:
            self.new_episode(patient_id)
            return
        outcome = self.rng.choices(
            [ContactOutcome.NO_ANSWER, ContactOutcome.MESSAGE_SENT, ContactOutcome.REACHED],
            [3, 2, 1],
        )[0]
        note = self.unique()

        def work(session: Session, now: datetime) -> Accepted:
            logged = followup.record_contact_attempt(
                session,
                touchpoint_id=touchpoint_id,
                channel=Channel.LINE,
                outcome=outcome,
                note=note,
                actor=self.actor,
                now=now,
                unreachable_after=UNREACHABLE_AFTER,
            )
            attempt = logged.attempt
            accepted = Accepted("", "", now, audit=[("contact_attempt.add", str(attempt.id))])
            accepted.appended = {
                "attempt": attempt.id,
                "patient": patient_id,
                "touchpoint": touchpoint_id,
                "note": note,
                "heard": outcome.heard_from_patient,
            }
            row = session.execute(
                select(Touchpoint.resolution, Touchpoint.version).where(
                    Touchpoint.id == touchpoint_id
                )
            ).one()
            if row.resolution is not None:
                # It was open when this transaction read it under the lock: this attempt closed it.
                accepted.edits.append(("touchpoint", touchpoint_id, row.version))
                accepted.audit.append(("touchpoint.unreachable", str(touchpoint_id)))
                accepted.sets[("touchpoint", touchpoint_id)] = {
                    "resolution": TouchpointResolution.UNREACHABLE,
                    "resolved_by_id": self.actor.staff_id,
                }
            return accepted

        self.write("contact", ("touchpoint", touchpoint_id), work)

    def done(self, patient_id: int) -> None:
        self.resolve_touchpoint(patient_id, TouchpointResolution.DONE)

    def skip(self, patient_id: int) -> None:
        self.resolve_touchpoint(patient_id, TouchpointResolution.SKIPPED)

    def resolve_touchpoint(self, patient_id: int, resolution: TouchpointResolution) -> None:
        touchpoint_id = self.next_touchpoint(patient_id)
        if touchpoint_id is None:
            self.new_episode(patient_id)
            return
        note = self.unique()

        def work(session: Session, now: datetime) -> Accepted:
            followup.resolve_touchpoint(
                session,
                touchpoint_id=touchpoint_id,
                resolution=resolution,
                note=note,
                actor=self.actor,
                now=now,
            )
            version = session.scalar(
                select(Touchpoint.version).where(Touchpoint.id == touchpoint_id)
            )
            assert version is not None
            return Accepted(
                "",
                "",
                now,
                edits=[("touchpoint", touchpoint_id, version)],
                audit=[(f"touchpoint.{resolution.value}", str(touchpoint_id))],
                sets={
                    ("touchpoint", touchpoint_id): {
                        "resolution": resolution,
                        "resolved_by_id": self.actor.staff_id,
                        "note": note,
                    }
                },
            )

        self.write(resolution.value, ("touchpoint", touchpoint_id), work)

    def move_procedure(self, patient_id: int) -> None:
        rows = self.view(
            select(TreatmentEpisode.id, TreatmentEpisode.version, TreatmentEpisode.procedure_at)
            .where(TreatmentEpisode.patient_id == patient_id)
            .order_by(TreatmentEpisode.id)
        )
        episode_id, version, procedure_at = self.rng.choice(rows)
        moved_to = procedure_at + timedelta(days=self.rng.choice([-1, 1]))

        def work(session: Session, now: datetime) -> Accepted:
            episodes.move_procedure(
                session,
                episode_id=episode_id,
                procedure_at=moved_to,
                actor=self.actor,
                now=now,
                expected_version=version,
            )
            new_version = session.scalar(
                select(TreatmentEpisode.version).where(TreatmentEpisode.id == episode_id)
            )
            assert new_version is not None
            assert new_version == version + 1
            # A move shifts every open touchpoint of the episode; resolved ones stay.
            moved = session.execute(
                select(Touchpoint.id, Touchpoint.version).where(
                    Touchpoint.episode_id == episode_id, Touchpoint.resolution.is_(None)
                )
            ).all()
            return Accepted(
                "",
                "",
                now,
                edits=[
                    ("episode", episode_id, new_version),
                    *(("touchpoint", tp, v) for tp, v in moved),
                ],
                audit=[("episode.move_procedure", str(episode_id))],
                sets={("episode", episode_id): {"procedure_at": moved_to}},
            )

        self.write("move", ("episode", episode_id), work)

    def triage(self, patient_id: int) -> None:
        parsed = parse_triage_input(dict(EMERGENCY))

        def work(session: Session, now: datetime) -> Accepted:
            saved = record_triage(
                session,
                patient_id=patient_id,
                entry=TriageEntry(parsed, assess(parsed)),
                actor=self.actor,
                now=now,
            )
            assert saved.incident_id is not None and saved.escalation_id is not None
            return Accepted(
                "",
                "",
                now,
                audit=[
                    ("triage.record", str(saved.assessment_id)),
                    ("incident.open", str(saved.incident_id)),
                    ("escalation.open", str(saved.escalation_id)),
                ],
            )

        self.write("triage", ("patient", patient_id), work)

    def new_episode(self, patient_id: int) -> None:
        def work(session: Session, now: datetime) -> Accepted:
            episode = episodes.create_episode(
                session,
                patient_id=patient_id,
                procedure_at=now - timedelta(days=2),
                protocol=Protocol.EXOSOME_IV,
                schedule=["standard"],
                templates=builtin_templates(),
                actor=self.actor,
                now=now,
            )
            return Accepted("", "", now, audit=[("episode.create", str(episode.id))])

        self.write("episode", ("patient", patient_id), work)

    # --- physician (and everyone: incident entries) -----------------------------

    def some_incident(self, patient_id: int) -> Any:
        rows = self.view(
            select(
                Incident.id,
                Incident.version,
                Incident.category,
                Incident.status,
                Incident.suspect_product_id,
            )
            .where(Incident.patient_id == patient_id)
            .order_by(Incident.id)
        )
        # The newest incidents are the busy ones, as on a real shift.
        return self.rng.choice(rows[-3:])

    def entry(self, patient_id: int) -> None:
        incident = self.some_incident(patient_id)
        text = self.unique()
        kind = self.rng.choice([EntryKind.NOTE, EntryKind.PATIENT_CONTACT])

        def work(session: Session, now: datetime) -> Accepted:
            incidents.add_entry(
                session, incident_id=incident.id, kind=kind, text=text, actor=self.actor, now=now
            )
            accepted = Accepted("", "", now, audit=[("incident.entry", str(incident.id))])
            accepted.appended = {"incident": incident.id, "text": text, "kind": kind.value}
            return accepted

        self.write("entry", ("incident", incident.id), work)

    def incident_edit(
        self,
        kind: str,
        incident: Any,
        action: str,
        entry: EntryKind,
        change: Callable[[Session, datetime], dict[str, Any]],
    ) -> None:
        def work(session: Session, now: datetime) -> Accepted:
            sets = change(session, now)
            version = session.scalar(select(Incident.version).where(Incident.id == incident.id))
            assert version is not None
            assert version == incident.version + 1
            accepted = Accepted(
                "",
                "",
                now,
                edits=[("incident", incident.id, version)],
                audit=[(action, str(incident.id))],
                sets={("incident", incident.id): sets},
            )
            accepted.appended = {"incident": incident.id, "kind": entry.value}
            return accepted

        self.write(kind, ("incident", incident.id), work)

    def classify(self, patient_id: int) -> None:
        incident = self.some_incident(patient_id)
        sets: dict[str, Any] = {
            "seriousness": self.rng.choice(
                [
                    Seriousness.NON_SERIOUS,
                    Seriousness.MEDICALLY_IMPORTANT,
                    Seriousness.HOSPITALISATION,
                ]
            ),
            # Grades 4 and 5 need a matching seriousness (life-threatening, death).
            "severity_grade": self.rng.randint(1, 3),
            "actions_taken": self.unique(),
        }

        def change(session: Session, now: datetime) -> dict[str, Any]:
            incidents.classify(
                session,
                incident_id=incident.id,
                expected_version=incident.version,
                classification=incidents.Classification(
                    category=incident.category,
                    causality=None,
                    suspect_product_id=incident.suspect_product_id,
                    **sets,
                ),
                actor=self.actor,
                now=now,
            )
            return sets

        self.incident_edit("classify", incident, "incident.classify", EntryKind.CLASSIFIED, change)

    def report(self, patient_id: int) -> None:
        incident = self.some_incident(patient_id)
        reference = f"MFDS-{self.unique()}"

        def change(session: Session, now: datetime) -> dict[str, Any]:
            incidents.record_report(
                session,
                incident_id=incident.id,
                expected_version=incident.version,
                report=DatedReference(
                    clinic_today(now), reference, replacing_because="the reference was mistyped"
                ),
                actor=self.actor,
                now=now,
            )
            return {"report_reference": reference}

        self.incident_edit("report", incident, "incident.report", EntryKind.REPORTED, change)

    def close_or_reopen(self, patient_id: int) -> None:
        incident = self.some_incident(patient_id)
        if incident.status is IncidentStatus.OPEN:

            def close(session: Session, now: datetime) -> dict[str, Any]:
                incidents.close(
                    session,
                    incident_id=incident.id,
                    expected_version=incident.version,
                    closing=Closing(IncidentOutcome.RESOLVED, self.unique()),
                    actor=self.actor,
                    now=now,
                )
                return {"status": IncidentStatus.CLOSED, "outcome": IncidentOutcome.RESOLVED}

            self.incident_edit("close", incident, "incident.close", EntryKind.CLOSED, close)
            return

        def reopen(session: Session, now: datetime) -> dict[str, Any]:
            incidents.reopen(
                session,
                incident_id=incident.id,
                expected_version=incident.version,
                reason=self.unique(),
                actor=self.actor,
                now=now,
            )
            return {"status": IncidentStatus.OPEN}

        self.incident_edit("reopen", incident, "incident.reopen", EntryKind.REOPENED, reopen)

    def alerts(self, patient_id: int, status: EscalationStatus) -> list[int]:
        rows = self.view(
            select(Escalation.id)
            .where(Escalation.patient_id == patient_id, Escalation.status == status)
            .order_by(Escalation.id)
        )
        return [escalation_id for (escalation_id,) in rows]

    def acknowledge(self, patient_id: int) -> None:
        shown = self.alerts(patient_id, EscalationStatus.OPEN)
        if not shown:
            self.resolve(patient_id)
            return
        escalation_id = self.rng.choice(shown)

        def work(session: Session, now: datetime) -> Accepted:
            escalations.acknowledge(session, escalation_id=escalation_id, actor=self.actor, now=now)
            return _escalation_edit(
                session,
                escalation_id,
                "escalation.acknowledge",
                {
                    "acknowledged_by_id": self.actor.staff_id,
                    "status": EscalationStatus.ACKNOWLEDGED,
                },
            )

        self.write("acknowledge", ("escalation", escalation_id), work)

    def resolve(self, patient_id: int) -> None:
        shown = self.alerts(patient_id, EscalationStatus.ACKNOWLEDGED)
        if not shown:
            self.entry(patient_id)
            return
        escalation_id = self.rng.choice(shown)

        def work(session: Session, now: datetime) -> Accepted:
            escalations.resolve(session, escalation_id=escalation_id, actor=self.actor, now=now)
            return _escalation_edit(
                session, escalation_id, "escalation.resolve", {"status": EscalationStatus.RESOLVED}
            )

        self.write("resolve", ("escalation", escalation_id), work)


def _patient_edit(session: Session, patient_id: int, action: str, holder: int | None) -> Accepted:
    version = session.scalar(select(Patient.version).where(Patient.id == patient_id))
    assert version is not None
    return Accepted(
        "",
        "",
        TEST_NOW,
        edits=[("patient", patient_id, version)],
        audit=[(action, str(patient_id))],
        sets={("patient", patient_id): {"assigned_to_id": holder}},
    )


def _escalation_edit(
    session: Session, escalation_id: int, action: str, sets: dict[str, Any]
) -> Accepted:
    version = session.scalar(select(Escalation.version).where(Escalation.id == escalation_id))
    assert version is not None
    return Accepted(
        "",
        "",
        TEST_NOW,
        edits=[("escalation", escalation_id, version)],
        audit=[(action, str(escalation_id))],
        sets={("escalation", escalation_id): sets},
    )


# --- the test ------------------------------------------------------------------------


def _set_up(engine: Engine) -> tuple[list[tuple[Actor, Role]], list[int]]:
    with transaction(make_session_factory(engine)) as session:
        people: list[tuple[Actor, Role]] = []
        for n in range(WRITERS):
            role = Role.COORDINATOR if n % 2 == 0 else Role.PHYSICIAN
            staff = add_staff(session, f"writer.{n:02d}", role, TEST_NOW)
            staff.display_name = f"{'Nurse' if role is Role.COORDINATOR else 'Dr'} Writer {n:02d}"
            people.append((Actor(staff.id, staff.username, staff.display_name), role))
        first = people[0][0]
        patient_ids = []
        for n in range(PATIENTS):
            saved = add_triaged_patient(
                session, f"C-{n}", now=TEST_NOW, actor=first, findings=EMERGENCY
            )
            assert saved.incident_id is not None and saved.escalation_id is not None
            patient_ids.append(session.get_one(Incident, saved.incident_id).patient_id)
    return people, patient_ids


def test_twenty_writers_on_the_same_patients_lose_nothing(engine: Engine, db_url: str) -> None:
    people, patient_ids = _set_up(engine)
    with engine.connect() as connection:
        setup_audit = connection.scalar(select(func.max(AuditEvent.id))) or 0
    database = open_database(db_url)
    try:
        clock = MovingClock()
        writers = [
            Writer(n, actor, role, database, clock, patient_ids)
            for n, (actor, role) in enumerate(people)
        ]
        stop = threading.Event()
        threads = [threading.Thread(target=w.run, args=(stop,)) for w in writers]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        while not _raced_long_enough(writers, time.monotonic() - started):
            time.sleep(0.1)
        stop.set()
        seconds = time.monotonic() - started
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "a writer never finished"
        for writer in writers:
            if writer.log.errors:
                raise writer.log.errors[0]
        accepted = [a for w in writers for a in w.log.accepted]
        refused = [r for w in writers for r in w.log.refused]
        with database.sessions() as session:
            names = {s.username: s.display_name for s in session.scalars(select(Staff))}
            _check_appends(session, accepted)
            _check_audit(session, accepted, setup_audit)
            _check_versions(session, accepted)
            _check_nothing_overwritten(session, accepted, writers)
            _check_refusals(session, refused, names)
            report = verify_chain(session)
            assert report.ok, report.first_problem
        busy = sum(r.busy for r in refused)
        kinds = Counter(a.kind for a in accepted)
        refused_kinds = Counter(r.kind for r in refused)
        print(
            f"\nconcurrency [{engine.dialect.name}]: {WRITERS} writers, {seconds:.0f} s, "
            f"{len(accepted)} writes accepted, {len(refused)} conflicts "
            f"({busy} database busy), {report.checked} audit events verified; "
            + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
            + "; refused: "
            + ", ".join(f"{k} {n}" for k, n in sorted(refused_kinds.items()))
        )
        # The run must actually have raced: edits accepted and stale ones refused.
        assert len(accepted) > 20 * WRITERS
        assert sum(not r.busy for r in refused) > WRITERS
        for kind in RACED_KINDS:
            assert kinds[kind] > 0, f"no {kind} was ever accepted"
    finally:
        database.close()


def _raced_long_enough(writers: list[Writer], elapsed: float) -> bool:
    """DURATION_SECONDS at least; then on, up to FULL_SECONDS, until the race has made
    as many accepted writes and stale refusals as the test's checks ask for."""
    if elapsed < DURATION_SECONDS:
        return False
    if elapsed >= max(DURATION_SECONDS, FULL_SECONDS) or any(w.log.errors for w in writers):
        return True
    accepted = [a for w in writers for a in list(w.log.accepted)]
    stale = sum(not r.busy for w in writers for r in list(w.log.refused))
    kinds = {a.kind for a in accepted}
    return len(accepted) > 20 * WRITERS and stale > WRITERS and kinds.issuperset(RACED_KINDS)


def _check_appends(session: Session, accepted: list[Accepted]) -> None:
    """Every accepted append is there exactly once, and nothing else was appended."""
    attempts = {a.appended["attempt"]: a for a in accepted if "attempt" in a.appended}
    stored = {row.id: row for row in session.scalars(select(ContactAttempt))}
    assert set(stored) == set(attempts)
    for attempt_id, write in attempts.items():
        row = stored[attempt_id]
        assert row.note == write.appended["note"]
        assert row.touchpoint_id == write.appended["touchpoint"]
        assert row.patient_id == write.appended["patient"]

    hand = Counter(
        (a.appended["incident"], a.appended["kind"], a.appended["text"])
        for a in accepted
        if "text" in a.appended
    )
    assert all(n == 1 for n in hand.values())
    stored_hand = Counter(
        (row.incident_id, row.kind, row.text)
        for row in session.scalars(
            select(IncidentEntry).where(
                IncidentEntry.kind.in_([EntryKind.NOTE, EntryKind.PATIENT_CONTACT])
            )
        )
    )
    assert stored_hand == hand
    # One application-written entry per accepted incident change, none for a refused one.
    changes = Counter(
        (a.appended["incident"], a.appended["kind"])
        for a in accepted
        if "kind" in a.appended and "text" not in a.appended
    )
    stored_changes = Counter(
        (incident_id, kind)
        for incident_id, kind in session.execute(
            select(IncidentEntry.incident_id, IncidentEntry.kind).where(
                IncidentEntry.kind.not_in(
                    [EntryKind.NOTE, EntryKind.PATIENT_CONTACT, EntryKind.OPENED]
                )
            )
        )
    )
    assert stored_changes == changes

    # The patient's last-contact times are those of the latest accepted attempts.
    latest: dict[int, datetime] = {}
    heard: dict[int, datetime] = {}
    for write in accepted:
        if "attempt" in write.appended:
            patient = write.appended["patient"]
            latest[patient] = max(latest.get(patient, write.at), write.at)
            if write.appended["heard"]:
                heard[patient] = max(heard.get(patient, write.at), write.at)
    for patient in session.scalars(select(Patient)):
        assert patient.last_contact_at == latest.get(patient.id), patient.code
        assert patient.last_heard_at == heard.get(patient.id), patient.code


def _check_audit(session: Session, accepted: list[Accepted], setup_audit: int) -> None:
    """One audit event per accepted change, by its writer; none for a refused one."""
    # The schema lets an audit event name no row; every expected one names its row.
    expected: Counter[tuple[str, str, str | None]] = Counter(
        (a.writer, action, key) for a in accepted for action, key in a.audit
    )
    stored: Counter[tuple[str, str, str | None]] = Counter(
        (actor, action, key)
        for actor, action, key in session.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.entity_id).where(
                AuditEvent.id > setup_audit
            )
        )
    )
    assert stored == expected, (stored - expected, expected - stored)


_VERSIONED: dict[str, type[Patient | Touchpoint | Incident | Escalation | TreatmentEpisode]] = {
    "patient": Patient,
    "touchpoint": Touchpoint,
    "incident": Incident,
    "escalation": Escalation,
    "episode": TreatmentEpisode,
}


def _check_versions(session: Session, accepted: list[Accepted]) -> None:
    """Each row's version is 1 + its accepted edits, and each edit made its own version."""
    made: dict[tuple[str, int], list[int]] = defaultdict(list)
    for write in accepted:
        for table, row_id, version in write.edits:
            made[(table, row_id)].append(version)
    for table, model in _VERSIONED.items():
        for row_id, version in session.execute(select(model.id, model.version)):
            versions = sorted(made.get((table, row_id), []))
            assert versions == list(range(2, len(versions) + 2)), (table, row_id, versions)
            assert version == 1 + len(versions), (table, row_id, version, versions)


def _check_nothing_overwritten(
    session: Session, accepted: list[Accepted], writers: list[Writer]
) -> None:
    """Every field holds what the last accepted edit of its row set, and every
    touchpoint or alert closed by someone is still closed by them."""
    last: dict[tuple[str, int], dict[str, tuple[int, Any]]] = defaultdict(dict)
    for write in accepted:
        versions = {(table, row): version for table, row, version in write.edits}
        for key, values in write.sets.items():
            for name, value in values.items():
                version = versions[key]
                if version > last[key].get(name, (0, None))[0]:
                    last[key][name] = (version, value)
    resolved_by: Counter[tuple[str, int]] = Counter(
        key for write in accepted for key in write.sets if key[0] == "touchpoint"
    )
    assert all(n == 1 for n in resolved_by.values()), "a touchpoint was resolved twice"
    acknowledged = Counter(
        key
        for write in accepted
        for key, values in write.sets.items()
        if "acknowledged_by_id" in values
    )
    assert all(n == 1 for n in acknowledged.values()), "an alert was acknowledged twice"
    for (table, row_id), fields in last.items():
        row = session.get_one(_VERSIONED[table], row_id)
        for name, (_, value) in fields.items():
            assert getattr(row, name) == value, (table, row_id, name)
    holders = {
        patient_id: writer.actor.staff_id for writer in writers for patient_id in writer.held
    }
    for patient in session.scalars(select(Patient)):
        assert patient.assigned_to_id == holders.get(patient.id), patient.code


_INCIDENT_SAID = (
    r"incident #\d+ was (classified|given an MFDS report record|closed|reopened) by .+ "
    r"since you opened it"
)
_SAID = {
    "claim": r"already holds this patient",
    "contact": r"this touchpoint was (marked done|skipped|marked unreachable)",
    "done": r"this touchpoint was (marked done|skipped|marked unreachable)",
    "skipped": r"this touchpoint was (marked done|skipped|marked unreachable)",
    "move": r"episode \d+ was moved by .+ since you opened it",
    "acknowledge": r"E-\d+ was already (acknowledged|resolved) by",
    "resolve": r"E-\d+ was already resolved by",
    "classify": _INCIDENT_SAID,
    "report": _INCIDENT_SAID,
    "close": _INCIDENT_SAID,
    "reopen": _INCIDENT_SAID,
}


def _check_refusals(session: Session, refused: list[Refused], names: dict[str, str]) -> None:
    """Every refusal says what changed, who changed it and when (in clinic time)."""
    people = "|".join(re.escape(name) for name in names.values())
    for refusal in refused:
        if refusal.busy:
            assert "is locked" in refusal.message and "try again" in refusal.message
            continue
        assert refusal.kind in _SAID, refusal
        assert re.search(_SAID[refusal.kind], refusal.message), refusal
        assert re.search(rf"({people})", refusal.message), refusal
        assert re.search(TIME_SAID, refusal.message), refusal
        table, row_id = refusal.target
        if table == "touchpoint":
            # A touchpoint stays closed: the message names who closed it, and how.
            touchpoint = session.get_one(Touchpoint, row_id)
            assert touchpoint.resolved_by_id is not None
            closer = session.get_one(Staff, touchpoint.resolved_by_id).display_name
            assert f"by {closer} at" in refusal.message, refusal
        if refusal.kind == "acknowledge" and "acknowledged" in refusal.message:
            escalation = session.get_one(Escalation, row_id)
            assert escalation.acknowledged_by_id is not None
            acker = session.get_one(Staff, escalation.acknowledged_by_id).display_name
            assert f"acknowledged by {acker} at" in refusal.message, refusal


def test_a_write_kept_waiting_past_the_busy_timeout_is_refused_with_a_message(
    tmp_path: Path,
) -> None:
    """SQLite only: another writer holds the file longer than the busy timeout."""
    path = tmp_path / "aftercare.db"
    url = f"sqlite:///{path}"
    initialise_database(url)
    database = open_database(url, busy_timeout_ms=200)
    try:
        with transaction(database.sessions) as session:
            nurse = add_staff(session, "nurse.park", Role.COORDINATOR, TEST_NOW)
            actor = Actor(nurse.id, nurse.username, nurse.display_name)
            add_triaged_patient(session, "C-1", now=TEST_NOW, actor=actor, findings=EMERGENCY)
            patient_id = session.scalars(select(Patient.id)).one()
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with (
                pytest.raises(StorageError, match=r"is locked: .* try again in a moment"),
                transaction(database.sessions) as session,
            ):
                followup.claim_patient(session, patient_id=patient_id, actor=actor, now=TEST_NOW)
            assert time.monotonic() - started >= 0.2
        finally:
            blocker.rollback()
            blocker.close()
        with database.sessions() as session:
            assert session.get_one(Patient, patient_id).assigned_to_id is None
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.action == "patient.claim")
                )
                == 0
            )
    finally:
        database.close()
