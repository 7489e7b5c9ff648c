"""Migrations from empty to head and back, on SQLite and PostgreSQL, and the
data steps that must not invent the past (0007)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, insert, inspect, select

from db import migrate
from db.engine import make_engine
from db.errors import DatabaseNotAtHead, StorageError
from db.models import Base, ChangeMarker, Patient, ProductGiven, TreatmentEpisode


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


def _episodes_at_0006(connection: Connection) -> dict[str, int]:
    """Two imported and one demo episode as 0006 stored them: history NOT NULL."""
    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    ids: dict[str, int] = {}
    for n, (name, demo, allergies, addons, vasovagal) in enumerate(
        (
            ("imported_bare", False, None, [], False),
            ("imported_full", False, "latex", ["b_complex"], True),
            ("demo", True, None, [], True),
        ),
        1,
    ):
        connection.execute(
            insert(Patient).values(
                id=n, code=f"M-{n}", given_name="Yuki", family_name="Tanaka",
                home_country="JP", current_country="JP", language="ja",
                timezone="Asia/Tokyo", channel="line", channel_handle=f"line:m{n}",
                is_demo=demo, created_at=now, version=1,
            )
        )  # fmt: skip
        connection.execute(
            insert(TreatmentEpisode).values(
                id=n, patient_id=n, procedure_at=now, protocol="microneedling",
                allergies=allergies, addons=addons, schedule_templates=["standard"],
                vasovagal_history=vasovagal, sensitive_skin=False, documentation={},
                created_at=now, version=1,
            )
        )  # fmt: skip
        ids[name] = n
    connection.execute(insert(ProductGiven).values(episode_id=2, name="Exosome vial"))
    return ids


_RECORDED = ("vasovagal_history", "sensitive_skin", "has_allergies", "products_recorded")


def test_0007_leaves_the_imported_past_not_recorded_and_back(db_url: str) -> None:
    """Up: imported episodes lose the default's "no", flags only where the data shows
    it, demo rows stay answered. Down: not recorded goes back to "no", NOT NULL."""
    engine = make_engine(db_url)
    episode = TreatmentEpisode.__table__
    try:
        migrate.upgrade(engine, "0006")
        with engine.begin() as connection:
            ids = _episodes_at_0006(connection)
        migrate.upgrade(engine, "0007")
        with engine.connect() as connection:
            rows = {
                row.id: row
                for row in connection.execute(
                    select(episode.c.id, *(episode.c[c] for c in (*_RECORDED, "addons_recorded")))
                )
            }
        assert tuple(rows[ids["imported_bare"]])[1:] == (None, None, None, None, None)
        assert tuple(rows[ids["imported_full"]])[1:] == (None, None, True, True, True)
        assert tuple(rows[ids["demo"]])[1:] == (True, False, False, True, True)

        migrate.downgrade(engine, "0006")
        columns = {c["name"]: c for c in inspect(engine).get_columns("treatment_episode")}
        assert not {"has_allergies", "products_recorded", "addons_recorded"} & set(columns)
        assert not columns["vasovagal_history"]["nullable"]
        assert not columns["sensitive_skin"]["nullable"]
        with engine.connect() as connection:
            history = connection.execute(
                select(episode.c.id, episode.c.vasovagal_history, episode.c.sensitive_skin)
            ).all()
        assert sorted(tuple(r) for r in history) == [
            (ids["imported_bare"], False, False),
            (ids["imported_full"], False, False),
            (ids["demo"], True, False),
        ]
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        if engine.dialect.name == "sqlite":
            # 0007 rebuilds treatment_episode on SQLite: the file must stay sound.
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()


# Tables as 0005 stored them, only the columns these tests fill.
_AT_0005 = {
    "triage_assessment": sa.table(
        "triage_assessment",
        *(sa.column(c) for c in ("id", "patient_id", "episode_id", "assessed_at", "day")),
        *(sa.column(c) for c in ("symptoms", "current_country", "computed_disposition")),
        *(sa.column(c) for c in ("chosen_disposition", "reasons", "rules_version")),
    ),
    "escalation": sa.table(
        "escalation",
        *(sa.column(c) for c in ("id", "patient_id", "triage_id", "disposition", "status")),
        *(sa.column(c) for c in ("current_step", "cycle", "created_at", "version")),
    ),
}


def _a_triage_paged_at_0005(connection: Connection) -> None:
    """A patient whose triage an alert points at: the rows 0006 rebuilds a table under."""
    _episodes_at_0006(connection)  # patient and episode columns are the same at 0005
    now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    connection.execute(
        _AT_0005["triage_assessment"].insert().values(
            id=1, patient_id=1, episode_id=1, assessed_at=now, day=3, symptoms="[]",
            current_country="JP", computed_disposition="EMERGENCY",
            chosen_disposition="EMERGENCY", reasons="[]", rules_version="v1",
        )
    )  # fmt: skip
    connection.execute(
        _AT_0005["escalation"].insert().values(
            id=1, patient_id=1, triage_id=1, disposition="EMERGENCY", status="OPEN",
            current_step=1, cycle=1, created_at=now, version=1,
        )
    )  # fmt: skip


def test_a_clinic_database_with_alerts_upgrades_from_0005_to_head(db_url: str) -> None:
    # 0006 rebuilds triage_assessment on SQLite (copy, drop, rename) while an alert
    # points at a triage: with foreign keys enforced mid-migration that failed.
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0005")
        with engine.begin() as connection:
            _a_triage_paged_at_0005(connection)
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT triage_id FROM escalation")).all() == [(1,)]
            assert connection.execute(sa.text("SELECT day FROM triage_assessment")).all() == [(3,)]
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()


def test_a_failed_sqlite_migration_leaves_the_schema_as_it_was(tmp_path: Path) -> None:
    # A row that points at nothing (written while foreign keys were off) must stop
    # the upgrade, and the steps already taken must be undone: no new column, no
    # half-built table, still at 0005.
    engine = make_engine(f"sqlite:///{tmp_path / 'aftercare.db'}")
    try:
        migrate.upgrade(engine, "0005")
        with engine.begin() as connection:
            _a_triage_paged_at_0005(connection)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.exec_driver_sql("UPDATE escalation SET triage_id = 99")
            connection.commit()
        with pytest.raises(StorageError, match=r"1 rows in escalation point at rows that do not"):
            migrate.upgrade(engine)
        assert migrate.current_revision(engine) == "0005"
        columns = {c["name"] for c in inspect(engine).get_columns("product_given")}
        assert "exosome" not in columns
        assert not [name for name in inspect(engine).get_table_names() if "tmp" in name]
    finally:
        engine.dispose()
