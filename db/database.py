"""Opening the clinic's database: checks first, so a bad URL or file writes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from db import migrate
from db.engine import (
    check_sqlite_location,
    make_engine,
    make_session_factory,
    parse_database_url,
    sqlite_path,
)
from db.errors import StorageError, explain_operational_error


@dataclass
class Database:
    """An open database: the engine and the session factory built on it."""

    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()


def open_database(url: str, *, busy_timeout_ms: int = 5000) -> Database:
    """Open an existing database at the schema this version expects.

    Raises StorageError (one clear line) when the URL is malformed, the server
    is unreachable, the file is missing or unwritable, or the schema is not at
    head; nothing is created or changed in any of those cases.
    """
    parsed = parse_database_url(url)
    check_sqlite_location(parsed, must_exist=True)
    engine = make_engine(parsed, busy_timeout_ms=busy_timeout_ms)
    try:
        _ping(engine)
        migrate.require_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return Database(engine, make_session_factory(engine))


def initialise_database(url: str, *, busy_timeout_ms: int = 5000) -> tuple[str | None, str]:
    """Create the database (and its folder) or upgrade it to head; idempotent.

    Returns the revision before and after.
    """
    parsed = parse_database_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        _make_private_folder(path.parent)
    check_sqlite_location(parsed, must_exist=False)
    if path is not None:
        _create_private_file(path)
    engine = make_engine(parsed, busy_timeout_ms=busy_timeout_ms)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    if path is not None and path.exists():
        # Patient data: readable by the owner and the clinic's group only.
        path.chmod(0o660)
    assert after is not None
    return before, after


def _make_private_folder(folder: Path) -> None:
    if folder.exists():
        return
    try:
        folder.mkdir(parents=True, mode=0o770)
        # mkdir's mode passes through the umask (0o750 under the usual 022), but every
        # coordinator's session must create the -wal and -shm files here: the group
        # writes. Setgid: files made here belong to the folder's (the clinic's) group.
        folder.chmod(0o2770)
    except OSError as exc:
        raise StorageError(
            f"cannot create folder {folder} for the database: {exc.strerror}"
        ) from exc


def _create_private_file(path: Path) -> None:
    """Create the empty database file as 0660 before SQLite would create it as 0644.

    An empty file is a valid empty SQLite database. SQLite gives its -wal and
    -shm files the database file's mode, so they are private from the start too.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
    except FileExistsError:
        return
    except OSError as exc:
        raise StorageError(f"cannot create database file {path}: {exc.strerror}") from exc
    try:
        os.fchmod(descriptor, 0o660)  # the umask may have taken the group's bits
    finally:
        os.close(descriptor)


def _ping(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise explain_operational_error(exc, engine.url) from exc
