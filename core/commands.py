"""What a form (or a command line) collects for one change, as one value.

The form builds and checks it; the `db.services.Clinic` use case and the
`db` change function take it whole, so the fields are named once here rather
than restated as keyword arguments at every layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.domain import Disposition, IncidentCategory, IncidentOutcome, Seriousness
from core.triage import Findings, TriageOutcome


@dataclass(frozen=True)
class TriageEntry:
    """A completed triage: the findings, their outcome, and the coordinator's choice."""

    findings: Findings
    outcome: TriageOutcome
    chosen: Disposition | None = None
    """None: the computed disposition stands."""
    override_reason: str | None = None
    """Required when `chosen` differs from the computed disposition."""
    note: str | None = None


@dataclass(frozen=True)
class NewIncident:
    """An incident opened by hand (not from a triage): a home physician's call, a letter."""

    category: IncidentCategory
    seriousness: Seriousness
    onset_date: date | None
    learned_on: date | None
    """Day 0 of the reporting clock: the day the clinic first heard of it (None: today)."""
    description: str


def dates_problem(onset_date: date | None, learned_on: date, today: date) -> str | None:
    """What is wrong with an incident's onset date and day 0, or None.

    Neither lies in the future, and the clinic cannot learn of an event before
    it began. Forms say it before saving; `db` checks it again on the write.
    """
    if learned_on > today:
        return f"day 0 ({learned_on:%Y-%m-%d}) is in the future"
    if onset_date is not None and onset_date > today:
        return f"the onset ({onset_date:%Y-%m-%d}) is in the future"
    if onset_date is not None and learned_on < onset_date:
        return f"day 0 ({learned_on:%Y-%m-%d}) is before the onset ({onset_date:%Y-%m-%d})"
    return None


@dataclass(frozen=True)
class DateCorrection:
    """An incident's corrected onset date and day 0, with the reason the timeline keeps."""

    onset_date: date | None
    learned_on: date
    """Day 0: the reporting clock follows it."""
    reason: str


@dataclass(frozen=True)
class DatedReference:
    """The day something was done and its reference: a submitted MFDS report or a
    KHIDI escalation."""

    on: date
    reference: str
    replacing_because: str | None = None
    """Why an earlier record is replaced; required only when there is one."""


@dataclass(frozen=True)
class Closing:
    """How an incident ended: its outcome and an optional closing note."""

    outcome: IncidentOutcome
    note: str | None = None


@dataclass(frozen=True)
class NewShift:
    """A physician put on call for [starts_at, ends_at)."""

    login: str
    """The physician's staff login (dr.lee), as the admin types it."""
    starts_at: datetime
    ends_at: datetime
    """Exclusive: the next shift may start at this very time."""
    note: str | None = None
    replace: bool = False
    """Take over overlapping time from other shifts instead of being refused."""


@dataclass(frozen=True)
class PatientMove:
    """Where the patient is now: a country and its time zone, changed together."""

    country: str
    """ISO 3166-1 two-letter code (TH)."""
    timezone: str | None = None
    """An IANA zone of that country; None: the country's only zone (refused when it has several)."""


@dataclass(frozen=True)
class ContactDetails:
    """How the clinic reaches the patient, on the channel they chose."""

    channel_handle: str
    """The messenger handle (or number, or address) of the patient's channel."""
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Whereabouts:
    """Where the patient is now and how to reach them: what the "Where is the patient
    now" form shows and saves. The values the form was opened with travel too, so a
    save compares exactly these fields with the stored ones (a claim does not
    make it stale; someone else's move or contact edit does)."""

    move: PatientMove
    contacts: ContactDetails
