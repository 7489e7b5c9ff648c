"""The incident log: which incidents a filter shows, in which order, and the
entries a person may append to an incident's timeline.

The order is "most urgent report first": incidents still owing a report by
days left (overdue first), then those reported or without a deadline, newest
first. Entries are append-only; a correction is a new entry that says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from core.domain import IncidentCategory, IncidentOutcome, IncidentStatus, Seriousness
from core.incidents import CATEGORY_LABELS, ClockState, ReportClock, report_clock
from core.plain_text import shown


class EntryKind(StrEnum):
    """What an incident timeline entry records."""

    # Written by people, from the incident screen.
    NOTE = "note"
    PATIENT_CONTACT = "patient_contact"
    PHYSICIAN_CONTACT = "home_physician_contact"
    CORRECTION = "correction"
    # Written by the application when the incident changes.
    OPENED = "opened"
    CLASSIFIED = "classified"
    REPORTED = "reported"
    KHIDI = "khidi_escalated"
    CLOSED = "closed"
    REOPENED = "reopened"
    DATES_CORRECTED = "dates_corrected"

    @property
    def label(self) -> str:
        """How the timeline names the entry."""
        return _ENTRY_LABELS[self]


_ENTRY_LABELS = {
    EntryKind.NOTE: "Note",
    EntryKind.PATIENT_CONTACT: "Contact with patient",
    EntryKind.PHYSICIAN_CONTACT: "Contact with home physician",
    EntryKind.CORRECTION: "Correction",
    EntryKind.OPENED: "Opened",
    EntryKind.CLASSIFIED: "Classified",
    EntryKind.REPORTED: "Report submitted",
    EntryKind.KHIDI: "KHIDI escalation",
    EntryKind.CLOSED: "Closed",
    EntryKind.REOPENED: "Reopened",
    EntryKind.DATES_CORRECTED: "Dates corrected",
}

HAND_WRITTEN = (
    EntryKind.NOTE,
    EntryKind.PATIENT_CONTACT,
    EntryKind.PHYSICIAN_CONTACT,
    EntryKind.CORRECTION,
)
"""The kinds a person adds directly; the others follow from a change."""

SEVERITY_GRADES = range(1, 6)
"""CTCAE-style grades: 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death."""


class IncidentLine(NamedTuple):
    """One incident as a row of the incident log."""

    incident_id: int
    patient_id: int
    patient_code: str
    patient_name: str
    country: str
    """Where the patient is now (the home reporting route depends on it)."""
    category: IncidentCategory
    seriousness: Seriousness
    severity_grade: int | None
    outcome: IncidentOutcome
    status: IncidentStatus
    learned_on: date
    report_due_on: date | None
    reported_on: date | None
    khidi_escalated_on: date | None
    opened_at: datetime

    def clock(self, today: date) -> ReportClock:
        """The reporting clock on the clinic's `today`."""
        return report_clock(self.report_due_on, self.reported_on, today)


class StatusFilter(StrEnum):
    """Which incidents by status the log lists."""

    OPEN = "open"
    CLOSED = "closed"
    ALL = "all"


@dataclass(frozen=True)
class IncidentFilter:
    """What the incident log is narrowed to; the default is every open incident."""

    status: StatusFilter = StatusFilter.OPEN
    """OPEN also lists closed incidents whose report is still owed."""
    overdue_only: bool = False
    """Only incidents whose report is past due and not submitted, whatever the status."""
    category: IncidentCategory | None = None
    country: str | None = None

    def matches(self, line: IncidentLine, today: date) -> bool:
        """The reference rule; `db.incidents` applies the same one in SQL."""
        clock = line.clock(today)
        if self.overdue_only:
            # A late report is late whatever the incident's status.
            if clock.state is not ClockState.OVERDUE:
                return False
        elif self.status is StatusFilter.OPEN:
            # "Open" is the work still to do: open incidents, and closed ones
            # still owing their report.
            if line.status is not IncidentStatus.OPEN and not clock.owed:
                return False
        elif self.status is StatusFilter.CLOSED and line.status is not IncidentStatus.CLOSED:
            return False
        if self.category is not None and line.category is not self.category:
            return False
        return self.country is None or line.country == self.country

    def describe(self) -> str:
        """The filter in words, for the screen's subtitle."""
        if self.overdue_only:
            parts = ["reports overdue (any status)"]
        elif self.status is StatusFilter.OPEN:
            parts = ["open incidents and reports owed"]
        else:
            parts = [
                f"{self.status.value} incidents" if self.status is not StatusFilter.ALL else "all"
            ]
        if self.category is not None:
            parts.append(self.category.value.replace("_", " "))
        if self.country is not None:
            parts.append(f"in {self.country}")
        return ", ".join(parts)


def sort_key(line: IncidentLine, today: date) -> tuple[int, int, float, int]:
    """Owed reports first by days left (overdue, due today, then later); the rest
    newest first. Ties go to the lower incident id, so the order is total."""
    clock = line.clock(today)
    if clock.owed and clock.days_left is not None:
        return (0, clock.days_left, 0.0, line.incident_id)
    return (1, 0, -line.opened_at.timestamp(), line.incident_id)


def order_incidents(lines: Iterable[IncidentLine], today: date) -> list[IncidentLine]:
    """The incident log's order (see `sort_key`)."""
    return sorted(lines, key=lambda line: sort_key(line, today))


def check_grade(grade: int | None) -> int | None:
    """A severity grade or None; anything else is refused with the allowed range."""
    if grade is not None and grade not in SEVERITY_GRADES:
        raise ValueError(f"severity grade must be 1 to 5 (CTCAE), not {grade}")
    return grade


def words(value: StrEnum) -> str:
    """An enum value as a coordinator reads it: 'resolved with sequelae'."""
    if value is Seriousness.NOT_ASSESSED:
        return NOT_ASSESSED_WORDS
    return value.value.replace("_", " ")


NOT_ASSESSED_WORDS = "not yet assessed"
"""How an unassessed seriousness reads everywhere: never "non-serious"."""

SERIOUS = frozenset(
    {
        Seriousness.DEATH,
        Seriousness.LIFE_THREATENING,
        Seriousness.HOSPITALISATION,
        Seriousness.DISABILITY,
        Seriousness.CONGENITAL_ANOMALY,
        Seriousness.MEDICALLY_IMPORTANT,
    }
)
"""The ICH E2A serious criteria (neither non-serious nor not yet assessed)."""


def disagreement(
    seriousness: Seriousness, grade: int | None, outcome: IncidentOutcome
) -> str | None:
    """Why seriousness, severity grade and outcome contradict each other, naming the
    two fields that disagree; None when they agree.

    CTCAE grade 5 is death and grade 4 life-threatening, so they need the matching
    ICH E2A seriousness; a fatal outcome is a death. A contradiction would put the
    incident on the wrong reporting clock.
    """
    if grade == 5 and seriousness is not Seriousness.DEATH:
        return (
            "Severity grade and seriousness disagree: grade 5 is death, so seriousness "
            f"must be death (it is {words(seriousness)})."
        )
    if grade == 5 and outcome is not IncidentOutcome.FATAL:
        return (
            "Severity grade and outcome disagree: grade 5 is death, so the outcome must be "
            f"fatal (it is {words(outcome)})."
        )
    if grade == 4 and seriousness not in SERIOUS:
        return (
            "Severity grade and seriousness disagree: grade 4 is life-threatening, so "
            f"seriousness must be one of the serious criteria (it is {words(seriousness)})."
        )
    if outcome is IncidentOutcome.FATAL and seriousness is not Seriousness.DEATH:
        return (
            "Outcome and seriousness disagree: a fatal outcome needs seriousness 'death' first "
            f"(it is {words(seriousness)}); that sets the 7-day reporting clock."
        )
    return None


@dataclass(frozen=True)
class TimelineItem:
    """One line of an incident's timeline: its own entries, and the patient
    contact attempts logged on the queue since the incident opened."""

    at: datetime
    label: str
    text: str
    staff: str | None


@dataclass(frozen=True)
class IncidentExport:
    """One incident as a line of the CSV a regulatory officer works from."""

    line: IncidentLine
    home_country: str
    onset_date: date | None
    onset_day: int | None
    suspect_product: str | None
    """Name, MFDS reference and lot, as one phrase."""
    causality: str | None
    actions_taken: str | None
    report_reference: str | None
    khidi_reference: str | None


@dataclass(frozen=True)
class IncidentDetail(IncidentExport):
    """Everything the incident screen shows, read at one instant: the export
    line, and what the screen needs to change the incident."""

    suspect_product_id: int | None
    triage_id: int | None
    version: int
    """Optimistic lock: a change made from this reading names this version."""
    timeline: tuple[TimelineItem, ...]
    """Oldest first."""
    downgraded: str | None = None
    """When the triage that opened it was overridden down: computed and chosen
    disposition with the coordinator's reason, in words."""


CSV_COLUMNS = (
    "incident",
    "patient_code",
    "patient_name",
    "current_country",
    "home_country",
    "category",
    "seriousness",
    "severity_grade",
    "outcome",
    "status",
    "onset_date",
    "onset_day",
    "learned_on",
    "report_due_on",
    "report_clock",
    "reported_on",
    "report_reference",
    "khidi_escalated_on",
    "khidi_reference",
    "suspect_product",
    "causality",
    "actions_taken",
    "opened_at_utc",
)

# A spreadsheet runs a cell starting with one of these as a formula; free text
# typed by staff (or quoted from a patient) must never do that.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = shown(str(value), notes=True)
    if text.startswith(_FORMULA_STARTS) and not isinstance(value, int):
        return "'" + text
    return text


def incidents_csv(records: Iterable[IncidentExport], today: date) -> str:
    """The incident log as CSV text (RFC 4180, header row, one incident per line).

    `report_clock` is read on `today` (the export's clinic day), so the file
    says how late each report was when it was written.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        line = record.line
        writer.writerow(
            _cell(value)
            for value in (
                line.incident_id,
                line.patient_code,
                line.patient_name,
                line.country,
                record.home_country,
                # Words, never codes: "not yet assessed", not "not_assessed".
                CATEGORY_LABELS[line.category],
                words(line.seriousness),
                line.severity_grade,
                words(line.outcome),
                words(line.status),
                record.onset_date,
                record.onset_day,
                line.learned_on,
                line.report_due_on,
                line.clock(today).label,
                line.reported_on,
                record.report_reference,
                line.khidi_escalated_on,
                record.khidi_reference,
                record.suspect_product,
                record.causality,
                record.actions_taken,
                line.opened_at,
            )
        )
    return out.getvalue()
