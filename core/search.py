"""Finding any patient, on the schedule or not.

The queue lists only patients with an open touchpoint, so a patient whose
follow-up is finished can be reached only by a search; a hit says in words
whether the patient is still on the follow-up schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain import Disposition

ON_SCHEDULE = "On the schedule"
OUTSIDE_SCHEDULE = "Outside the schedule"


@dataclass(frozen=True)
class PatientHit:
    """One patient a search found."""

    patient_id: int
    code: str
    family_name: str
    given_name: str
    current_country: str
    timezone: str
    """The patient's local zone (IANA name)."""
    on_schedule: bool
    """True while the patient has an open touchpoint (and so is on the queue)."""
    last_procedure_at: datetime | None
    """The latest episode's procedure; None for a patient with no episode."""
    latest_disposition: Disposition | None
    """The latest triage's outcome; None when never triaged."""
    native_name: str | None = None
    """The name in the patient's own script; None when not recorded."""

    @property
    def display_name(self) -> str:
        """Family name first, as the clinic files it."""
        return f"{self.family_name} {self.given_name}"

    @property
    def schedule_words(self) -> str:
        """Whether the follow-up schedule still holds the patient, in words."""
        return ON_SCHEDULE if self.on_schedule else OUTSIDE_SCHEDULE


def search_words(text: str) -> tuple[str, ...]:
    """The words of a search, lower-cased, blanks dropped ('' finds nobody).

    `lower()` and not `casefold()`: the database lowers the stored names the
    same way, and casefold would turn 'ß' into 'ss', which no stored name holds.
    """
    return tuple(text.lower().split())
