"""The database side of the demo: clearing old demo rows, staff, fast inserts.

Kept apart from generation so the speed tricks live in one place. Rows are
written with executemany per table. On SQLite the values arrive pre-encoded
exactly as SQLAlchemy stores them (`sqlite_timestamp`, `sqlite_date`, JSON
text; tests/db/test_demo.py compares the stored text with SQLAlchemy's own
processors) and go straight to the driver, skipping per-row bind processing;
PostgreSQL goes through Core `insert()`. Primary keys are assigned by the
generator after the current maximum (`next_ids`), so PostgreSQL's sequences
are moved past them afterwards (`sync_sequences`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, delete, func, insert, select, update

from db.demo import people
from db.demo.tables import (
    ATTEMPT_T,
    COLUMNS,
    ENTRY_T,
    EPISODE_T,
    ESCALATION_T,
    INCIDENT_T,
    INSERT_ORDER,
    LINK_USE_T,
    MARKER_T,
    OUTBOX_T,
    PATIENT_T,
    PRODUCT_T,
    STAFF_T,
    TOUCHPOINT_T,
    TRIAGE_T,
)

T = TypeVar("T")

PG_CHUNK_ROWS = 5000
# SQLite page cache while loading (KiB): 64 MiB saves ~10% at 100k patients; more does not help.
SQLITE_LOAD_CACHE_KIB = 65_536
DEMO_STAFF_PREFIX = "demo-"


@contextmanager
def sqlite_load_tuning(conn: Connection) -> Iterator[None]:
    # A bigger page cache for this connection while loading (restored after, since
    # pooled connections are reused): the touchpoint open-window index is written
    # in random key order and thrashes the 2 MiB default (touchpoint inserts ~45% slower).
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(previous or -2000)}")


def begin_write(conn: Connection) -> None:
    # pysqlite starts a deferred transaction only at the first write, so the
    # "any real patients?" check would run outside it. BEGIN IMMEDIATE takes the
    # write lock first: the check and the load see the same database.
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def delete_demo(conn: Connection) -> None:
    """Delete every demo patient and the rows hanging off them, children first."""
    demo_patients = select(PATIENT_T.c.id).where(PATIENT_T.c.is_demo.is_(True))
    escalations = select(ESCALATION_T.c.id).where(ESCALATION_T.c.patient_id.in_(demo_patients))
    incidents = select(INCIDENT_T.c.id).where(INCIDENT_T.c.patient_id.in_(demo_patients))
    episodes = select(EPISODE_T.c.id).where(EPISODE_T.c.patient_id.in_(demo_patients))
    conn.execute(delete(LINK_USE_T).where(LINK_USE_T.c.escalation_id.in_(escalations)))
    conn.execute(delete(OUTBOX_T).where(OUTBOX_T.c.escalation_id.in_(escalations)))
    conn.execute(delete(ESCALATION_T).where(ESCALATION_T.c.patient_id.in_(demo_patients)))
    conn.execute(delete(ENTRY_T).where(ENTRY_T.c.incident_id.in_(incidents)))
    conn.execute(delete(INCIDENT_T).where(INCIDENT_T.c.patient_id.in_(demo_patients)))
    conn.execute(delete(TRIAGE_T).where(TRIAGE_T.c.patient_id.in_(demo_patients)))
    conn.execute(delete(ATTEMPT_T).where(ATTEMPT_T.c.patient_id.in_(demo_patients)))
    conn.execute(delete(TOUCHPOINT_T).where(TOUCHPOINT_T.c.patient_id.in_(demo_patients)))
    conn.execute(delete(PRODUCT_T).where(PRODUCT_T.c.episode_id.in_(episodes)))
    conn.execute(delete(EPISODE_T).where(EPISODE_T.c.patient_id.in_(demo_patients)))
    conn.execute(delete(PATIENT_T).where(PATIENT_T.c.is_demo.is_(True)))


@dataclass(frozen=True)
class StaffIds:
    """The demo staff's ids by role, with their notify tags and display names."""

    coordinators: tuple[int, ...]
    physicians: tuple[int, ...]
    tags: dict[int, str]
    names: dict[int, str]
    all_ids: tuple[int, ...]
    senior: int
    on_call: int


def upsert_staff(conn: Connection, now: datetime) -> StaffIds:
    """Reuse demo staff rows by username (other rows may point at them), add missing ones."""
    query = select(STAFF_T.c.username, STAFF_T.c.id).where(
        STAFF_T.c.username.startswith(DEMO_STAFF_PREFIX, autoescape=True)
    )
    existing: dict[str, int] = {username: staff_id for username, staff_id in conn.execute(query)}
    next_id = (conn.scalar(select(func.max(STAFF_T.c.id))) or 0) + 1
    ids: dict[str, int] = {}
    everyone = (*people.COORDINATORS, *people.PHYSICIANS, *people.ADMINS)
    for member in everyone:
        values = {
            "display_name": member.display_name,
            "role": member.role,
            "email": f"{member.username.removeprefix(DEMO_STAFF_PREFIX)}@example.com",
            "phone": None,
            "license_ref": member.license_ref,
            "notify_tag": member.notify_tag,
            "active": True,
        }
        if member.username in existing:
            ids[member.username] = existing[member.username]
            conn.execute(
                update(STAFF_T).where(STAFF_T.c.id == existing[member.username]).values(values)
            )
        else:
            ids[member.username] = next_id
            conn.execute(
                insert(STAFF_T).values(
                    id=next_id,
                    username=member.username,
                    created_at=now - timedelta(days=400),
                    version=1,
                    **values,
                )
            )
            next_id += 1
    tags = {ids[m.username]: m.notify_tag for m in everyone if m.notify_tag}
    by_tag = {tag: staff_id for staff_id, tag in tags.items()}
    return StaffIds(
        coordinators=tuple(ids[m.username] for m in people.COORDINATORS),
        physicians=tuple(ids[m.username] for m in people.PHYSICIANS),
        tags=tags,
        names={ids[m.username]: m.display_name for m in everyone},
        all_ids=tuple(ids.values()),
        senior=by_tag[people.SENIOR_TAG],
        on_call=by_tag[people.ON_CALL_TAG],
    )


def next_ids(conn: Connection) -> dict[str, Iterator[int]]:
    # Keys are assigned here (after the current maximum) so rows can reference
    # each other before they are written, without RETURNING round trips.
    return {
        table.name: count((conn.scalar(select(func.max(table.c.id))) or 0) + 1)
        for table in INSERT_ORDER
    }


def bump_change_marker(conn: Connection, now: datetime) -> None:
    counter = conn.scalar(select(MARKER_T.c.counter).where(MARKER_T.c.id == 1))
    if counter is None:
        conn.execute(insert(MARKER_T).values(id=1, counter=1, changed_at=now))
    else:
        conn.execute(
            update(MARKER_T).where(MARKER_T.c.id == 1).values(counter=counter + 1, changed_at=now)
        )


def sync_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    # Explicit ids do not advance PostgreSQL's SERIAL sequences; without this the
    # application's next insert would collide with a demo row.
    for table in tables:
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table.name}), 1), "
            f"(SELECT COUNT(*) > 0 FROM {table.name}))"
        )


class Writer:
    """executemany per table: the raw driver on SQLite (values pre-encoded), Core elsewhere."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self.counts: dict[str, int] = {}

    def insert(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = COLUMNS[table.name]
        if self.sqlite:
            if type(rows[0]) is not tuple:
                # sqlite3 binds exact tuples much faster than NamedTuples (about 30%).
                rows = [tuple(row) for row in rows]
            quote = self.conn.dialect.identifier_preparer.quote
            sql = (
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            self.conn.exec_driver_sql(sql, rows)
        else:
            statement = insert(table)
            for start in range(0, len(rows), PG_CHUNK_ROWS):
                chunk = rows[start : start + PG_CHUNK_ROWS]
                self.conn.execute(
                    statement, [dict(zip(columns, row, strict=True)) for row in chunk]
                )
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)


def sqlite_timestamp(value: datetime) -> str:
    # What UtcDateTime stores on SQLite: naive UTC text, always with microseconds.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # drop the "+00:00"


def sqlite_date(value: date) -> str:
    return value.isoformat()


def identity(value: T) -> T:
    return value


def cached(encode: Callable[[T], Any]) -> Callable[[T], Any]:
    # Dates repeat a lot (due dates, expiry, departure): encode each once.
    seen: dict[T, Any] = {}

    def lookup(value: T) -> Any:
        found = seen.get(value)
        if found is None:
            found = seen[value] = encode(value)
        return found

    return lookup
