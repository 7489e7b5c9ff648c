"""What a patient export reads: the patient's dossier plus the details the dossier
leaves out because the patient screen does not need them.

The dossier (`core.dossier`) already merges touchpoints, triages and incidents
into one timeline; an export also needs each episode's own touchpoints (a FHIR
CarePlan per episode), the incidents' structured facts (suspect product and
lot, onset, causality, reporting) and how to reach the treating physician.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from core.config import Settings
from core.domain import IncidentCategory, IncidentOutcome, IncidentStatus, Seriousness
from core.dossier import (
    EpisodeRecord,
    IncidentNote,
    PatientDossier,
    PatientIdentity,
    ProductRecord,
    TouchpointRecord,
)

CONTACT_NOT_CONFIGURED = "(clinic contact not configured)"
"""Printed instead of a contact line when the `clinic_contact` setting is empty."""


@dataclass(frozen=True)
class ClinicContact:
    """Who sent the export and how a home physician reaches them."""

    name: str
    contact: str
    """Free text from the `clinic_contact` setting (phone, email); may be empty."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ClinicContact:
        """The clinic as the configuration names it."""
        return cls(name=settings.clinic_name, contact=settings.clinic_contact.strip())

    @property
    def contact_line(self) -> str:
        """The contact text, or a plain statement that none is configured."""
        return self.contact or CONTACT_NOT_CONFIGURED


@dataclass(frozen=True)
class PhysicianContact:
    """The treating physician of an episode, as a home physician would call them."""

    name: str
    email: str | None
    phone: str | None
    license_ref: str | None


@dataclass(frozen=True)
class IncidentDetail:
    """An adverse event with every fact a report or a FHIR AdverseEvent carries."""

    incident_id: int
    episode_id: int | None
    opened_at: datetime
    category: IncidentCategory
    onset_date: date | None
    onset_day: int | None
    learned_on: date
    seriousness: Seriousness
    severity_grade: int | None
    outcome: IncidentOutcome
    status: IncidentStatus
    suspect_product: ProductRecord | None
    causality: str | None
    actions_taken: str | None
    report_due_on: date | None
    reported_on: date | None
    report_reference: str | None
    khidi_escalated_on: date | None
    khidi_reference: str | None
    notes: tuple[IncidentNote, ...]
    """The append-only timeline entries, oldest first."""
    triage_id: int | None = None
    """The triage that opened the incident; None when opened by hand."""


@dataclass(frozen=True)
class PatientExport:
    """Everything one export of one patient shows, read at one instant."""

    dossier: PatientDossier
    incidents: tuple[IncidentDetail, ...]
    """Oldest first."""
    episode_touchpoints: Mapping[int, tuple[TouchpointRecord, ...]] = field(default_factory=dict)
    """Each episode's touchpoints by episode id, in day order."""
    physicians: Mapping[int, PhysicianContact] = field(default_factory=dict)
    """The treating physician by episode id, where one is recorded."""

    @property
    def identity(self) -> PatientIdentity:
        """Who the patient is."""
        return self.dossier.identity

    @property
    def episodes(self) -> tuple[EpisodeRecord, ...]:
        """Treatment episodes, most recent procedure first."""
        return self.dossier.episodes

    @property
    def read_at(self) -> datetime:
        """The instant the export was read; touchpoint states are as of then."""
        return self.dossier.read_at
