"""The on-call schedule's rules: what a shift may be, and where an `oncall` page goes.

Pure functions; `db.oncall` stores shifts and the dispatcher asks
`route_page` at the moment of sending, so a page follows the schedule as it
is then, not as it was when the escalation was raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from core.plain_text import refusal

ONCALL = "oncall"
"""The escalation target (and the static Apprise tag of the clinic's on-call group)."""

MAX_SHIFT = timedelta(days=14)
"""Longest single shift: longer cover is entered as several shifts, so it gets looked at."""


class ShiftTimeError(ValueError):
    """A shift cannot be used as asked (its times, its note); `str()` says why in one sentence."""


def check_shift_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """Refuse a window that is empty, backwards, longer than 14 days, or already over."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ShiftTimeError("shift times must carry a time zone")
    if ends_at <= starts_at:
        raise ShiftTimeError("the shift must end after it starts")
    if ends_at - starts_at > MAX_SHIFT:
        raise ShiftTimeError(
            f"a shift may last at most {MAX_SHIFT.days} days; enter longer cover as several shifts"
        )
    if ends_at <= now:
        raise ShiftTimeError("the shift would already be over")


def check_shift_note(note: str | None) -> None:
    """Refuse a note carrying terminal control (ESC, a bidi override): it is shown on
    the on-call screen and in `oncall list` (core.plain_text). A note may span lines."""
    problem = refusal("The note", note or "", notes=True)
    if problem is not None:
        raise ShiftTimeError(problem)


def parse_clinic_time(text: str, clinic_tz: tzinfo) -> datetime:
    """'2026-11-23 09:00' in clinic time, or any ISO time with an explicit offset.

    Raises ShiftTimeError naming the expected form for anything else.
    """
    cleaned = text.strip()
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ShiftTimeError(
            f"{cleaned!r} is not a time: use 'YYYY-MM-DD HH:MM' (clinic time) "
            "or add an offset such as '+09:00'"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=clinic_tz)
    return parsed


@dataclass(frozen=True)
class OnCallPhysician:
    """Who is on call at an instant, as the router needs them."""

    login: str
    notify_tag: str | None


@dataclass(frozen=True)
class PageRoute:
    """Where one outbox row is actually sent, and what the row records about it."""

    tag: str
    """The Apprise tag to deliver to."""
    on_call: str | None = None
    """The login of the physician on call at sending time (only for `oncall` rows)."""
    note: str | None = None
    """Why the static `oncall` tag was used instead of a physician's own tag."""
    first_tag: str | None = None
    """The physician's own tag, tried first in the same attempt, when it did not deliver."""
    first_error: str | None = None
    """Why `first_tag` did not deliver."""

    def record(self) -> dict[str, str | None]:
        """What the outbox row's attempt history keeps about this routing."""
        kept = {"physician": self.on_call, "tag": self.tag, "note": self.note}
        if self.first_tag is not None:
            kept |= {"first_tag": self.first_tag, "first_error": self.first_error}
        return kept


def route_page(target_tag: str, on_call: OnCallPhysician | None) -> PageRoute:
    """The tag to send to for `target_tag`, given who is on call at sending time.

    Only the `oncall` target is resolved: to the on-call physician's own tag
    when there is one, else to the static `oncall` tag (the clinic's on-call
    group), with a note saying why. When the physician's own tag then does not
    deliver, `fall_back` sends to the static tag in the same attempt.
    """
    if target_tag != ONCALL:
        return PageRoute(target_tag)
    if on_call is None:
        return PageRoute(
            ONCALL,
            None,
            f"nobody on call in the schedule: sent to the static {ONCALL!r} tag",
        )
    if not on_call.notify_tag:
        return PageRoute(
            ONCALL,
            on_call.login,
            f"on-call physician {on_call.login} has no notify tag: "
            f"sent to the static {ONCALL!r} tag",
        )
    return PageRoute(on_call.notify_tag, on_call.login)


def fall_back(route: PageRoute, *, matched: bool, error: str | None) -> PageRoute | None:
    """Where an `oncall` page goes, in the same attempt, when the physician's own tag did not
    deliver: to the static `oncall` tag, with a note saying why. None when `route` was not
    to a physician's own tag (other targets, or the static tag already).

    `matched` is False when no configured service carries the tag; `error` is why the
    delivery to it failed otherwise.
    """
    if route.on_call is None or route.tag == ONCALL:
        return None
    why = "reached no service"
    if matched:
        why = f"failed ({error})" if error else "failed"
    return PageRoute(
        ONCALL,
        route.on_call,
        f"on-call physician {route.on_call}'s tag {route.tag!r} {why}: "
        f"sent to the static {ONCALL!r} tag",
        first_tag=route.tag,
        first_error=error if matched else f"no Apprise service is tagged {route.tag!r}",
    )


def unreachable_tags(
    physicians: Iterable[tuple[str, str | None]], reaches: Callable[[str], bool]
) -> list[str]:
    """One warning line per physician whose notify tag reaches no configured service.

    `physicians` is (login, notify tag) pairs; physicians without a tag are left out
    (their `oncall` pages go to the static tag by design). `reaches(tag)` says whether
    the Apprise config has a service for the tag.
    """
    return [
        f"physician {login}'s notify tag {tag!r} matches no service in the Apprise config: "
        f"pages to them cannot be delivered (oncall pages fall back to the static {ONCALL!r} tag)"
        for login, tag in physicians
        if tag and not reaches(tag)
    ]


def window_label(starts_at: datetime, ends_at: datetime, tz: tzinfo, *, zone: bool = True) -> str:
    """'Mon 23 Nov 09:00 – Tue 24 Nov 09:00 KST' in the given (clinic) time zone.

    `zone=False` leaves the zone name off, for a table whose heading names it.
    """
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    label = f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M}"
    return f"{label} {end:%Z}" if zone else label


def uncovered(
    windows: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) no window covers, earliest first.

    Those are the times an `oncall` page goes to the static tag: the gaps an
    admin wants to see next to the shifts.
    """
    gaps: list[tuple[datetime, datetime]] = []
    covered_to = start
    for starts_at, ends_at in sorted(windows):
        if starts_at > covered_to:
            gaps.append((covered_to, min(starts_at, end)))
        covered_to = max(covered_to, ends_at)
        if covered_to >= end:
            break
    if covered_to < end:
        gaps.append((covered_to, end))
    return [(a, b) for a, b in gaps if a < b]
