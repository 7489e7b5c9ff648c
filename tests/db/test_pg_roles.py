"""PostgreSQL, one role per person (migration 0012): the database itself keeps each
person to their role. Every refusal here comes from PostgreSQL, not from aftercare:
the statements are sent as plain SQL over the person's own login, as someone at
`psql` would. PostgreSQL only; under CI (AFTERCARE_TEST_POSTGRES_URL set by .ci/run)
these run, they never skip.

Login roles belong to the whole server and the tests run in parallel workers, so each
test makes its own, with a name nobody else uses, and drops them afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from core.clock import FixedClock
from core.commands import TriageEntry
from core.config import Settings
from core.domain import EscalationStatus, Role
from core.triage import assess, parse_triage_input
from db import migrate
from db.database import Database
from db.engine import make_engine, make_session_factory, transaction
from db.errors import StorageError
from db.followup import Actor
from db.models import AuditEvent, Escalation, Staff
from db.services import Clinic
from db.staff import NewStaff
from tests.conftest import _PostgresSchemas, _schema_url
from tests.factories import add_patient, add_staff

pytestmark = pytest.mark.postgres

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
# insufficient_privilege: "permission denied", "must be owner", and the triggers' refusal.
REFUSED = "42501"


@dataclass
class Server:
    """One migrated schema, the superuser on it, and login roles made for the test."""

    base: URL
    schema: str
    superuser: Engine
    made: list[str]
    engines: list[Engine]

    def login(self, role: str | None, *, createrole: bool = False, stem: str = "t") -> str:
        """A new login role, member of `role`, named like a staff login; no password
        (the test server trusts 127.0.0.1)."""
        name = f"{stem}.{uuid.uuid4().hex[:10]}"
        extra = (" CREATEROLE" if createrole else "") + (f" IN ROLE {role}" if role else "")
        with self.superuser.connect() as connection:
            connection.execute(text(f'CREATE ROLE "{name}" LOGIN{extra}'))
            connection.commit()
        self.made.append(name)
        return name

    def engine_as(self, login: str) -> Engine:
        """An engine that connects as `login` to this schema."""
        engine = make_engine(_schema_url(self.base.set(username=login), self.schema))
        self.engines.append(engine)
        return engine


@pytest.fixture
def server(_postgres_schemas: _PostgresSchemas) -> Iterator[Server]:
    schemas = _postgres_schemas
    schema = schemas.take()
    superuser = make_engine(_schema_url(schemas.base, schema))
    made: list[str] = []
    engines: list[Engine] = []
    try:
        yield Server(schemas.base, schema, superuser, made, engines)
    finally:
        for engine in engines:
            engine.dispose()
        superuser.dispose()
        schemas.give_back(schema)
        drop = create_engine(schemas.base, isolation_level="AUTOCOMMIT")
        try:
            with drop.connect() as connection:
                for name in made:
                    # Roles it made for staff it added (test_an_admin_...) too.
                    connection.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        finally:
            drop.dispose()


def _refused(engine: Engine, statement: str, **params: object) -> str:
    """Run `statement` as the engine's login; assert PostgreSQL refuses it; its words."""
    with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
        connection.execute(text(statement), params)
    assert getattr(raised.value.orig, "sqlstate", None) == REFUSED, raised.value
    return str(raised.value.orig)


def _staff(server: Server, clock: FixedClock, *logins: tuple[str, Role]) -> list[Actor]:
    with transaction(make_session_factory(server.superuser)) as session:
        rows = [add_staff(session, login, role, clock.now()) for login, role in logins]
        return [Actor(s.id, s.username, s.display_name, s.role) for s in rows]


def _clinic(engine: Engine, clock: FixedClock) -> Clinic:
    settings = Settings(database_url="postgresql+psycopg:///unused")
    return Clinic(Database(engine, make_session_factory(engine)), settings, clock)


def _audit_logins(server: Server) -> list[tuple[str, str | None]]:
    with make_session_factory(server.superuser)() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.database_login).order_by(AuditEvent.id)
        )
        return [(action, login) for action, login in rows]


def _emergency(server: Server, clock: FixedClock, nurse: Actor) -> int:
    """The nurse records an emergency triage through the service layer, over her own login."""
    with transaction(make_session_factory(server.superuser)) as session:
        patient = add_patient(session, "P-1", procedure_at=clock.now(), created_at=clock.now())
        patient_id = patient.id
    parsed = parse_triage_input(dict(EMERGENCY))
    clinic = _clinic(server.engine_as(nurse.username), clock)
    saved = clinic.record_triage(nurse, patient_id, TriageEntry(parsed, assess(parsed)))
    assert saved.escalation_id is not None
    return saved.escalation_id


def test_a_coordinator_cannot_rewrite_remove_or_promote(server: Server, clock: FixedClock) -> None:
    login = server.login("aftercare_coordinator", stem="rn")
    (nurse,) = _staff(server, clock, (login, Role.COORDINATOR))
    _emergency(server, clock, nurse)
    events = _audit_logins(server)
    assert events and all(who == login for _action, who in events)

    engine = server.engine_as(login)
    for table in ("audit_event", "incident_entry"):
        _refused(engine, f"UPDATE {table} SET at = at")
        _refused(engine, f"DELETE FROM {table}")
        _refused(engine, f"TRUNCATE {table}")
        words = _refused(engine, f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        assert "must be owner" in words
    _refused(engine, "ALTER TABLE audit_event DISABLE TRIGGER ALL")
    _refused(engine, "DROP TRIGGER audit_event_append_only ON audit_event")
    # Making herself admin, or adding a "physician", is the staff list's to refuse too.
    _refused(engine, "UPDATE staff SET role = 'admin' WHERE username = :me", me=login)
    _refused(
        engine,
        "INSERT INTO staff (username, display_name, role, active, created_at, version) "
        "VALUES ('dr.fake', 'Dr Fake', 'physician', true, now(), 1)",
    )
    # Nor can she silence an alert behind the app's back, or rewrite a triage.
    _refused(engine, "UPDATE escalation SET status = 'acknowledged'")
    _refused(engine, "UPDATE triage_assessment SET chosen_disposition = 'expected'")
    assert _audit_logins(server) == events

    # What she may add, she adds as herself: the login is the database's word.
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_event (at, actor, action, entity, prev_hash, hash, "
                "database_login) VALUES (now(), 'dr.kim', 'x', 'x', 'x', :h, 'dr.kim')"
            ),
            {"h": uuid.uuid4().hex},
        )
    assert _audit_logins(server)[-1] == ("x", login)


def test_the_append_only_triggers_hold_for_the_tables_owner(server: Server) -> None:
    """The owner has every privilege; the triggers still refuse. (It could drop them:
    that is why nobody logs in as the owner.)"""
    owner = server.superuser
    with owner.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_event (at, actor, action, entity, prev_hash, hash) "
                "VALUES (now(), 'rn.kim', 'x', 'x', 'x', 'y')"
            )
        )
    member = server.engine_as(server.login("aftercare_owner"))
    for statement in (
        "UPDATE audit_event SET actor = 'dr.kim'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ):
        words = _refused(member, statement)
        assert "refused: the audit trail is never changed or removed" in words


def test_a_physician_acknowledges_through_the_service_layer(
    server: Server, clock: FixedClock
) -> None:
    nurse_login = server.login("aftercare_coordinator", stem="rn")
    doctor_login = server.login("aftercare_physician", stem="dr")
    nurse, doctor = _staff(
        server, clock, (nurse_login, Role.COORDINATOR), (doctor_login, Role.PHYSICIAN)
    )
    escalation_id = _emergency(server, clock, nurse)

    _clinic(server.engine_as(doctor_login), clock).acknowledge_alert(doctor, escalation_id)

    with make_session_factory(server.superuser)() as session:
        escalation = session.get_one(Escalation, escalation_id)
        assert escalation.status is EscalationStatus.ACKNOWLEDGED
        assert escalation.acknowledged_by_id == doctor.staff_id
    assert _audit_logins(server)[-1] == ("escalation.acknowledge", doctor_login)


def test_an_admin_adds_staff_and_their_database_login(server: Server, clock: FixedClock) -> None:
    plain = server.login("aftercare_admin", stem="it")
    able = server.login("aftercare_admin", createrole=True, stem="it")
    first, second = _staff(server, clock, (plain, Role.ADMIN), (able, Role.ADMIN))

    # Without CREATEROLE: the list changes, and the statements come back to be run.
    nurse = f"rn.{uuid.uuid4().hex[:10]}"
    server.made.append(nurse)
    added = _clinic(server.engine_as(plain), clock).add_staff(
        first, NewStaff(nurse, "Kim", Role.COORDINATOR, database_login=True)
    )
    assert added.database_login is not None and not added.database_login.done
    assert added.database_login.sql == f'CREATE ROLE "{nurse}" LOGIN IN ROLE aftercare_coordinator'
    with pytest.raises(DBAPIError):
        server.engine_as(nurse).connect().close()

    # With CREATEROLE: made in the same transaction; the new login can work at once.
    doctor = f"dr.{uuid.uuid4().hex[:10]}"
    server.made.append(doctor)
    clinic = _clinic(server.engine_as(able), clock)
    added = clinic.add_staff(second, NewStaff(doctor, "Lee", Role.PHYSICIAN, database_login=True))
    assert added.database_login is not None and added.database_login.done
    with server.engine_as(doctor).connect() as connection:
        assert connection.scalar(select(Staff.role).where(Staff.username == doctor)) == (
            Role.PHYSICIAN
        )
        groups = connection.scalars(
            text(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = current_user"
            )
        ).all()
    assert groups == ["aftercare_physician"]

    # Changing the role moves the membership; disabling takes the login away.
    moved = clinic.change_staff_role(second, doctor, Role.COORDINATOR)
    assert moved.database_login is not None and moved.database_login.done
    clinic.set_staff_active(second, doctor, active=False)
    with pytest.raises(DBAPIError, match="not permitted to log in"):
        server.engine_as(doctor).connect().close()
    assert [who for _action, who in _audit_logins(server)] == [plain, able, able, able]


def test_a_coordinator_cannot_add_staff_even_by_hand(server: Server, clock: FixedClock) -> None:
    login = server.login("aftercare_coordinator", stem="rn")
    _staff(server, clock, (login, Role.COORDINATOR))
    engine = server.engine_as(login)
    _refused(engine, 'CREATE ROLE "dr.fake" LOGIN IN ROLE aftercare_physician')
    _refused(engine, "GRANT aftercare_admin TO CURRENT_USER")


def test_init_without_createrole_says_what_to_run(server: Server) -> None:
    """A clinic on one shared login that owns its tables upgrades: its login may not
    manage roles, so `aftercare init` stops with the one line to run as root, changes
    nothing, and after that line succeeds; the shared login keeps working."""
    shared = server.login(None, stem="aftercare")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with server.superuser.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{shared}"'))
        connection.commit()
    engine = make_engine(_schema_url(server.base.set(username=shared), schema))
    server.engines.append(engine)
    try:
        with pytest.raises(StorageError) as refused:
            migrate.upgrade(engine)
        said = str(refused.value)
        assert "\n" not in said
        grant = f'GRANT aftercare_owner TO "{shared}"'
        assert f"as root run  sudo -u postgres psql -c '{grant}'" in said
        assert migrate.current_revision(engine) is None  # nothing was changed

        with server.superuser.connect() as connection:
            connection.execute(text(grant))
            connection.commit()
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.HEAD
        with engine.begin() as connection:
            owner = connection.scalar(
                text(
                    "SELECT tableowner FROM pg_tables WHERE tablename = 'audit_event' "
                    "AND schemaname = current_schema()"
                )
            )
            assert owner == "aftercare_owner"
            connection.execute(text("UPDATE change_marker SET counter = counter + 1"))
    finally:
        with server.superuser.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.commit()
