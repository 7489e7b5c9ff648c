"""Words for stored codes, as an English-speaking home physician reads them.

Shared by the summary and the FHIR export (as `text` beside the codes), so
the two never describe the same incident differently.
"""

from __future__ import annotations

from datetime import date, datetime

from core.domain import Disposition, IncidentOutcome, Seriousness
from core.dossier import EpisodeRecord, ProductRecord, patient_zone
from core.schedules import CLINIC_TZ

NOT_YET_ASSESSED = "not yet assessed by a physician"
"""An incident a triage opened, until a physician classifies it: a triage is not a
physician's assessment, so it is never called non-serious."""

SERIOUSNESS_LABELS = {
    Seriousness.NOT_ASSESSED: NOT_YET_ASSESSED,
    Seriousness.NON_SERIOUS: "Non-serious",
    Seriousness.DEATH: "Serious: results in death",
    Seriousness.LIFE_THREATENING: "Serious: life-threatening",
    Seriousness.HOSPITALISATION: "Serious: requires or prolongs hospitalisation",
    Seriousness.DISABILITY: "Serious: persistent or significant disability",
    Seriousness.CONGENITAL_ANOMALY: "Serious: congenital anomaly",
    Seriousness.MEDICALLY_IMPORTANT: "Serious: other medically important event",
}

WHO_DECIDES = (
    "The clinic's triage is decision support for its coordinators, not a diagnosis: "
    "the treating physician decides, or local emergency services in an emergency."
)
"""Said with the triage outcomes of every export."""

DISPOSITION_EXPLANATIONS = {
    Disposition.EXPECTED: (
        "expected: the normal course after this treatment; the coordinator reassures "
        "the patient and continues the schedule. The treating physician decides on any "
        "change of care."
    ),
    Disposition.MONITOR: (
        "monitor: outside the usual course but not an adverse event yet; conservative-care "
        "advice and an extra check-in within 48 hours. The treating physician decides "
        "whether more is needed."
    ),
    Disposition.REVIEW: (
        "review: a suspected adverse event; an incident is opened and a physician reviews "
        "it within one business day. The treating physician decides."
    ),
    Disposition.URGENT: (
        "urgent: an adverse event needing a physician today; the on-call and the treating "
        "physician are paged at once. The treating physician decides."
    ),
    Disposition.EMERGENCY: (
        "emergency: possible systemic illness or anaphylaxis; the patient is told to call "
        "the local emergency number at once and the on-call physician is paged. Local "
        "emergency services decide; the treating physician decides on follow-up care."
    ),
}
"""Each triage outcome word, what the clinic did on it, and who decides."""

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
