"""Opening the clinic's database: checks first, so a bad URL or file writes nothing."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
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


class DatabaseMoved(StorageError):
    """The SQLite file is gone from its path while apps still hold it open."""


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
    _check_driver(parsed)
    _refuse_if_moved(sqlite_path(parsed))
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

    Returns the revision before and after. Refuses (StorageError, nothing
    created) when the SQLite file is missing but its -wal or -shm file shows it
    was moved or deleted while apps had it open, and when the file belongs to
    another user.
    """
    parsed = parse_database_url(url)
    _check_driver(parsed)
    path = sqlite_path(parsed)
    if path is not None:
        _refuse_if_moved(path)
        _refuse_if_not_owner(path)
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
        try:
            path.chmod(0o660)
        except OSError as exc:
            raise StorageError(
                f"cannot make database file {path} private (mode 0660): {exc.strerror}"
            ) from exc
    assert after is not None
    return before, after


def _check_driver(url: URL) -> None:
    """Refuse a driver aftercare does not use (asyncpg, psycopg2, ...) in one line,
    before SQLAlchemy tries to import it or builds an engine the code cannot drive."""
    expected = {"sqlite": "pysqlite", "postgresql": "psycopg"}
    backend = url.get_backend_name()
    if expected.get(backend) not in (None, url.get_driver_name()):
        shape = "sqlite:///path/to/file.db" if backend == "sqlite" else "postgresql+psycopg://..."
        raise StorageError(
            f"database_url names the driver {url.drivername!r}, which aftercare does not use; "
            f"write it as {shape}"
        )


IN_USE_SIGNS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database while a connection has it open (WAL mode:
-wal and -shm; the last connection to close removes them)."""


def _refuse_if_moved(path: Path | None) -> None:
    """Refuse when the database file is missing but its companion files are there.

    They are named after the path the apps opened, and the apps keep writing
    through them after the file itself was moved or deleted: a new database at
    that path would take over those files and lose what the apps committed.
    So the only advice is to put the file back, never to create one.
    """
    if path is None or path.exists():
        return
    signs = [Path(f"{path}{suffix}") for suffix in IN_USE_SIGNS]
    found = [sign for sign in signs if sign.exists()]
    if not found:
        return
    newest = max(sign.stat().st_mtime for sign in found)
    written = datetime.fromtimestamp(newest).strftime("%Y-%m-%d %H:%M:%S")
    names = " and ".join(sign.name for sign in found)
    raise DatabaseMoved(
        f"the database file {path} is missing but {names} (last written {written}) "
        f"{'is' if len(found) == 1 else 'are'} there: it was moved or deleted while apps "
        "had it open, and their latest work is in those files; do not create a new "
        f"database: put the file back at {path} (or set database_url to where it went) "
        "while those apps still run, then close them"
    )


def _refuse_if_not_owner(path: Path) -> None:
    """Only the database file's owner (or root) creates its schema or upgrades it:
    a migration by anyone else would leave tables they own and a file whose mode
    they cannot set."""
    try:
        owner = path.stat().st_uid
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot look at database file {path}: {exc.strerror}") from exc
    me = os.geteuid()
    if me in (0, owner):
        return
    raise StorageError(
        f"database file {path} belongs to {_login_of(owner)}, not to you "
        f"({_login_of(me)}): only its owner or root may create or upgrade it; nothing "
        "was changed"
    )


def _login_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


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
