"""Clocks: the real one, and one tests can set.

Every rule that depends on "now" takes a `Clock`, so overdue touchpoints,
reporting deadlines and re-escalation timers can be tested at exact instants.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current instant, always timezone-aware UTC."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current instant in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime) -> None:
        self._at = _require_aware(at)

    def now(self) -> datetime:
        """The instant the clock was set to."""
        return self._at

    def set(self, at: datetime) -> None:
        """Jump to an instant."""
        self._at = _require_aware(at)

    def advance(self, by: timedelta) -> None:
        """Move forward (or back, with a negative delta)."""
        self._at = self._at + by


def _require_aware(at: datetime) -> datetime:
    # A naive datetime would silently mean "local time of whatever server";
    # refuse it so every stored instant is unambiguous UTC.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("clock instants must be timezone-aware")
    return at.astimezone(UTC)
