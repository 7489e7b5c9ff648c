"""Migrations from empty to head and back, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from db import migrate
from db.engine import make_engine
from db.errors import DatabaseNotAtHead
from db.models import Base, ChangeMarker


def test_upgrade_from_empty_to_head_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables

        migrate.downgrade(engine, "base")
        assert migrate.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        # And up again: downgrade left nothing behind that blocks a fresh upgrade.
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        migrate.upgrade(engine)
        with engine.connect() as connection:
            markers = connection.execute(select(ChangeMarker.id)).scalars().all()
        assert markers == [1]
    finally:
        engine.dispose()


def test_models_match_the_migrations(db_url: str) -> None:
    """Autogenerate finds nothing to do: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_require_head_names_the_fix(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(DatabaseNotAtHead, match=r"run `aftercare init` to create it"):
            migrate.require_head(engine)
        migrate.upgrade(engine, "0001")
        with pytest.raises(DatabaseNotAtHead, match=r"at revision 0001.*run `aftercare init`"):
            migrate.require_head(engine)
        migrate.upgrade(engine)
        migrate.require_head(engine)
    finally:
        engine.dispose()


def test_the_head_named_for_the_quick_check_is_alembics_head() -> None:
    assert migrate.head_revision() == migrate.HEAD
