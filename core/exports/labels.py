"""Words for stored codes, as an English-speaking home physician reads them.

Shared by the summary and the FHIR export (as `text` beside the codes), so
the two never describe the same incident differently.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.dossier import EpisodeRecord, ProductRecord, patient_zone

# The label table itself lives in core.labels (the screens read it too); these
# names stay importable from here for the exports that already use them.
from core.labels import (
    CLINIC_ZONE,
    DISPOSITION_EXPLANATIONS,
    NOT_YET_ASSESSED,
    OUTCOME_LABELS,
    SERIOUSNESS_LABELS,
    zone_words,
)

__all__ = [
    "DISPOSITION_EXPLANATIONS",
    "NOT_YET_ASSESSED",
    "OUTCOME_LABELS",
    "SERIOUSNESS_LABELS",
    "WHO_DECIDES",
    "addon_words",
    "clinic_and_local_time",
    "clinic_zone_words",
    "patient_zone_words",
    "product_words",
    "report_words",
]

WHO_DECIDES = (
    "The clinic's triage is decision support for its coordinators, not a diagnosis: "
    "the treating physician decides, or local emergency services in an emergency."
)
"""Said with the triage outcomes of every export."""


def product_words(product: ProductRecord) -> str:
    """'Exosome vial (MFDS ref 2024-123, lot L-77, expires 31 Dec 2027)'."""
    refs = [
        f"MFDS ref {product.mfds_reference}" if product.mfds_reference else "no MFDS ref recorded",
        f"lot {product.lot_number}" if product.lot_number else "no lot recorded",
    ]
    if product.expiry_date:
        refs.append(f"expires {product.expiry_date:%d %b %Y}")
    return f"{product.name} ({', '.join(refs)})"


def report_words(due_on: date | None, reported_on: date | None, reference: str | None) -> str:
    """Where the MFDS report stands: 'submitted 25 Oct 2026, reference X' or 'due 7 Dec 2026'."""
    if reported_on is not None:
        return f"submitted {reported_on:%d %b %Y}" + (
            f", reference {reference}" if reference else ""
        )
    return f"due {due_on:%d %b %Y}" if due_on is not None else "no due date"


def addon_words(episode: EpisodeRecord) -> str:
    """'Glutathione 600 mg; B-complex', or an empty string when none were given."""
    return "; ".join(a.label + (f" {a.dose}" if a.dose else "") for a in episode.addons)


def clinic_and_local_time(at: datetime, patient_timezone: str) -> str:
    """Both clocks, each zone named with its offset at that instant:
    '20 Nov 2026 15:00 Asia/Seoul, UTC+9 (patient: 20 Nov 14:00 Asia/Taipei, UTC+8)'.

    A patient time zone the system cannot load is named rather than guessed.
    """
    clinic = at.astimezone(ZoneInfo(CLINIC_ZONE))
    said = f"{clinic:%d %b %Y %H:%M} {zone_words(clinic, CLINIC_ZONE)}"
    zone = patient_zone(patient_timezone)
    if zone is None:
        return f"{said} (patient time zone {patient_timezone!r} unknown)"
    local = at.astimezone(zone)
    return f"{said} (patient: {local:%d %b %H:%M} {zone_words(local, patient_timezone)})"


def patient_zone_words(at: datetime, patient_timezone: str) -> str:
    """The patient's zone at `at`: 'Asia/Tokyo, UTC+9', or the name and 'unknown'."""
    zone = patient_zone(patient_timezone)
    if zone is None:
        return f"{patient_timezone} (a time zone this system does not know)"
    return zone_words(at.astimezone(zone), patient_timezone)


def clinic_zone_words(at: datetime) -> str:
    """The clinic's zone at `at`: 'Asia/Seoul, UTC+9'."""
    return zone_words(at.astimezone(ZoneInfo(CLINIC_ZONE)), CLINIC_ZONE)
