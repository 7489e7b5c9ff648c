"""`aftercare backup FILE`: SQLite's online backup, checked; PostgreSQL points at pg_dump.

Runs in-process through the command's own `register` on a bare Typer app,
with the real configuration loader and real database files.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from db import migrate
from db.database import initialise_database, open_database
from db.demo import load_demo
from db.engine import make_engine
from tui.cli.backup import register


@pytest.fixture
def cli(cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    for key in list(os.environ):
        if key.startswith("AFTERCARE_") and not key.startswith("AFTERCARE_TEST_"):
            monkeypatch.delenv(key)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(key, cli_env[key])
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, so `backup` is a subcommand as in the real CLI
    register(app)
    return app


@pytest.fixture
def clinic_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: typer.Typer) -> Iterator[Path]:
    """A SQLite clinic database with 30 demo patients, configured for the command."""
    path = tmp_path / "clinic" / "aftercare.db"
    url = f"sqlite:///{path}"
    initialise_database(url)
    engine = make_engine(url)
    try:
        load_demo(engine, patients=30, seed=3, now=datetime.now(UTC))
    finally:
        engine.dispose()
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", url)
    yield path


def run_backup(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, ["backup", *args])


def counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as connection:
        return {
            table: connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in ("patient", "treatment_episode", "touchpoint", "staff", "audit_event")
        }


def test_backup_while_a_writer_holds_the_database(
    cli: typer.Typer, clinic_db: Path, tmp_path: Path
) -> None:
    committed = counts(clinic_db)
    # A colleague in the middle of a write: the backup neither waits for it nor includes it.
    writer = sqlite3.connect(clinic_db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM touchpoint")
        target = tmp_path / "backups" / "aftercare-2026-11-22.db"
        target.parent.mkdir()
        result = run_backup(cli, str(target))
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"backup written to {target}: ")
    assert f"schema revision {migrate.head_revision()}" in result.stdout
    assert "30 patients" in result.stdout
    assert f"{committed['touchpoint']} touchpoints" in result.stdout
    assert counts(target) == committed
    # Owner writes, the clinic's group reads, nobody else: whatever the umask allowed, no more.
    assert stat.S_IMODE(target.stat().st_mode) & ~0o640 == 0
    # One self-contained file: no -wal beside it, and aftercare opens it as a clinic database.
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    with closing(sqlite3.connect(target)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    copy = open_database(f"sqlite:///{target}")
    copy.close()


def test_backup_is_group_readable_under_the_usual_umask(
    cli: typer.Typer, clinic_db: Path, tmp_path: Path
) -> None:
    previous = os.umask(0o022)
    try:
        result = run_backup(cli, str(tmp_path / "b.db"))
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE((tmp_path / "b.db").stat().st_mode) == 0o640


def test_an_existing_file_is_replaced_only_with_force(
    cli: typer.Typer, clinic_db: Path, tmp_path: Path
) -> None:
    target = tmp_path / "b.db"
    target.write_text("last week's backup")
    refused = run_backup(cli, str(target))
    assert refused.exit_code == 1
    assert refused.stderr.strip().splitlines() == [
        f"aftercare: {target} exists; use --force to replace it"
    ]
    assert target.read_text() == "last week's backup"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".b.db")] == []

    forced = run_backup(cli, str(target), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert counts(target) == counts(clinic_db)


@pytest.mark.parametrize("where", ["the database", "a missing folder", "a folder"])
def test_bad_targets_are_one_line_and_write_nothing(
    cli: typer.Typer, clinic_db: Path, tmp_path: Path, where: str
) -> None:
    target = {
        "the database": clinic_db,
        "a missing folder": tmp_path / "nowhere" / "b.db",
        "a folder": tmp_path,
    }[where]
    before = sorted(p.name for p in clinic_db.parent.iterdir())
    result = run_backup(cli, str(target), "--force")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("aftercare: ")
    assert sorted(p.name for p in clinic_db.parent.iterdir()) == before
    assert counts(clinic_db)["patient"] == 30


def test_a_database_at_an_older_schema_is_backed_up_as_it_is(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The moment a backup matters most: before `aftercare init` upgrades it.
    path = tmp_path / "old.db"
    engine: Engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine, "0001")
    finally:
        engine.dispose()
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", f"sqlite:///{path}")
    result = run_backup(cli, str(tmp_path / "b.db"))
    assert result.exit_code == 0, result.stderr
    assert "schema revision 0001" in result.stdout


def test_postgresql_says_to_use_pg_dump(cli: typer.Typer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AFTERCARE_DATABASE_URL",
        "postgresql+psycopg://clinic:hunter2-placeholder@db.clinic.example:5433/aftercare"
        "?sslmode=require",
    )
    result = run_backup(cli, "/var/backups/aftercare/nightly.dump")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "hunter2-placeholder" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("aftercare: the database is PostgreSQL, which pg_dump backs up")
    assert lines[0].endswith(
        "pg_dump --format=custom --file=/var/backups/aftercare/nightly.dump "
        "'postgresql://clinic:***@db.clinic.example:5433/aftercare?sslmode=require'"
    )
    assert not Path("/var/backups/aftercare/nightly.dump").exists()


def test_backup_on_each_backend(
    cli: typer.Typer, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On both backends: SQLite is backed up, PostgreSQL gets the pg_dump line (exit 2)."""
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", db_url)
    target = tmp_path / "b.db"
    result = run_backup(cli, str(target))
    if engine.dialect.name == "sqlite":
        assert result.exit_code == 0, result.stderr
        assert target.exists()
    else:
        assert result.exit_code == 2
        assert "pg_dump --format=custom" in result.stderr
        assert not target.exists()
