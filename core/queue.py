"""What a coordinator sees in one queue line, and how it reads.

The database fills `QueueEntry` rows; the screens format them with the
helpers here, so wording like "overdue 3d 4h" is the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain import Channel, Disposition, TouchpointState
from core.schedules import days_after_procedure, touchpoint_state


@dataclass(frozen=True)
class QueueEntry:
    """One open touchpoint with the patient facts the queue shows."""

    touchpoint_id: int
    patient_id: int
    patient_code: str
    patient_name: str
    country: str
    timezone: str
    channel: Channel
    procedure_at: datetime
    template: str
    day: int
    due_date: date
    opens_at: datetime
    closes_at: datetime
    latest_disposition: Disposition | None
    last_contact_at: datetime | None
    assigned_to: str | None

    def state(self, now: datetime) -> TouchpointState:
        """Due or overdue (or scheduled) at `now`, by the one shared rule."""
        return touchpoint_state(now, self.opens_at, self.closes_at, None)

    def days_after(self, now: datetime) -> int:
        """Whole days since the procedure."""
        return days_after_procedure(self.procedure_at, now)

    def local_now(self, now: datetime) -> datetime:
        """The patient's wall-clock time at `now`."""
        return now.astimezone(ZoneInfo(self.timezone))


@dataclass(frozen=True)
class QueueCounts:
    """How many open touchpoints there are in each category."""

    overdue: int
    due: int

    @property
    def total(self) -> int:
        """Everything that needs a contact now."""
        return self.overdue + self.due


def humanise(delta: timedelta) -> str:
    """A short duration a coordinator reads at a glance: '12d', '1d 4h', '5h 10m', '12m'.

    Hours stop mattering once a gap is two days or more, so they are dropped.
    """
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days >= 2:
        return f"{days}d"
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def due_phrase(entry: QueueEntry, now: datetime) -> str:
    """'overdue 1d 3h', '5h 10m left' (due) or 'opens in 2d'."""
    state = entry.state(now)
    if state is TouchpointState.OVERDUE:
        return f"overdue {humanise(now - entry.closes_at)}"
    if state is TouchpointState.DUE:
        return f"{humanise(entry.closes_at - now)} left"
    return f"opens in {humanise(entry.opens_at - now)}"
