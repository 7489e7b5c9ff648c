"""Checking a CSV file of patients before any of it is imported.

One row is one patient with one treatment episode. Every row is checked,
and every problem is reported as "line N: column: problem" with N the line
of the file the row starts on (the header is line 1), so an admin can fix
the whole file in one pass. The caller imports only a file with no problem
at all: half a file in the database is worse than none.

Pure: the caller passes in the clock, the clinic's time zone, the schedule
templates in force and the codes already in the database.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from core.contacts import (
    country_code,
    email_address,
    handle_for_channel,
    phone_number,
    timezone_key,
)
from core.domain import Channel, Protocol
from core.records import FieldProblem, PatientRecord, RecordRefused, clinic_time, schedule_names
from core.schedules import ScheduleTemplate

COLUMNS: Final = (
    "code",
    "family_name",
    "given_name",
    "birth_date",
    "home_country",
    "current_country",
    "language",
    "timezone",
    "channel",
    "channel_handle",
    "phone",
    "email",
    "procedure_at",
    "protocol",
    "schedule",
)
"""The header the file must have, in any order: no column missing, none extra."""

OPTIONAL_COLUMNS: Final = ("native_name",)
"""Columns a file may add (older files lack them): the name in the patient's own script."""

SCHEDULE_SEPARATOR: Final = ";"
"""Between template names in the `schedule` column (a comma would need quoting)."""

_LANGUAGE = re.compile(r"^(?P<base>[A-Za-z]{2,3})(-[A-Za-z0-9]{1,8})*$")


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, header); `str()` is one line."""


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one row."""

    line: int
    """The line of the file the row starts on; the header is line 1."""
    column: str
    """The column at fault, or "row" for the row as a whole."""
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.problem}"


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _empty_as_none(value: object) -> object:
    value = _strip(value)
    return None if value == "" else value


def _language(value: str) -> str:
    match = _LANGUAGE.match(value)
    if match is None or len(value) > 8:
        raise ValueError(f"{value!r} is not a language tag such as 'ja', 'en' or 'zh-Hant'")
    base = match["base"].lower()
    found = (
        pycountry.languages.get(alpha_2=base)
        if len(base) == 2
        else pycountry.languages.get(alpha_3=base)
    )
    if found is None:
        raise ValueError(f"{value!r}: {base!r} is not an ISO 639 language code")
    return value


def _birth_date(value: object) -> object:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a date written YYYY-MM-DD") from None
    return value


def _optional(check: Any) -> Any:
    def checked(value: str | None) -> str | None:
        return None if value is None else check(value)

    return checked


_Text = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1)]


class PatientFields(BaseModel):
    """Who the patient is and how to reach them, checked and normalised: the
    patient's part of an import row, and the patient form's fields.

    Validation needs a context: `now` (aware) and `clinic_tz` (ZoneInfo).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[
        str,
        BeforeValidator(_strip),
        StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
    ]
    family_name: Annotated[_Text, StringConstraints(max_length=120)]
    # Empty for people with one name only.
    given_name: Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=120)]
    birth_date: Annotated[
        date | None, BeforeValidator(_birth_date), BeforeValidator(_empty_as_none)
    ]
    home_country: Annotated[_Text, AfterValidator(country_code)]
    # Empty: the patient is at home.
    current_country: Annotated[
        str | None, BeforeValidator(_empty_as_none), AfterValidator(_optional(country_code))
    ]
    language: Annotated[_Text, AfterValidator(_language)]
    timezone: Annotated[_Text, AfterValidator(timezone_key)]
    channel: Annotated[Channel, BeforeValidator(_lower)]
    channel_handle: Annotated[_Text, StringConstraints(max_length=200)]
    phone: Annotated[str | None, BeforeValidator(_empty_as_none)]
    email: Annotated[
        str | None, BeforeValidator(_empty_as_none), AfterValidator(_optional(email_address))
    ]
    # Empty or absent: not recorded. Any script; the passport name stays above.
    native_name: Annotated[
        Annotated[str, StringConstraints(max_length=200)] | None,
        BeforeValidator(_empty_as_none),
    ] = None

    @field_validator("birth_date")
    @classmethod
    def _born_in_the_past(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return None
        today = _context(info)["now"].astimezone(_context(info)["clinic_tz"]).date()
        if value > today:
            raise ValueError(f"{value.isoformat()} is in the future")
        if value.year < 1900:
            raise ValueError(f"{value.isoformat()} is before 1900")
        return value

    @field_validator("channel_handle")
    @classmethod
    def _handle_fits_channel(cls, value: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        if channel is None:
            return value  # the channel is itself wrong (and reported)
        # The same check as the "Where is the patient now" edit (core.contacts).
        return handle_for_channel(channel, value, info.data.get("home_country"))

    @field_validator("phone")
    @classmethod
    def _phone_for_home_country(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        number = phone_number(value, info.data.get("home_country"))
        if number is None:
            raise ValueError(f"{value!r} is not a valid phone number (write it as +81 90 ...)")
        return number

    @property
    def country_now(self) -> str:
        """Where the patient is now: `current_country`, or home when it was left empty."""
        return self.current_country or self.home_country


class PatientRow(PatientFields):
    """One row of the import file: the patient and their episode's procedure.

    Validation needs a context: `now`, `clinic_tz` and `templates` (name ->
    ScheduleTemplate).
    """

    procedure_at: datetime
    protocol: Annotated[Protocol, BeforeValidator(_lower)]
    schedule: tuple[str, ...]

    @field_validator("procedure_at", mode="before")
    @classmethod
    def _procedure_in_clinic_time(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return clinic_time(value, _context(info)["clinic_tz"], _context(info)["now"])

    @field_validator("schedule", mode="before")
    @classmethod
    def _known_templates(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return schedule_names(value, _context(info)["templates"])


def _context(info: ValidationInfo) -> dict[str, Any]:
    if not isinstance(info.context, dict):
        raise TypeError("PatientRow needs a validation context: now, clinic_tz, templates")
    return info.context


@dataclass(frozen=True)
class CheckedFile:
    """The outcome of `check_patient_csv`: good rows by line, and every problem."""

    rows: dict[int, PatientRow]
    """Rows without problems, keyed by the line they start on."""
    problems: list[RowProblem]
    """Every problem, in file order; empty means the whole file may be imported."""
    codes: dict[int, str]
    """The patient code written on each data row (line -> code), good rows or bad."""

    @property
    def row_count(self) -> int:
        """Data rows read (blank lines are not rows)."""
        return len(self.codes)

    @property
    def bad_lines(self) -> list[int]:
        """The lines with at least one problem, in order."""
        return sorted({p.line for p in self.problems})

    def against_database(self, existing_codes: Collection[str]) -> CheckedFile:
        """This check plus a problem for each row whose code the database already holds."""
        taken = [
            RowProblem(line, "code", f"{code!r} is already in the database")
            for line, code in self.codes.items()
            if code in existing_codes
        ]
        if not taken:
            return self
        problems = sorted([*self.problems, *taken], key=lambda p: p.line)  # stable: per-line order
        bad = {p.line for p in taken}
        rows = {line: row for line, row in self.rows.items() if line not in bad}
        return CheckedFile(rows=rows, problems=problems, codes=self.codes)


def decode_csv(data: bytes, source: str) -> str:
    """The file's text: UTF-8, with or without a byte-order mark.

    Raises CsvFileError naming the line of the first undecodable byte.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CsvFileError(
            f"{source}: line {line}: byte 0x{data[exc.start]:02x} is not UTF-8; "
            "save the file as CSV UTF-8"
        ) from None


def check_patient_csv(
    text: str,
    source: str,
    *,
    now: datetime,
    clinic_tz: zoneinfo.ZoneInfo,
    templates: Mapping[str, ScheduleTemplate],
) -> CheckedFile:
    """Check every row of a patient CSV; `source` names the file in errors.

    Codes already in the database are the caller's to add
    (`CheckedFile.against_database`). Raises CsvFileError when the file is
    empty, the header lacks a column or has an unknown or repeated one, or
    the text is not CSV at all.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvFileError(f"{source}: empty file; the first line must be the header")
        names = _check_header(header, source)
        context = {"now": now, "clinic_tz": clinic_tz, "templates": templates}
        rows: dict[int, PatientRow] = {}
        problems: list[RowProblem] = []
        codes: dict[int, str] = {}
        first_line_of: dict[str, int] = {}
        while True:
            line = reader.line_num + 1  # a quoted field may span lines: report where the row starts
            try:
                record = next(reader)
            except StopIteration:
                break
            if not any(cell.strip() for cell in record):
                continue
            row_problems, row = _check_row(line, names, record, context)
            code = record[names.index("code")].strip() if len(record) == len(names) else ""
            codes[line] = code
            if code in first_line_of:
                row_problems.append(
                    RowProblem(line, "code", f"{code!r} is also on line {first_line_of[code]}")
                )
            elif code:
                first_line_of[code] = line
            problems.extend(row_problems)
            if row is not None and not row_problems:
                rows[line] = row
    except csv.Error as exc:
        raise CsvFileError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None
    return CheckedFile(rows=rows, problems=problems, codes=codes)


def _check_header(header: list[str], source: str) -> list[str]:
    names = [cell.strip().lower() for cell in header]
    if len(names) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs")):
            if separator in names[0]:
                raise CsvFileError(
                    f"{source}: line 1: the columns are separated by {name}; "
                    "save the file as comma-separated CSV (UTF-8)"
                )
    repeated = sorted({n for n in names if names.count(n) > 1})
    missing = [c for c in COLUMNS if c not in names]
    extra = [n or "(empty)" for n in names if n not in (*COLUMNS, *OPTIONAL_COLUMNS)]
    if repeated or missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column {', '.join(missing)}")
        if extra:
            parts.append(f"unknown column {', '.join(extra)}")
        if repeated:
            parts.append(f"repeated column {', '.join(repeated)}")
        raise CsvFileError(
            f"{source}: line 1: header has {'; '.join(parts)} (expected: {','.join(COLUMNS)}; "
            f"optional: {','.join(OPTIONAL_COLUMNS)})"
        )
    return names


def _check_row(
    line: int, names: list[str], record: list[str], context: dict[str, Any]
) -> tuple[list[RowProblem], PatientRow | None]:
    if len(record) != len(names):
        return [
            RowProblem(line, "row", f"has {len(record)} fields, the header has {len(names)}")
        ], None
    try:
        row = PatientRow.model_validate(dict(zip(names, record, strict=True)), context=context)
    except ValidationError as exc:
        return [_problem(line, error) for error in exc.errors()], None
    return [], row


def _problem(line: int, error: Mapping[str, Any]) -> RowProblem:
    cause = error.get("ctx", {}).get("error")
    column = str(error["loc"][0]) if error["loc"] else "row"
    if error["type"] == "value_error" and cause is not None:
        return RowProblem(line, column, str(cause))
    return RowProblem(line, column, _plain(error))


def _plain(error: Mapping[str, Any]) -> str:
    """Pydantic's message, in the words of someone filling in a spreadsheet."""
    kind = error["type"]
    given = error.get("input")
    if kind in ("missing", "string_too_short", "too_short"):
        return "empty; a value is required"
    if kind == "enum":
        return f"{given!r} is not one of {error['ctx']['expected']}"
    if kind == "string_pattern_mismatch":
        return f"{given!r} may hold only letters, digits, '.', '_' and '-'"
    if kind == "string_too_long":
        return f"longer than {error['ctx']['max_length']} characters"
    return str(error["msg"])


def patient_from_text(
    values: Mapping[str, str], *, now: datetime, clinic_tz: zoneinfo.ZoneInfo
) -> PatientRecord:
    """The patient typed into a form, checked as an import row is; raises
    RecordRefused with every problem, each naming its field."""
    typed = {key: values.get(key, "") for key in PatientFields.model_fields}
    try:
        row = PatientFields.model_validate(typed, context={"now": now, "clinic_tz": clinic_tz})
    except ValidationError as exc:
        problems = [_problem(0, error) for error in exc.errors()]
        raise RecordRefused([FieldProblem(p.column, p.problem) for p in problems]) from None
    return PatientRecord(
        code=row.code,
        family_name=row.family_name,
        given_name=row.given_name,
        home_country=row.home_country,
        language=row.language,
        timezone=row.timezone,
        channel=row.channel,
        channel_handle=row.channel_handle,
        native_name=row.native_name,
        birth_date=row.birth_date,
        current_country=row.country_now,
        phone=row.phone,
        email=row.email,
    )
