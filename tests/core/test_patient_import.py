"""Checking a patient CSV: each kind of bad value is named with its line and column."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.csv_files import CsvFileError, decode_csv
from core.domain import Channel, Protocol
from core.patient_import import COLUMNS, CheckedFile, check_patient_csv
from core.product_import import PRODUCT_COLUMNS, PRODUCT_OPTIONAL_COLUMNS, read_products_csv
from core.records import AddOn, EpisodeRecord, Product
from core.schedules import builtin_templates

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")
HEADER = ",".join(COLUMNS)
GOOD = {
    "code": "AC-1",
    "family_name": "Tanaka",
    "given_name": "Yuki",
    "birth_date": "1985-04-02",
    "home_country": "JP",
    "current_country": "",
    "language": "ja",
    "timezone": "Asia/Tokyo",
    "channel": "line",
    "channel_handle": "line:yuki_t",
    "phone": "090-1234-5678",
    "email": "yuki@example.org",
    "procedure_at": "2026-11-10 14:30",
    "protocol": "exosome_iv",
    "schedule": "standard",
}


def row(**changes: str) -> str:
    values = {**GOOD, **changes}
    return ",".join(values[c] for c in COLUMNS)


def check(text: str) -> CheckedFile:
    return check_patient_csv(text, "p.csv", now=NOW, clinic_tz=SEOUL, templates=builtin_templates())


def test_a_good_row_is_normalised() -> None:
    checked = check(f"{HEADER}\n{row(channel=' LINE ', home_country='jp')}\n")
    assert checked.problems == []
    patient = checked.rows[2]
    assert patient.home_country == "JP"
    assert patient.country_now == "JP"  # empty current_country: at home
    assert patient.channel is Channel.LINE
    assert patient.protocol is Protocol.EXOSOME_IV
    assert patient.phone == "+819012345678"  # national number read in the home country
    assert patient.birth_date == date(1985, 4, 2)
    # 14:30 clinic time (Seoul, UTC+9) is 05:30 UTC.
    assert patient.procedure_at == datetime(2026, 11, 10, 5, 30, tzinfo=UTC)
    assert patient.schedule == ("standard",)


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"code": ""}, "code", "empty"),
        ({"code": "AC 1"}, "code", "only letters, digits"),
        ({"family_name": " "}, "family_name", "empty"),
        ({"birth_date": "02/04/1985"}, "birth_date", "YYYY-MM-DD"),
        ({"birth_date": "2027-01-01"}, "birth_date", "in the future"),
        ({"home_country": "XX"}, "home_country", "not an ISO 3166-1"),
        ({"home_country": "JPN"}, "home_country", "two-letter"),
        ({"current_country": "ZZ"}, "current_country", "not an ISO 3166-1"),
        ({"language": "japanese"}, "language", "not a language tag"),
        ({"language": "qq"}, "language", "not an ISO 639"),
        ({"timezone": "Asia/Tokio"}, "timezone", "not an IANA time zone"),
        ({"timezone": "../etc/passwd"}, "timezone", "not an IANA time zone"),
        # Keys zoneinfo loads but no patient lives in: the server's own zone, tzdata internals.
        ({"timezone": "localtime"}, "timezone", "not an IANA time zone"),
        ({"timezone": "posixrules"}, "timezone", "not an IANA time zone"),
        ({"timezone": "Factory"}, "timezone", "not an IANA time zone"),
        ({"timezone": "Japan"}, "timezone", "not an IANA time zone"),
        ({"timezone": "posix/Asia/Tokyo"}, "timezone", "not an IANA time zone"),
        ({"channel": "fax"}, "channel", "'fax' is not one of 'line'"),
        ({"channel_handle": ""}, "channel_handle", "empty"),
        ({"channel": "whatsapp"}, "channel_handle", "'line:yuki_t' is not a phone number"),
        ({"channel": "sms", "channel_handle": "sms:12345"}, "channel_handle", "not a phone"),
        ({"channel": "phone", "channel_handle": "phone:"}, "channel_handle", "not a phone"),
        ({"channel": "email"}, "channel_handle", "'line:yuki_t' is not an e-mail address"),
        ({"channel_handle": "line:"}, "channel_handle", "not a line handle"),
        ({"channel_handle": "line:yuki t"}, "channel_handle", "contain spaces"),
        ({"channel": "kakaotalk", "channel_handle": "yuki t"}, "channel_handle", "spaces"),
        ({"phone": "12345"}, "phone", "not a valid phone number"),
        ({"phone": "+1 555 0142"}, "phone", "not a valid phone number"),
        ({"email": "yuki.example.org"}, "email", "not an e-mail address"),
        ({"procedure_at": "10/11/2026"}, "procedure_at", "YYYY-MM-DD HH:MM"),
        ({"procedure_at": "2026-12-01 10:00"}, "procedure_at", "in the future"),
        ({"procedure_at": "2025-11-21 10:00"}, "procedure_at", "more than 366 days ago"),
        ({"procedure_at": "2016-11-10 14:30"}, "procedure_at", "follow-up windows last months"),
        ({"protocol": "laser"}, "protocol", "'laser' is not one of"),
        ({"schedule": ""}, "schedule", "no schedule template given"),
        ({"schedule": "standard;weekly"}, "schedule", "unknown template 'weekly'"),
    ],
)
def test_each_bad_value_is_named(changes: dict[str, str], column: str, words: str) -> None:
    checked = check(f"{HEADER}\n{row(**changes)}\n")
    assert checked.rows == {}
    assert len(checked.problems) == 1, checked.problems
    problem = checked.problems[0]
    assert (problem.line, problem.column) == (2, column)
    assert words in problem.problem
    assert str(problem).startswith(f"line 2: {column}: ")


@pytest.mark.parametrize(
    ("changes", "handle"),
    [
        ({"timezone": "UTC"}, "line:yuki_t"),
        ({"timezone": "Etc/GMT-9"}, "line:yuki_t"),
        ({"channel": "wechat", "channel_handle": "wxid_abc123"}, "wxid_abc123"),
        ({"channel": "kakaotalk", "channel_handle": "kakao:yuki"}, "kakao:yuki"),
        # Phone handles are stored in E.164 after their prefix; national numbers are read
        # in the home country, as in the phone column.
        (
            {"channel": "whatsapp", "channel_handle": "whatsapp:+1 212 555 0142"},
            "whatsapp:+12125550142",
        ),
        ({"channel": "sms", "channel_handle": "090-1234-5678"}, "+819012345678"),
        ({"channel": "phone", "channel_handle": "phone:090 1234 5678"}, "phone:+819012345678"),
        ({"channel": "email", "channel_handle": "yuki@example.org"}, "yuki@example.org"),
        # Exactly 366 days before NOW (2026-11-22 15:00 Seoul) is still taken.
        ({"procedure_at": "2025-11-21 15:00"}, "line:yuki_t"),
    ],
)
def test_good_edge_values_are_accepted(changes: dict[str, str], handle: str) -> None:
    checked = check(f"{HEADER}\n{row(**changes)}\n")
    assert checked.problems == []
    assert checked.rows[2].channel_handle == handle


def test_a_handle_is_not_checked_against_a_bad_channel() -> None:
    checked = check(f"{HEADER}\n{row(channel='fax', channel_handle='+81 90 1234 5678')}\n")
    assert [p.column for p in checked.problems] == ["channel"]


def test_every_problem_of_every_row_is_reported_with_file_line_numbers() -> None:
    text = "\n".join(
        [
            HEADER,
            row(code="AC-1"),  # line 2, good
            "",  # line 3, blank: skipped, still counted as a line
            row(code="AC-2", home_country="XX", phone="+1 2", protocol="laser"),  # line 4
            # A quoted field spanning two lines: the row starts on line 5, ends on 6.
            row(code="AC-3", family_name='"Smith\nJones"'),
            row(code="AC-1"),  # line 7: duplicate of line 2
            "AC-9,too,few",  # line 8
            row(code="AC-4", channel="pigeon"),  # line 9
        ]
    )
    checked = check(text + "\n")
    assert [str(p) for p in checked.problems] == [
        "line 4: home_country: 'XX' is not an ISO 3166-1 two-letter country code",
        "line 4: phone: '+1 2' is not a valid phone number (write it as +81 90 ...)",
        "line 4: protocol: 'laser' is not one of 'exosome_iv', 'microneedling', "
        "'exosome_iv+microneedling' or 'prp'",
        # A name never spans lines; the row's later lines still count (line 7 next).
        "line 5: family_name: contains a control character (newline) at position 6: not accepted",
        "line 7: code: 'AC-1' is also on line 2",
        "line 8: row: has 3 fields, the header has 15",
        "line 9: channel: 'pigeon' is not one of 'line', 'wechat', 'whatsapp', "
        "'kakaotalk', 'email', 'phone' or 'sms'",
    ]
    assert sorted(checked.rows) == [2]
    assert checked.row_count == 6
    assert checked.bad_lines == [4, 5, 7, 8, 9]


def test_codes_already_in_the_database_are_problems() -> None:
    checked = check(f"{HEADER}\n{row(code='AC-1')}\n{row(code='AC-2')}\n")
    against = checked.against_database({"AC-2", "AC-77"})
    assert [str(p) for p in against.problems] == ["line 3: code: 'AC-2' is already in the database"]
    assert sorted(against.rows) == [2]


def test_header_columns_in_any_order_and_case() -> None:
    columns = list(reversed(COLUMNS))
    values = {**GOOD}
    text = ",".join(c.upper() for c in columns) + "\n" + ",".join(values[c] for c in columns)
    assert check(text).problems == []


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (HEADER.replace(",email", ""), "missing column email"),
        (HEADER + ",notes", "unknown column notes"),
        (HEADER + ",code", "repeated column code"),
        (HEADER.replace(",", ";"), "separated by semicolons"),
        ("", "empty file"),
    ],
)
def test_a_bad_header_is_one_clear_error(header: str, words: str) -> None:
    with pytest.raises(CsvFileError) as raised:
        check(header + "\n")
    message = str(raised.value)
    assert words in message
    assert "\n" not in message
    assert message.startswith("p.csv: ")


def test_encoding() -> None:
    assert decode_csv("\ufeffcode,名前\n".encode(), "p.csv") == "code,名前\n"  # BOM dropped
    with pytest.raises(CsvFileError) as raised:
        decode_csv(b"code\nTanaka\n" + "Müller\n".encode("latin-1"), "p.csv")
    assert str(raised.value) == (
        "p.csv: line 3: byte 0xfc is not UTF-8; save the file as CSV UTF-8"
    )


# --- the record of care: optional episode columns and the products file -------------

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
EPISODE = {
    "treating_physician": "dr.lee",
    "nurse_name": "Park Ji-yeon",
    "nurse_license_ref": "RN-12345",
    "departure_date": "2026-11-12",
    "travel_insurer": "Tokio Marine",
    "travel_policy_number": "TM-1",
    "khidi_cover_ref": "KHIDI-7",
    "allergies": "penicillin",
    "vasovagal_history": "no",
    "sensitive_skin": "yes",
    "products": "",
    "addons": "",
}
WIDE = ",".join((*COLUMNS, *EPISODE))
PRODUCTS_HEADER = ",".join((*PRODUCT_COLUMNS, *PRODUCT_OPTIONAL_COLUMNS))


def wide(**changes: str) -> str:
    values = {**GOOD, **EPISODE, **changes}
    return ",".join(values[c] for c in (*COLUMNS, *EPISODE))


def check_with(patients: str, products: str) -> CheckedFile:
    return check_patient_csv(
        patients,
        "p.csv",
        now=NOW,
        clinic_tz=SEOUL,
        templates=builtin_templates(),
        products=read_products_csv(products, "g.csv"),
    )


def test_the_episode_columns_and_the_products_file_make_the_record_of_care() -> None:
    checked = check_with(
        f"{WIDE}\n{wide()}\n{wide(code='AC-2', allergies='NONE', products='none')}\n",
        "\n".join(
            [
                PRODUCTS_HEADER,
                "AC-1,product,ASCE+ Exosome,MFDS-2024-118,A2611-07,2027-05,yes,",
                'AC-1,addon,glutathione,,,,,"1,200 mg"',
                "AC-1,Product,Saline,,,,,",
                "AC-2,addon,vitamin C,,,,,2.5",
            ]
        ),
    )
    assert checked.problems == [] and checked.warnings == []
    assert checked.rows[2].episode == EpisodeRecord(
        procedure_at=datetime(2026, 11, 10, 5, 30, tzinfo=UTC),
        protocol=Protocol.EXOSOME_IV,
        schedule=("standard",),
        treating_physician="dr.lee",
        nurse_name="Park Ji-yeon",
        nurse_license_ref="RN-12345",
        products=(
            Product("ASCE+ Exosome", "MFDS-2024-118", "A2611-07", date(2027, 5, 31), True),
            Product("Saline"),
        ),
        addons=(AddOn("glutathione", 1200.0),),
        departure_date=date(2026, 11, 12),
        travel_insurer="Tokio Marine",
        travel_policy_number="TM-1",
        khidi_cover_ref="KHIDI-7",
        has_allergies=True,
        allergies="penicillin",
        vasovagal_history=False,
        sensitive_skin=True,
    )
    second = checked.rows[3].episode
    assert second is not None
    assert (second.has_allergies, second.allergies) == (False, None)  # "none" known
    assert (second.products, second.addons) == ((), (AddOn("vitamin C", 2.5),))
    assert checked.product_rows == 4


def test_without_the_columns_everything_but_the_procedure_is_not_recorded() -> None:
    checked = check(f"{HEADER}\n{row()}\n")
    record = checked.rows[2].episode_record()
    assert (record.procedure_at, record.protocol, record.schedule) == (
        datetime(2026, 11, 10, 5, 30, tzinfo=UTC),
        Protocol.EXOSOME_IV,
        ("standard",),
    )
    assert record == EpisodeRecord(record.procedure_at, record.protocol, record.schedule)


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"departure_date": "2026-13-01"}, "departure_date", "YYYY-MM-DD"),
        ({"departure_date": "2026-11-01"}, "departure_date", "before the procedure"),
        ({"vasovagal_history": "maybe"}, "vasovagal_history", "not yes or no"),
        ({"sensitive_skin": "sometimes"}, "sensitive_skin", "not yes or no"),
        ({"nurse_name": ""}, "nurse_name", "a licence is given: whose?"),
        ({"travel_insurer": "x" * 121}, "travel_insurer", "longer than 120"),
        ({"products": "some"}, "products", "leave empty, or type 'none'"),
        ({"addons": "few"}, "addons", "leave empty, or type 'none'"),
    ],
)
def test_each_bad_episode_value_is_named(changes: dict[str, str], column: str, words: str) -> None:
    checked = check_with(f"{WIDE}\n{wide(**changes)}\n", PRODUCTS_HEADER + "\n")
    assert [(p.line, p.column) for p in checked.problems] == [(2, column)]
    assert words in checked.problems[0].problem
    assert checked.rows == {}


@pytest.mark.parametrize(
    ("product", "column", "words"),
    [
        ("AC-1,product,ASCE+,,A 26,,,", "lot_number", "'A 26' is not a lot number"),
        ("AC-1,product,ASCE+,,A26,2027-13,,", "expiry_date", "'2027-13' has no month 13"),
        ("AC-1,product,ASCE+,,A26,31/12/2027,,", "expiry_date", "YYYY-MM-DD or YYYY-MM"),
        ("AC-1,product,ASCE+,,,,maybe,", "exosome", "not yes or no"),
        ("AC-1,addon,glutathione,,,,,lots", "dose_mg", "'lots' is not a number of mg"),
        ("AC-1,addon,glutathione,,,,,0", "dose_mg", "not a dose"),
        ("AC-1,drug,aspirin,,,,,", "kind", "'drug' is not product or addon"),
        ("AC-1,,aspirin,,,,,", "kind", "empty; write product or addon"),
        ("AC-1,product,,,A26,,,", "name", "empty; a value is required"),
        ("AC-1,addon,glutathione,,L-1,,,", "lot_number", "an add-on has no lot"),
        ("AC-1,product,ASCE+,,,,,1200", "dose_mg", "a product has no dose (mg)"),
        ("AC-9,product,ASCE+,,,,,", "code", "'AC-9' is not in p.csv"),
        ("AC-1,product,ASCE+,,,", "row", "has 6 fields, the header has 8"),
    ],
)
def test_each_bad_products_row_is_named_with_its_file_line_and_column(
    product: str, column: str, words: str
) -> None:
    products = f"{PRODUCTS_HEADER}\nAC-1,product,Saline,,,,,\n{product}\n"
    checked = check_with(f"{WIDE}\n{wide()}\n", products)
    assert len(checked.problems) == 1, checked.problems
    problem = checked.problems[0]
    assert (problem.source, problem.line, problem.column) == ("g.csv", 3, column)
    assert words in problem.problem
    assert str(problem).startswith(f"g.csv: line 3: {column}: ")
    # AC-1 waits for its own product rows; a row of no known patient holds up no one.
    assert sorted(checked.rows) == ([2] if column in ("code", "row") else [])
    assert checked.refusal("p.csv") == "g.csv: 1 problem on 1 of 2 rows; nothing imported"


def test_none_given_while_the_products_file_lists_some_is_a_problem_on_the_patient_row() -> None:
    products = f"{PRODUCTS_HEADER}\nAC-1,product,Saline,,,,,\nAC-1,product,PDRN,,,,,\n"
    checked = check_with(f"{WIDE}\n{wide(products='none')}\n", products)
    assert [str(p) for p in checked.problems] == [
        "line 2: products: 'none', yet g.csv lists products for this patient (line 2, 3)"
    ]


def test_a_lot_expired_before_the_procedure_is_a_warning_not_a_problem() -> None:
    products = f"{PRODUCTS_HEADER}\nAC-1,product,ASCE+,,A26,2026-10,yes,\n"
    checked = check_with(f"{WIDE}\n{wide()}\n", products)
    assert checked.problems == []
    assert [str(w) for w in checked.warnings] == [
        "g.csv: line 2: expiry_date: expired 2026-10-31 before the procedure (2026-11-10): "
        "check the label; if it is right, this is an incident to open"
    ]
    episode = checked.rows[2].episode
    assert episode is not None and episode.products == (
        Product("ASCE+", None, "A26", date(2026, 10, 31), True),
    )


def test_problems_of_both_files_come_patient_file_first_each_in_line_order() -> None:
    patients = f"{WIDE}\n{wide(sensitive_skin='x')}\n{wide(code='AC-2', home_country='XX')}\n"
    products = "\n".join(
        [
            PRODUCTS_HEADER,
            "AC-2,addon,glutathione,,,,,lots",
            "AC-1,product,ASCE+,,A 26,,,",
            "AC-3,product,ASCE+,,,,,",
        ]
    )
    checked = check_with(patients, products)
    assert [(p.source, p.line, p.column) for p in checked.problems] == [
        ("", 2, "sensitive_skin"),
        ("", 3, "home_country"),
        ("g.csv", 2, "dose_mg"),
        ("g.csv", 3, "lot_number"),
        ("g.csv", 4, "code"),
    ]
    assert checked.bad_lines == [2, 3]
    assert checked.refusal("p.csv") == (
        "p.csv: 2 problems on 2 of 2 rows; g.csv: 3 problems on 3 of 3 rows; nothing imported"
    )


def test_the_treating_physician_must_be_an_active_physician_in_the_database() -> None:
    checked = check(
        f"{WIDE}\n{wide()}\n{wide(code='AC-2', treating_physician='dr.gone')}\n"
        f"{wide(code='AC-3', treating_physician='', nurse_license_ref='')}\n"
    )
    against = checked.against_database(set(), physicians=["dr.lee", "dr.kim"])
    assert [str(p) for p in against.problems] == [
        "line 3: treating_physician: 'dr.gone' is not an active physician; "
        "physicians: dr.kim, dr.lee"
    ]
    assert sorted(against.rows) == [2, 4]


def test_an_unknown_column_in_the_products_file_is_one_clear_error() -> None:
    with pytest.raises(CsvFileError) as raised:
        read_products_csv("code,kind,name,colour\nAC-1,product,ASCE+,red\n", "g.csv")
    assert str(raised.value) == (
        "g.csv: line 1: header has unknown column colour (expected: code,kind,name; "
        "optional: mfds_reference,lot_number,expiry_date,exosome,dose_mg)"
    )


def test_a_cell_an_export_guarded_against_spreadsheets_reads_as_typed() -> None:
    guarded = row(family_name="'=Tanaka", phone="'+81 90 1234 5678")
    checked = check(f"{HEADER}\n{guarded}\n")
    assert checked.problems == []
    assert (checked.rows[2].family_name, checked.rows[2].phone) == ("=Tanaka", "+819012345678")
    quoted = row(family_name="'O'Hara")
    assert check(f"{HEADER}\n{quoted}\n").rows[2].family_name == "'O'Hara"


def test_the_documented_examples_import_with_the_warning_the_documentation_shows() -> None:
    products = read_products_csv(
        (EXAMPLES / "products.csv").read_text(encoding="utf-8"), "products.csv"
    )
    checked = check_patient_csv(
        (EXAMPLES / "patients.csv").read_text(encoding="utf-8"),
        "patients.csv",
        now=NOW,
        clinic_tz=SEOUL,
        templates=builtin_templates(),
        products=products,
    )
    assert checked.problems == []
    assert [r.code for r in checked.rows.values()] == ["JP-0042", "US-0107", "CN-0203"]
    (warning,) = checked.warnings
    documented = (Path(__file__).parents[2] / "docs" / "import.md").read_text(encoding="utf-8")
    assert f"warning: {warning}" in documented
