"""Backing up the SQLite database while people work in it (SQLite's online backup API).

The copy is a consistent snapshot taken through `sqlite3.Connection.backup`:
coordinators keep reading and writing meanwhile (WAL mode), and a transaction
not yet committed is simply not in it. The copy is written under a temporary
name beside the target, readable by owner and group only (0640, or less if
the umask says so), switched to a single self-contained file (no -wal file
beside it), checked, and only then renamed into place, so a failed backup
never leaves a half-written file under the name a restore would look for.

PostgreSQL has its own tool for this (pg_dump); `pg_dump_command` spells it out.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from core.audit_anchor import EMPTY_CHAIN_HASH, ChainHead
from core.config import mask_url
from db.errors import StorageError

BACKUP_MODE = 0o640
"""Patient data: the owner writes, the clinic's group reads, nobody else."""

COUNTED_TABLES = (
    ("patients", "patient"),
    ("episodes", "treatment_episode"),
    ("touchpoints", "touchpoint"),
    ("incidents", "incident"),
    ("audit events", "audit_event"),
)
"""What the summary counts, as (words, table)."""


class BackupExists(StorageError):
    """The target file exists and replacing it was not asked for."""


@dataclass(frozen=True)
class BackupReport:
    """What was written, as read back from the copy itself."""

    path: Path
    size_bytes: int
    revision: str | None
    counts: dict[str, int]
    """Rows per COUNTED_TABLES entry (words -> rows)."""
    audit_head: ChainHead | None = None
    """The copy's newest audit event, to anchor the backup by (None: no audit table)."""


def backup_sqlite(
    source: Path, target: Path, *, replace: bool, busy_timeout_ms: int
) -> BackupReport:
    """Copy the database at `source` to `target` with the online backup API and check the copy.

    Raises BackupExists when `target` exists and not `replace`, and
    StorageError (one line) when `target` is the database itself, its folder
    is missing or unwritable, or the copy does not read back with the same
    schema revision; nothing is left at `target` in those cases.
    """
    target = target.expanduser()
    if target.exists() and target.resolve() == source.resolve():
        raise StorageError(f"{target} is the database itself; choose another file")
    if target.is_dir():
        raise StorageError(f"{target} is a folder; give a file name")
    if target.exists() and not replace:
        raise BackupExists(f"{target} exists; use --force to replace it")
    folder = target.parent
    if not folder.is_dir():
        raise StorageError(f"folder {folder} does not exist")
    try:
        descriptor, temporary_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.")
    except OSError as exc:
        raise StorageError(f"cannot write in {folder}: {exc.strerror or exc}") from exc
    temporary = Path(temporary_name)
    try:
        # mkstemp gives 0600; the clinic's group may read backups (umask may take more away).
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(descriptor, BACKUP_MODE & ~umask)
        os.close(descriptor)
        revision = _copy(source, temporary, busy_timeout_ms)
        report = _read_back(temporary, target)
        if report.revision != revision:
            raise StorageError(
                f"the copy reads back at schema revision {report.revision}, "
                f"the database is at {revision}; the backup was not kept"
            )
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}-journal").unlink(missing_ok=True)
        raise
    return report


def _copy(source: Path, copy: Path, busy_timeout_ms: int) -> str | None:
    """Copy page by page in one step; returns the source's schema revision at that moment."""
    try:
        with (
            closing(_connect(source, busy_timeout_ms)) as database,
            closing(_connect(copy, busy_timeout_ms)) as out,
        ):
            # Read the revision and copy inside one read transaction: the same snapshot.
            database.execute("BEGIN")
            try:
                revision = _revision(database)
                database.backup(out)
            finally:
                database.execute("COMMIT")
            # The source is in WAL mode and the copy inherits it; a backup should be
            # one file that opens anywhere, read-only media included.
            out.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise StorageError(f"backup of {source} failed: {exc}") from exc
    return revision


def _read_back(copy: Path, target: Path) -> BackupReport:
    """Open the copy afresh, check its pages, and read the revision and counts."""
    try:
        with closing(_connect(copy, 0)) as database:
            verdict = database.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise StorageError(f"the copy failed SQLite's check ({verdict}); not kept")
            revision = _revision(database)
            counts = {
                words: int(database.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
                for words, table in COUNTED_TABLES
                if _has_table(database, table)
            }
            head = _audit_head(database) if _has_table(database, "audit_event") else None
    except sqlite3.Error as exc:
        raise StorageError(f"the copy does not open as a database ({exc}); not kept") from exc
    return BackupReport(target, copy.stat().st_size, revision, counts, head)


def _audit_head(database: sqlite3.Connection) -> ChainHead:
    """The copy's audit chain head, as `db.audit_anchor.chain_head` reads a live database:
    so the anchor taken at a backup names exactly what the backup holds."""
    row = database.execute(
        "SELECT id, hash, at, (SELECT count(*) FROM audit_event) "
        "FROM audit_event ORDER BY id DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return ChainHead(0, EMPTY_CHAIN_HASH, None, 0)
    # The column holds naive UTC text (db.models.UtcDateTime).
    at = datetime.fromisoformat(str(row[2])).replace(tzinfo=UTC)
    return ChainHead(int(row[0]), str(row[1]), at, int(row[3]))


def _connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    # isolation_level=None: transactions only where this module begins them.
    return sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)


def _has_table(database: sqlite3.Connection, table: str) -> bool:
    found = database.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return found is not None


def _revision(database: sqlite3.Connection) -> str | None:
    if not _has_table(database, "alembic_version"):
        return None
    row = database.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def pg_dump_command(url: URL, target: Path) -> str:
    """The pg_dump command that backs up the PostgreSQL database at `url`, password masked.

    pg_dump takes the password from ~/.pgpass or PGPASSWORD, never from the
    command line, where other users of the server could read it.
    """
    libpq = mask_url(url.set(drivername="postgresql").render_as_string(hide_password=True))
    return f"pg_dump --format=custom --file={shlex.quote(str(target))} {shlex.quote(libpq)}"
