"""Engines and sessions from a URL: SQLite (default) and PostgreSQL with the same code."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from db.errors import StorageError, explain_operational_error


def parse_database_url(url: str) -> URL:
    """Parse and check a database URL; only SQLite and PostgreSQL are supported."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StorageError(
            f"database_url {url!r} is not a valid database URL "
            "(expected sqlite:///path/to/file.db or postgresql+psycopg://user@host/db)"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StorageError(
            f"database_url uses {backend!r}; aftercare supports sqlite and postgresql only"
        )
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we install; a bare scheme means it.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and sqlite_path(parsed) is None:
        raise StorageError(
            "database_url points at an in-memory SQLite database, which would lose every "
            "record on exit; give a file path (sqlite:////var/lib/aftercare/aftercare.db)"
        )
    return parsed


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for an in-memory database."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser()


def check_sqlite_location(url: URL, *, must_exist: bool) -> None:
    """Fail early, before SQLite creates anything, if the file cannot be used.

    SQLite would silently create an empty database for a mistyped path, and in
    WAL mode it needs to create `-wal` and `-shm` files beside the database.
    """
    path = sqlite_path(url)
    if path is None:
        return
    folder = path.parent
    if must_exist and not path.exists():
        raise StorageError(f"no database at {path}: run `aftercare init` to create it")
    if not folder.exists():
        raise StorageError(f"folder {folder} for the database does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(
            f"folder {folder} is not writable: SQLite needs to create the database and "
            "its journal files there (fix the permissions or set database_url)"
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StorageError(f"database file {path} is not readable and writable by this user")


def make_engine(url: str | URL, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """Create an engine with the pragmas and timeouts aftercare relies on."""
    parsed = url if isinstance(url, URL) else parse_database_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        # Textual thread workers use connections from other threads.
        connect_args = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
    else:
        connect_args = {"connect_timeout": 5}
    try:
        # Pre-ping finds dropped server connections; a SQLite file has none to drop.
        pre_ping = parsed.get_backend_name() != "sqlite"
        engine = create_engine(parsed, echo=echo, connect_args=connect_args, pool_pre_ping=pre_ping)
    except NoSuchModuleError as exc:
        raise StorageError(f"no database driver for {parsed.drivername!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_pragmas(engine, busy_timeout_ms)
    return engine


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # No BEGIN IMMEDIATE needed: pysqlite opens the transaction at the first
        # write, and every write starts by updating the change marker
        # (db.followup.mark_changed), so the write lock is taken, waiting up to
        # busy_timeout, before the records an edit checks are read.
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            # WAL lets several SSH sessions read while one writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (screens read them), and
    that never store terminal control in a row people write (db.text_guard)."""
    from db.text_guard import guard

    return guard(sessionmaker(engine, expire_on_commit=False))


@contextmanager
def transaction(factory: Callable[[], Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    When SQLite stays locked by another writer past the busy timeout, the
    StorageError raised says so in one line: nothing was saved, try again.
    """
    with factory() as session:
        try:
            with session.begin():
                yield session
        except OperationalError as exc:
            if "database is locked" not in str(exc.orig):
                raise
            raise explain_operational_error(exc, session.get_bind().engine.url) from exc
