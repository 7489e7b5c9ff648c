"""`aftercare db copy`: every row moves, verified, or nothing does.

The `db_url` fixture is the target on each backend; the source is the other
backend (a SQLite file for a PostgreSQL target, a PostgreSQL schema for a
SQLite target), so both directions run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from core.domain import Role
from db import audit
from db.audit import verify_chain
from db.database import initialise_database
from db.demo import load_demo
from db.engine import make_engine, make_session_factory, transaction
from db.escalations import acquire_dispatcher, release_dispatcher
from db.followup import claim_patient, find_actor
from db.models import AuditEvent, Base, ChangeMarker, Patient
from tests.conftest import POSTGRES_ENV, TEST_NOW
from tests.factories import add_staff
from tui.cli.db import register

SECRET = "never-print-this-pw"


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """aftercare"""

    register(app)
    return app


def copy(*args: str) -> Result:
    return CliRunner().invoke(_cli(), ["db", "copy", *args])


@contextmanager
def _postgres_schema() -> Iterator[str]:
    # As tests/conftest.py does: a schema of our own, never the public one.
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} is not set under CI: PostgreSQL tests must run")
        pytest.skip(f"{POSTGRES_ENV} not set")
    base = make_url(base_url).set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _with_password(url: str) -> str:
    # The test server trusts local connections, so a made-up password is ignored by
    # it but must still never appear in what the command prints.
    parsed = make_url(url)
    if parsed.password is None:
        parsed = parsed.set(password=SECRET)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture
def source_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """The other backend from the target's."""
    if db_url.startswith("sqlite"):
        with _postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'source.db'}"


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _fill(url: str, *, patients: int, seed: int) -> None:
    """Demo data plus real audited writes, one with SQL NULL in a JSON column."""
    initialise_database(url)
    with _engine(url) as engine:
        load_demo(engine, patients=patients, seed=seed, now=TEST_NOW)
        with transaction(make_session_factory(engine)) as session:
            actor = find_actor(session, "demo-rn-park")
            assert actor is not None
            free = session.scalars(
                select(Patient.id).where(Patient.assigned_to_id.is_(None)).limit(3)
            ).all()
            for patient_id in free:
                claim_patient(session, patient_id=patient_id, actor=actor, now=TEST_NOW)
            audit.record(
                session, at=TEST_NOW, actor="admin", action="test.note", entity="clinic",
                entity_id=None,
            )  # fmt: skip
        with engine.begin() as connection:
            # The note's `before` as SQL NULL rather than JSON null: same hash, other row.
            connection.execute(
                text("UPDATE audit_event SET before = NULL WHERE action = 'test.note'")
            )


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as the models read it (the marker aside: copies move it)."""
    with _engine(url) as engine, engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
            if table.name != ChangeMarker.__tablename__
        }


def _sql_nulls(url: str) -> int:
    with _engine(url) as engine, engine.connect() as connection:
        return (
            connection.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.before.is_(None))
            )
            or 0
        )


def _assert_one_line(result: Result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_copy_moves_every_row_and_the_audit_chain(source_url: str, db_url: str) -> None:
    _fill(source_url, patients=50, seed=7)
    source, target = (_with_password(u) if "postgresql" in u else u for u in (source_url, db_url))
    result = copy("--from", source, "--to", target)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "***" in result.output

    copied = _rows(db_url)
    assert copied == _rows(source_url)
    assert len(copied["patient"]) == 50
    events = len(copied["audit_event"])
    assert events >= 4
    assert f"audit chain intact on the target: {events} events" in result.stdout
    for name, rows in copied.items():
        assert f"{name} " in result.stdout and f" {len(rows)}" in result.stdout
    assert _sql_nulls(db_url) == _sql_nulls(source_url) >= 1
    with _engine(db_url) as engine, transaction(make_session_factory(engine)) as session:
        report = verify_chain(session)
        assert report.first_problem is None and report.checked == events
        # Ids continue after the copied ones (PostgreSQL's sequences were moved).
        highest = max(row[0] for row in copied["staff"])
        assert add_staff(session, "rn.new", Role.COORDINATOR, TEST_NOW).id == highest + 1


def test_a_target_with_data_is_refused_and_replaced_with_force(
    source_url: str, db_url: str
) -> None:
    _fill(source_url, patients=50, seed=7)
    _fill(db_url, patients=5, seed=3)
    before = _rows(db_url)
    refused = copy("--from", source_url, "--to", db_url)
    _assert_one_line(refused, "already holds data", "5 patient", "--force")
    assert _rows(db_url) == before

    forced = copy("--from", source_url, "--to", db_url, "--force")
    assert forced.exit_code == 0, forced.output
    assert "--force: replacing" in forced.stdout and "5 patient" in forced.stdout
    assert _rows(db_url) == _rows(source_url)


def test_a_target_an_app_is_using_is_refused_even_with_force(source_url: str, db_url: str) -> None:
    # A copy replaces everything in one transaction: it would stop the target's
    # dispatcher writing and erase the pages it recorded meanwhile.
    _fill(source_url, patients=5, seed=7)
    _fill(db_url, patients=5, seed=3)
    now = datetime.now(UTC)
    with _engine(db_url) as engine, transaction(make_session_factory(engine)) as session:
        assert acquire_dispatcher(
            session, owner="clinic-host:4242", now=now, ttl=timedelta(seconds=60)
        )
    before = _rows(db_url)
    refused = copy("--from", source_url, "--to", db_url, "--force")
    _assert_one_line(refused, "in use", "clinic-host:4242", "nothing copied")
    assert _rows(db_url) == before
    with _engine(db_url) as engine, transaction(make_session_factory(engine)) as session:
        release_dispatcher(session, owner="clinic-host:4242", now=now)
    assert copy("--from", source_url, "--to", db_url, "--force").exit_code == 0


def test_a_copy_that_does_not_verify_leaves_the_target_as_it_was(
    source_url: str, db_url: str
) -> None:
    _fill(source_url, patients=50, seed=7)
    _fill(db_url, patients=5, seed=3)
    with _engine(source_url) as engine, engine.begin() as connection:
        # Someone edited an audit event in the source: the copy's chain cannot verify.
        connection.execute(
            text(
                "UPDATE audit_event SET actor = 'mallory' "
                "WHERE id = (SELECT MIN(id) + 1 FROM audit_event)"
            )
        )
    before = _rows(db_url)
    result = copy("--from", source_url, "--to", db_url, "--force")
    _assert_one_line(result, "did not verify", "audit chain broken", "as it was")
    assert "patient" in result.stdout  # the counts are shown, to see what went wrong
    assert _rows(db_url) == before


def test_a_row_postgresql_refuses_leaves_the_target_as_it_was(source_url: str, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite accepts any text length; only PostgreSQL refuses this row")
    _fill(source_url, patients=50, seed=7)
    _fill(db_url, patients=5, seed=3)
    with _engine(source_url) as engine, engine.begin() as connection:
        # SQLite ignores VARCHAR lengths; patient.code is String(32).
        connection.execute(text("UPDATE patient SET code = printf('%040d', id) WHERE id = 7"))
    before = _rows(db_url)
    result = copy("--from", source_url, "--to", db_url, "--force")
    _assert_one_line(result, "copy failed", "too long", "as it was")
    assert _rows(db_url) == before


def test_same_database_and_bad_urls_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _assert_one_line(copy("--from", url, "--to", url), "same database")
    result = copy("--from", url, "--to", f"postgres ql://clinic:{SECRET}@db/x")
    _assert_one_line(result, "not a valid database URL")
    assert SECRET not in result.output
    assert not (tmp_path / "a.db").exists()
