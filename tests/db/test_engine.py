"""The engine's guarantees on each backend: UTC round-trips, foreign keys, SQLite pragmas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from core.domain import Channel, ContactOutcome, Role
from db.engine import make_engine, make_session_factory, parse_database_url, transaction
from db.errors import StorageError
from db.models import ContactAttempt, Staff


def _staff(at: datetime) -> Staff:
    return Staff(
        username="nurse.kim", display_name="Kim Ji-woo", role=Role.COORDINATOR, created_at=at
    )


def test_times_come_back_as_aware_utc(engine: Engine) -> None:
    seoul = timezone(timedelta(hours=9))
    at = datetime(2026, 11, 22, 9, 30, tzinfo=seoul)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        session.add(_staff(at))
    with factory() as session:
        loaded = session.query(Staff).one()
    assert loaded.created_at == at
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with pytest.raises(Exception, match="naive datetime"), transaction(factory) as session:
        session.add(_staff(datetime(2026, 11, 22, 9, 30)))
        session.flush()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with pytest.raises(IntegrityError), transaction(factory) as session:
        session.add(
            ContactAttempt(
                patient_id=999,
                at=datetime.now(UTC),
                channel=Channel.LINE,
                outcome=ContactOutcome.REACHED,
            )
        )
        session.flush()


def test_failed_transaction_leaves_nothing(engine: Engine) -> None:
    factory = make_session_factory(engine)
    with pytest.raises(RuntimeError), transaction(factory) as session:
        session.add(_staff(datetime.now(UTC)))
        session.flush()
        raise RuntimeError("crash mid-transaction")
    with factory() as session:
        assert session.query(Staff).count() == 0


def test_sqlite_runs_in_wal_mode_with_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}", busy_timeout_ms=4321)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 4321
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a valid database URL"),
        ("mysql://root@127.0.0.1/test", "supports sqlite and postgresql only"),
        ("sqlite://", "in-memory SQLite"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        parse_database_url(url)


def test_bare_postgresql_scheme_uses_psycopg3() -> None:
    assert parse_database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
