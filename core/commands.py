"""What a form (or a command line) collects for one change, as one value.

The form builds and checks it; the `db.services.Clinic` use case and the
`db` change function take it whole, so the fields are named once here rather
than restated as keyword arguments at every layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.domain import Disposition, IncidentCategory, Seriousness
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
