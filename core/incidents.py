"""Incident facts derived from a triage: a suggested category and the reporting clock.

The clock is policy (mirroring ICH E2A/E2D): fatal or life-threatening
serious events are reported to MFDS within 7 days, other serious events within
15, non-serious ones periodically (30). Day 0 is the day the clinic learned of
the event. The regulatory officer confirms the duty.

A triage is not a physician's assessment: an incident a triage opens is "not
yet assessed", and until a physician classifies it the clock runs at the
deadline the triage suggests (emergency 7, urgent 15, review 30).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from core.domain import Disposition, IncidentCategory, Seriousness
from core.schedules import CLINIC_TZ

CATEGORY_LABELS: dict[IncidentCategory, str] = {
    IncidentCategory.ALLERGIC: "Allergic reaction or anaphylaxis",
    IncidentCategory.IV_SITE: "IV infiltration or phlebitis",
    IncidentCategory.VASOVAGAL: "Vasovagal reaction",
    IncidentCategory.PROLONGED_ERYTHEMA: "Prolonged erythema",
    IncidentCategory.INFECTION: "Infection",
    IncidentCategory.NODULE: "Nodule or granuloma",
    IncidentCategory.SYSTEMIC: "Systemic symptoms",
    IncidentCategory.OTHER: "Other adverse event",
}
"""Each incident category in words, for screens, documents and the CSV."""

# First match wins: the most specific, most dangerous pattern names the incident.
_CATEGORY_SIGNS: tuple[tuple[IncidentCategory, frozenset[str]], ...] = (
    (
        IncidentCategory.ALLERGIC,
        frozenset(
            {
                "hives",
                "facial_swelling_beyond_area",
                "severe_itching",
                "throat_tightness",
                "wheezing",
            }
        ),
    ),
    (
        IncidentCategory.INFECTION,
        frozenset({"pus", "red_streaks", "warmth", "expanding_redness", "blistering_or_dark_skin"}),
    ),
    (IncidentCategory.IV_SITE, frozenset({"iv_site_pain", "iv_site_swelling"})),
    (IncidentCategory.NODULE, frozenset({"nodule"})),
    (IncidentCategory.VASOVAGAL, frozenset({"fainting"})),
    (
        IncidentCategory.SYSTEMIC,
        frozenset(
            {
                "chills",
                "fatigue",
                "nausea",
                "persistent_vomiting",
                "dizziness",
                "palpitations",
                "shortness_of_breath",
                "chest_tightness",
                "numbness",
                "weakness",
                "vision_change",
                "confusion",
            }
        ),
    ),
    (
        IncidentCategory.PROLONGED_ERYTHEMA,
        frozenset({"flush", "erythema", "swelling", "mild_swelling"}),
    ),
)


def suggest_category(symptoms: Iterable[str], temperature_c: float | None) -> IncidentCategory:
    """The category a coordinator most likely files; they may change it later."""
    reported = set(symptoms)
    for category, signs in _CATEGORY_SIGNS:
        if reported & signs:
            return category
    if temperature_c is not None and temperature_c >= 38.0:
        return IncidentCategory.SYSTEMIC
    return IncidentCategory.OTHER


@dataclass(frozen=True)
class ReportingPolicy:
    """Days from day 0 to the MFDS report, by seriousness (settings `report_days_*`)."""

    life_threatening_days: int = 7
    """Serious and fatal or life-threatening (ICH E2A expedited, 7 days)."""
    serious_days: int = 15
    """Any other serious criterion (hospitalisation, disability, ...)."""
    non_serious_days: int = 30
    """Non-serious events go in the periodic report."""

    def __post_init__(self) -> None:
        # A shorter clock for a less serious event would invert the duty; refuse it
        # here so a bad setting fails at startup, not on the day it matters.
        days = (self.life_threatening_days, self.serious_days, self.non_serious_days)
        if min(days) < 1 or list(days) != sorted(days):
            raise ValueError(
                "reporting days must be at least 1 and ordered: life-threatening "
                f"<= serious <= non-serious (got {days[0]}, {days[1]}, {days[2]})"
            )

    def days_for(self, seriousness: Seriousness) -> int:
        """How many days the clock runs for an event of this seriousness.

        Not yet assessed, with no triage to suggest a deadline (an incident
        opened by hand), runs at the strictest clock until a physician says.
        """
        if seriousness in (
            Seriousness.DEATH,
            Seriousness.LIFE_THREATENING,
            Seriousness.NOT_ASSESSED,
        ):
            return self.life_threatening_days
        if seriousness is Seriousness.NON_SERIOUS:
            return self.non_serious_days
        return self.serious_days

    def due_on(self, seriousness: Seriousness, learned_on: date) -> date:
        """The last day the report may be submitted; day 0 is `learned_on`.

        The clock always counts from the day the clinic first learned of the
        event, also after seriousness is raised later: that gives the earlier
        (stricter) deadline, which the regulatory officer may relax by hand.
        """
        return learned_on + timedelta(days=self.days_for(seriousness))

    def days_for_triage(self, disposition: Disposition) -> int:
        """Days the clock runs for a not yet assessed incident a triage opened.

        An emergency triage is presumed life-threatening (the 7-day clock), an
        urgent one serious (15); review runs the periodic clock (30).
        """
        if disposition is Disposition.EMERGENCY:
            return self.life_threatening_days
        if disposition is Disposition.URGENT:
            return self.serious_days
        return self.non_serious_days

    def due_on_triage(self, disposition: Disposition, learned_on: date) -> date:
        """The deadline a triage of `disposition` suggests; day 0 is `learned_on`."""
        return learned_on + timedelta(days=self.days_for_triage(disposition))


DEFAULT_REPORTING = ReportingPolicy()


def triage_clock_disposition(computed: Disposition, chosen: Disposition) -> Disposition:
    """The disposition a triage incident's clock and category follow: the higher of the
    computed and the chosen one. Choosing lower does not undocument the event (only a
    physician's decision does); choosing higher tightens the clock."""
    return Disposition.highest([computed, chosen])


def report_due_on(
    seriousness: Seriousness, learned_on: date, policy: ReportingPolicy = DEFAULT_REPORTING
) -> date:
    """The MFDS reporting deadline for an incident learned of on `learned_on` (day 0)."""
    return policy.due_on(seriousness, learned_on)


class ClockState(StrEnum):
    """Where an incident's reporting clock stands on a given day."""

    REPORTED = "reported"
    NO_DEADLINE = "no_deadline"
    RUNNING = "running"
    DUE_TODAY = "due_today"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ReportClock:
    """The reporting clock as the incident log and the queue show it."""

    state: ClockState
    days_left: int | None
    """Days until the due date (0 on it, negative after); None once reported."""
    reported_late_by: int = 0
    """Once reported: how many days after the due date the report went in."""

    @property
    def owed(self) -> bool:
        """Whether a report is still owed."""
        return self.state not in (ClockState.REPORTED, ClockState.NO_DEADLINE)

    @property
    def short_label(self) -> str:
        """The queue's narrow form: '5d', 'today', '3d late'; empty when nothing is owed."""
        if not self.owed or self.days_left is None:
            return ""
        return _countdown(self.days_left, today="today", late="{}d late", left="{}d")

    @property
    def label(self) -> str:
        """Words for a table cell: '5d left', 'due today', '3d over', 'reported 2d late'."""
        if self.state is ClockState.REPORTED:
            # A late report stays visibly late in the log and the CSV.
            return (
                f"reported {self.reported_late_by}d late" if self.reported_late_by else "reported"
            )
        if self.days_left is None:
            return "no deadline"
        return _countdown(self.days_left, today="due today", late="{}d over", left="{}d left")


def _countdown(days_left: int, *, today: str, late: str, left: str) -> str:
    """Days to a due date in one of the two wordings (narrow queue, table cell);
    `late` and `left` take the number of days."""
    if days_left == 0:
        return today
    if days_left < 0:
        return late.format(-days_left)
    return left.format(days_left)


def report_clock(due_on: date | None, reported_on: date | None, today: date) -> ReportClock:
    """The clock of one incident on `today` (the clinic's calendar day).

    A report counts as submitted once its date is recorded, whatever the
    incident's status: a closed incident whose report was never filed still
    shows as overdue, so closing it cannot hide a missed duty.
    """
    if reported_on is not None:
        late = max(0, (reported_on - due_on).days) if due_on is not None else 0
        return ReportClock(ClockState.REPORTED, None, late)
    if due_on is None:
        return ReportClock(ClockState.NO_DEADLINE, None)
    left = (due_on - today).days
    if left < 0:
        return ReportClock(ClockState.OVERDUE, left)
    if left == 0:
        return ReportClock(ClockState.DUE_TODAY, 0)
    return ReportClock(ClockState.RUNNING, left)


def clinic_today(now: datetime) -> date:
    """The clinic's calendar day at `now`: reporting clocks count Seoul days."""
    return now.astimezone(CLINIC_TZ).date()
