"""Emergency numbers and home reporting routes by country, with their public sources."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from urllib.parse import urlsplit

import pytest

from core.countries import (
    FALLBACK_NUMBER,
    country_name,
    country_table,
    emergency_contact,
    parse_country_table,
    reporting_route,
)

CHECKED_ON = date(2026, 12, 2)

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

# The medical emergency number by the country the patient is in now, and the
# other numbers that also reach medical help there.
EMERGENCY_NUMBERS = [
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
    ("IN", "112", ("108",)),
    ("TR", "112", ()),
    ("NO", "113", ()),
    ("CH", "144", ("112",)),
    ("AT", "112", ("144",)),
    ("CZ", "112", ("155",)),
    ("SK", "112", ("155",)),
    ("IT", "112", ("118",)),
    ("FR", "112", ("15",)),
    ("DE", "112", ()),
    ("ES", "112", ()),
    ("IS", "112", ()),
]


@pytest.mark.parametrize(("country", "number", "alternatives"), EMERGENCY_NUMBERS)
def test_emergency_number_by_country(
    country: str, number: str, alternatives: tuple[str, ...]
) -> None:
    contact = emergency_contact(country)
    assert contact.known
    assert contact.warning is None
    assert contact.number == number
    assert contact.alternatives == alternatives


def test_norway_is_113_because_112_is_the_police_there() -> None:
    contact = emergency_contact("NO")
    assert contact.number == "113"
    assert "112" not in contact.alternatives
    assert contact.numbers_text == "113"
    assert "helsenorge.no" in (contact.source_url or "")


@pytest.mark.parametrize(
    ("country", "read_out"),
    [
        ("AT", "112 (or 144)"),
        ("CZ", "112 (or 155)"),
        ("SK", "112 (or 155)"),
        ("IT", "112 (or 118)"),
        ("FR", "112 (or 15)"),
        ("IN", "112 (or 108)"),
        ("CH", "144 (or 112)"),
        ("GB", "999 (or 112)"),
        ("JP", "119"),
        ("DE", "112"),
    ],
)
def test_national_ambulance_number_is_read_out_beside_112(country: str, read_out: str) -> None:
    assert emergency_contact(country).numbers_text == read_out


def test_every_eu_eea_member_state_reaches_medical_help() -> None:
    assert len(EU_EEA) == 30
    for country in EU_EEA:
        contact = emergency_contact(country)
        assert contact.known, country
        if country == "NO":
            continue
        assert "112" in (contact.number, *contact.alternatives), country


def test_eu_members_without_a_national_number_cite_the_commission_112_page() -> None:
    for country in ("DE", "NL", "SE", "PL", "IS", "LI"):
        contact = emergency_contact(country)
        assert contact.source_url == "https://digital-strategy.ec.europa.eu/en/policies/112"
        assert contact.source is not None and "European Commission" in contact.source


def test_codes_are_matched_regardless_of_case_and_spaces() -> None:
    assert emergency_contact(" jp ").number == "119"
    assert reporting_route("gb") is not None


@pytest.mark.parametrize("country", ["BR", "ZZ", "", "Japan"])
def test_unknown_country_says_so_and_falls_back_to_112(country: str) -> None:
    contact = emergency_contact(country)
    assert not contact.known
    assert contact.number == FALLBACK_NUMBER == "112"
    assert contact.warning is not None
    assert "not in the clinic's emergency-number table" in contact.warning
    assert "112" in contact.warning and "fallback" in contact.warning
    assert contact.source is None and contact.last_verified is None
    assert contact.source_url is None and contact.citation is None


def test_unknown_but_real_country_is_named_in_the_warning() -> None:
    contact = emergency_contact("BR")
    assert contact.country_name == "Brazil"
    assert contact.warning is not None and "Brazil (BR)" in contact.warning


# Hosts of public bodies whose domain does not carry a government suffix;
# each was checked to be the body's own site (a regulator, a national or
# regional health service, the EU's medicines agency, a government portal).
_OFFICIAL_HOSTS_WITHOUT_GOV_SUFFIX = {
    "www.nhs.uk",
    "www.helsenorge.no",
    "ch.ch",
    "rtr.at",
    "zzspak.cz",
    "155.sk",
    "www.aulss4.veneto.it",
    "www.service-public.fr",
    "digital-strategy.ec.europa.eu",
    "www.adrreports.eu",
    "www.canada.ca",
    "www.cdr-adr.org.cn",
    "www.drugsafe.or.kr",
    "canhgiacduoc.org.vn",
    "srca.org.sa",
    "ssv.uz",
    "med.kg",
    "u.ae",
}
_GOV_HOST = re.compile(r"(^|\.)(gov|go|gc|govt)(\.[a-z]{2,3})*$|\.gov\.[a-z]{2}$")
_INTERNAL = re.compile(r"(?i)\bbrief\b|domain\.md|\bDOMAIN\b")


def _all_rows() -> list[tuple[str, str, str | None, date | None]]:
    table = country_table()
    rows: list[tuple[str, str, str | None, date | None]] = [
        (f"emergency {c.country}", c.source or "", c.source_url, c.last_verified)
        for c in table.emergency.values()
    ]
    rows += [
        (f"reporting {r.country}", r.source, r.source_url, r.last_verified)
        for r in table.reporting.values()
    ]
    return rows


def test_every_row_cites_an_official_public_page_and_a_date() -> None:
    table = country_table()
    assert len(table.emergency) == 26 + 1 + len(EU_EEA)  # the list, Switzerland, EU/EEA
    for where, title, url, verified in _all_rows():
        assert title.strip(), where
        assert url is not None, where
        parts = urlsplit(url)
        assert parts.scheme in {"http", "https"}, where
        host = parts.hostname or ""
        assert _GOV_HOST.search(host) or host in _OFFICIAL_HOSTS_WITHOUT_GOV_SUFFIX, (where, host)
        assert "example" not in host, where
        assert not _INTERNAL.search(title) and not _INTERNAL.search(url), where
        assert isinstance(verified, date), where
        assert date(2026, 1, 1) <= verified <= CHECKED_ON, where


def test_shipped_file_never_points_back_at_internal_notes() -> None:
    text = (resources.files("core") / "data" / "countries.toml").read_text(encoding="utf-8")
    assert not _INTERNAL.search(text)


def test_citation_reads_title_then_address() -> None:
    contact = emergency_contact("SG")
    assert contact.citation == f"{contact.source} ({contact.source_url})"
    route = reporting_route("GB")
    assert route is not None
    assert route.citation == "MHRA: Yellow Card (https://yellowcard.mhra.gov.uk/)"


@pytest.mark.parametrize(
    ("country", "authority_part", "route_part", "phone", "host"),
    [
        ("US", "FDA", "3500B", None, "www.fda.gov"),
        ("JP", "PMDA", "patient reporting", None, "www.pmda.go.jp"),
        ("CN", "NMPA", "ADR monitoring centre", None, "www.cdr-adr.org.cn"),
        ("GB", "MHRA", "Yellow Card", None, "yellowcard.mhra.gov.uk"),
        ("SG", "HSA", "HSA", None, "www.hsa.gov.sg"),
        ("DE", "national competent authority", "EudraVigilance", None, "www.adrreports.eu"),
        ("FR", "national competent authority", "EudraVigilance", None, "www.adrreports.eu"),
        ("NO", "national competent authority", "EudraVigilance", None, "www.adrreports.eu"),
        ("KR", "KIDS", "KIDS", "1644-6223", "www.drugsafe.or.kr"),
        ("TW", "TFDA", "adverse drug reaction reporting", None, "adr.fda.gov.tw"),
        ("HK", "Drug Office, Department of Health", "Drug Office", None, "www.drugoffice.gov.hk"),
        ("TH", "Health Product Vigilance Center", "consumer reporting", None, "en.fda.moph.go.th"),
        ("AU", "TGA", "TGA", None, "www.tga.gov.au"),
        ("CA", "Health Canada", "MedEffect", None, "www.canada.ca"),
        ("AE", "MOHAP", "for individuals", None, "mohap.gov.ae"),
        ("VN", "DI & ADR Centre", "DI & ADR Centre", None, "canhgiacduoc.org.vn"),
        ("MN", "Health Development Center", "Health Development Center", None, "moh.gov.mn"),
    ],
)
def test_home_reporting_routes(
    country: str, authority_part: str, route_part: str, phone: str | None, host: str
) -> None:
    route = reporting_route(country)
    assert route is not None
    assert authority_part in route.authority
    assert route_part in route.route
    assert route.phone == phone
    assert urlsplit(route.source_url or "").hostname == host


@pytest.mark.parametrize("country", ["HK", "VN", "MN"])
def test_no_patient_route_found_is_said_in_words_with_the_date(country: str) -> None:
    route = reporting_route(country)
    assert route is not None
    assert not route.patient_route_found
    assert route.none_found_as_of == CHECKED_ON
    assert "none found as of 2026-12-02" in route.route
    assert "home physician" in route.route


def test_routes_with_a_patient_channel_are_not_marked_none_found() -> None:
    for country in ("US", "JP", "GB", "TH", "AU", "CA", "AE", "KR", "TW"):
        route = reporting_route(country)
        assert route is not None and route.patient_route_found, country
        assert "none found" not in route.route.lower(), country


def test_every_patient_home_country_has_a_route_on_file() -> None:
    for country in ("JP", "CN", "US", "TW", "TH", "MN", "GB", "SG", "DE", "HK", "AU", "CA"):
        assert reporting_route(country) is not None, country
    for country in ("AE", "VN", "KR", *EU_EEA):
        assert reporting_route(country) is not None, country


def test_no_reporting_route_is_invented() -> None:
    assert reporting_route("ZZ") is None
    assert reporting_route("BR") is None


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
source_url = "https://www.fdma.go.jp/"
last_verified = 2026-11-01
"""

_GOOD_ROUTE = """
[[reporting]]
countries = ["VN"]
authority = "Regulator"
route = "No patient-facing route: none found as of 2026-12-02; the home physician reports"
none_found_as_of = 2026-12-02
source = "Regulator's page"
source_url = "https://moh.gov.vn/"
last_verified = 2026-12-02
"""


def test_parse_accepts_a_minimal_table() -> None:
    table = parse_country_table(_GOOD_ROW, "test.toml")
    assert table.emergency["JP"].number == "119"
    assert table.emergency["JP"].source_url == "https://www.fdma.go.jp/"
    assert table.reporting == {}


def test_parse_accepts_a_dated_none_found_route() -> None:
    table = parse_country_table(_GOOD_ROW + _GOOD_ROUTE, "test.toml")
    route = table.reporting["VN"]
    assert route.none_found_as_of == date(2026, 12, 2)
    assert not route.patient_route_found


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
        # A row without a public web address for its source.
        (_GOOD_ROW.replace('source_url = "https://www.fdma.go.jp/"\n', ""), "source_url"),
        (_GOOD_ROW.replace('"https://www.fdma.go.jp/"', '""'), "source_url"),
        (_GOOD_ROW.replace('"https://www.fdma.go.jp/"', '"www.fdma.go.jp"'), "source_url"),
        (_GOOD_ROW.replace('"https://www.fdma.go.jp/"', '"ftp://fdma.go.jp/x"'), "source_url"),
        (_GOOD_ROW.replace('"https://www.fdma.go.jp/"', '"see section 5"'), "source_url"),
        # A source that points back at the clinic's own planning notes.
        (
            _GOOD_ROW.replace('source = "test"', 'source = "DOMAIN.md section 5 (clinic brief)"'),
            "not a public source",
        ),
        (_GOOD_ROW.replace('source = "test"', 'source = "the Brief, v2"'), "not a public source"),
        (
            _GOOD_ROW.replace('"https://www.fdma.go.jp/"', '"https://intranet.local/DOMAIN.md"'),
            "not a public source",
        ),
        (
            _GOOD_ROW + _GOOD_ROUTE.replace('source = "Regulator\'s page"', 'source = "brief"'),
            "reporting.0.source",
        ),
        # A "none found" row must give the date it was looked for, in words too.
        (_GOOD_ROW + _GOOD_ROUTE.replace("none_found_as_of = 2026-12-02\n", ""), "gives no date"),
        (
            _GOOD_ROW + _GOOD_ROUTE.replace("as of 2026-12-02;", "today;"),
            "none found as of 2026-12-02",
        ),
        (
            _GOOD_ROW
            + _GOOD_ROUTE.replace("none_found_as_of = 2026-12-02", "none_found_as_of = 2026-11-30"),
            "none found as of 2026-11-30",
        ),
    ],
)
def test_parse_refuses_a_bad_table(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=r"test\.toml") as caught:
        parse_country_table(text, "test.toml")
    assert complaint in str(caught.value)
