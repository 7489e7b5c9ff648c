"""The follow-up use cases of `db.services.Clinic`, on SQLite and PostgreSQL: each
is one transaction, audited, and refuses in one sentence; a database that cannot
be reached is `Unavailable`, and nothing is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.config import Settings
from core.domain import Channel, ContactOutcome, Role, TouchpointResolution
from core.queue import QueueFilter
from core.refusals import Refused, Unavailable
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Patient, Touchpoint
from db.services import Clinic
from tests.factories import add_patient, add_staff

DAY = timedelta(days=1)


@dataclass
class Ward:
    """A clinic with one patient whose day-1 touchpoint is open, and two coordinators."""

    clinic: Clinic
    engine: Engine
    kim: Actor
    park: Actor
    patient_id: int
    day1: int


@pytest.fixture
def ward(engine: Engine, clock: FixedClock) -> Ward:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        kim = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        park = add_staff(session, "rn.park", Role.COORDINATOR, now)
        patient = add_patient(session, "P-1", procedure_at=now - 5 * DAY, created_at=now)
        day1 = session.scalars(
            select(Touchpoint.id).where(Touchpoint.patient_id == patient.id, Touchpoint.day == 1)
        ).one()
        actors = [Actor(s.id, s.username, s.display_name) for s in (kim, park)]
        patient_id = patient.id
    settings = Settings(database_url="sqlite:///unused.db", unreachable_after_attempts=2)
    clinic = Clinic(Database(engine, make_session_factory(engine)), settings, clock)
    return Ward(clinic, engine, actors[0], actors[1], patient_id, day1)


def _audit_actions(engine: Engine) -> list[tuple[str, str]]:
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action).order_by(AuditEvent.id)
        ).all()
    return [(actor, action) for actor, action in rows]


def test_a_contact_attempt_through_the_clinic_is_audited_and_counts_toward_unreachable(
    ward: Ward,
) -> None:
    before = len(_audit_actions(ward.engine))
    first = ward.clinic.log_contact_attempt(
        ward.kim, ward.day1, channel=Channel.LINE, outcome=ContactOutcome.NO_ANSWER, note="rang"
    )
    assert first.became_unreachable is None and first.failed.total == 1
    # The clinic's setting (two failures here), not a default, closes the touchpoint.
    second = ward.clinic.log_contact_attempt(
        ward.kim, ward.day1, channel=Channel.LINE, outcome=ContactOutcome.NO_ANSWER, note=None
    )
    assert second.became_unreachable is not None
    assert "unreachable after 2 failed attempts" in second.became_unreachable
    assert _audit_actions(ward.engine)[before:] == [
        ("rn.kim", "contact_attempt.add"),
        ("rn.kim", "contact_attempt.add"),
        ("rn.kim", "touchpoint.unreachable"),
    ]


def test_a_refused_claim_raises_refused_with_the_sentence_and_writes_nothing(
    ward: Ward,
) -> None:
    ward.clinic.claim_patient(ward.kim, ward.patient_id)
    before = _audit_actions(ward.engine)
    with pytest.raises(
        Refused, match=r"^Rn\.Kim already holds this patient \(claimed at .*\); nothing was saved$"
    ):
        ward.clinic.claim_patient(ward.park, ward.patient_id)
    with pytest.raises(
        Refused, match=r"holds this patient.*not you, so there is nothing to release"
    ):
        ward.clinic.release_patient(ward.park, ward.patient_id)
    assert _audit_actions(ward.engine) == before
    with make_session_factory(ward.engine)() as session:
        holder = session.scalar(select(Patient.assigned_to_id).where(Patient.id == ward.patient_id))
    assert holder == ward.kim.staff_id


def test_a_skip_without_a_reason_is_refused_and_the_touchpoint_stays_open(ward: Ward) -> None:
    with pytest.raises(Refused, match=r"^skipping a touchpoint needs a reason$"):
        ward.clinic.resolve_touchpoint(ward.kim, ward.day1, TouchpointResolution.SKIPPED, " ")
    ward.clinic.resolve_touchpoint(ward.kim, ward.day1, TouchpointResolution.DONE, None)
    with make_session_factory(ward.engine)() as session:
        touchpoint = session.get(Touchpoint, ward.day1)
        assert touchpoint is not None and touchpoint.resolution is TouchpointResolution.DONE


def test_the_aftercare_message_is_read_then_logged_as_sent_in_one_use_case(ward: Ward) -> None:
    marker = ward.clinic.change_marker()
    read = ward.clinic.aftercare_message(ward.kim, ward.day1)
    assert ward.clinic.change_marker() == marker  # reading it writes nothing
    sent = ward.clinic.send_aftercare_message(ward.kim, ward.day1, Channel.LINE)
    assert sent.message.text == read.text
    assert sent.logged.became_unreachable is None  # a message is no failure yet
    assert ward.clinic.change_marker() == marker + 1
    assert _audit_actions(ward.engine)[-1] == ("rn.kim", "contact_attempt.add")


def test_the_queue_page_and_the_dossier_read_through_the_clinic(ward: Ward) -> None:
    ward.clinic.claim_patient(ward.kim, ward.patient_id)
    page = ward.clinic.queue_page(QueueFilter(assigned="mine", me=ward.kim.staff_id))
    assert [row.patient_id for row in page.rows] == [ward.patient_id]
    assert page.counts.total == 1 and page.failed.count == 0
    assert ward.clinic.queue_page(QueueFilter(assigned="unassigned")).rows == []
    dossier = ward.clinic.patient_dossier(ward.patient_id)
    assert dossier is not None and dossier.identity.code == "P-1"
    assert ward.clinic.patient_dossier(999_999) is None


def test_a_database_that_cannot_be_reached_is_unavailable(
    ward: Ward, tmp_path: Path, clock: FixedClock
) -> None:
    url = ward.engine.url
    if url.get_backend_name() == "sqlite":
        gone = url.set(database=str(tmp_path / "gone" / "aftercare.db"))
    else:
        gone = url.set(port=1)  # nothing listens there: connection refused
    engine = make_engine(gone)
    try:
        clinic = Clinic(Database(engine, make_session_factory(engine)), ward.clinic.settings, clock)
        with pytest.raises(Unavailable, match=r"nothing was saved$"):
            clinic.claim_patient(ward.kim, ward.patient_id)
        with pytest.raises(Unavailable, match=r"cannot (open|reach) database"):
            clinic.change_marker()
    finally:
        engine.dispose()
    with make_session_factory(ward.engine)() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "patient.claim")
            )
            == 0
        )


def test_a_note_holding_terminal_control_is_refused_and_nothing_is_saved(ward: Ward) -> None:
    # Every path that stores people's text ends at one check (db.text_guard): a note
    # pasted from a messenger with an OSC 52 clipboard sequence never reaches a screen.
    before = _audit_actions(ward.engine)
    with pytest.raises(Refused, match=r"Note contains a control character \(ESC\) at position 6"):
        ward.clinic.log_contact_attempt(
            ward.kim,
            ward.day1,
            channel=Channel.LINE,
            outcome=ContactOutcome.REACHED,
            note="said \x1b]52;c;Y3VybA==\x07 fine",
        )
    assert _audit_actions(ward.engine) == before
    # A note over several lines is a note: newline and tab stay allowed.
    logged = ward.clinic.log_contact_attempt(
        ward.kim,
        ward.day1,
        channel=Channel.LINE,
        outcome=ContactOutcome.NO_ANSWER,
        note="rang twice\n\tno answer",
    )
    assert logged.failed.total == 1


def test_a_changed_row_is_checked_too_and_only_what_changed(ward: Ward) -> None:
    with transaction(make_session_factory(ward.engine)) as session:
        patient = session.get(Patient, ward.patient_id)
        assert patient is not None
        patient.channel_handle = "line:yuki\x1b]0;pwned\x07"
        with pytest.raises(Refused, match=r"Channel handle contains a control character \(ESC\)"):
            session.flush()
        session.rollback()
    with make_session_factory(ward.engine)() as session:
        stored = session.get(Patient, ward.patient_id)
        assert stored is not None and "\x1b" not in stored.channel_handle
