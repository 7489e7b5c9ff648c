"""Realistic, deterministic demo data, loaded fast.

`load_demo` fills the database with invented patients, episodes, products,
touchpoints, contact attempts, triages, incidents and (already acknowledged)
escalations, so the queue and every screen have something to show. The same
(patients, seed, now) always gives the same rows: one `random.Random(seed)`,
no wall clock, no uuid4, primary keys assigned here.

Speed matters (100,000 patients, about two million rows, in about 22 s on
SQLite), so rows are tuples (named ones, except in the touchpoint/attempt hot
path) written with executemany in blocks of patients. Primary keys are
assigned here, after the current maximum. On SQLite the values are
pre-encoded exactly as SQLAlchemy stores them and handed to the driver,
skipping per-row bind processing (tests/db/test_demo.py compares the stored
text with SQLAlchemy's own processors); PostgreSQL goes through Core
`insert()`. Touchpoint windows come from `core.schedules.touchpoint_window`,
memoised per (procedure date, time zone, template), so there is still one
definition of a window.
"""

from __future__ import annotations

import json
import random
import unicodedata
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate, count
from typing import Any, Generic, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from core.domain import (
    Channel,
    ContactOutcome,
    Disposition,
    EscalationStatus,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    NotificationStatus,
    Protocol,
    Seriousness,
    TouchpointResolution,
    Trend,
)
from core.schedules import CLINIC_TZ, builtin_templates, touchpoint_window
from db import demo_people as people
from db.errors import StorageError, explain_operational_error
from db.models import (
    Base,
    ChangeMarker,
    ContactAttempt,
    Escalation,
    Incident,
    IncidentEntry,
    OutboxNotification,
    Patient,
    ProductGiven,
    Staff,
    Touchpoint,
    TreatmentEpisode,
    TriageAssessment,
)

T = TypeVar("T")

# Patients generated and written per round: bounds memory, keeps executemany batches large.
BLOCK_PATIENTS = 5000
PG_CHUNK_ROWS = 5000
# SQLite page cache while loading (KiB): 64 MiB saves ~10% at 100k patients; more does not help.
SQLITE_LOAD_CACHE_KIB = 65_536
RULES_VERSION = "demo"
DEMO_STAFF_PREFIX = "demo-"


class RealDataPresent(StorageError):
    """The database holds real (non-demo) patients and `force` was not given."""


@dataclass(frozen=True)
class DemoSummary:
    """How many demo rows `load_demo` wrote, per kind."""

    patients: int
    episodes: int
    products: int
    touchpoints: int
    contact_attempts: int
    triages: int
    incidents: int
    escalations: int
    staff: int


def load_demo(
    engine: Engine, *, patients: int, seed: int, now: datetime, force: bool = False
) -> DemoSummary:
    """Replace the demo data with `patients` invented patients, in one transaction.

    Refuses with `RealDataPresent` (writing nothing) when non-demo patients exist,
    unless `force`. Earlier demo rows are deleted first, demo staff (`demo-*`) are
    reused, and the change marker is bumped. Same arguments, same rows.
    """
    if patients < 0:
        raise ValueError("patients must be 0 or more")
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    try:
        with engine.begin() as conn, _sqlite_load_tuning(conn):
            _begin_write(conn)
            real = conn.scalar(
                select(func.count()).select_from(PATIENT_T).where(PATIENT_T.c.is_demo.is_(False))
            )
            if real and not force:
                noun = "patient" if real == 1 else "patients"
                raise RealDataPresent(
                    f"database holds {real} non-demo {noun}; refusing to add demo data "
                    "(use --force to add it anyway)"
                )
            _delete_demo(conn)
            staff = _upsert_staff(conn, now)
            writer = _Writer(conn)
            generator = _Generator(random.Random(seed), now, staff, writer.sqlite, _next_ids(conn))
            for start in range(0, patients, BLOCK_PATIENTS):
                rows = generator.block(start, min(start + BLOCK_PATIENTS, patients))
                for table in INSERT_ORDER:
                    writer.insert(table, rows[table.name])
            _bump_change_marker(conn, now)
            if not writer.sqlite:
                _sync_sequences(conn, (STAFF_T, *INSERT_ORDER))
    except DBAPIError as exc:
        raise explain_operational_error(exc, engine.url) from exc
    counts = writer.counts
    return DemoSummary(
        patients=counts.get("patient", 0),
        episodes=counts.get("treatment_episode", 0),
        products=counts.get("product_given", 0),
        touchpoints=counts.get("touchpoint", 0),
        contact_attempts=counts.get("contact_attempt", 0),
        triages=counts.get("triage_assessment", 0),
        incidents=counts.get("incident", 0),
        escalations=counts.get("escalation", 0),
        staff=len(staff.all_ids),
    )


# ---------------------------------------------------------------------------- rows
# One named tuple per table; field names are the column names. Values that
# differ per backend (timestamps, dates, JSON) are typed Any: they hold text on
# SQLite and Python objects on PostgreSQL.


class _PatientRow(NamedTuple):
    id: int
    code: str
    given_name: str
    family_name: str
    birth_date: Any
    home_country: str
    current_country: str
    language: str
    timezone: str
    channel: str
    channel_handle: str
    phone: str | None
    email: str | None
    assigned_to_id: int | None
    latest_disposition: str | None
    last_contact_at: Any
    last_heard_at: Any
    is_demo: bool
    created_at: Any
    version: int


class _EpisodeRow(NamedTuple):
    id: int
    patient_id: int
    procedure_at: Any
    protocol: str
    treating_physician_id: int
    nurse_name: str
    nurse_license_ref: str
    addons: Any
    schedule_templates: Any
    departure_date: Any
    travel_insurer: str | None
    travel_policy_number: str | None
    khidi_cover_ref: str
    allergies: str | None
    vasovagal_history: bool
    sensitive_skin: bool
    documentation: Any
    created_at: Any
    version: int


class _ProductRow(NamedTuple):
    id: int
    episode_id: int
    name: str
    mfds_reference: str
    manufacturer: str
    lot_number: str
    expiry_date: Any
    dose: str


class _TouchpointRow(NamedTuple):
    id: int
    episode_id: int
    patient_id: int
    template: str
    day: int
    due_date: Any
    opens_at: Any
    closes_at: Any
    ask: str
    photos_wanted: bool
    resolution: str | None
    resolved_at: Any
    resolved_by_id: int | None
    note: str | None
    version: int


class _AttemptRow(NamedTuple):
    id: int
    touchpoint_id: int
    patient_id: int
    at: Any
    channel: str
    outcome: str
    note: str | None
    staff_id: int


class _TriageRow(NamedTuple):
    id: int
    patient_id: int
    episode_id: int
    touchpoint_id: int | None
    assessed_at: Any
    day: int
    temperature_c: float | None
    trend: str | None
    symptoms: Any
    current_country: str
    computed_disposition: str
    chosen_disposition: str
    override_reason: str | None
    reasons: Any
    rules_version: str
    note: str | None
    staff_id: int


class _IncidentRow(NamedTuple):
    id: int
    patient_id: int
    episode_id: int
    triage_id: int
    category: str
    onset_date: Any
    onset_day: int
    learned_on: Any
    seriousness: str
    severity_grade: int
    outcome: str
    suspect_product_id: int
    causality: str
    actions_taken: str
    status: str
    report_due_on: Any
    reported_on: Any
    report_reference: str | None
    khidi_escalated_on: Any
    khidi_reference: str | None
    created_at: Any
    version: int


class _EntryRow(NamedTuple):
    id: int
    incident_id: int
    at: Any
    staff_id: int
    kind: str
    text: str


class _EscalationRow(NamedTuple):
    id: int
    patient_id: int
    incident_id: int | None
    triage_id: int
    disposition: str
    status: str
    current_step: int
    cycle: int
    next_step_at: Any
    created_at: Any
    acknowledged_at: Any
    acknowledged_by_id: int
    resolved_at: Any
    version: int


class _OutboxRow(NamedTuple):
    id: int
    escalation_id: int
    step: int
    cycle: int
    target_tag: str
    idempotency_key: str
    title: str
    body: str
    status: str
    attempts: int
    next_attempt_at: Any
    lease_owner: str | None
    lease_expires_at: Any
    sent_at: Any
    last_error: str | None
    results: Any
    created_at: Any


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


STAFF_T = _table(Staff)
PATIENT_T = _table(Patient)
EPISODE_T = _table(TreatmentEpisode)
PRODUCT_T = _table(ProductGiven)
TOUCHPOINT_T = _table(Touchpoint)
ATTEMPT_T = _table(ContactAttempt)
TRIAGE_T = _table(TriageAssessment)
INCIDENT_T = _table(Incident)
ENTRY_T = _table(IncidentEntry)
ESCALATION_T = _table(Escalation)
OUTBOX_T = _table(OutboxNotification)
MARKER_T = _table(ChangeMarker)

# Insert order respects foreign keys. Columns are written by name, so a new
# nullable column elsewhere in the model does not break the demo.
INSERT_ORDER: tuple[Table, ...] = (
    PATIENT_T, EPISODE_T, PRODUCT_T, TOUCHPOINT_T, ATTEMPT_T, TRIAGE_T, INCIDENT_T,
    ENTRY_T, ESCALATION_T, OUTBOX_T,
)  # fmt: skip
COLUMNS: dict[str, tuple[str, ...]] = {
    "patient": _PatientRow._fields,
    "treatment_episode": _EpisodeRow._fields,
    "product_given": _ProductRow._fields,
    "touchpoint": _TouchpointRow._fields,
    "contact_attempt": _AttemptRow._fields,
    "triage_assessment": _TriageRow._fields,
    "incident": _IncidentRow._fields,
    "incident_entry": _EntryRow._fields,
    "escalation": _EscalationRow._fields,
    "outbox_notification": _OutboxRow._fields,
}
_Rows = dict[str, list[tuple[Any, ...]]]


# ---------------------------------------------------------------------------- storage


@contextmanager
def _sqlite_load_tuning(conn: Connection) -> Iterator[None]:
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


def _begin_write(conn: Connection) -> None:
    # pysqlite starts a deferred transaction only at the first write, so the
    # "any real patients?" check would run outside it. BEGIN IMMEDIATE takes the
    # write lock first: the check and the load see the same database.
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _delete_demo(conn: Connection) -> None:
    """Delete every demo patient and the rows hanging off them, children first."""
    demo_patients = select(PATIENT_T.c.id).where(PATIENT_T.c.is_demo.is_(True))
    escalations = select(ESCALATION_T.c.id).where(ESCALATION_T.c.patient_id.in_(demo_patients))
    incidents = select(INCIDENT_T.c.id).where(INCIDENT_T.c.patient_id.in_(demo_patients))
    episodes = select(EPISODE_T.c.id).where(EPISODE_T.c.patient_id.in_(demo_patients))
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
class _StaffIds:
    coordinators: tuple[int, ...]
    physicians: tuple[int, ...]
    tags: dict[int, str]
    names: dict[int, str]
    all_ids: tuple[int, ...]
    senior: int
    on_call: int


def _upsert_staff(conn: Connection, now: datetime) -> _StaffIds:
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
    return _StaffIds(
        coordinators=tuple(ids[m.username] for m in people.COORDINATORS),
        physicians=tuple(ids[m.username] for m in people.PHYSICIANS),
        tags=tags,
        names={ids[m.username]: m.display_name for m in everyone},
        all_ids=tuple(ids.values()),
        senior=by_tag[people.SENIOR_TAG],
        on_call=by_tag[people.ON_CALL_TAG],
    )


def _next_ids(conn: Connection) -> dict[str, Iterator[int]]:
    # Keys are assigned here (after the current maximum) so rows can reference
    # each other before they are written, without RETURNING round trips.
    return {
        table.name: count((conn.scalar(select(func.max(table.c.id))) or 0) + 1)
        for table in INSERT_ORDER
    }


def _bump_change_marker(conn: Connection, now: datetime) -> None:
    counter = conn.scalar(select(MARKER_T.c.counter).where(MARKER_T.c.id == 1))
    if counter is None:
        conn.execute(insert(MARKER_T).values(id=1, counter=1, changed_at=now))
    else:
        conn.execute(
            update(MARKER_T).where(MARKER_T.c.id == 1).values(counter=counter + 1, changed_at=now)
        )


def _sync_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    # Explicit ids do not advance PostgreSQL's SERIAL sequences; without this the
    # application's next insert would collide with a demo row.
    for table in tables:
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table.name}), 1), "
            f"(SELECT COUNT(*) > 0 FROM {table.name}))"
        )


class _Writer:
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


def _sqlite_timestamp(value: datetime) -> str:
    # What UtcDateTime stores on SQLite: naive UTC text, always with microseconds.
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # drop the "+00:00"


def _sqlite_date(value: date) -> str:
    return value.isoformat()


def _identity(value: T) -> T:
    return value


def _cached(encode: Callable[[T], Any]) -> Callable[[T], Any]:
    # Dates repeat a lot (due dates, expiry, departure): encode each once.
    seen: dict[T, Any] = {}

    def lookup(value: T) -> Any:
        found = seen.get(value)
        if found is None:
            found = seen[value] = encode(value)
        return found

    return lookup


# ---------------------------------------------------------------------------- triage


_SITE = frozenset({"flush", "erythema", "mild_swelling", "swelling", "itching"})
_MINOR = frozenset({"pinpoint_bruising", "tightness_dryness", "flaking"})
_WORSENING_URGENT = frozenset({"flush", "erythema", "swelling", "warmth", "expanding_redness"})
_URGENT, _EMERGENCY = Disposition.URGENT, Disposition.EMERGENCY
_SINGLE_RULES: tuple[tuple[str, Disposition, str, str], ...] = (
    ("nodule", Disposition.REVIEW, "nodule_any_day", "new lump or hard area at a site"),
    ("warmth expanding_redness", Disposition.REVIEW, "infection_signs", "infection sign"),
    ("iv_site_pain iv_site_swelling", Disposition.REVIEW, "iv_site", "IV-site problem"),
    ("severe_itching", Disposition.REVIEW, "allergic_itching", "allergic-type reaction"),
    ("chills fatigue nausea dizziness", Disposition.REVIEW, "systemic", "systemic symptom"),
    ("pus red_streaks", _URGENT, "pus_or_streaks", "infection sign"),
    ("hives facial_swelling_beyond_area", _URGENT, "allergic", "allergic-type reaction"),
    ("persistent_vomiting increasing_pain", _EMERGENCY, "vomiting_pain", "red flag"),
    ("numbness weakness vision_change confusion", _EMERGENCY, "neuro", "neurological"),
    (
        "shortness_of_breath chest_tightness throat_tightness wheezing",
        _EMERGENCY,
        "respiratory",
        "possible anaphylaxis",
    ),
    ("palpitations fainting", _EMERGENCY, "cardiovascular", "cardiovascular"),
    ("blistering_or_dark_skin", _EMERGENCY, "necrotising", "possible necrotising infection"),
)
_SINGLE: dict[str, tuple[Disposition, str, str]] = {
    code: (disposition, rule, why)
    for codes, disposition, rule, why in _SINGLE_RULES
    for code in codes.split()
}


def demo_triage(
    day: int, temperature_c: float | None, trend: Trend | None, symptoms: Sequence[str]
) -> tuple[Disposition, list[dict[str, str]]]:
    """A plausible reading of DOMAIN.md section 4 for demo rows (not the rules engine).

    Returns the highest disposition any finding reaches and one reason per finding.
    """
    fired: list[tuple[Disposition, str, str]] = []
    for code in symptoms:
        label = code.replace("_", " ")
        if trend == Trend.WORSENING and day >= 2 and code in _WORSENING_URGENT:
            fired.append((Disposition.URGENT, "worsening_from_day_2", f"{label}, getting worse"))
        elif code in _SITE and day <= 3:
            fired.append((Disposition.EXPECTED, "site_day_0_3", f"{label} in the first 72 hours"))
        elif code in _SITE and (day <= 7 or code == "itching"):
            fired.append((Disposition.MONITOR, "site_day_4_7", f"{label} still there on day {day}"))
        elif code in _SITE:
            fired.append((Disposition.REVIEW, "site_after_day_7", f"{label} beyond seven days"))
        elif code in _MINOR:
            late = day > 7
            fired.append(
                (Disposition.MONITOR, "minor_after_day_7", f"{label} after the first week")
                if late
                else (Disposition.EXPECTED, "minor_day_0_7", f"{label} in the first week")
            )
        elif code in _SINGLE:
            disposition, rule, why = _SINGLE[code]
            fired.append((disposition, rule, f"{label}: {why}"))
        else:
            raise ValueError(f"unknown symptom code {code!r}")
    if temperature_c is not None and temperature_c > 38.5:
        fired.append((Disposition.EMERGENCY, "fever_above_38_5", f"temperature {temperature_c} °C"))
    elif temperature_c is not None and temperature_c >= 38.0:
        fired.append((Disposition.URGENT, "fever_38_0_to_38_5", f"temperature {temperature_c} °C"))
    if not fired:
        fired.append((Disposition.EXPECTED, "nothing_reported", "nothing reported: normal course"))
    reasons = [{"rule": rule, "text": why} for _, rule, why in fired]
    return Disposition.highest([d for d, _, _ in fired]), reasons


def _step(disposition: Disposition, by: int) -> Disposition:
    order = list(Disposition)
    return order[max(0, min(len(order) - 1, order.index(disposition) + by))]


# ---------------------------------------------------------------------------- generation

# Enum values as plain str, looked up once rather than per row.
_DONE = TouchpointResolution.DONE.value
_SKIPPED = TouchpointResolution.SKIPPED.value
_UNREACHABLE = TouchpointResolution.UNREACHABLE.value
_REACHED = ContactOutcome.REACHED.value
_PHOTO = ContactOutcome.PHOTO_RECEIVED.value
_MESSAGE_SENT = ContactOutcome.MESSAGE_SENT.value
_FAILED = (ContactOutcome.NO_ANSWER.value, ContactOutcome.MESSAGE_SENT.value)
_NOT_YET = (*_FAILED, ContactOutcome.CALL_LATER.value)
_IV_PROTOCOLS = frozenset({Protocol.EXOSOME_IV, Protocol.EXOSOME_IV_MICRONEEDLING})
_HEARD = frozenset(o.value for o in ContactOutcome if o.heard_from_patient)
_RECENT = timedelta(days=30)
_OPEN_PAGE = timedelta(days=3)


def _randint(rng: random.Random, low: int, high: int) -> int:
    # rng.randint costs five Python calls; this one float draw is plenty for demo data.
    return low + int(rng.random() * (high - low + 1))


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    # Same job as rng.choice at a fraction of the cost; determinism is unaffected.
    return items[int(rng.random() * len(items))]


class _Weighted(Generic[T]):
    """Weighted choice by bisection: far cheaper than `Random.choices` per call."""

    def __init__(self, items: Sequence[tuple[T, float]]) -> None:
        self.values = [value for value, _ in items]
        self.cumulative = list(accumulate(weight for _, weight in items))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


class _Slot(NamedTuple):
    """One touchpoint window of one template, with its values pre-encoded."""

    day: int
    ask: str
    photos: bool
    opens_at: datetime
    closes_at: datetime
    seconds: int  # length of the window
    due_db: Any
    opens_db: Any
    closes_db: Any


@dataclass
class _PatientState:
    """What the patient row needs to know about its episodes once they are generated."""

    id: int
    code: str
    channel: str
    fallback: str
    coordinator: int | None
    country: str
    last_contact: datetime | None = None
    last_heard: datetime | None = None
    latest_triage: tuple[datetime, Disposition] | None = None


class _EpisodeFacts(NamedTuple):
    """The parts of an episode that its triage, incident and escalation refer to."""

    id: int
    protocol: Protocol
    physician: int
    coordinator: int
    procedure_at: datetime
    local_day: date
    suspect_product: int


class _Generator:
    """Builds the rows for a range of patients; all randomness comes from `rng`."""

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        staff: _StaffIds,
        sqlite: bool,
        ids: dict[str, Iterator[int]],
    ) -> None:
        self.rng = rng
        self.now = now
        self.today = now.astimezone(CLINIC_TZ).date()
        self.staff = staff
        self.ids = ids
        self.attempt_ids = ids["contact_attempt"]
        self.attempts: list[tuple[Any, ...]] = []
        self.ts: Callable[[datetime], Any] = _sqlite_timestamp if sqlite else _identity
        self.day: Callable[[date], Any] = _cached(_sqlite_date) if sqlite else _identity
        # SQLAlchemy's JSON type stores json.dumps text on SQLite.
        self.encode_json: Callable[[Any], Any] = json.dumps if sqlite else _identity
        self.templates = builtin_templates()
        self.countries = _Weighted([(c, c.weight) for c in people.COUNTRIES])
        self.tz_pick = {c.code: _Weighted(c.timezones) for c in people.COUNTRIES}
        self.channel_pick = {c.code: _Weighted(c.channels) for c in people.COUNTRIES}
        self.protocols = _Weighted(people.PROTOCOL_WEIGHTS)
        self.scenario_pick: dict[tuple[int, bool], _Weighted[people.Scenario]] = {}
        self.zones: dict[str, ZoneInfo] = {}
        self.slots: dict[tuple[date, str, str], tuple[_Slot, ...]] = {}
        self.json_cache: dict[tuple[Any, ...], Any] = {}
        self.slugs: dict[str, str] = {}
        self.lots = self._make_lots()
        self.usable_lots: dict[tuple[str, date], list[tuple[date, str, date]]] = {}

    # -- helpers -------------------------------------------------------------

    def _take(self, table: str) -> int:
        return next(self.ids[table])

    def _json(self, key: tuple[Any, ...], build: Callable[[Any], Any], source: Any) -> Any:
        """JSON value `build(source)`, encoded once per distinct `key`.

        Few distinct add-on/template/checklist/symptom combinations exist, and on
        PostgreSQL the shared object is only read by the driver.
        """
        cached = self.json_cache.get(key)
        if cached is None:
            cached = self.json_cache[key] = self.encode_json(build(source))
        return cached

    def _between(self, start: datetime, seconds: int) -> datetime:
        """A whole-second instant in [start, start + seconds); `start` if seconds <= 0."""
        if seconds <= 0:
            return start
        return start + timedelta(seconds=int(seconds * self.rng.random()))

    def _slug(self, name: str) -> str:
        slug = self.slugs.get(name)
        if slug is None:
            ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
            slug = self.slugs[name] = "".join(ch for ch in ascii_name.lower() if ch.isalnum())
        return slug

    def _windows(
        self, procedure_at: datetime, local_day: date, tz_name: str, template: str
    ) -> tuple[_Slot, ...]:
        # A window depends only on the clinic-local procedure date, the zone and the
        # plan, so a few thousand calls cover a hundred thousand episodes.
        key = (local_day, tz_name, template)
        slots = self.slots.get(key)
        if slots is None:
            zone = self.zones.get(tz_name) or self.zones.setdefault(tz_name, ZoneInfo(tz_name))
            built = []
            for plan in self.templates[template].touchpoints:
                window = touchpoint_window(procedure_at, plan, zone)
                opens, closes = window.opens_at, window.closes_at
                seconds = int((closes - opens).total_seconds())
                encoded = (self.day(window.due_date), self.ts(opens), self.ts(closes))
                built.append(
                    _Slot(plan.day, plan.ask, plan.photos, opens, closes, seconds, *encoded)
                )
            slots = self.slots[key] = tuple(built)
        return slots

    def _make_lots(self) -> dict[str, list[tuple[date, str, date]]]:
        """Per product: lots (made on, lot number, expiry), oldest first, shared by patients."""
        lots: dict[str, list[tuple[date, str, date]]] = {}
        for key, product in people.PRODUCTS.items():
            lots[key] = []
            for age in (620, 470, 330, 210, 120, 45):
                made = self.today - timedelta(days=age + _randint(self.rng, 0, 20))
                number = f"{product.lot_prefix}{made:%y}{made:%m}{_randint(self.rng, 1, 999):03d}"
                # Two years' shelf life, expiring at the start of the month.
                lots[key].append((made, number, date(made.year + 2, made.month, 1)))
        return lots

    # -- patients and episodes ------------------------------------------------

    def block(self, first: int, stop: int) -> _Rows:
        """Rows for patients number `first` (0-based) up to `stop`, keyed by table name."""
        rows: _Rows = {table.name: [] for table in INSERT_ORDER}
        self.attempts = rows["contact_attempt"]
        for index in range(first, stop):
            self._patient(index, rows)
        return rows

    def _patient(self, index: int, rows: _Rows) -> None:
        rng = self.rng
        country = self.countries.pick(rng)
        if country.native_names and rng.random() < 0.15:
            family, given, family_latin, given_latin = _pick(rng, country.native_names)
        else:
            female = rng.random() < 0.82  # most aesthetic patients are women
            family = family_latin = _pick(rng, country.family_names)
            given = given_latin = _pick(rng, country.female_given if female else country.male_given)
        number = _randint(rng, 10, 99)
        channel = self.channel_pick[country.code].pick(rng)
        phone = None
        if country.phone_style == "us":
            phone = f"+1-555-01{_randint(rng, 0, 99):02d}"
        elif country.phone_style == "gb":
            phone = f"+44-7700-900{_randint(rng, 0, 999):03d}"
        email = None
        if channel is Channel.EMAIL or rng.random() < 0.7:
            domain = "example.org" if rng.random() < 0.5 else "example.com"
            email = f"{self._slug(given_latin)}.{self._slug(family_latin)}{number}@{domain}"
        handle = _handle(
            channel,
            f"{self._slug(given_latin)}_{self._slug(family_latin)[:1]}{number}",
            phone,
            email,
        )
        current = country.code
        if rng.random() < 0.03:
            current = _pick(rng, [c for c in people.TRAVEL_COUNTRIES if c != country.code])
        coordinator = _pick(rng, self.staff.coordinators) if rng.random() < 0.75 else None
        state = _PatientState(
            id=self._take("patient"),
            code=f"D-{index + 1:06d}",
            channel=channel.value,
            fallback=Channel.EMAIL.value if email else channel.value,
            coordinator=coordinator,
            country=current,
        )
        tz_name = self.tz_pick[country.code].pick(rng)
        age_days = int(rng.triangular(24, 66, 41) * 365.25)
        trips = [_randint(rng, 1, 120)]  # days ago, clinic calendar
        if rng.random() < 0.10:
            # A returning patient: the previous trip was six to fourteen months earlier.
            trips.insert(0, trips[0] + _randint(rng, 180, 420))
        created = [self._episode(state, country, tz_name, ago, rows) for ago in trips]
        first_seen = created[0]
        ts = self.ts
        rows["patient"].append(
            _PatientRow(
                id=state.id,
                code=state.code,
                given_name=given,
                family_name=family,
                birth_date=self.day(self.today - timedelta(days=age_days)),
                home_country=country.code,
                current_country=current,
                language=country.language,
                timezone=tz_name,
                channel=channel.value,
                channel_handle=handle,
                phone=phone,
                email=email,
                assigned_to_id=coordinator,
                latest_disposition=state.latest_triage[1].value if state.latest_triage else None,
                last_contact_at=ts(state.last_contact) if state.last_contact else None,
                last_heard_at=ts(state.last_heard) if state.last_heard else None,
                is_demo=True,
                created_at=ts(first_seen - timedelta(days=_randint(rng, 2, 40))),
                version=1,
            )
        )

    def _episode(
        self,
        patient: _PatientState,
        country: people.CountryProfile,
        tz_name: str,
        days_ago: int,
        rows: _Rows,
    ) -> datetime:
        """One episode with its products, touchpoints and maybe a triage; returns created_at."""
        rng = self.rng
        local_day = self.today - timedelta(days=days_ago)
        # Clinic hours in Seoul, on the quarter hour.
        at = time(_randint(rng, 9, 17), _pick(rng, (0, 15, 30, 45)))
        procedure_at = datetime.combine(local_day, at, CLINIC_TZ).astimezone(UTC)
        protocol = self.protocols.pick(rng)
        iv = protocol in _IV_PROTOCOLS
        addons = ["b_complex"] if rng.random() < (0.35 if iv else 0.08) else []
        roll = rng.random()
        if roll < (0.08 if iv else 0.02):
            addons.append("glutathione_high_dose")
        elif roll < (0.35 if iv else 0.10):
            addons.append("glutathione")
        templates = ["standard"]
        if rng.random() < 0.30:
            templates.append("extended")
        if protocol.involves_exosomes:
            templates.append("granuloma-watch")
        if rng.random() < 0.20:
            templates.append("return-cycle")
        physician = _pick(rng, self.staff.physicians)
        nurse, nurse_licence = _pick(rng, people.TREATMENT_NURSES)
        insurer = policy = None
        if rng.random() < 0.65:
            insurer = _pick(rng, country.insurers)
            policy = f"TP-{_randint(rng, 10_000_000, 99_999_999)}"
        checklist = tuple(rng.random() < share for _, share in people.DOCUMENT_ITEMS)
        created_at = procedure_at - timedelta(hours=_randint(rng, 2, 24 * 21))
        episode_id = self._take("treatment_episode")
        rows["treatment_episode"].append(
            _EpisodeRow(
                id=episode_id,
                patient_id=patient.id,
                procedure_at=self.ts(procedure_at),
                protocol=protocol.value,
                treating_physician_id=physician,
                nurse_name=nurse,
                nurse_license_ref=nurse_licence,
                addons=self._json(("addons", *addons), list, addons),
                schedule_templates=self._json(("templates", *templates), list, templates),
                departure_date=self.day(local_day + timedelta(days=_randint(rng, 1, 5))),
                travel_insurer=insurer,
                travel_policy_number=policy,
                khidi_cover_ref=people.KHIDI_COVER_REF,
                allergies=_pick(rng, people.ALLERGIES) if rng.random() < 0.12 else None,
                vasovagal_history=rng.random() < 0.05,
                sensitive_skin=rng.random() < 0.15,
                documentation=self._json(("docs", *checklist), _checklist, checklist),
                created_at=self.ts(created_at),
                version=1,
            )
        )
        facts = _EpisodeFacts(
            id=episode_id,
            protocol=protocol,
            physician=physician,
            coordinator=patient.coordinator or _pick(rng, self.staff.coordinators),
            procedure_at=procedure_at,
            local_day=local_day,
            suspect_product=self._products(episode_id, protocol, addons, local_day, rows),
        )
        heard = self._touchpoints(patient, facts, templates, tz_name, rows)
        if heard and rng.random() < 0.17:
            touchpoint_id, assessed_at = _pick(rng, heard)
            self._triage(patient, facts, touchpoint_id, assessed_at, rows)
        return created_at

    def _products(
        self, episode_id: int, protocol: Protocol, addons: list[str], local_day: date, rows: _Rows
    ) -> int:
        """Write 1-3 products; returns the id of the main one (the usual suspect product)."""
        keys = [*people.PROTOCOL_PRODUCTS[protocol], *(people.ADDON_PRODUCTS[a] for a in addons)]
        first_id = 0
        for key in keys[:3]:
            product = people.PRODUCTS[key]
            usable = self.usable_lots.get((key, local_day))
            if usable is None:
                # The two newest lots made at least two weeks before the procedure.
                made_by = local_day - timedelta(days=14)
                fits = [lot for lot in self.lots[key] if lot[0] <= made_by][-2:]
                usable = self.usable_lots[(key, local_day)] = fits or self.lots[key][:1]
            _, lot_number, expiry = _pick(self.rng, usable)
            product_id = self._take("product_given")
            first_id = first_id or product_id
            rows["product_given"].append(
                _ProductRow(
                    id=product_id,
                    episode_id=episode_id,
                    name=product.name,
                    mfds_reference=product.mfds_reference,
                    manufacturer=product.manufacturer,
                    lot_number=lot_number,
                    expiry_date=self.day(expiry),
                    dose=product.dose,
                )
            )
        return first_id

    # -- touchpoints and contact attempts (the hot path: ~1.6M rows per 100k) --

    def _touchpoints(
        self,
        patient: _PatientState,
        episode: _EpisodeFacts,
        templates: list[str],
        tz_name: str,
        rows: _Rows,
    ) -> list[tuple[int, datetime]]:
        """Touchpoints resolved as a real queue would look at `now`.

        Returns (touchpoint id, when) of done touchpoints where the patient replied:
        the moments a triage can plausibly have happened.
        """
        # Runs ~900k times per 100k patients: locals instead of attribute lookups.
        rng, now, ts, random_ = self.rng, self.now, self.ts, self.rng.random
        attempt, between, next_id = self._attempt, self._between, self.ids["touchpoint"].__next__
        recent = now - _RECENT
        staff_id = episode.coordinator
        out = rows["touchpoint"]
        heard: list[tuple[int, datetime]] = []
        for template in templates:
            notes = people.RETURN_NOTES if template == "return-cycle" else people.DONE_NOTES
            for slot in self._windows(episode.procedure_at, episode.local_day, tz_name, template):
                touchpoint_id = next_id()
                opens, closes = slot.opens_at, slot.closes_at
                resolution: str | None = None
                resolved_at: datetime | None = None
                resolved_db: Any = None
                note: str | None = None
                if closes <= now:
                    # Older gaps were mostly tidied up; the last month still has overdue work.
                    overdue = 0.14 if closes > recent else 0.065
                    roll = random_()
                    if roll < overdue:  # left open: overdue, maybe after failed tries
                        for _ in range(_pick(rng, (0, 0, 1, 2))):
                            at = between(opens, slot.seconds)
                            attempt(patient, touchpoint_id, at, _pick(rng, _FAILED), staff_id)
                    elif roll < overdue + 0.06:
                        resolution, note = _SKIPPED, _pick(rng, people.SKIP_REASONS)
                        resolved_at = between(opens, slot.seconds)
                        resolved_db = ts(resolved_at)
                        if random_() < 0.4:  # the patient asked to skip it
                            attempt(
                                patient, touchpoint_id, resolved_at, _REACHED, staff_id, resolved_db
                            )
                    elif roll < overdue + 0.11:
                        resolution, note = _UNREACHABLE, _pick(rng, people.UNREACHABLE_NOTES)
                        tries = sorted(
                            between(opens, slot.seconds) for _ in range(2 + (random_() < 0.5))
                        )
                        for at in tries:
                            attempt(patient, touchpoint_id, at, _pick(rng, _FAILED), staff_id)
                        resolved_at = tries[-1]
                        resolved_db = ts(resolved_at)
                    else:
                        resolution, note = _DONE, _pick(rng, notes)
                        resolved_at, resolved_db = self._done(
                            patient, touchpoint_id, slot, slot.seconds, staff_id, heard
                        )
                elif opens <= now:
                    so_far = int((now - opens).total_seconds())
                    if random_() < 0.25:  # done early, before the window closes
                        resolution, note = _DONE, _pick(rng, notes)
                        resolved_at, resolved_db = self._done(
                            patient, touchpoint_id, slot, so_far, staff_id, heard
                        )
                    elif random_() < 0.35:  # tried, no reply yet
                        at = between(opens, so_far)
                        attempt(patient, touchpoint_id, at, _pick(rng, _NOT_YET), staff_id)
                # A plain tuple in _TouchpointRow order: ~900k rows, and the SQLite driver
                # binds exact tuples noticeably faster than named ones.
                out.append((
                    touchpoint_id, episode.id, patient.id, template, slot.day, slot.due_db,
                    slot.opens_db, slot.closes_db, slot.ask, slot.photos, resolution,
                    resolved_db, staff_id if resolution else None, note, 1,
                ))  # fmt: skip
        return heard

    def _done(
        self,
        patient: _PatientState,
        touchpoint_id: int,
        slot: _Slot,
        seconds: int,
        staff_id: int,
        heard: list[tuple[int, datetime]],
    ) -> tuple[datetime, Any]:
        """Attempts for a touchpoint completed within `seconds` of its opening.

        Returns when it was resolved (and that instant encoded). Completions where
        the patient replied go to `heard`, return-cycle reminders excepted.
        """
        random_ = self.rng.random
        resolved_at = self._between(slot.opens_at, seconds)
        resolved_db = self.ts(resolved_at)
        if random_() < 0.85:  # the rest were completed without a logged attempt
            if random_() < 0.3:
                first = self._between(
                    slot.opens_at, int((resolved_at - slot.opens_at).total_seconds())
                )
                self._attempt(patient, touchpoint_id, first, _MESSAGE_SENT, staff_id)
            outcome = _PHOTO if slot.photos and random_() < 0.6 else _REACHED
            self._attempt(patient, touchpoint_id, resolved_at, outcome, staff_id, resolved_db)
            if slot.day < 365:
                heard.append((touchpoint_id, resolved_at))
        return resolved_at, resolved_db

    def _attempt(
        self,
        patient: _PatientState,
        touchpoint_id: int,
        at: datetime,
        outcome: str,
        staff_id: int,
        at_db: Any = None,
    ) -> None:
        """Record one contact attempt and keep the patient's last contact/heard in step."""
        random_ = self.rng.random
        channel = patient.channel if random_() < 0.88 else patient.fallback
        note = _pick(self.rng, people.ATTEMPT_NOTES) if random_() < 0.2 else None
        # A plain tuple in _AttemptRow order (see _touchpoints).
        self.attempts.append((
            next(self.attempt_ids), touchpoint_id, patient.id,
            self.ts(at) if at_db is None else at_db, channel, outcome, note, staff_id,
        ))  # fmt: skip
        if patient.last_contact is None or at > patient.last_contact:
            patient.last_contact = at
        if outcome in _HEARD and (patient.last_heard is None or at > patient.last_heard):
            patient.last_heard = at

    # -- triage, incidents, escalations ----------------------------------------

    def _scenario(self, day: int, iv: bool) -> people.Scenario:
        key = (min(day, 10_000), iv)
        pick = self.scenario_pick.get(key)
        if pick is None:
            fits = [
                (s, s.weight)
                for s in people.SCENARIOS
                if s.first_day <= day <= s.last_day and (iv or not s.iv_only)
            ]
            pick = self.scenario_pick[key] = _Weighted(fits)
        return pick.pick(self.rng)

    def _triage(
        self,
        patient: _PatientState,
        episode: _EpisodeFacts,
        touchpoint_id: int,
        assessed_at: datetime,
        rows: _Rows,
    ) -> None:
        rng = self.rng
        day = (assessed_at.astimezone(CLINIC_TZ).date() - episode.local_day).days
        scenario = self._scenario(day, episode.protocol in _IV_PROTOCOLS)
        computed, reasons = demo_triage(
            day, scenario.temperature_c, scenario.trend, scenario.symptoms
        )
        chosen, override = computed, None
        roll = rng.random()
        if computed in (Disposition.EXPECTED, Disposition.MONITOR) and roll < 0.04:
            chosen, override = _step(computed, +1), people.OVERRIDE_UP
        elif computed is Disposition.REVIEW and roll < 0.08:
            chosen, override = _step(computed, -1), people.OVERRIDE_DOWN
        triage_id = self._add_triage(
            patient, episode, touchpoint_id, assessed_at, day, scenario.temperature_c,
            scenario.trend, scenario.symptoms, computed, chosen, override, reasons, rows,
        )  # fmt: skip
        incident_id = None
        if chosen.opens_incident:
            incident_id = self._incident(
                patient, episode, triage_id, chosen, scenario, assessed_at, rows
            )
        if chosen.pages_physician:
            self._escalation(
                patient, episode, incident_id, triage_id, chosen, day, scenario, assessed_at, rows
            )
        follow_up = assessed_at + timedelta(days=2, minutes=_randint(rng, -90, 90))
        if chosen.opens_incident and follow_up <= self.now and rng.random() < 0.35:
            # Two days later the patient reports things settling: the latest word.
            symptoms = scenario.symptoms[:1]
            later_day = (follow_up.astimezone(CLINIC_TZ).date() - episode.local_day).days
            later, later_reasons = demo_triage(later_day, None, Trend.IMPROVING, symptoms)
            self._add_triage(
                patient, episode, None, follow_up, later_day, None, Trend.IMPROVING, symptoms,
                later, later, None, later_reasons, rows,
            )  # fmt: skip

    def _add_triage(
        self,
        patient: _PatientState,
        episode: _EpisodeFacts,
        touchpoint_id: int | None,
        assessed_at: datetime,
        day: int,
        temperature_c: float | None,
        trend: Trend | None,
        symptoms: tuple[str, ...],
        computed: Disposition,
        chosen: Disposition,
        override: str | None,
        reasons: list[dict[str, str]],
        rows: _Rows,
    ) -> int:
        triage_id = self._take("triage_assessment")
        rows["triage_assessment"].append(
            _TriageRow(
                id=triage_id,
                patient_id=patient.id,
                episode_id=episode.id,
                touchpoint_id=touchpoint_id,
                assessed_at=self.ts(assessed_at),
                day=day,
                temperature_c=temperature_c,
                trend=trend.value if trend else None,
                symptoms=self._json(("symptoms", *symptoms), list, symptoms),
                current_country=patient.country,
                computed_disposition=computed.value,
                chosen_disposition=chosen.value,
                override_reason=override,
                reasons=self.encode_json(reasons),
                rules_version=RULES_VERSION,
                note="Photos reviewed with the patient." if self.rng.random() < 0.3 else None,
                staff_id=episode.coordinator,
            )
        )
        if patient.latest_triage is None or assessed_at >= patient.latest_triage[0]:
            patient.latest_triage = (assessed_at, chosen)
        return triage_id

    def _incident(
        self,
        patient: _PatientState,
        episode: _EpisodeFacts,
        triage_id: int,
        chosen: Disposition,
        scenario: people.Scenario,
        assessed_at: datetime,
        rows: _Rows,
    ) -> int:
        rng, today, day = self.rng, self.today, self.day
        found = set(scenario.symptoms)
        category = next(
            (category for codes, category in people.CATEGORY_BY_SYMPTOM if codes & found),
            IncidentCategory.SYSTEMIC if scenario.temperature_c else IncidentCategory.OTHER,
        )
        seriousness, grade = _seriousness(rng, chosen, category)
        learned_on = assessed_at.astimezone(CLINIC_TZ).date()
        onset = max(episode.local_day, learned_on - timedelta(days=_randint(rng, 0, 2)))
        # DOMAIN.md section 6: 7 days fatal/life-threatening, 15 other serious, 30 non-serious.
        if seriousness in (Seriousness.DEATH, Seriousness.LIFE_THREATENING):
            clock_days = 7
        elif seriousness is Seriousness.NON_SERIOUS:
            clock_days = 30
        else:
            clock_days = 15
        due = learned_on + timedelta(days=clock_days)
        age = (today - learned_on).days
        reported_on = None
        # Most past-due reports were filed; a few are late so the clock shows red.
        if (due < today and rng.random() < 0.85) or (age > 1 and rng.random() < 0.3):
            reported_on = learned_on + timedelta(
                days=_randint(rng, 1, max(1, min(clock_days, age)))
            )
        outcome = _incident_outcome(rng, age)
        closed = reported_on is not None and outcome is IncidentOutcome.RESOLVED
        khidi_on = None
        if seriousness is not Seriousness.NON_SERIOUS and rng.random() < 0.3:
            khidi_on = min(today, learned_on + timedelta(days=_randint(rng, 1, 3)))
        incident_id = self._take("incident")
        rows["incident"].append(
            _IncidentRow(
                id=incident_id,
                patient_id=patient.id,
                episode_id=episode.id,
                triage_id=triage_id,
                category=category.value,
                onset_date=day(onset),
                onset_day=(onset - episode.local_day).days,
                learned_on=day(learned_on),
                seriousness=seriousness.value,
                severity_grade=grade,
                outcome=outcome.value,
                suspect_product_id=episode.suspect_product,
                causality=_pick(rng, people.CAUSALITY),
                actions_taken=_pick(rng, people.INCIDENT_ACTIONS),
                status=(IncidentStatus.CLOSED if closed else IncidentStatus.OPEN).value,
                report_due_on=day(due),
                reported_on=day(reported_on) if reported_on else None,
                report_reference=(
                    f"MFDS-AE-{reported_on:%Y}-{_randint(rng, 1, 99999):05d}"
                    if reported_on
                    else None
                ),
                khidi_escalated_on=day(khidi_on) if khidi_on else None,
                khidi_reference=f"KHIDI-{khidi_on:%Y}-{_randint(rng, 1, 9999):04d}"
                if khidi_on
                else None,
                created_at=self.ts(assessed_at),
                version=1,
            )
        )
        coordinator = episode.coordinator
        entries = [(assessed_at, coordinator, "opened", f"Opened from triage ({chosen.value}).")]
        review_at = assessed_at + timedelta(hours=_randint(rng, 2, 20))
        if review_at <= self.now:
            doctor = self.staff.names[episode.physician]
            entries.append((review_at, episode.physician, "review", f"{doctor} reviewed photos."))
        if reported_on is not None:
            at = datetime.combine(reported_on, time(10, 0), CLINIC_TZ).astimezone(UTC)
            if assessed_at < at <= self.now:
                entries.append((at, coordinator, "reported", "Reported to MFDS."))
        for at, staff_id, kind, words in entries:
            rows["incident_entry"].append(
                _EntryRow(
                    id=self._take("incident_entry"),
                    incident_id=incident_id,
                    at=self.ts(at),
                    staff_id=staff_id,
                    kind=kind,
                    text=words,
                )
            )
        return incident_id

    def _escalation(
        self,
        patient: _PatientState,
        episode: _EpisodeFacts,
        incident_id: int | None,
        triage_id: int,
        chosen: Disposition,
        day: int,
        scenario: people.Scenario,
        created_at: datetime,
        rows: _Rows,
    ) -> None:
        """An escalation already acknowledged or resolved: the demo must never page anyone."""
        rng, now, ts, staff = self.rng, self.now, self.ts, self.staff
        escalation_id = self._take("escalation")
        ack_minutes = _randint(rng, 3, 28)
        # Step 2 (the senior physician) only went out if nobody acknowledged within 15 min.
        steps = 2 if ack_minutes > 15 and created_at + timedelta(minutes=16) <= now else 1
        acknowledged_at = min(now, created_at + timedelta(minutes=ack_minutes))
        # Older pages were mostly closed; the last few days' are still being followed up.
        resolved_at: datetime | None = acknowledged_at + timedelta(hours=_randint(rng, 2, 30))
        if resolved_at is not None and (resolved_at > now - _OPEN_PAGE or rng.random() < 0.15):
            resolved_at = None
        status = EscalationStatus.RESOLVED if resolved_at else EscalationStatus.ACKNOWLEDGED
        rows["escalation"].append(
            _EscalationRow(
                id=escalation_id,
                patient_id=patient.id,
                incident_id=incident_id,
                triage_id=triage_id,
                disposition=chosen.value,
                status=status.value,
                current_step=steps,
                cycle=1,
                next_step_at=None,
                created_at=ts(created_at),
                acknowledged_at=ts(acknowledged_at),
                acknowledged_by_id=staff.on_call if rng.random() < 0.6 else episode.physician,
                resolved_at=ts(resolved_at) if resolved_at else None,
                version=1,
            )
        )
        findings = ", ".join(scenario.symptoms) or "no skin findings"
        if scenario.temperature_c is not None:
            findings += f", {scenario.temperature_c} °C"
        body = (
            f"{patient.code} (now in {patient.country}), day {day} after "
            f"{episode.protocol.value}: {chosen.value.upper()}. Findings: {findings}. "
            f"Treating: {staff.names[episode.physician]}. Acknowledge in aftercare."
        )
        for step in range(1, steps + 1):
            # Step 1 pages the on-call and the treating physician, step 2 the senior one.
            if step == 1:
                targets = [staff.tags[staff.on_call], staff.tags[episode.physician]]
            else:
                targets = [staff.tags[staff.senior]]
            step_at = created_at + timedelta(minutes=15 * (step - 1))
            for tag in dict.fromkeys(targets):
                sent_at = min(now, step_at + timedelta(seconds=_randint(rng, 1, 9)))
                results = [
                    {"service": "mailto://***@example.com", "status": "sent", "attempts": 1,
                     "elapsed_ms": _randint(rng, 180, 1400)},
                ]  # fmt: skip
                rows["outbox_notification"].append(
                    _OutboxRow(
                        id=self._take("outbox_notification"),
                        escalation_id=escalation_id,
                        step=step,
                        cycle=1,
                        target_tag=tag,
                        idempotency_key=f"esc-{escalation_id}-step-{step}-{tag}",
                        title=f"[E-{escalation_id} step {step}] {chosen.value.upper()}",
                        body=body,
                        status=NotificationStatus.SENT.value,
                        attempts=1,
                        next_attempt_at=ts(step_at),
                        lease_owner=None,
                        lease_expires_at=None,
                        sent_at=ts(sent_at),
                        last_error=None,
                        results=self.encode_json(results),
                        created_at=ts(step_at),
                    )
                )


def _checklist(given: tuple[bool, ...]) -> dict[str, bool]:
    """The documentation checklist of DOMAIN.md section 2: item -> given."""
    return dict(zip((item for item, _ in people.DOCUMENT_ITEMS), given, strict=True))


def _handle(channel: Channel, base: str, phone: str | None, email: str | None) -> str:
    """A placeholder messenger handle such as "line:yuki_t82"."""
    if channel is Channel.EMAIL and email:
        return email
    if channel in (Channel.SMS, Channel.WHATSAPP, Channel.PHONE) and phone:
        return f"{channel.value}:{phone}"
    prefix = {Channel.WECHAT: "wechat:wxid_", Channel.KAKAOTALK: "kakao:"}
    return prefix.get(channel, f"{channel.value}:") + base


def _seriousness(
    rng: random.Random, chosen: Disposition, category: IncidentCategory
) -> tuple[Seriousness, int]:
    """ICH E2A seriousness and a CTCAE-style grade: mostly non-serious, a few serious."""
    if chosen is Disposition.EMERGENCY:
        roll = rng.random()
        if category is IncidentCategory.ALLERGIC and roll < 0.3:
            return Seriousness.LIFE_THREATENING, 4
        if roll < 0.6:
            return Seriousness.HOSPITALISATION, 3
        if roll < 0.85:
            return Seriousness.MEDICALLY_IMPORTANT, 3
        return Seriousness.NON_SERIOUS, 3
    if chosen is Disposition.URGENT:
        serious = rng.random() < 0.1
        return (Seriousness.MEDICALLY_IMPORTANT if serious else Seriousness.NON_SERIOUS), 2
    return Seriousness.NON_SERIOUS, 1 if rng.random() < 0.7 else 2


def _incident_outcome(rng: random.Random, days_since_learned: int) -> IncidentOutcome:
    """Older events have mostly resolved; fresh ones are still in progress."""
    if days_since_learned > 30:
        return IncidentOutcome.RESOLVED if rng.random() < 0.8 else IncidentOutcome.RECOVERING
    if days_since_learned > 7:
        return _pick(rng, (IncidentOutcome.RECOVERING, IncidentOutcome.RESOLVED))
    return _pick(
        rng, (IncidentOutcome.RECOVERING, IncidentOutcome.NOT_RESOLVED, IncidentOutcome.UNKNOWN)
    )
