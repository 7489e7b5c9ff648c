"""Where the patient is now, on SQLite and PostgreSQL: a move carries the zone, the
windows not yet open, the messages and the emergency number; contact edits are
checked as the import checks them; a refused save changes nothing; a stale
form is refused naming who; a colleague's claim does not make it stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select

from core.clock import FixedClock
from core.commands import ContactDetails, PatientMove, Whereabouts
from core.config import Settings
from core.countries import emergency_contact
from core.domain import Role
from core.queue import QueueFilter
from core.refusals import Refused, StaleEdit
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Patient, Touchpoint
from db.services import Clinic
from tests.factories import add_patient, add_staff

DAY = timedelta(days=1)
BANGKOK = ZoneInfo("Asia/Bangkok")


@dataclass
class Ward:
    """A clinic with two coordinators and two patients in Tokyo: one treated today
    (no window open yet), one five days ago (days 1 and 3 already open)."""

    clinic: Clinic
    engine: Engine
    kim: Actor
    park: Actor
    today: int
    earlier: int


@pytest.fixture
def ward(engine: Engine, clock: FixedClock) -> Ward:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        kim = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        park = add_staff(session, "rn.park", Role.COORDINATOR, now)
        today = add_patient(session, "P-1", procedure_at=now, created_at=now).id
        earlier = add_patient(session, "P-2", procedure_at=now - 5 * DAY, created_at=now).id
        actors = [Actor(s.id, s.username, s.display_name) for s in (kim, park)]
    settings = Settings(database_url="sqlite:///unused.db")
    clinic = Clinic(Database(engine, make_session_factory(engine)), settings, clock)
    return Ward(clinic, engine, actors[0], actors[1], today, earlier)


def _state(engine: Engine, patient_id: int) -> tuple[Any, ...]:
    """Everything a whereabouts edit may touch: the patient row and its touchpoints,
    plus the audit trail's length."""
    with make_session_factory(engine)() as session:
        patient = session.get(Patient, patient_id)
        assert patient is not None
        row = tuple(
            getattr(patient, c)
            for c in (
                "current_country",
                "timezone",
                "channel_handle",
                "phone",
                "email",
                "version",
                "next_opens_at",
                "next_closes_at",
            )
        )
        windows = session.execute(
            select(Touchpoint.id, Touchpoint.due_date, Touchpoint.opens_at, Touchpoint.closes_at)
            .where(Touchpoint.patient_id == patient_id)
            .order_by(Touchpoint.id)
        ).all()
        audits = session.scalar(select(func.count()).select_from(AuditEvent))
    return row, tuple(windows), audits


def _shown(ward: Ward, patient_id: int) -> Whereabouts:
    shown = ward.clinic.whereabouts(patient_id)
    assert shown is not None
    return shown


def test_a_patient_moved_to_thailand_follows_bangkok(ward: Ward, clock: FixedClock) -> None:
    """Bangkok time on the queue, 1669 on the patient screen and in the messages, and
    the next window opens at Bangkok midnight."""
    now = clock.now()
    saved = ward.clinic.move_patient(ward.kim, ward.today, PatientMove("TH"))
    assert saved.changed == ("country", "time zone")
    assert saved.windows_moved == 4  # days 1, 3, 7, 21: none was open yet
    assert "4 windows not yet open moved" in saved.words()

    page = ward.clinic.queue_page(QueueFilter(), now)
    row = next(r for r in page.rows if r.patient_id == ward.today)
    assert row.timezone == "Asia/Bangkok"
    assert row.local_now(now) == now.astimezone(BANGKOK)
    assert f"{row.local_now(now):%H:%M}" == "13:00"  # 06:00 UTC

    dossier = ward.clinic.patient_dossier(ward.today)
    assert dossier is not None
    assert dossier.identity.current_country == "TH"
    assert "1669" in emergency_contact(dossier.identity.current_country).numbers_text

    with make_session_factory(ward.engine)() as session:
        patient = session.get(Patient, ward.today)
        assert patient is not None and patient.next_opens_at is not None
        assert patient.next_opens_at == datetime(2026, 11, 23, tzinfo=BANGKOK)
        assert patient.next_opens_at.astimezone(BANGKOK).hour == 0
        day1 = session.get(Touchpoint, patient.next_touchpoint_id)
        assert day1 is not None and day1.day == 1
        assert str(day1.due_date) == "2026-11-23"  # the due date stays
        assert day1.closes_at == datetime(2026, 11, 25, tzinfo=BANGKOK)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.move")).one()
        assert event.actor == "rn.kim"
        assert (event.entity, event.entity_id) == ("patient", str(ward.today))
        assert event.before == {"current_country": "JP", "timezone": "Asia/Tokyo"}
        assert event.after == {
            "current_country": "TH",
            "timezone": "Asia/Bangkok",
            "windows_moved": 4,
        }

    message = ward.clinic.aftercare_message(ward.kim, row.next_touchpoint_id or 0)
    assert "1669" in message.text


def test_windows_already_open_stay_where_they_are(ward: Ward, clock: FixedClock) -> None:
    def windows() -> dict[int, tuple[Any, ...]]:
        with make_session_factory(ward.engine)() as session:
            rows = session.execute(
                select(
                    Touchpoint.day, Touchpoint.due_date, Touchpoint.opens_at, Touchpoint.closes_at
                ).where(Touchpoint.patient_id == ward.earlier)
            ).all()
        return {r.day: tuple(r[1:]) for r in rows}

    before = windows()
    saved = ward.clinic.move_patient(ward.kim, ward.earlier, PatientMove("TH", "Asia/Bangkok"))
    after = windows()
    assert saved.windows_moved == 2
    assert after[1] == before[1] and after[3] == before[3]  # open (overdue): kept
    for day in (7, 21):
        assert after[day][0] == before[day][0]  # due date kept
        assert after[day][1] - before[day][1] == timedelta(hours=2)  # Bangkok midnight
        assert after[day][1].astimezone(BANGKOK).hour == 0


def test_a_country_with_several_zones_needs_one_of_its_own(ward: Ward) -> None:
    unchanged = _state(ward.engine, ward.today)
    with pytest.raises(Refused, match="Time zone: United States has several"):
        ward.clinic.move_patient(ward.kim, ward.today, PatientMove("US"))
    assert _state(ward.engine, ward.today) == unchanged
    saved = ward.clinic.move_patient(ward.kim, ward.today, PatientMove("US", "America/Chicago"))
    assert saved.changed == ("country", "time zone")


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        (Whereabouts(PatientMove("XX", "Asia/Tokyo"), ContactDetails("line:p-1")), "Country"),
        (Whereabouts(PatientMove("TH", "Asia/Tokyo"), ContactDetails("line:p-1")), "Time zone"),
        (
            Whereabouts(PatientMove("TH"), ContactDetails("line:p-1", phone="+66 12")),
            "Phone",
        ),
        (
            Whereabouts(PatientMove("TH"), ContactDetails("line:p-1", email="yuki.example.jp")),
            "Email",
        ),
        (Whereabouts(PatientMove("TH"), ContactDetails("line p 1")), "Messenger handle"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_changes(
    ward: Ward, wanted: Whereabouts, field: str
) -> None:
    unchanged = _state(ward.engine, ward.today)
    with pytest.raises(Refused) as refused:
        ward.clinic.save_whereabouts(
            ward.kim, ward.today, wanted, expected=_shown(ward, ward.today)
        )
    assert str(refused.value).startswith(f"{field}: ")
    assert str(refused.value).endswith("nothing was saved")
    assert _state(ward.engine, ward.today) == unchanged


def test_contact_details_are_saved_and_audited_with_before_and_after(ward: Ward) -> None:
    shown = _shown(ward, ward.today)
    wanted = Whereabouts(
        shown.move, ContactDetails("line:yuki_bkk", "+66 81 234 5678", "yuki@example.jp")
    )
    saved = ward.clinic.save_whereabouts(ward.kim, ward.today, wanted, expected=shown)
    assert saved.changed == ("messenger handle", "phone", "email")
    assert saved.windows_moved == 0
    assert _shown(ward, ward.today).contacts == ContactDetails(
        "line:yuki_bkk", "+66812345678", "yuki@example.jp"
    )
    with make_session_factory(ward.engine)() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "patient.contacts")
        ).one()
        assert event.before == {"channel_handle": "line:p-1", "phone": None, "email": None}
        assert event.after == {
            "channel_handle": "line:yuki_bkk",
            "phone": "+66812345678",
            "email": "yuki@example.jp",
        }
        assert (
            session.scalar(select(func.count()).where(AuditEvent.action == "patient.move")) == 0
        )  # the country did not change: no move recorded


def test_a_stale_form_is_refused_naming_who_changed_it(ward: Ward) -> None:
    kim_saw = _shown(ward, ward.today)
    ward.clinic.move_patient(ward.park, ward.today, PatientMove("TH"))
    moved = _state(ward.engine, ward.today)
    wanted = Whereabouts(PatientMove("VN"), kim_saw.contacts)
    with pytest.raises(StaleEdit) as refused:
        ward.clinic.save_whereabouts(ward.kim, ward.today, wanted, expected=kim_saw)
    said = str(refused.value)
    assert "was moved by Rn.Park at 22 Nov 15:00 KST" in said
    assert "now in Thailand, Asia/Bangkok" in said and "nothing was saved" in said
    assert _state(ward.engine, ward.today) == moved

    # Contacts too: someone else's new number makes a form opened before it stale.
    ward.clinic.edit_contacts(
        ward.park, ward.today, ContactDetails("line:p-1", "+66 81 234 5678"), expected=None
    )
    with pytest.raises(StaleEdit, match=r"was given new contact details by Rn\.Park"):
        ward.clinic.edit_contacts(
            ward.kim,
            ward.today,
            ContactDetails("line:p-1", email="yuki@example.jp"),
            expected=kim_saw.contacts,
        )


def test_a_colleagues_claim_does_not_make_a_contact_edit_stale(ward: Ward) -> None:
    kim_saw = _shown(ward, ward.today)
    ward.clinic.claim_patient(ward.park, ward.today)  # bumps the patient's version
    saved = ward.clinic.save_whereabouts(
        ward.kim,
        ward.today,
        Whereabouts(kim_saw.move, ContactDetails("line:p-1", email="yuki@example.jp")),
        expected=kim_saw,
    )
    assert saved.changed == ("email",)
