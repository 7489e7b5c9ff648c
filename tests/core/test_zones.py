"""Countries and their time zones, windows carried to a new zone, and the whereabouts
checks shared by the CSV import and the "Where is the patient now" edit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.commands import ContactDetails, PatientMove
from core.contacts import FieldRefused, checked_contacts, checked_move
from core.domain import Channel
from core.zones import rezoned_window, suggested_zone, zones_for_country

TOKYO, BANGKOK, NEW_YORK = (
    ZoneInfo("Asia/Tokyo"),
    ZoneInfo("Asia/Bangkok"),
    ZoneInfo("America/New_York"),
)


def test_a_one_zone_country_has_its_zone_suggested() -> None:
    assert zones_for_country("TH") == ("Asia/Bangkok",)
    assert zones_for_country(" th ") == ("Asia/Bangkok",)
    assert suggested_zone("TH") == "Asia/Bangkok"
    assert suggested_zone("KR") == "Asia/Seoul"


def test_a_country_with_several_zones_is_asked() -> None:
    zones = zones_for_country("US")
    assert len(zones) > 5
    assert {"America/New_York", "America/Chicago", "America/Los_Angeles"} <= set(zones)
    assert suggested_zone("US") is None


def test_an_unknown_code_has_no_zone() -> None:
    assert zones_for_country("XX") == ()
    assert suggested_zone("XX") is None


def test_a_window_moves_to_the_new_zones_midnights_keeping_its_due_date_and_shape() -> None:
    # Day 7 of a standard schedule: due 24 Nov, opens a day before, closes two days after.
    due = date(2026, 11, 24)
    opens = datetime(2026, 11, 23, tzinfo=TOKYO).astimezone(UTC)
    closes = datetime(2026, 11, 27, tzinfo=TOKYO).astimezone(UTC)
    new_opens, new_closes = rezoned_window(due, opens, closes, TOKYO, BANGKOK)
    assert new_opens == datetime(2026, 11, 23, tzinfo=BANGKOK)
    assert new_closes == datetime(2026, 11, 27, tzinfo=BANGKOK)
    assert new_opens - opens == new_closes - closes  # two hours later, both ends


def test_a_window_carried_across_a_clock_change_keeps_local_midnights() -> None:
    # New York leaves daylight time on 1 Nov 2026: the window still opens and
    # closes at midnight there, not at 23:00 or 01:00.
    due = date(2026, 11, 1)
    opens = datetime(2026, 10, 31, tzinfo=TOKYO).astimezone(UTC)
    closes = datetime(2026, 11, 3, tzinfo=TOKYO).astimezone(UTC)
    new_opens, new_closes = rezoned_window(due, opens, closes, TOKYO, NEW_YORK)
    assert new_opens.astimezone(NEW_YORK) == datetime(2026, 10, 31, tzinfo=NEW_YORK)
    assert new_closes.astimezone(NEW_YORK) == datetime(2026, 11, 3, tzinfo=NEW_YORK)
    assert (new_opens.astimezone(NEW_YORK).hour, new_closes.astimezone(NEW_YORK).hour) == (0, 0)


def test_a_move_to_a_one_zone_country_takes_its_zone() -> None:
    assert checked_move(PatientMove("th")) == PatientMove("TH", "Asia/Bangkok")
    assert checked_move(PatientMove("TH", "Asia/Bangkok")) == PatientMove("TH", "Asia/Bangkok")


@pytest.mark.parametrize(
    ("move", "field", "words"),
    [
        (PatientMove("XX"), "country", "Country: 'XX' is not an ISO 3166-1"),
        (PatientMove("Thailand"), "country", "Country: 'Thailand' is not"),
        (PatientMove("TH", "Asia/Tokyo"), "timezone", "Asia/Tokyo is not a time zone of Thailand"),
        (PatientMove("US"), "timezone", "United States has several time zones; choose one"),
        (PatientMove("US", "Mars/Olympus"), "timezone", "'Mars/Olympus' is not an IANA"),
    ],
)
def test_a_bad_move_is_refused_naming_the_field(move: PatientMove, field: str, words: str) -> None:
    with pytest.raises(FieldRefused) as refused:
        checked_move(move)
    assert refused.value.field == field
    assert words in str(refused.value)
    assert str(refused.value).endswith("nothing was saved")


def test_a_move_to_one_of_several_zones_is_kept() -> None:
    assert checked_move(PatientMove("US", "America/Chicago")) == PatientMove(
        "US", "America/Chicago"
    )


def test_contact_details_are_stored_as_the_import_stores_them() -> None:
    checked = checked_contacts(
        ContactDetails("line:yuki_t", "090-1234-5678", " yuki@example.jp "), Channel.LINE, "JP"
    )
    assert checked == ContactDetails("line:yuki_t", "+819012345678", "yuki@example.jp")
    assert checked_contacts(ContactDetails("whatsapp:+66 81 234 5678"), Channel.WHATSAPP, "JP") == (
        ContactDetails("whatsapp:+66812345678")
    )
    # Empty phone and e-mail: none.
    assert checked_contacts(ContactDetails("yuki_t", " ", ""), Channel.LINE, "JP") == (
        ContactDetails("yuki_t")
    )


@pytest.mark.parametrize(
    ("contacts", "channel", "field", "words"),
    [
        (ContactDetails("yuki_t", "+1 2"), Channel.LINE, "phone", "Phone: '+1 2' is not a valid"),
        (ContactDetails("yuki_t", None, "yuki@"), Channel.LINE, "email", "Email: 'yuki@' is not"),
        (ContactDetails("yuki t"), Channel.LINE, "channel_handle", "Messenger handle: 'yuki t'"),
        (ContactDetails(""), Channel.LINE, "channel_handle", "Messenger handle: the patient's"),
        (ContactDetails("12"), Channel.WHATSAPP, "channel_handle", "is not a phone number"),
    ],
)
def test_bad_contact_details_are_refused_naming_the_field(
    contacts: ContactDetails, channel: Channel, field: str, words: str
) -> None:
    with pytest.raises(FieldRefused) as refused:
        checked_contacts(contacts, channel, "JP")
    assert refused.value.field == field
    assert words in str(refused.value)
