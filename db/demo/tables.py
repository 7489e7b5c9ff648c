"""The tables the demo writes: one row shape per table, and the order to write them.

Rows are plain tuples (named ones, except in the touchpoint/attempt hot path)
whose field names are the column names, so the writer can name the columns
and a new nullable column elsewhere in a model does not break the demo.
Values that differ per backend (timestamps, dates, JSON) are typed Any: they
hold text on SQLite and Python objects on PostgreSQL (see `write`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Table

from db import models


class PatientRow(NamedTuple):
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
    latest_severity: int
    next_touchpoint_id: int | None
    next_opens_at: Any
    next_closes_at: Any
    last_contact_at: Any
    last_heard_at: Any
    is_demo: bool
    created_at: Any
    version: int


class EpisodeRow(NamedTuple):
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
    has_allergies: bool
    products_recorded: bool
    addons_recorded: bool
    documentation: Any
    created_at: Any
    version: int


class ProductRow(NamedTuple):
    id: int
    episode_id: int
    name: str
    mfds_reference: str
    manufacturer: str
    lot_number: str
    expiry_date: Any
    dose: str
    exosome: bool


class TouchpointRow(NamedTuple):
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


class AttemptRow(NamedTuple):
    id: int
    touchpoint_id: int
    patient_id: int
    at: Any
    channel: str
    outcome: str
    note: str | None
    staff_id: int


class TriageRow(NamedTuple):
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
    labs: Any
    needs: Any
    protocol: str
    addons: Any


class IncidentRow(NamedTuple):
    id: int
    patient_id: int
    episode_id: int
    triage_id: int
    category: str
    onset_date: Any
    onset_day: int
    learned_on: Any
    seriousness: str
    severity_grade: int | None
    outcome: str
    suspect_product_id: int | None
    causality: str | None
    actions_taken: str | None
    status: str
    report_due_on: Any
    reported_on: Any
    report_reference: str | None
    khidi_escalated_on: Any
    khidi_reference: str | None
    created_at: Any
    version: int


class EntryRow(NamedTuple):
    id: int
    incident_id: int
    at: Any
    staff_id: int
    kind: str
    text: str


class EscalationRow(NamedTuple):
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


class OutboxRow(NamedTuple):
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


def table_of(model: type[models.Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


STAFF_T = table_of(models.Staff)
PATIENT_T = table_of(models.Patient)
EPISODE_T = table_of(models.TreatmentEpisode)
PRODUCT_T = table_of(models.ProductGiven)
TOUCHPOINT_T = table_of(models.Touchpoint)
ATTEMPT_T = table_of(models.ContactAttempt)
TRIAGE_T = table_of(models.TriageAssessment)
INCIDENT_T = table_of(models.Incident)
ENTRY_T = table_of(models.IncidentEntry)
ESCALATION_T = table_of(models.Escalation)
OUTBOX_T = table_of(models.OutboxNotification)
MARKER_T = table_of(models.ChangeMarker)
LINK_USE_T = table_of(models.AlertLinkUse)

# Insert order respects foreign keys. Columns are written by name, so a new
# nullable column elsewhere in the model does not break the demo.
INSERT_ORDER: tuple[Table, ...] = (
    PATIENT_T, EPISODE_T, PRODUCT_T, TOUCHPOINT_T, ATTEMPT_T, TRIAGE_T, INCIDENT_T,
    ENTRY_T, ESCALATION_T, OUTBOX_T,
)  # fmt: skip
COLUMNS: dict[str, tuple[str, ...]] = {
    "patient": PatientRow._fields,
    "treatment_episode": EpisodeRow._fields,
    "product_given": ProductRow._fields,
    "touchpoint": TouchpointRow._fields,
    "contact_attempt": AttemptRow._fields,
    "triage_assessment": TriageRow._fields,
    "incident": IncidentRow._fields,
    "incident_entry": EntryRow._fields,
    "escalation": EscalationRow._fields,
    "outbox_notification": OutboxRow._fields,
}
Rows = dict[str, list[tuple[Any, ...]]]
