"""Typed SQLAlchemy models for the whole domain (docs/clinical-rules.md).

Times are stored as timezone-aware UTC (`UtcDateTime`), calendar dates as
dates. Enumerations are stored as their string values (no native enum types)
so SQLite and PostgreSQL hold the same data and migrations stay simple.
Records that people edit carry a `version` column for optimistic locking.
Models hold data only; queries live in `db/queries.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

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
    Role,
    Seriousness,
    TouchpointResolution,
    Trend,
)

# Named constraints let Alembic drop and recreate them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases.

    SQLite has no time zones and hands back naive values; this type refuses
    naive input and always returns aware UTC, so comparisons never mix the two.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        aware = value.astimezone(UTC)
        # SQLite stores text; keep it naive-UTC so string order is time order.
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the stored ISO text; the C parser is several times
        # faster than the generic one, which matters for queue pages.
        def parse(value: Any) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, str) and len(value) <= 26:
                # Stored naive-UTC ('YYYY-MM-DD HH:MM:SS.ffffff'): parse as UTC in one step.
                return datetime.fromisoformat(value + "+00:00")
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return parse


def enum_column(enum: type[StrEnum]) -> Enum:
    """Store a StrEnum by value in a VARCHAR on every database."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Staff(Base):
    """A clinic employee: coordinator, physician or admin, mapped to an OS login."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    license_ref: Mapped[str | None] = mapped_column(String(64))
    notify_tag: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


class Patient(Base):
    """An international patient followed remotely after their trip."""

    __tablename__ = "patient"
    __table_args__ = (
        # Overdue part of the queue: most severe first, then most overdue.
        Index("ix_patient_queue_overdue", "latest_severity", "next_closes_at"),
        # Due now (window opened, not closed) counted from the index alone.
        Index("ix_patient_next_window", "next_opens_at", "next_closes_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    given_name: Mapped[str] = mapped_column(String(120))
    family_name: Mapped[str] = mapped_column(String(120))
    # The name in the patient's own script (山本 さくら); the two above are the
    # Latin passport name. None = not recorded.
    native_name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    home_country: Mapped[str] = mapped_column(String(2))
    current_country: Mapped[str] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    channel_handle: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # Latest triage outcome, kept here so the queue can sort without a subquery;
    # latest_severity is its rank (Disposition.severity, 0 when never triaged) so
    # an index can order by it. Both are set together by db.followup.
    latest_disposition: Mapped[Disposition | None] = mapped_column(enum_column(Disposition))
    latest_severity: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The patient's next touchpoint: the unresolved one closing first. A cache of
    # the touchpoint table, refreshed in the same transaction as any touchpoint
    # change (db.followup.refresh_next_touchpoint), so the queue reads one row
    # per patient through an index instead of aggregating a million touchpoints.
    next_touchpoint_id: Mapped[int | None] = mapped_column(Integer)
    next_opens_at: Mapped[datetime | None] = mapped_column(index=True)
    next_closes_at: Mapped[datetime | None] = mapped_column(index=True)
    last_contact_at: Mapped[datetime | None]
    last_heard_at: Mapped[datetime | None]
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set while a chunked import is still being written (db.patient_import):
    # such a patient is not yet in the clinic's records, and no read shows it.
    import_batch: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    episodes: Mapped[list[TreatmentEpisode]] = relationship(back_populates="patient")
    assigned_to: Mapped[Staff | None] = relationship()

    @property
    def display_name(self) -> str:
        """Family name first, as the clinic files it."""
        return f"{self.family_name} {self.given_name}"


class TreatmentEpisode(Base):
    """One trip's treatment: procedure, products, add-ons, documentation."""

    __tablename__ = "treatment_episode"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    procedure_at: Mapped[datetime]
    protocol: Mapped[Protocol] = mapped_column(enum_column(Protocol))
    treating_physician_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    nurse_name: Mapped[str | None] = mapped_column(String(120))
    nurse_license_ref: Mapped[str | None] = mapped_column(String(64))
    addons: Mapped[list[Any]] = mapped_column(default=list)
    schedule_templates: Mapped[list[Any]] = mapped_column(default=list)
    departure_date: Mapped[date | None] = mapped_column(Date)
    travel_insurer: Mapped[str | None] = mapped_column(String(120))
    travel_policy_number: Mapped[str | None] = mapped_column(String(64))
    khidi_cover_ref: Mapped[str | None] = mapped_column(String(64))
    # What was asked before the procedure. NULL always means "not recorded",
    # never "no": an import that did not ask must not read as a negative answer.
    # `has_allergies` False is "none known"; True goes with the `allergies` text.
    has_allergies: Mapped[bool | None] = mapped_column(Boolean)
    allergies: Mapped[str | None] = mapped_column(Text)
    vasovagal_history: Mapped[bool | None] = mapped_column(Boolean)
    sensitive_skin: Mapped[bool | None] = mapped_column(Boolean)
    # Whether the products and add-on lists were filled in: True with an empty
    # list is "none given", NULL with an empty list is "not recorded".
    products_recorded: Mapped[bool | None] = mapped_column(Boolean)
    addons_recorded: Mapped[bool | None] = mapped_column(Boolean)
    # Checklist of documents the patient left with: item -> given (bool).
    documentation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    patient: Mapped[Patient] = relationship(back_populates="episodes")
    products: Mapped[list[ProductGiven]] = relationship(back_populates="episode")
    touchpoints: Mapped[list[Touchpoint]] = relationship(back_populates="episode")


class ProductGiven(Base):
    """A product administered in an episode, traceable to its lot."""

    __tablename__ = "product_given"

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("treatment_episode.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    mfds_reference: Mapped[str | None] = mapped_column(String(64))
    manufacturer: Mapped[str | None] = mapped_column(String(200))
    lot_number: Mapped[str | None] = mapped_column(String(64))
    expiry_date: Mapped[date | None] = mapped_column(Date)
    dose: Mapped[str | None] = mapped_column(String(64))
    # Whether the product is an exosome preparation (an ampoule applied with
    # microneedling counts): True, False, or None when nobody recorded it.
    # The granuloma watch follows this, not the protocol's name.
    exosome: Mapped[bool | None] = mapped_column(Boolean)

    episode: Mapped[TreatmentEpisode] = relationship(back_populates="products")


class Touchpoint(Base):
    """A planned contact on day N after the procedure, with its window.

    Only the resolution is stored; scheduled/due/overdue come from
    `core.schedules.touchpoint_state` over `opens_at`/`closes_at`.
    """

    __tablename__ = "touchpoint"
    __table_args__ = (
        # The queue's open touchpoints, in window order.
        Index("ix_touchpoint_open_window", "resolution", "closes_at", "opens_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("treatment_episode.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    template: Mapped[str] = mapped_column(String(64))
    day: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    ask: Mapped[str] = mapped_column(Text)
    photos_wanted: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution: Mapped[TouchpointResolution | None] = mapped_column(
        enum_column(TouchpointResolution)
    )
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    episode: Mapped[TreatmentEpisode] = relationship(back_populates="touchpoints")
    patient: Mapped[Patient] = relationship()


class ContactAttempt(Base):
    """One try to reach a patient for a touchpoint."""

    __tablename__ = "contact_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("touchpoint.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    at: Mapped[datetime]
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    outcome: Mapped[ContactOutcome] = mapped_column(enum_column(ContactOutcome))
    note: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class TriageAssessment(Base):
    """A recorded triage: findings, the computed and the chosen disposition."""

    __tablename__ = "triage_assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("treatment_episode.id"))
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("touchpoint.id"))
    assessed_at: Mapped[datetime]
    day: Mapped[int] = mapped_column(Integer)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    trend: Mapped[Trend | None] = mapped_column(enum_column(Trend))
    symptoms: Mapped[list[Any]] = mapped_column(default=list)
    current_country: Mapped[str] = mapped_column(String(2))
    computed_disposition: Mapped[Disposition] = mapped_column(enum_column(Disposition))
    chosen_disposition: Mapped[Disposition] = mapped_column(enum_column(Disposition))
    override_reason: Mapped[str | None] = mapped_column(Text)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    rules_version: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Kept with the assessment so the timeline and the exports show the lab
    # suggestions as they were made: [{"lab": id, "text": words}, ...].
    labs: Mapped[list[Any]] = mapped_column(default=list)
    # Inputs that were missing and could have raised the outcome ("trend", "protocol").
    needs: Mapped[list[Any]] = mapped_column(default=list)
    # The episode's protocol and add-ons as the rules saw them.
    protocol: Mapped[Protocol | None] = mapped_column(enum_column(Protocol))
    addons: Mapped[list[Any]] = mapped_column(default=list)


class Incident(Base):
    """An adverse event with its reporting clock (docs/clinical-rules.md, Incidents)."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_episode.id"))
    triage_id: Mapped[int | None] = mapped_column(ForeignKey("triage_assessment.id"))
    category: Mapped[IncidentCategory] = mapped_column(enum_column(IncidentCategory))
    onset_date: Mapped[date | None] = mapped_column(Date)
    onset_day: Mapped[int | None] = mapped_column(Integer)
    learned_on: Mapped[date] = mapped_column(Date)
    seriousness: Mapped[Seriousness] = mapped_column(enum_column(Seriousness))
    severity_grade: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[IncidentOutcome] = mapped_column(enum_column(IncidentOutcome))
    suspect_product_id: Mapped[int | None] = mapped_column(ForeignKey("product_given.id"))
    causality: Mapped[str | None] = mapped_column(String(64))
    actions_taken: Mapped[str | None] = mapped_column(Text)
    status: Mapped[IncidentStatus] = mapped_column(enum_column(IncidentStatus), index=True)
    report_due_on: Mapped[date | None] = mapped_column(Date)
    reported_on: Mapped[date | None] = mapped_column(Date)
    report_reference: Mapped[str | None] = mapped_column(String(120))
    khidi_escalated_on: Mapped[date | None] = mapped_column(Date)
    khidi_reference: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    entries: Mapped[list[IncidentEntry]] = relationship(
        back_populates="incident", order_by="IncidentEntry.id"
    )


class IncidentEntry(Base):
    """An append-only timeline entry; corrections are new entries."""

    __tablename__ = "incident_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    at: Mapped[datetime]
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    # The database login that wrote the entry, set by PostgreSQL (session_user, migration
    # 0012), never by the app; NULL on SQLite and for entries written before.
    database_login: Mapped[str | None] = mapped_column(String(64), server_default=FetchedValue())

    incident: Mapped[Incident] = relationship(back_populates="entries")


class Escalation(Base):
    """A physician page that climbs its policy's steps until acknowledged."""

    __tablename__ = "escalation"
    __table_args__ = (Index("ix_escalation_patient_status", "patient_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    triage_id: Mapped[int | None] = mapped_column(ForeignKey("triage_assessment.id"))
    disposition: Mapped[Disposition] = mapped_column(enum_column(Disposition))
    status: Mapped[EscalationStatus] = mapped_column(enum_column(EscalationStatus), index=True)
    current_step: Mapped[int] = mapped_column(Integer, default=1)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    # When the current step's wait runs out; a database row, not a sleep.
    next_step_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolved_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    notifications: Mapped[list[OutboxNotification]] = relationship(back_populates="escalation")


class OutboxNotification(Base):
    """One delivery to one target tag for one escalation step (transactional outbox)."""

    __tablename__ = "outbox_notification"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    target_tag: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[NotificationStatus] = mapped_column(enum_column(NotificationStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Per-service results (status, attempts, elapsed, masked URL), secrets redacted.
    results: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    # The Apprise file the latest attempt was sent with (each attempt's is also in
    # `results`), so the alerts screen can say which configuration sent each page.
    config_path: Mapped[str | None] = mapped_column(Text)
    config_sha256: Mapped[str | None] = mapped_column(String(64))

    escalation: Mapped[Escalation] = relationship(back_populates="notifications")


class OnCallShift(Base):
    """A physician on call from `starts_at` (inclusive) to `ends_at` (exclusive).

    A cancelled shift keeps its row (with `cancelled_at`) so the schedule's
    history stays readable; only live shifts decide who receives `oncall` pages.
    """

    __tablename__ = "oncall_shift"
    __table_args__ = (Index("ix_oncall_shift_window", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    cancelled_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)

    staff: Mapped[Staff] = relationship()


class AuditEvent(Base):
    """Who changed what when, before and after; chained by hash."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The database login that wrote the event, set by PostgreSQL (session_user, migration
    # 0012), never by the app; not part of the hash. NULL on SQLite and for older events.
    database_login: Mapped[str | None] = mapped_column(String(64), server_default=FetchedValue())


class ChangeMarker(Base):
    """A single counter bumped by every write, so open screens can poll cheaply."""

    __tablename__ = "change_marker"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime]


class DispatcherLease(Base):
    """Which dispatcher may send right now; a compare-and-set lease, renewed while alive.

    One row per lease name ("outbox"). A dispatcher that dies simply stops
    renewing, and another takes over once `expires_at` has passed.
    """

    __tablename__ = "dispatcher_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    # The Apprise file the holder sends with: its path, its owner's login and the
    # SHA-256 of its content (notifiers.clinic_config), for every screen to show.
    config_path: Mapped[str | None] = mapped_column(Text)
    config_owner: Mapped[str | None] = mapped_column(String(64))
    config_sha256: Mapped[str | None] = mapped_column(String(64))


class AlertLinkUse(Base):
    """One action done through an alert's signed link (core.alert_links).

    A link acts at most once per action: the unique (nonce, action) pair is the
    record that it did. Who acted, from which address and browser, is kept here
    and in the audit trail.
    """

    __tablename__ = "alert_link_use"
    __table_args__ = (UniqueConstraint("nonce", "action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    cycle: Mapped[int] = mapped_column(Integer)
    target_tag: Mapped[str] = mapped_column(String(64))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    used_at: Mapped[datetime]
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
