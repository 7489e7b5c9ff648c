"""Issue 18 at the service layer: a disabled login's open session stops, huge ids are
refused in one sentence, and demo data is loaded only by whom it may be, audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role
from core.queue import QueueFilter
from core.refusals import NotFound, Refused
from db.database import Database
from db.demo import RealDataPresent
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Patient, Staff
from db.services import Clinic
from db.services.base import TOO_LARGE_TO_FIND, TOO_LARGE_TO_SAVE, SignedOut
from tests.factories import add_patient, add_staff

SETTINGS = Settings(database_url="sqlite:///unused.db")


@pytest.fixture
def database(engine: Engine) -> Iterator[Database]:
    yield Database(engine, make_session_factory(engine))


def _staff(database: Database, clock: FixedClock, *people: tuple[str, Role]) -> list[Actor]:
    with transaction(database.sessions) as session:
        rows = [add_staff(session, login, role, clock.now()) for login, role in people]
        return [Actor(r.id, r.username, r.display_name, r.role) for r in rows]


def test_a_disabled_login_reads_and_writes_nothing_more(
    database: Database, clock: FixedClock
) -> None:
    admin, nurse = _staff(database, clock, ("it.admin", Role.ADMIN), ("rn.kim", Role.COORDINATOR))
    with transaction(database.sessions) as session:
        patient = add_patient(
            session, "JP-0001", procedure_at=clock.now(), created_at=clock.now()
        ).id
    theirs = Clinic(database, SETTINGS, clock, signed_in=nurse)
    assert theirs.queue_page(QueueFilter()).rows  # signed in and active: reads
    Clinic(database, SETTINGS, clock, signed_in=admin).set_staff_active(
        admin, "rn.kim", active=False
    )
    with pytest.raises(SignedOut, match=r"'rn\.kim' has been disabled"):
        theirs.queue_page(QueueFilter())
    with pytest.raises(SignedOut):
        theirs.patient_dossier(patient)
    with pytest.raises(SignedOut):
        theirs.claim_patient(nurse, patient)
    # Nobody else is stopped: the admin's session and a clinic for nobody still read.
    assert Clinic(database, SETTINGS, clock, signed_in=admin).patient_dossier(patient)
    assert Clinic(database, SETTINGS, clock).patient_dossier(patient)


def test_an_id_beyond_any_database_integer_is_one_sentence(
    database: Database, clock: FixedClock
) -> None:
    (physician,) = _staff(database, clock, ("dr.kim", Role.PHYSICIAN))
    clinic = Clinic(database, SETTINGS, clock, signed_in=physician)
    huge = 10**30
    # SQLite cannot even be asked (OverflowError); PostgreSQL says out of range.
    with pytest.raises(Refused) as acked:
        clinic.acknowledge_alert(physician, huge)
    with pytest.raises(NotFound) as found:
        clinic.incident(huge)
    assert (str(acked.value), str(found.value)) == (TOO_LARGE_TO_SAVE, TOO_LARGE_TO_FIND)
    with pytest.raises(NotFound):
        clinic.patient_by_reference(str(huge))


def _demo_events(database: Database) -> list[AuditEvent]:
    with database.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "demo_loaded")))


def test_a_newcomers_first_demo_is_loaded_and_audited(
    database: Database, clock: FixedClock
) -> None:
    clinic = Clinic(database, SETTINGS, clock)
    summary = clinic.load_demo_as("newcomer", patients=3, seed=1)
    assert summary.patients == 3
    (event,) = _demo_events(database)
    assert event.actor == "newcomer"
    assert event.after == {
        "patients": 3,
        "seed": 1,
        "allowed_as": "first demo, no staff yet",
    }
    # Demo staff are not the clinic's own: the newcomer may load it again.
    clinic.load_demo_as("newcomer", patients=3, seed=2)
    assert len(_demo_events(database)) == 2


@pytest.mark.parametrize(
    ("login", "refusal"),
    [
        ("rn.kim", "only an admin may load demo data; you are 'rn.kim' (coordinator)"),
        ("stranger", "you are 'stranger', not on the staff list"),
        ("it.gone", "login 'it.gone' is disabled"),
    ],
)
def test_demo_on_a_clinic_with_staff_is_for_active_admins_only(
    database: Database, clock: FixedClock, login: str, refusal: str
) -> None:
    _staff(
        database,
        clock,
        ("it.admin", Role.ADMIN),
        ("rn.kim", Role.COORDINATOR),
        ("it.gone", Role.ADMIN),
    )
    with transaction(database.sessions) as session:
        session.scalars(select(Staff).where(Staff.username == "it.gone")).one().active = False
    clinic = Clinic(database, SETTINGS, clock)
    with pytest.raises(Refused, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        clinic.load_demo_as(login, patients=3, seed=1)
    with database.sessions() as session:
        assert session.scalar(select(Patient.id).limit(1)) is None
    assert _demo_events(database) == []
    clinic.load_demo_as("it.admin", patients=3, seed=1)
    (event,) = _demo_events(database)
    assert (event.actor, event.after and event.after["allowed_as"]) == ("it.admin", "admin")


def test_not_even_an_admin_adds_demo_logins_beside_real_patients(
    database: Database, clock: FixedClock
) -> None:
    _staff(database, clock, ("it.admin", Role.ADMIN))
    with transaction(database.sessions) as session:
        add_patient(session, "P-REAL-1", procedure_at=clock.now(), created_at=clock.now())
    clinic = Clinic(database, SETTINGS, clock)
    with pytest.raises(RealDataPresent, match="never added beside real patients"):
        clinic.load_demo_as("it.admin", patients=3, seed=1)
    with database.sessions() as session:
        demo_logins = select(Staff.id).where(Staff.username.like("demo-%"))
        assert session.scalars(demo_logins).all() == []
    assert _demo_events(database) == []
