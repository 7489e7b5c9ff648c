"""Checking where a patient is and how to reach them, one field at a time.

The CSV import (core.patient_import) and the "Where is the patient now" edit
(db.whereabouts) check a country, a time zone, a phone number, a messenger
handle and an e-mail address with these same functions, so a value the import
takes is a value the form takes and the other way round.

The field checks raise `ValueError` with the problem; `checked_move` and
`checked_contacts` turn the first problem into a `FieldRefused` that names
the field, for a face to show beside it.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Final

import phonenumbers

from core.commands import ContactDetails, PatientMove
from core.countries import country_name
from core.domain import Channel
from core.plain_text import refuse_control
from core.refusals import Refused
from core.zones import suggested_zone, zones_for_country

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
"""An e-mail address as far as the clinic checks one: something@somewhere.tld, no spaces."""

_HANDLE_PREFIX = re.compile(r"^(?P<prefix>[A-Za-z]+):(?P<rest>.*)$", re.DOTALL)
_PHONE_CHANNELS: Final = (Channel.PHONE, Channel.SMS, Channel.WHATSAPP)
_MAX_TEXT: Final = 200

FIELD_WORDS: Final = {
    "country": "Country",
    "timezone": "Time zone",
    "phone": "Phone",
    "channel_handle": "Messenger handle",
    "email": "Email",
}
"""How each field is named to a person (the keys are the form's input ids)."""


class FieldRefused(Refused):
    """One field's value cannot be saved; `field` says which, `str()` says why in words."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{FIELD_WORDS.get(field, field)}: {problem}; nothing was saved")


def country_code(value: str) -> str:
    """An ISO 3166-1 two-letter code, upper case ("th" -> "TH")."""
    code = value.strip().upper()
    # country_name hands an unknown code back unchanged: no ISO country is named by its code.
    if len(code) != 2 or country_name(code) == code:
        raise ValueError(f"{value!r} is not an ISO 3166-1 two-letter country code")
    return code


@cache
def geographic_timezones() -> frozenset[str]:
    """IANA keys naming a place ("Asia/Tokyo"), plus "UTC".

    Not every key zoneinfo loads: "localtime" is the server's own zone,
    "posixrules" and "Factory" are no zone a patient lives in.
    """
    return frozenset(k for k in zoneinfo.available_timezones() if "/" in k) | {"UTC"}


def timezone_key(value: str) -> str:
    """An IANA time zone a patient can live in."""
    if value not in geographic_timezones():
        raise ValueError(
            f"{value!r} is not an IANA time zone such as 'Asia/Tokyo' or 'America/New_York'"
        )
    return value


def email_address(value: str) -> str:
    """An e-mail address, as written."""
    refuse_control(value)
    if len(value) > _MAX_TEXT or not EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def phone_number(value: str, home: str | None) -> str | None:
    """`value` as E.164, or None when it is no valid number.

    A number without +country code is read as one of the home country (when
    that is valid); with no valid home country it is handed back unchecked,
    since the home country is itself reported.
    """
    if home is None and not value.startswith("+"):
        return value
    try:
        parsed = phonenumbers.parse(value, home)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def handle_for_channel(channel: Channel, value: str, home: str | None) -> str:
    """The handle as stored for `channel`: a number in E.164 for phone, SMS and
    WhatsApp, an address for e-mail, one word for a messenger.

    "whatsapp:+1212...", "line:yuki_t": an optional "name:" prefix is kept as written.
    """
    # Before anything echoes it: a handle is shown on screens and exports (core.plain_text).
    refuse_control(value)
    match = _HANDLE_PREFIX.match(value)
    prefix, rest = (f"{match['prefix']}:", match["rest"].strip()) if match else ("", value)
    if channel in _PHONE_CHANNELS:
        number = phone_number(rest, home)
        if number is None:
            raise ValueError(
                f"{value!r} is not a phone number, as a {channel.value} handle must be "
                f"(write it as +81 90 ... or {channel.value}:+81 90 ...)"
            )
        return prefix + number
    if channel is Channel.EMAIL:
        if len(rest) > _MAX_TEXT or not EMAIL.match(rest):
            raise ValueError(f"{value!r} is not an e-mail address, as an email handle must be")
        return prefix + rest
    if not rest or any(ch.isspace() for ch in value):
        raise ValueError(
            f"{value!r} is not a {channel.value} handle: it must not be empty or contain spaces"
        )
    return value


def checked_move(move: PatientMove) -> PatientMove:
    """The move as stored: the country's code upper case and a zone of that country.

    A country with one zone gets it when none is given; a country with several
    must be given one; a zone of another country is refused.
    """
    try:
        country = country_code(move.country)
    except ValueError as exc:
        raise FieldRefused("country", str(exc)) from None
    name = country_name(country)
    zones = zones_for_country(country)
    wanted = (move.timezone or "").strip() or suggested_zone(country)
    if wanted is None:
        raise FieldRefused("timezone", f"{name} has several time zones; choose one ({_few(zones)})")
    try:
        zone = timezone_key(wanted)
    except ValueError as exc:
        raise FieldRefused("timezone", str(exc)) from None
    if zones and zone not in zones:
        raise FieldRefused("timezone", f"{zone} is not a time zone of {name} ({_few(zones)})")
    return PatientMove(country, zone)


def checked_contacts(
    contacts: ContactDetails, channel: Channel, home_country: str
) -> ContactDetails:
    """The contact details as stored: numbers in E.164 (a number without +code is
    one of the home country), empty phone or e-mail as none."""
    handle = contacts.channel_handle.strip()
    if not handle:
        raise FieldRefused("channel_handle", f"the patient's {channel.value} handle is needed")
    if len(handle) > _MAX_TEXT:
        raise FieldRefused("channel_handle", f"longer than {_MAX_TEXT} characters")
    try:
        handle = handle_for_channel(channel, handle, home_country)
    except ValueError as exc:
        raise FieldRefused("channel_handle", str(exc)) from None
    phone = (contacts.phone or "").strip() or None
    if phone is not None:
        try:
            refuse_control(phone)
        except ValueError as exc:
            raise FieldRefused("phone", str(exc)) from None
        number = phone_number(phone, home_country)
        if number is None:
            raise FieldRefused(
                "phone", f"{phone!r} is not a valid phone number (write it as +81 90 ...)"
            )
        phone = number
    email = (contacts.email or "").strip() or None
    if email is not None:
        try:
            email_address(email)
        except ValueError as exc:
            raise FieldRefused("email", str(exc)) from None
    return ContactDetails(handle, phone, email)


def _few(zones: tuple[str, ...], shown: int = 4) -> str:
    listed = ", ".join(zones[:shown])
    more = len(zones) - shown
    return f"{listed} and {more} more" if more > 0 else listed
