"""The on-call schedule: shifts, who is on call now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.commands import NewShift
from db import oncall
from db.followup import Actor
from db.oncall import ShiftSet, ShiftView
from db.services.base import ServiceBase


@dataclass(frozen=True)
class OnCallSchedule:
    """One read of the schedule: the shift on now and the live shifts ahead."""

    now_shift: ShiftView | None
    """None: nobody is on call, pages go to the static `oncall` tag."""
    shifts: list[ShiftView]
    """Live shifts overlapping [read_at, read_at + days), earliest first."""
    read_at: datetime


class OnCallServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`)."""

    def on_call_schedule(self, days: int, now: datetime | None = None) -> OnCallSchedule:
        """Who is on call at `now` (default: the clock) and the shifts of the next `days` days."""
        at = now or self.clock.now()

        def read(session: Session) -> OnCallSchedule:
            return OnCallSchedule(
                oncall.current_shift(session, at),
                oncall.list_shifts(session, at, at + timedelta(days=days)),
                at,
            )

        return self._read(read)

    def on_call_shifts(self, start: datetime, end: datetime) -> list[ShiftView]:
        """Live shifts overlapping [start, end), earliest first."""
        return self._read(oncall.list_shifts, start, end)

    def set_on_call_shift(self, actor: Actor, shift: NewShift) -> ShiftSet:
        """Put a physician on call for [starts_at, ends_at); admins only.

        An overlap is refused naming the shift in the way, unless `shift.replace`:
        then the new shift takes over exactly the overlapped time.
        """
        clinic_tz = ZoneInfo(self.settings.clinic_timezone)
        return self._apply(oncall.set_shift, actor, shift, clinic_tz=clinic_tz)

    def cancel_on_call_shift(
        self, actor: Actor, shift_id: int, *, expected_version: int | None = None
    ) -> ShiftView:
        """Cancel a live shift not over yet; returns it as it was. With
        `expected_version`, a shift changed since it was read is refused."""
        return self._apply(oncall.cancel_shift, actor, shift_id, expected_version=expected_version)
