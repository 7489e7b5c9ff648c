"""Where the patient is: emergency numbers and home reporting routes by country.

The facts live in `core/data/countries.toml`, one row per verified fact with
the public page it was read on (the national government's or health service's
own page, or the European Commission's 112 page for the EU) and the date it
was last checked, so a clinic admin can check and correct them without
touching code. The file is validated the first time it is read; a bad row
stops the program rather than show a wrong number to a coordinator telling a
patient whom to call.

A home reporting route that could not be found for patients is still a row:
it says so in words, with the date it was looked for, so a screen never shows
an empty answer where a search was made.

A country missing from the table is never guessed: the answer says so plainly
and offers 112, the number most mobile phones route to local emergency
services, with a warning to confirm the local number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Annotated, Any, TypeVar

import pycountry
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.data_tables import read_table

FALLBACK_NUMBER = "112"
"""Shown for a country the table does not know: most mobile phones route 112 locally."""

_DATA_FILE = "countries.toml"

# Dialled digits only: "000" (Australia) must stay a string with its zeros.
_Number = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,4}$")]
_Alpha2 = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# A public web page: scheme, a dotted host, and no spaces.
_Url = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^https?://[^\s/]+\.[^\s]+$")
]

# A source must be a public page, never a pointer back to the clinic's own
# planning notes: "see the brief" cannot be checked by anyone outside.
_INTERNAL_SOURCE = re.compile(r"(?i:\bbrief\b|domain\.md)|\bDOMAIN\b")


@dataclass(frozen=True)
class EmergencyContact:
    """The medical emergency number for where the patient is now."""

    country: str
    """ISO 3166-1 alpha-2 code, upper case, as asked for."""
    country_name: str
    """A name a coordinator recognises ("Taiwan", "South Korea"); the code if unknown."""
    number: str
    """The number to dial first."""
    alternatives: tuple[str, ...]
    """Other numbers that also reach medical help there."""
    known: bool
    """False when the country is not in the table and `number` is the 112 fallback."""
    warning: str | None
    """Said plainly on screen whenever `known` is False."""
    source: str | None
    """Title of the public page the row was read on; None for the fallback."""
    last_verified: date | None
    """When the row was last checked; None for the fallback."""
    source_url: str | None = None
    """Address of that page; None for the fallback."""

    @property
    def citation(self) -> str | None:
        """The source as a reader can follow it: 'title (address)'; None for the fallback."""
        return _citation(self.source, self.source_url)

    @property
    def numbers_text(self) -> str:
        """The numbers as read out: '999 (or 112)', '119'."""
        if not self.alternatives:
            return self.number
        return f"{self.number} (or {', '.join(self.alternatives)})"


@dataclass(frozen=True)
class ReportingRoute:
    """How an adverse event is reported to the regulator of one country."""

    country: str
    """ISO 3166-1 alpha-2 code."""
    country_name: str
    """A name a coordinator recognises."""
    authority: str
    """The regulator, e.g. 'Pharmaceuticals and Medical Devices Agency (PMDA)'."""
    route: str
    """The scheme or form to use, e.g. 'Yellow Card scheme'."""
    phone: str | None
    """A reporting telephone number where the table has one."""
    source: str
    """Title of the public page the row was read on."""
    last_verified: date
    """When the row was last checked."""
    source_url: str | None = None
    """Address of that page."""
    none_found_as_of: date | None = None
    """When no patient-facing route was found: the date it was looked for.

    `route` then says "none found as of <date>" in words, followed by what
    the home physician can do instead.
    """

    @property
    def patient_route_found(self) -> bool:
        """False when the row records that no patient-facing route was found."""
        return self.none_found_as_of is None

    @property
    def citation(self) -> str:
        """The source as a reader can follow it: 'title (address)'."""
        return _citation(self.source, self.source_url) or self.source


class _Row(BaseModel):
    """Fields every row of the data file carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    countries: list[_Alpha2] = Field(min_length=1)
    label: _Text | None = None
    source: _Text
    source_url: _Url
    last_verified: date


class _EmergencyRow(_Row):
    number: _Number
    alternatives: list[_Number] = Field(default_factory=list)


class _ReportingRow(_Row):
    authority: _Text
    route: _Text
    phone: _Text | None = None
    none_found_as_of: date | None = None


class _CountryFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    emergency: list[_EmergencyRow]
    reporting: list[_ReportingRow] = Field(default_factory=list)


_AnyRow = TypeVar("_AnyRow", bound=_Row)
_Entry = TypeVar("_Entry")


@dataclass(frozen=True)
class CountryTable:
    """The validated data file, indexed by country code."""

    emergency: dict[str, EmergencyContact]
    reporting: dict[str, ReportingRoute]


def country_name(code: str) -> str:
    """The everyday English name of an ISO alpha-2 code; the code itself if unknown.

    pycountry's common name wins over the formal one, so Taiwan is 'Taiwan'
    and Korea is 'South Korea' on a coordinator's screen.
    """
    record = _lookup(code)
    if record is None:
        return code
    return str(getattr(record, "common_name", None) or record.name)


def parse_country_table(text: str, source: str) -> CountryTable:
    """Parse and check the TOML text of the country table; `source` names it in errors.

    Raises ValueError on malformed TOML, a missing source, source address or
    date, a source address that is not an http(s) web address, a source that
    points back at internal planning notes instead of a public page, a number
    that is not digits, a code ISO 3166-1 does not know, a country listed twice
    in the same table, or a "no route found" row whose words do not give the
    date it was looked for.
    """
    raw = read_table(_CountryFile, text, f"country table {source}")
    for table, rows in (("emergency", raw.emergency), ("reporting", raw.reporting)):
        for index, checked in enumerate(rows):
            _check_source(checked, f"{table}.{index}", source)
    for index, route_row in enumerate(raw.reporting):
        _check_none_found(route_row, f"reporting.{index}", source)
    emergency = _by_country(raw.emergency, "emergency", source, _emergency_contact)
    reporting = _by_country(raw.reporting, "reporting", source, _reporting_route)
    return CountryTable(emergency=emergency, reporting=reporting)


def _by_country(
    rows: Iterable[_AnyRow], table: str, source: str, entry: Callable[[_AnyRow, str], _Entry]
) -> dict[str, _Entry]:
    """One entry per country the rows list, after refusing unknown and repeated codes."""
    found: dict[str, _Entry] = {}
    for row in rows:
        for code in _checked_codes(row, found.keys(), table, source):
            found[code] = entry(row, code)
    return found


def _emergency_contact(row: _EmergencyRow, code: str) -> EmergencyContact:
    return EmergencyContact(
        country=code,
        country_name=country_name(code),
        number=row.number,
        alternatives=tuple(row.alternatives),
        known=True,
        warning=None,
        source=row.source,
        last_verified=row.last_verified,
        source_url=row.source_url,
    )


def _reporting_route(row: _ReportingRow, code: str) -> ReportingRoute:
    return ReportingRoute(
        country=code,
        country_name=country_name(code),
        authority=row.authority,
        route=row.route,
        phone=row.phone,
        source=row.source,
        last_verified=row.last_verified,
        source_url=row.source_url,
        none_found_as_of=row.none_found_as_of,
    )


@cache
def country_table() -> CountryTable:
    """The shipped table, read and validated once per process."""
    data = resources.files("core") / "data" / _DATA_FILE
    return parse_country_table(data.read_text(encoding="utf-8"), _DATA_FILE)


def emergency_contact(country: str) -> EmergencyContact:
    """The emergency number for a patient now in `country` (ISO alpha-2).

    An unknown country gets 112 with `known=False` and a warning that says so.
    """
    code = _normalise(country)
    found = country_table().emergency.get(code)
    if found is not None:
        return found
    shown = code or "(none recorded)"
    name = country_name(code) if code else shown
    named = shown if name == shown else f"{name} ({shown})"
    return EmergencyContact(
        country=code,
        country_name=name,
        number=FALLBACK_NUMBER,
        alternatives=(),
        known=False,
        warning=(
            f"Country {named} is not in the clinic's emergency-number table. "
            f"{FALLBACK_NUMBER} is shown as the mobile-phone fallback; "
            "confirm the local emergency number."
        ),
        source=None,
        last_verified=None,
    )


def reporting_route(country: str) -> ReportingRoute | None:
    """The home adverse-event reporting route for `country`, or None if none is on file.

    A country whose regulator was searched without finding a patient-facing
    route still has a row: see `ReportingRoute.none_found_as_of`.
    """
    return country_table().reporting.get(_normalise(country))


def _normalise(country: str) -> str:
    return country.strip().upper()


def _lookup(code: str) -> Any:
    if len(code) != 2:
        return None
    try:
        return pycountry.countries.get(alpha_2=code)
    except (KeyError, LookupError):  # older pycountry raised instead of returning None
        return None


def _checked_codes(row: _Row, seen: Container[str], table: str, source: str) -> list[str]:
    """The row's codes, after refusing unknown and repeated ones."""
    for code in row.countries:
        if _lookup(code) is None:
            raise ValueError(f"country table {source}: {table}: {code} is not an ISO 3166-1 code")
        if code in seen:
            raise ValueError(f"country table {source}: {table}: {code} is listed twice")
    if len(set(row.countries)) != len(row.countries):
        raise ValueError(f"country table {source}: {table}: a row lists a country twice")
    return list(row.countries)


def _citation(title: str | None, url: str | None) -> str | None:
    if title is None:
        return None
    return f"{title} ({url})" if url else title


def _check_source(row: _Row, where: str, source: str) -> None:
    """Refuse a source that sends the reader back to internal notes instead of a public page."""
    for field, text in (("source", row.source), ("source_url", row.source_url)):
        if _INTERNAL_SOURCE.search(text):
            raise ValueError(
                f"country table {source}: {where}.{field}: {text!r} is not a public source; "
                "cite the government's or health service's own page"
            )


def _check_none_found(row: _ReportingRow, where: str, source: str) -> None:
    """A 'no route found' row must say so in words, with the date it was looked for."""
    says_none_found = "none found" in row.route.lower()
    if row.none_found_as_of is None:
        if says_none_found:
            raise ValueError(
                f"country table {source}: {where}: the route says 'none found' "
                "but none_found_as_of gives no date"
            )
        return
    expected = f"none found as of {row.none_found_as_of.isoformat()}"
    if expected not in row.route.lower():
        raise ValueError(
            f"country table {source}: {where}.route: must say {expected!r} "
            "so the reader sees when the route was looked for"
        )
