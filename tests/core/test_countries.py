"""Emergency numbers and home reporting routes by country (DOMAIN.md section 5)."""

from __future__ import annotations

from datetime import date

import pytest

from core.countries import (
    FALLBACK_NUMBER,
    country_name,
    country_table,
    emergency_contact,
    parse_country_table,
    reporting_route,
)

EU_EEA = [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "IS",
    "LI",
    "NO",
]


@pytest.mark.parametrize(
    ("country", "number", "alternatives"),
    [
        ("KR", "119", ()),
        ("JP", "119", ()),
        ("CN", "120", ()),
        ("TW", "119", ()),
        ("HK", "999", ()),
        ("MO", "999", ()),
        ("MN", "103", ()),
        ("RU", "112", ("103",)),
        ("KZ", "112", ("103",)),
        ("UZ", "103", ()),
        ("KG", "103", ()),
        ("VN", "115", ()),
        ("TH", "1669", ()),
        ("PH", "911", ()),
        ("ID", "112", ("119",)),
        ("MY", "999", ()),
        ("SG", "995", ()),
        ("US", "911", ()),
        ("CA", "911", ()),
        ("GB", "999", ("112",)),
        ("AU", "000", ()),
        ("NZ", "111", ()),
        ("AE", "998", ()),
        ("SA", "997", ()),
        ("IN", "112", ()),
        ("TR", "112", ()),
        ("DE", "112", ()),
        ("FR", "112", ()),
    ],
)
def test_emergency_number_matches_the_domain_brief(
    country: str, number: str, alternatives: tuple[str, ...]
) -> None:
    contact = emergency_contact(country)
    assert contact.known
    assert contact.warning is None
    assert contact.number == number
    assert contact.alternatives == alternatives


def test_every_eu_eea_member_state_is_112() -> None:
    assert len(EU_EEA) == 30
    for country in EU_EEA:
        contact = emergency_contact(country)
        assert (contact.known, contact.number) == (True, "112"), country


def test_gb_reads_out_its_alternative() -> None:
    assert emergency_contact("GB").numbers_text == "999 (or 112)"
    assert emergency_contact("JP").numbers_text == "119"


def test_codes_are_matched_regardless_of_case_and_spaces() -> None:
    assert emergency_contact(" jp ").number == "119"
    assert reporting_route("gb") is not None


@pytest.mark.parametrize("country", ["CH", "ZZ", "", "Japan"])
def test_unknown_country_says_so_and_falls_back_to_112(country: str) -> None:
    contact = emergency_contact(country)
    assert not contact.known
    assert contact.number == FALLBACK_NUMBER == "112"
    assert contact.warning is not None
    assert "not in the clinic's emergency-number table" in contact.warning
    assert "112" in contact.warning and "fallback" in contact.warning
    assert contact.source is None and contact.last_verified is None


def test_unknown_but_real_country_is_named_in_the_warning() -> None:
    contact = emergency_contact("CH")
    assert contact.country_name == "Switzerland"
    assert contact.warning is not None and "Switzerland (CH)" in contact.warning


def test_every_row_has_a_source_and_a_verification_date() -> None:
    table = country_table()
    rows = [*table.emergency.values(), *table.reporting.values()]
    assert len(table.emergency) == 26 + len(EU_EEA)
    for row in rows:
        assert row.source and row.source.strip(), row
        assert isinstance(row.last_verified, date), row
        assert row.last_verified <= date(2026, 11, 22), row


@pytest.mark.parametrize(
    ("country", "authority_part", "route_part", "phone"),
    [
        ("US", "FDA", "3500B", None),
        ("JP", "PMDA", "patient reporting", None),
        ("CN", "NMPA", "ADR monitoring centre", None),
        ("GB", "MHRA", "Yellow Card", None),
        ("SG", "HSA", "HSA", None),
        ("DE", "national competent authority", "EudraVigilance", None),
        ("FR", "national competent authority", "EudraVigilance", None),
        ("KR", "KIDS", "KIDS", "1644-6223"),
    ],
)
def test_home_reporting_routes(
    country: str, authority_part: str, route_part: str, phone: str | None
) -> None:
    route = reporting_route(country)
    assert route is not None
    assert authority_part in route.authority
    assert route_part in route.route
    assert route.phone == phone


def test_no_reporting_route_is_invented() -> None:
    assert reporting_route("TH") is None
    assert reporting_route("ZZ") is None


def test_everyday_country_names() -> None:
    assert country_name("TW") == "Taiwan"
    assert country_name("KR") == "South Korea"
    assert country_name("ZZ") == "ZZ"
    assert emergency_contact("TW").country_name == "Taiwan"


_GOOD_ROW = """
[[emergency]]
countries = ["JP"]
number = "119"
source = "test"
last_verified = 2026-11-01
"""


def test_parse_accepts_a_minimal_table() -> None:
    table = parse_country_table(_GOOD_ROW, "test.toml")
    assert table.emergency["JP"].number == "119"
    assert table.reporting == {}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (_GOOD_ROW.replace('source = "test"\n', ""), "source"),
        (_GOOD_ROW.replace("last_verified = 2026-11-01\n", ""), "last_verified"),
        (_GOOD_ROW.replace('source = "test"', 'source = "  "'), "source"),
        (_GOOD_ROW.replace('"119"', '"11-9"'), "number"),
        (_GOOD_ROW.replace('"119"', "119"), "number"),
        (_GOOD_ROW.replace('["JP"]', '["XX"]'), "XX is not an ISO 3166-1 code"),
        (_GOOD_ROW.replace('["JP"]', '["jp"]'), "countries"),
        (_GOOD_ROW + _GOOD_ROW, "JP is listed twice"),
        (_GOOD_ROW + "colour = 1\n", "colour"),
        ("[[emergency]\n", "malformed TOML"),
    ],
)
def test_parse_refuses_a_bad_table(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=r"test\.toml") as caught:
        parse_country_table(text, "test.toml")
    assert complaint in str(caught.value)
