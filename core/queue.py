"""The follow-up queue: who is on it, in which order, and how a line reads.

The order is defined here once, as a pure reference (`sort_key`), and
implemented in SQL by `db.queue`; a test checks the two agree on random data.

1. Open, unacknowledged physician alerts (emergency before urgent, oldest first).
2. Overdue next touchpoints, by the patient's latest triage severity (highest
   first), then most overdue first.
3. Due next touchpoints (window open), closing soonest first.
4. Upcoming next touchpoints, opening soonest first.
Ties go to the lower patient id, so the order is total and stable.

A patient's *next touchpoint* is the unresolved one with the smallest
(closes_at, opens_at, id); the database caches it on the patient row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from core.countries import country_name
from core.domain import Channel, Disposition, TouchpointState
from core.schedules import days_after_procedure, touchpoint_state


class QueueCategory(IntEnum):
    """The four bands of the queue, in display order."""

    ALERT = 0
    OVERDUE = 1
    DUE = 2
    UPCOMING = 3

    @property
    def label(self) -> str:
        """What the header calls this band."""
        return {0: "Alerts", 1: "Overdue", 2: "Due", 3: "Upcoming"}[self.value]


class QueueRow(NamedTuple):
    """One patient on the queue with their next touchpoint.

    A named tuple rather than a frozen dataclass: a page builds hundreds of
    these per poll, and tuple construction is several times cheaper.
    """

    patient_id: int
    patient_code: str
    patient_name: str
    country: str
    language: str
    timezone: str
    channel: Channel
    assigned_to_id: int | None
    assigned_to: str | None
    latest_disposition: Disposition | None
    last_contact_at: datetime | None
    last_heard_at: datetime | None
    next_touchpoint_id: int | None
    next_template: str | None
    next_day: int | None
    next_opens_at: datetime | None
    next_closes_at: datetime | None
    procedure_at: datetime | None
    alert_disposition: Disposition | None = None
    alert_since: datetime | None = None
    report_due_on: date | None = None
    """Earliest MFDS report due date among the patient's incidents still owing one."""
    native_name: str | None = None
    """The name in the patient's own script, for the search; None when not recorded."""
    documents_missing: bool = False
    """The patient has left Seoul (departure today or past) without every checklist document."""

    @property
    def severity(self) -> int:
        """Rank of the latest triage (0 when never triaged)."""
        return self.latest_disposition.severity if self.latest_disposition else 0

    def category(self, now: datetime) -> QueueCategory | None:
        """Which band the patient is in at `now`; None means not on the queue."""
        if self.alert_disposition is not None:
            return QueueCategory.ALERT
        if self.next_opens_at is None or self.next_closes_at is None:
            return None
        state = touchpoint_state(now, self.next_opens_at, self.next_closes_at, None)
        return {
            TouchpointState.OVERDUE: QueueCategory.OVERDUE,
            TouchpointState.DUE: QueueCategory.DUE,
            TouchpointState.SCHEDULED: QueueCategory.UPCOMING,
        }[state]

    def local_now(self, now: datetime) -> datetime:
        """The patient's wall-clock time at `now`."""
        return now.astimezone(ZoneInfo(self.timezone))

    def days_after(self, now: datetime) -> int | None:
        """Day N of the next touchpoint's episode, on the patient's own calendar."""
        if self.procedure_at is None:
            return None
        return days_after_procedure(self.procedure_at, now, self.timezone)

    def quiet_since(self, now: datetime, quiet_days: int) -> timedelta | None:
        """How long the patient has been silent, when that is past `quiet_days`
        while a follow-up window is open or overdue (guide G2: a channel that
        goes quiet is the signature of theatrical follow-up)."""
        if self.category(now) not in (QueueCategory.OVERDUE, QueueCategory.DUE):
            return None
        if self.last_heard_at is None:
            # Never heard back: count from the procedure, the first chance to reply.
            if self.procedure_at is None:
                return None
            silence = now - self.procedure_at
        else:
            silence = now - self.last_heard_at
        return silence if silence >= timedelta(days=quiet_days) else None


_FAR = datetime.max.replace(tzinfo=ZoneInfo("UTC"))


def sort_key(row: QueueRow, now: datetime) -> tuple[int, int, datetime, int]:
    """The queue order as a tuple; smaller sorts first. Only for rows on the queue."""
    category = row.category(now)
    if category is QueueCategory.ALERT:
        assert row.alert_disposition is not None
        return (0, -row.alert_disposition.severity, row.alert_since or _FAR, row.patient_id)
    assert row.next_opens_at is not None and row.next_closes_at is not None
    if category is QueueCategory.OVERDUE:
        return (1, -row.severity, row.next_closes_at, row.patient_id)
    if category is QueueCategory.DUE:
        return (2, 0, row.next_closes_at, row.patient_id)
    return (3, 0, row.next_opens_at, row.patient_id)


@dataclass(frozen=True)
class QueueFilter:
    """What the coordinator narrowed the queue to. Open alerts are never hidden."""

    assigned: str | None = None  # None, "mine" or "unassigned"
    me: int | None = None  # staff id behind "mine"
    overdue_only: bool = False
    min_severity: Disposition | None = None
    country: str | None = None
    language: str | None = None
    search: str | None = None

    def describe(self) -> str:
        """The active filters in a few words for the header ('' when none)."""
        parts = []
        if self.assigned:
            parts.append(self.assigned)
        if self.overdue_only:
            parts.append("overdue only")
        if self.min_severity:
            parts.append(f"{self.min_severity.value}+")
        if self.country:
            parts.append(f"country {self.country}")
        if self.language:
            parts.append(f"language {self.language}")
        if self.search:
            parts.append(f"search {self.search!r}")
        return ", ".join(parts)


def country_filter(typed: str) -> str | None:
    """The country code a coordinator typed into the queue's country filter; None
    (every country) for nothing typed.

    A name or an unknown code would silently show no patient at all, so it is
    refused with a sentence saying what a country code is ("Japan" is JP).
    """
    code = typed.strip().upper()
    if not code:
        return None
    if len(code) == 2 and country_name(code) != code:
        return code
    suggestion = _country_named(typed.strip())
    if suggestion is not None:
        raise ValueError(
            f"{typed.strip()!r} is not a country code; {country_name(suggestion)} is {suggestion}."
        )
    raise ValueError(
        f"{typed.strip()!r} is not a country code: type the two-letter ISO code of the "
        "country the patient is in, such as JP (Japan), TH (Thailand) or US."
    )


def _country_named(name: str) -> str | None:
    """The ISO code of a country typed by name ("Japan", "japan", "JPN"), if any."""
    import pycountry  # only when a name was typed: the queue's first paint need not load it

    try:
        found = pycountry.countries.lookup(name)
    except LookupError:
        return None
    return str(found.alpha_2)


def language_filter(typed: str) -> str | None:
    """The language tag typed into the queue's language filter, written as the clinic
    stores tags ("ja", "zh-Hant", "pt-BR"); None for nothing typed.

    Case is put right rather than lowered, so "zh-hant" and "ZH-HANT" find the
    patients recorded as zh-Hant.
    """
    parts = [part for part in typed.strip().replace("_", "-").split("-") if part]
    if not parts:
        return None
    tag = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            tag.append(part.title())  # a script: Hant, Latn
        elif (len(part) == 2 and part.isalpha()) or (len(part) == 3 and part.isdigit()):
            tag.append(part.upper())  # a region: BR, TW, 419
        else:
            tag.append(part.lower())
    return "-".join(tag)


def matches(row: QueueRow, wanted: QueueFilter, now: datetime) -> bool:
    """Whether a row passes the filter (reference for the SQL version)."""
    category = row.category(now)
    if category is None:
        return False
    if category is QueueCategory.ALERT:
        return True
    if wanted.assigned == "mine" and row.assigned_to_id != wanted.me:
        return False
    if wanted.assigned == "unassigned" and row.assigned_to_id is not None:
        return False
    if wanted.overdue_only and category is not QueueCategory.OVERDUE:
        return False
    if wanted.min_severity and row.severity < wanted.min_severity.severity:
        return False
    if wanted.country and row.country != wanted.country:
        return False
    if wanted.language and row.language != wanted.language:
        return False
    if wanted.search:
        needle = wanted.search.casefold()
        native = (row.native_name or "").casefold()
        if not (
            row.patient_code.casefold().startswith(needle)
            or needle in row.patient_name.casefold()
            or needle in native
        ):
            return False
    return True


def order_queue(
    rows: Iterable[QueueRow], now: datetime, wanted: QueueFilter | None = None
) -> list[QueueRow]:
    """The reference queue: filter, then sort by `sort_key`."""
    chosen = [r for r in rows if matches(r, wanted or QueueFilter(), now)]
    return sorted(chosen, key=lambda r: sort_key(r, now))


@dataclass(frozen=True)
class QueueCounts:
    """How many patients are in each band (after filters)."""

    alerts: int
    overdue: int
    due: int
    upcoming: int

    @property
    def total(self) -> int:
        """Everyone on the queue."""
        return self.alerts + self.overdue + self.due + self.upcoming


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


def due_phrase(row: QueueRow, now: datetime) -> str:
    """'overdue 1d 3h', '5h 10m left' (due), 'in 2d' (upcoming) or the alert."""
    category = row.category(now)
    if category is QueueCategory.ALERT and row.alert_since is not None:
        return f"alert {humanise(now - row.alert_since)}"
    if row.next_opens_at is None or row.next_closes_at is None:
        return ""
    state = touchpoint_state(now, row.next_opens_at, row.next_closes_at, None)
    if state is TouchpointState.OVERDUE:
        return f"overdue {humanise(now - row.next_closes_at)}"
    if state is TouchpointState.DUE:
        return f"{humanise(row.next_closes_at - now)} left"
    return f"in {humanise(row.next_opens_at - now)}"
