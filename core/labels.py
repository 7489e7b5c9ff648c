"""Words for stored codes: the one label table for screens and documents.

Codes (`no_answer`, `khidi_escalated`, `iv_infiltration_phlebitis`) are what the
database stores and never change; a person reads only the words below. The
summary, the PDF and the FHIR narrative take every label from here, and the
screens do where they name an incident category or a triage outcome, so a
coordinator and a home physician read the same words for the same record.

Times a document shows name their zone unambiguously ("Asia/Taipei, UTC+8"):
a letter abbreviation such as `CST` means China to the clinic and US Central
to a reader in Texas.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain import (
    ContactOutcome,
    Disposition,
    EscalationStatus,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    NotificationStatus,
    Seriousness,
    TouchpointState,
)
from core.incident_log import EntryKind
from core.incidents import CATEGORY_LABELS
from core.triage.vocabulary import SYMPTOMS

# --- triage outcomes ------------------------------------------------------------

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
"""Each triage outcome word, what the clinic did on it, and who decides: the legend
every document prints once for the words it uses."""


def disposition_word(disposition: Disposition) -> str:
    """A triage outcome as every surface names it: 'review', 'urgent'.

    The stored values are already the clinic's words; this is the one place that
    says so, so a screen or document never formats the enum itself.
    """
    return disposition.value


# --- incidents --------------------------------------------------------------------


def category_words(category: IncidentCategory) -> str:
    """An incident category in words: 'IV infiltration or phlebitis'."""
    return CATEGORY_LABELS[category]


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
"""ICH E2A seriousness in words."""

OUTCOME_LABELS = {
    IncidentOutcome.RECOVERING: "Recovering",
    IncidentOutcome.RESOLVED: "Resolved",
    IncidentOutcome.RESOLVED_WITH_SEQUELAE: "Resolved with sequelae",
    IncidentOutcome.NOT_RESOLVED: "Not resolved",
    IncidentOutcome.FATAL: "Fatal",
    IncidentOutcome.UNKNOWN: "Unknown",
}
"""An incident's outcome in words."""

INCIDENT_STATUS_WORDS = {IncidentStatus.OPEN: "open", IncidentStatus.CLOSED: "closed"}


def entry_words(kind: str) -> str:
    """An incident entry's stored kind in words: 'home_physician_contact' ->
    'Contact with home physician'; a kind this version does not know still reads
    as words, never as its code."""
    try:
        return EntryKind(kind).label
    except ValueError:
        return kind.replace("_", " ").capitalize()


# --- findings, contacts, check-ins, alerts ------------------------------------------


def finding_words(codes: Iterable[str]) -> str:
    """Stored symptom codes as a nurse says them: 'redness (erythema), warmth'.

    A code the vocabulary no longer knows (an old row) still reads as words.
    """
    return ", ".join(SYMPTOMS.get(code, code.replace("_", " ")) for code in codes)


CONTACT_OUTCOME_WORDS = {
    ContactOutcome.REACHED: "reached",
    ContactOutcome.NO_ANSWER: "no answer",
    ContactOutcome.MESSAGE_SENT: "message sent",
    ContactOutcome.PHOTO_RECEIVED: "photo received",
    ContactOutcome.CALL_LATER: "asked to call later",
}
"""What came of one try to reach the patient."""

CHECK_IN_STATE_WORDS = {
    TouchpointState.SCHEDULED: "not yet due",
    TouchpointState.DUE: "due now",
    TouchpointState.OVERDUE: "overdue",
    TouchpointState.DONE: "done",
    TouchpointState.SKIPPED: "skipped",
    TouchpointState.UNREACHABLE: "patient not reached",
}
"""Where a planned check-in stands, as a document says it."""

ALERT_STATUS_WORDS = {
    EscalationStatus.OPEN: "waiting for a physician to acknowledge",
    EscalationStatus.ACKNOWLEDGED: "acknowledged",
    EscalationStatus.RESOLVED: "resolved",
}
"""Where a physician alert stands."""

PAGE_STATUS_WORDS = {
    NotificationStatus.PENDING: "waiting to be sent",
    NotificationStatus.SENDING: "being sent",
    NotificationStatus.SENT: "sent",
    NotificationStatus.FAILED: "could not be delivered",
    NotificationStatus.CANCELLED: "not sent (the alert was already taken)",
}
"""What became of one page of a physician alert."""


# --- times and zones ----------------------------------------------------------------

CLINIC_ZONE = "Asia/Seoul"
"""The clinic's zone by its IANA name (docs/clinical-rules.md: clinic time is Seoul)."""


def utc_offset_words(offset: timedelta | None) -> str:
    """'UTC+9', 'UTC-5', 'UTC+5:30', 'UTC+0'."""
    minutes = round((offset or timedelta()).total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_words(local: datetime, zone_name: str) -> str:
    """A zone as no reader can mistake it, at the instant `local`: 'Asia/Taipei, UTC+8'.

    The offset is the one in force then, so a patient in Chicago reads UTC-6 in
    winter and UTC-5 in summer.
    """
    return f"{zone_name}, {utc_offset_words(local.utcoffset())}"


def clinic_time_words(at: datetime, *, year: bool = True) -> str:
    """An instant in clinic time: '20 Nov 2026 15:00 (Asia/Seoul, UTC+9)'."""
    local = at.astimezone(ZoneInfo(CLINIC_ZONE))
    shown = f"{local:%d %b %Y %H:%M}" if year else f"{local:%d %b %H:%M}"
    return f"{shown} ({zone_words(local, CLINIC_ZONE)})"


def days_words(days: int) -> str:
    """'1 day', '51 days'."""
    return f"{days} day" if days == 1 else f"{days} days"


def date_words(day: date) -> str:
    """'12 Oct 2026'."""
    return f"{day:%d %b %Y}"
