"""Which time zones a country has, and a touchpoint window carried to a new zone.

When a patient flies on (Tokyo to Bangkok), their country and their time zone
change together: a country with one zone (Thailand) has its zone suggested, a
country with several (the United States) must be asked, and a zone that is
not the country's is refused. The table is the IANA `zone.tab` that the
`tzdata` package ships, the same data zoneinfo reads, so a zone named here
always loads.

Windows are stored in UTC but were fixed at local midnights where the patient
was. `rezoned_window` keeps the due date and the window's shape (days before
and after the due date) and moves the midnights to the new zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo


@cache
def _zone_table() -> dict[str, tuple[str, ...]]:
    """Country code -> its zones, in the table's order (the most populous first)."""
    text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        # country code, coordinates, zone, comments: tab-separated.
        code, _coordinates, zone, *_ = line.split("\t")
        zones.setdefault(code.upper(), []).append(zone)
    return {code: tuple(names) for code, names in zones.items()}


def zones_for_country(code: str) -> tuple[str, ...]:
    """The IANA zones of an ISO 3166-1 two-letter country code ("TH" -> ("Asia/Bangkok",)).

    Empty for a code the table does not know.
    """
    return _zone_table().get(code.strip().upper(), ())


def suggested_zone(code: str) -> str | None:
    """The zone to fill in for the country: its only one, or None when it has several."""
    zones = zones_for_country(code)
    return zones[0] if len(zones) == 1 else None


def rezoned_window(
    due_date: date, opens_at: datetime, closes_at: datetime, old: ZoneInfo, new: ZoneInfo
) -> tuple[datetime, datetime]:
    """(opens_at, closes_at) in UTC of a window fixed in `old`, carried to `new`.

    The due date stays; the window still opens at local midnight the same
    number of days before it and closes at local midnight the same number of
    days after, now midnights where the patient is.
    """
    before = due_date - opens_at.astimezone(old).date()
    after = closes_at.astimezone(old).date() - due_date
    return _midnight(due_date - before, new), _midnight(due_date + after, new)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone).astimezone(UTC)
