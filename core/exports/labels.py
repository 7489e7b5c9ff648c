"""Words for stored codes, as an English-speaking home physician reads them.

Shared by the summary and the FHIR export (as `text` beside the codes), so
the two never describe the same incident differently.
"""

from __future__ import annotations

from datetime import date, datetime

from core.domain import IncidentCategory, IncidentOutcome, Seriousness
from core.dossier import EpisodeRecord, ProductRecord, patient_zone
from core.schedules import CLINIC_TZ

CATEGORY_LABELS = {
    IncidentCategory.ALLERGIC: "Allergic reaction or anaphylaxis",
    IncidentCategory.IV_SITE: "IV infiltration or phlebitis",
    IncidentCategory.VASOVAGAL: "Vasovagal reaction",
    IncidentCategory.PROLONGED_ERYTHEMA: "Prolonged erythema",
    IncidentCategory.INFECTION: "Infection",
    IncidentCategory.NODULE: "Nodule or granuloma",
    IncidentCategory.SYSTEMIC: "Systemic symptoms",
    IncidentCategory.OTHER: "Other adverse event",
}

SERIOUSNESS_LABELS = {
    Seriousness.NON_SERIOUS: "Non-serious",
    Seriousness.DEATH: "Serious: results in death",
    Seriousness.LIFE_THREATENING: "Serious: life-threatening",
    Seriousness.HOSPITALISATION: "Serious: requires or prolongs hospitalisation",
    Seriousness.DISABILITY: "Serious: persistent or significant disability",
    Seriousness.CONGENITAL_ANOMALY: "Serious: congenital anomaly",
    Seriousness.MEDICALLY_IMPORTANT: "Serious: other medically important event",
}

OUTCOME_LABELS = {
    IncidentOutcome.RECOVERING: "Recovering",
    IncidentOutcome.RESOLVED: "Resolved",
    IncidentOutcome.RESOLVED_WITH_SEQUELAE: "Resolved with sequelae",
    IncidentOutcome.NOT_RESOLVED: "Not resolved",
    IncidentOutcome.FATAL: "Fatal",
    IncidentOutcome.UNKNOWN: "Unknown",
}


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
    """'20 Nov 2026 15:00 KST (patient 20 Nov 15:00 JST)': both clocks, labelled.

    A patient time zone the system cannot load is named rather than guessed.
    """
    clinic = f"{at.astimezone(CLINIC_TZ):%d %b %Y %H:%M} KST"
    zone = patient_zone(patient_timezone)
    if zone is None:
        return f"{clinic} (patient time zone {patient_timezone!r} unknown)"
    local = at.astimezone(zone)
    name = local.tzname() or ""
    # Zones without a letter abbreviation report "+05"; the IANA key says more.
    if not name or name[0] in "+-":
        name = patient_timezone
    return f"{clinic} (patient {local:%d %b %H:%M} {name})"
