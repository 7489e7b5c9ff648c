"""Moving a clinic's data from one database to another (`aftercare db copy`).

The target's schema is created or upgraded first (`initialise_database`); the
data then goes in as all or nothing: one transaction on the target deletes
whatever it held (only with `force`), copies every table parent-first in
batches, moves PostgreSQL's id sequences past the copied ids, and checks,
before committing, that every table holds as many rows as the source and
that the audit chain verifies on the target. Any failure rolls the whole
copy back. A target whose alert lease an app or dispatcher holds is refused:
the copy would block its alert path and erase what it recorded meanwhile.
The source is read in one snapshot that blocks none of its writers, so a
clinic that forgot to stop its apps still gets a consistent copy (or a count
mismatch, never a half copy) and their alerts keep flowing.

Rows travel through SQLAlchemy's column types (`db.models`), so times, JSON,
booleans and enums are converted between SQLite's and PostgreSQL's storage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Integer,
    Table,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db.audit import ChainReport, verify_chain
from db.database import initialise_database, open_database
from db.engine import make_engine, parse_database_url, sqlite_path
from db.errors import StorageError
from db.listen import CHANNEL
from db.models import Base, ChangeMarker, DispatcherLease

BATCH_ROWS: Final = 2000
"""Rows read and inserted per round trip."""
SEEDED_TABLES: Final = frozenset({ChangeMarker.__tablename__})
"""Tables a fresh schema already fills (migration 0002): not a sign of existing data."""


@dataclass(frozen=True)
class TableCount:
    """Rows of one table in the source snapshot and in the target before commit."""

    table: str
    source: int
    target: int

    @property
    def matches(self) -> bool:
        """Whether the target holds exactly the source's rows."""
        return self.source == self.target


@dataclass(frozen=True)
class CopyReport:
    """What `copy_database` found when it checked the target, and what it replaced."""

    tables: tuple[TableCount, ...]
    audit: ChainReport
    replaced: dict[str, int] = field(default_factory=dict)
    """Rows per table the target held before (only with force)."""

    def problems(self) -> list[str]:
        """Every mismatch, one short phrase each; empty when the copy is good."""
        found = [
            f"{c.table}: {c.source} in the source, {c.target} in the target"
            for c in self.tables
            if not c.matches
        ]
        if self.audit.first_problem is not None:
            found.append(f"audit chain broken on the target: {self.audit.first_problem.message}")
        return found


class TargetNotEmpty(StorageError):
    """The target already holds data and `force` was not given."""

    def __init__(self, rows: dict[str, int]) -> None:
        self.rows = rows
        super().__init__(
            f"the target database already holds data ({describe_rows(rows)}); "
            "nothing copied (use --force to replace it)"
        )


class TargetInUse(StorageError):
    """An app or the dispatcher holds the target's live alert lease."""


class CopyMismatch(StorageError):
    """The copy did not verify; the target transaction was rolled back."""

    def __init__(self, report: CopyReport) -> None:
        self.report = report
        super().__init__(
            "the copy did not verify (" + "; ".join(report.problems()) + "); "
            "rolled back, the target's data is as it was"
        )


def describe_rows(rows: dict[str, int]) -> str:
    """'3 staff, 50 patient, ...' for the tables that have rows."""
    return ", ".join(f"{n} {table}" for table, n in rows.items() if n) or "no rows"


def copy_database(
    source_url: str,
    target_url: str,
    *,
    force: bool = False,
    on_replace: Callable[[dict[str, int]], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> CopyReport:
    """Copy every row of the source database into the target, verified, in one transaction.

    The source must be at this version's schema; the target is created or
    upgraded to it. Raises `TargetNotEmpty` when the target holds data and
    not `force` (`on_replace` is told what will be replaced otherwise),
    `CopyMismatch` when the counts or the audit chain do not verify, and
    `StorageError` for anything else the database refuses; in every case the
    target's data is left as it was.
    """
    source, target = parse_database_url(source_url), parse_database_url(target_url)
    if _same_database(source, target):
        raise StorageError("--from and --to name the same database; nothing copied")
    source_db = open_database(source_url)
    try:
        initialise_database(target_url)
        target_engine = make_engine(target)
        try:
            return _copy(source_db.engine, target_engine, force, on_replace, batch_rows)
        except (SQLAlchemyError, LookupError, ValueError) as exc:
            # A row the target refuses (SQLite accepts over-long text that PostgreSQL
            # does not), an enum value this version does not know, a lost connection.
            raise StorageError(
                f"copy failed, rolled back, the target's data is as it was: {_first_line(exc)}"
            ) from exc
        finally:
            target_engine.dispose()
    finally:
        source_db.close()


def _copy(
    source: Engine,
    target: Engine,
    force: bool,
    on_replace: Callable[[dict[str, int]], None] | None,
    batch_rows: int,
) -> CopyReport:
    tables = list(Base.metadata.sorted_tables)  # parents before children
    with _snapshot(source) as src, target.connect() as dst, dst.begin():
        _begin_write(dst)
        existing = {t.name: n for t, n in _counts(dst, tables) if n and t.name not in SEEDED_TABLES}
        _refuse_a_live_target(dst)
        if existing and not force:
            raise TargetNotEmpty(existing)
        if existing and on_replace is not None:
            on_replace(existing)
        marker = dst.scalar(select(ChangeMarker.counter).where(ChangeMarker.id == 1)) or 0
        for table in reversed(tables):
            dst.execute(table.delete())
        for table in tables:
            _copy_table(src, dst, table, batch_rows)
        if dst.dialect.name == "postgresql":
            _move_sequences(dst, tables)
        _wake_open_screens(dst, marker)
        report = CopyReport(
            tables=tuple(
                TableCount(table.name, source_rows, target_rows)
                for (table, source_rows), (_, target_rows) in zip(
                    _counts(src, tables), _counts(dst, tables), strict=True
                )
            ),
            audit=verify_chain(Session(bind=dst)),
            replaced=existing,
        )
        if report.problems():
            raise CopyMismatch(report)  # leaving the block rolls the target back
    return report


def _refuse_a_live_target(dst: Connection) -> None:
    # A copy replaces everything the target holds in one transaction: on SQLite it
    # would stop the target's dispatcher writing for as long as the copy takes, and
    # anything an open app recorded meanwhile (a page sent, an acknowledgement)
    # would be erased by the copy. So a target in use is refused, never waited out.
    # (The source is only read, in a snapshot that blocks none of its writers.)
    now = datetime.now(UTC)
    for owner, expires_at in dst.execute(
        select(DispatcherLease.owner, DispatcherLease.expires_at)
    ).all():
        if expires_at is not None and expires_at > now:
            raise TargetInUse(
                f"the target database is in use: an aftercare app or dispatcher ({owner}) "
                "holds its alert lease; nothing copied. Stop the apps and the dispatcher "
                "on the target first: a copy replaces everything, and what they recorded "
                "meanwhile would be lost"
            )


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection that sees the source as of one moment."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        else:
            # pysqlite opens no transaction for reads; in WAL mode a deferred BEGIN
            # fixes the snapshot at the first read and blocks no writer.
            connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.rollback()


def _begin_write(connection: Connection) -> None:
    # Take SQLite's write lock before the emptiness check, so the check and the
    # copy see the same target (pysqlite would begin only at the first write).
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        if raw is not None and not raw.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _counts(connection: Connection, tables: list[Table]) -> list[tuple[Table, int]]:
    return [(t, connection.scalar(select(func.count()).select_from(t)) or 0) for t in tables]


def _copy_table(src: Connection, dst: Connection, table: Table, batch_rows: int) -> None:
    # A JSON column reads SQL NULL and JSON null both as None and would write None
    # back as JSON null; a flag per column keeps SQL NULL as SQL NULL.
    json_columns = [c.name for c in table.columns if isinstance(c.type, JSON)]
    flags = [table.c[name].is_(None).label(f"_sql_null_{name}") for name in json_columns]
    query = select(table, *flags).order_by(*table.primary_key.columns)
    result = src.execute(query.execution_options(yield_per=batch_rows))
    for rows in result.partitions():
        batch: list[dict[str, Any]] = []
        for row in rows:
            values = {c.name: row._mapping[c.name] for c in table.columns}
            for name in json_columns:
                if row._mapping[f"_sql_null_{name}"]:
                    values[name] = null()
            batch.append(values)
        dst.execute(insert(table), batch)


def _move_sequences(dst: Connection, tables: list[Table]) -> None:
    # Copied rows keep their ids, which do not advance PostgreSQL's sequences: without
    # this the first new row after the copy would collide with a copied one.
    for table in tables:
        key = table.c.get("id")
        if key is None or not isinstance(key.type, Integer) or not key.primary_key:
            continue
        highest = select(func.coalesce(func.max(key), 0) + 1).scalar_subquery()
        dst.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(table.name, "id"), highest, literal_column("false")
                )
            )
        )


def _wake_open_screens(dst: Connection, before: int) -> None:
    # Move the marker past both its copied value and the target's old one, so any
    # app still open on the target re-reads everything after a --force copy.
    copied = dst.scalar(select(ChangeMarker.counter).where(ChangeMarker.id == 1)) or 0
    dst.execute(
        update(ChangeMarker).where(ChangeMarker.id == 1).values(counter=max(copied, before) + 1)
    )
    if dst.dialect.name == "postgresql":
        dst.execute(text("SELECT pg_notify(:channel, current_schema())"), {"channel": CHANNEL})


def _same_database(a: URL, b: URL) -> bool:
    path_a, path_b = sqlite_path(a), sqlite_path(b)
    if path_a is not None and path_b is not None:
        return path_a.resolve() == path_b.resolve()
    return a.render_as_string(hide_password=False) == b.render_as_string(hide_password=False)


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__
