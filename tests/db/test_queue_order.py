"""The SQL queue returns exactly the order and filtering of core.queue's reference."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.domain import (
    Channel,
    Disposition,
    EscalationStatus,
    Protocol,
    Role,
    TouchpointResolution,
)
from core.queue import QueueFilter, QueueRow, order_queue
from core.schedules import builtin_templates, touchpoint_window
from db.engine import make_session_factory, transaction
from db.followup import refresh_next_touchpoint
from db.models import Escalation, Patient, Staff, Touchpoint, TreatmentEpisode
from db.queue import count_queue, read_queue

ZONES = ["Asia/Tokyo", "America/New_York", "Europe/London"]
COUNTRIES = {
    "Asia/Tokyo": ("JP", "ja"),
    "America/New_York": ("US", "en"),
    "Europe/London": ("GB", "en"),
}
NAMES = ["Tanaka Yuki", "Smith Emily", "Jones Oliver", "Tanabe Ken", "Lee [bold]Mark[/]"]


def _populate(engine: Engine, now: datetime, seed: int, patients: int) -> list[QueueRow]:
    """Random patients; returns the reference rows computed in Python."""
    rng = random.Random(seed)
    standard = builtin_templates()["standard"]
    reference: list[QueueRow] = []
    with transaction(make_session_factory(engine)) as session:
        staff = [
            Staff(
                username=f"rn{i}", display_name=f"Nurse {i}", role=Role.COORDINATOR, created_at=now
            )
            for i in range(2)
        ]
        session.add_all(staff)
        session.flush()
        for i in range(patients):
            zone = rng.choice(ZONES)
            country, language = COUNTRIES[zone]
            family, given = rng.choice(NAMES).split(" ")
            disposition = rng.choice([None, *Disposition])
            assignee = rng.choice([None, staff[0], staff[1]])
            patient = Patient(
                code=f"Q-{i:04d}",
                family_name=family,
                given_name=given,
                home_country=country,
                current_country=country,
                language=language,
                timezone=zone,
                channel=Channel.LINE,
                channel_handle="line:x",
                created_at=now,
                latest_disposition=disposition,
                latest_severity=disposition.severity if disposition else 0,
                assigned_to_id=assignee.id if assignee else None,
            )
            session.add(patient)
            session.flush()
            # Whole-day offsets at one hour make many equal windows: ties test the id order.
            procedure = (now - timedelta(days=rng.randint(-3, 30))).replace(hour=1, minute=0)
            episode = TreatmentEpisode(
                patient_id=patient.id,
                procedure_at=procedure,
                protocol=Protocol.EXOSOME_IV,
                created_at=now,
            )
            session.add(episode)
            session.flush()
            open_windows = []
            for plan in standard.touchpoints:
                window = touchpoint_window(procedure, plan, ZoneInfo(zone))
                resolved = rng.random() < 0.4
                session.add(
                    Touchpoint(
                        episode_id=episode.id,
                        patient_id=patient.id,
                        template="standard",
                        day=plan.day,
                        due_date=window.due_date,
                        opens_at=window.opens_at,
                        closes_at=window.closes_at,
                        ask=plan.ask,
                        resolution=TouchpointResolution.DONE if resolved else None,
                    )
                )
                if not resolved:
                    open_windows.append((window.closes_at, window.opens_at, plan.day))
            alert = None
            roll = rng.random()
            if roll < 0.1:
                alert = rng.choice([Disposition.URGENT, Disposition.EMERGENCY])
                since = now - timedelta(minutes=rng.randint(1, 90))
                session.add(
                    Escalation(
                        patient_id=patient.id,
                        disposition=alert,
                        status=EscalationStatus.OPEN,
                        created_at=since,
                    )
                )
            elif roll < 0.15:
                # Acknowledged alerts and open review-level ones do not jump the queue.
                session.add(
                    Escalation(
                        patient_id=patient.id,
                        disposition=Disposition.EMERGENCY,
                        status=EscalationStatus.ACKNOWLEDGED,
                        created_at=now,
                    )
                )
            refresh_next_touchpoint(session, patient.id)
            nxt = min(open_windows) if open_windows else None
            reference.append(
                QueueRow(
                    patient_id=patient.id,
                    patient_code=patient.code,
                    patient_name=f"{family} {given}",
                    country=country,
                    language=language,
                    timezone=zone,
                    channel=Channel.LINE,
                    assigned_to_id=assignee.id if assignee else None,
                    assigned_to=assignee.display_name if assignee else None,
                    latest_disposition=disposition,
                    last_contact_at=None,
                    last_heard_at=None,
                    next_touchpoint_id=None,
                    next_template="standard" if nxt else None,
                    next_day=nxt[2] if nxt else None,
                    next_opens_at=nxt[1] if nxt else None,
                    next_closes_at=nxt[0] if nxt else None,
                    procedure_at=procedure if nxt else None,
                    alert_disposition=alert,
                    alert_since=since if alert else None,
                )
            )
    return reference


FILTERS = [
    QueueFilter(),
    QueueFilter(assigned="mine", me=1),
    QueueFilter(assigned="unassigned"),
    QueueFilter(overdue_only=True),
    QueueFilter(min_severity=Disposition.REVIEW),
    QueueFilter(country="JP"),
    QueueFilter(language="en", overdue_only=True),
    QueueFilter(search="tana"),
    QueueFilter(search="q-001"),
    QueueFilter(search="[bold]"),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_order_equals_reference(engine: Engine, clock: FixedClock, seed: int) -> None:
    now = clock.now()
    reference = _populate(engine, now, seed, patients=160)
    factory = make_session_factory(engine)
    with factory() as session:
        for wanted in FILTERS:
            expected = order_queue(reference, now, wanted)
            for limit in (7, 500):
                got = read_queue(session, now, wanted, limit=limit)
                assert [r.patient_id for r in got] == [r.patient_id for r in expected][:limit], (
                    wanted,
                    limit,
                )
            # The rows carry the right facts, not just the right ids.
            got_full = read_queue(session, now, wanted, limit=500)
            for mine, theirs in zip(got_full, expected, strict=True):
                assert (
                    mine.next_opens_at,
                    mine.next_closes_at,
                    mine.alert_disposition,
                    mine.patient_name,
                    mine.next_day,
                ) == (
                    theirs.next_opens_at,
                    theirs.next_closes_at,
                    theirs.alert_disposition,
                    theirs.patient_name,
                    theirs.next_day,
                )
            counts = count_queue(session, now, wanted)
            assert counts.total == len(expected), wanted
            # Time moves: a day later the same data reorders the same way.
            later = now + timedelta(days=1)
            assert [r.patient_id for r in read_queue(session, later, wanted, limit=500)] == [
                r.patient_id for r in order_queue(reference, later, wanted)
            ]
