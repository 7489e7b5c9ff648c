"""Checking a CSV file of patients (and of the products given them) before any of it is imported.

One row is one patient with one treatment episode. Besides who the patient is
and the procedure, a row may carry the record of care (treating physician,
nurse, travel, allergies and history, whether products and add-ons were
given); a second file lists the products and add-ons given, one per row, keyed
by patient code. The episode is read by `core.records`, the same parsers and
rules as the forms, so a file cannot record what a form would refuse.

Every row of both files is checked, and every problem is reported as
"line N: column: problem" (the products file's prefixed with its name), with N
the line of the file the row starts on (the header is line 1), so an admin can
fix the whole file in one pass. The caller imports only files with no problem
at all: half a file in the database is worse than none. A lot that expired
before the procedure is a warning, as in the forms: said, not refused.

Pure: the caller passes in the clock, the clinic's time zone, the schedule
templates in force, and (`CheckedFile.against_database`) the codes and active
physicians the database holds.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
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
from core.records import (
    NONE_GIVEN,
    EpisodeRecord,
    FieldProblem,
    PatientRecord,
    RecordRefused,
    clinic_time,
    episode_from_text,
    field_words,
    schedule_names,
)
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

EPISODE_COLUMNS: Final = (
    "treating_physician",
    "nurse_name",
    "nurse_license_ref",
    "departure_date",
    "travel_insurer",
    "travel_policy_number",
    "khidi_cover_ref",
    "allergies",
    "vasovagal_history",
    "sensitive_skin",
    "products",
    "addons",
)
"""The record of care beyond the procedure; a column left out or a cell left empty
is "not recorded", never "no"."""

OPTIONAL_COLUMNS: Final = ("native_name", *EPISODE_COLUMNS)
"""Columns a file may add (older files lack them): the name in the patient's own
script, and the record of care."""

PRODUCT_COLUMNS: Final = ("code", "kind", "name")
"""The products file's header must have these, in any order."""

PRODUCT_OPTIONAL_COLUMNS: Final = (
    "mfds_reference",
    "lot_number",
    "expiry_date",
    "exosome",
    "dose_mg",
)
"""And may have these: a product's label, an add-on's dose."""

KINDS: Final = {
    "product": ("mfds_reference", "lot_number", "expiry_date", "exosome"),
    "addon": ("dose_mg",),
}
"""The `kind` of a products-file row, and the columns besides `name` it fills in."""

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to a spreadsheet: an export writes
it after a "'", and the import reads it without that "'"."""

SCHEDULE_SEPARATOR: Final = ";"
"""Between template names in the `schedule` column (a comma would need quoting)."""

_NONE_KNOWN: Final = "none"
"""Typed in `allergies`: asked, and no allergy is known."""

_LANGUAGE = re.compile(r"^(?P<base>[A-Za-z]{2,3})(-[A-Za-z0-9]{1,8})*$")


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, header); `str()` is one line."""


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one row (or, in `CheckedFile.warnings`, one thing to check)."""

    line: int
    """The line of the file the row starts on; the header is line 1."""
    column: str
    """The column at fault, or "row" for the row as a whole."""
    problem: str
    source: str = ""
    """The products file, named; empty for the patient file (the one the command names)."""

    def __str__(self) -> str:
        said = f"line {self.line}: {self.column}: {self.problem}"
        return f"{self.source}: {said}" if self.source else said


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
    episode: EpisodeRecord | None = None
    """The whole episode as the files record it, set by `check_patient_csv` once
    the row and its products are checked; never a column."""

    def episode_record(self) -> EpisodeRecord:
        """The episode to store: as the files record it, or (a row built without
        them) the procedure alone, everything else not recorded."""
        return self.episode or EpisodeRecord(self.procedure_at, self.protocol, self.schedule)

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
    """Rows without problems (their products' rows without problems too), keyed by
    the line they start on; each carries its episode (`PatientRow.episode`)."""
    problems: list[RowProblem]
    """Every problem, the patient file's first, each file in order; empty means
    the files may be imported."""
    codes: dict[int, str]
    """The patient code written on each data row (line -> code), good rows or bad."""
    warnings: list[RowProblem] = field(default_factory=list)
    """What to check but does not stop the import (a lot expired before the procedure)."""
    treating: dict[int, str] = field(default_factory=dict)
    """The treating physician's login typed on each row that names one (line -> login)."""
    products_source: str = ""
    """The products file, named as in its problems; empty when there was none."""
    product_rows: int = 0
    """Data rows read from the products file."""

    @property
    def row_count(self) -> int:
        """Data rows read (blank lines are not rows)."""
        return len(self.codes)

    @property
    def bad_lines(self) -> list[int]:
        """The lines of the patient file with at least one problem, in order."""
        return sorted({p.line for p in self.problems if not p.source})

    def against_database(
        self, existing_codes: Collection[str], physicians: Collection[str] | None = None
    ) -> CheckedFile:
        """This check plus a problem for each row whose code the database already
        holds, and (given the active physicians' logins) for each row whose
        treating physician is not one of them."""
        found = [
            RowProblem(line, "code", f"{code!r} is already in the database")
            for line, code in self.codes.items()
            if code in existing_codes
        ]
        if physicians is not None:
            listed = ", ".join(sorted(physicians)) or "none on the list"
            found += [
                RowProblem(
                    line,
                    "treating_physician",
                    f"{login!r} is not an active physician; physicians: {listed}",
                )
                for line, login in self.treating.items()
                if login not in physicians
            ]
        if not found:
            return self
        bad = {p.line for p in found}
        return replace(
            self,
            rows={line: row for line, row in self.rows.items() if line not in bad},
            problems=_in_order([*self.problems, *found]),
        )

    def refusal(self, source: str) -> str:
        """One line for a file refused: how many problems on how many rows, per file."""
        parts = []
        for name, ours, rows in (
            (source, [p for p in self.problems if not p.source], self.row_count),
            (self.products_source, [p for p in self.problems if p.source], self.product_rows),
        ):
            if ours:
                plural = "s" if len(ours) > 1 else ""
                bad = len({p.line for p in ours})
                parts.append(f"{name}: {len(ours)} problem{plural} on {bad} of {rows} rows")
        return "; ".join(parts) + "; nothing imported"


@dataclass(frozen=True)
class ProductLine:
    """One row of the products file whose code and kind could be read."""

    line: int
    code: str
    kind: str
    """Either "product" or "addon"."""
    values: dict[str, str]
    """The cells of `name` and the columns of its kind, as typed (core.records reads them)."""


@dataclass(frozen=True)
class ProductsFile:
    """The products file read: its rows and the problems a row shows on its own."""

    source: str
    lines: list[ProductLine]
    problems: list[RowProblem]
    codes: dict[int, str]
    """The patient code written on each data row (line -> code), good rows or bad."""

    @property
    def row_count(self) -> int:
        """Data rows read (blank lines are not rows)."""
        return len(self.codes)


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


def read_products_csv(text: str, source: str) -> ProductsFile:
    """Read the products file (one product or add-on given per row, keyed by
    patient code); `source` names it in every problem.

    Each row is checked on its own here (code, kind, the columns its kind has);
    its values are checked with its patient's episode by `check_patient_csv`.
    Raises CsvFileError as `check_patient_csv` does.
    """
    lines: list[ProductLine] = []
    problems: list[RowProblem] = []
    codes: dict[int, str] = {}
    for line, names, record in _data_rows(text, source, PRODUCT_COLUMNS, PRODUCT_OPTIONAL_COLUMNS):
        if len(record) != len(names):
            codes[line] = ""
            problems.append(_wrong_width(line, record, names, source))
            continue
        cells = dict(zip(names, map(unguarded, record), strict=True))
        codes[line] = cells["code"].strip()
        found, product = _product_line(line, cells, source)
        problems.extend(found)
        if product is not None:
            lines.append(product)
    return ProductsFile(source, lines, problems, codes)


def check_patient_csv(
    text: str,
    source: str,
    *,
    now: datetime,
    clinic_tz: zoneinfo.ZoneInfo,
    templates: Mapping[str, ScheduleTemplate],
    products: ProductsFile | None = None,
) -> CheckedFile:
    """Check every row of a patient CSV, with the products file if there is one
    (`read_products_csv`); `source` names the patient file in errors.

    Codes already in the database and the active physicians are the caller's
    to add (`CheckedFile.against_database`). Raises CsvFileError when the file
    is empty, the header lacks a column or has an unknown or repeated one, or
    the text is not CSV at all.
    """
    context = {"now": now, "clinic_tz": clinic_tz, "templates": templates}
    given = _given_by_code(products)
    rows: dict[int, PatientRow] = {}
    problems: list[RowProblem] = []
    warnings: list[RowProblem] = []
    codes: dict[int, str] = {}
    treating: dict[int, str] = {}
    first_line_of: dict[str, int] = {}
    for line, names, record in _data_rows(text, source, COLUMNS, OPTIONAL_COLUMNS):
        if len(record) != len(names):
            codes[line] = ""
            problems.append(_wrong_width(line, record, names, ""))
            continue
        cells = dict(zip(names, map(unguarded, record), strict=True))
        code = cells["code"].strip()
        codes[line] = code
        row_problems, row = _check_row(line, cells, context)
        if code in first_line_of:
            row_problems.append(
                RowProblem(line, "code", f"{code!r} is also on line {first_line_of[code]}")
            )
            theirs: tuple[list[ProductLine], list[ProductLine]] = ([], [])
        else:
            if code:
                first_line_of[code] = line
            theirs = given.get(code, ([], []))
        if cells.get("treating_physician", "").strip():
            treating[line] = cells["treating_physician"].strip()
        episode, said, warned = _episode(line, cells, theirs, products, context)
        reported = {p.column for p in row_problems}
        row_problems += [p for p in said if p.source or p.column not in reported]
        problems.extend(row_problems)
        if row is not None and episode is not None and not row_problems:
            rows[line] = row.model_copy(update={"episode": episode})
            warnings.extend(warned)
    if products is not None:
        problems += products.problems + [
            RowProblem(p.line, "code", f"{p.code!r} is not in {source}", products.source)
            for p in products.lines
            if p.code not in first_line_of
        ]
        # A patient whose product rows are wrong is not ready either.
        unready = {products.codes[p.line] for p in products.problems}
        rows = {line: row for line, row in rows.items() if row.code not in unready}
    return CheckedFile(
        rows=rows,
        # Both the products file's own check and the episode's may find a product unnamed.
        problems=_in_order(list(dict.fromkeys(problems))),
        codes=codes,
        warnings=warnings,
        treating=treating,
        products_source=products.source if products else "",
        product_rows=products.row_count if products else 0,
    )


def _data_rows(
    text: str, source: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line, header names, cells) of each data row that is not blank."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CsvFileError(f"{source}: empty file; the first line must be the header")
        names = _check_header(header, source, required, optional)
        while True:
            line = reader.line_num + 1  # a quoted field may span lines: report where the row starts
            try:
                record = next(reader)
            except StopIteration:
                return
            if any(cell.strip() for cell in record):
                yield line, names, record
    except csv.Error as exc:
        raise CsvFileError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None


def _check_header(
    header: list[str], source: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[str]:
    names = [cell.strip().lower() for cell in header]
    if len(names) == 1:
        for separator, name in ((";", "semicolons"), ("\t", "tabs")):
            if separator in names[0]:
                raise CsvFileError(
                    f"{source}: line 1: the columns are separated by {name}; "
                    "save the file as comma-separated CSV (UTF-8)"
                )
    repeated = sorted({n for n in names if names.count(n) > 1})
    missing = [c for c in required if c not in names]
    extra = [n or "(empty)" for n in names if n not in (*required, *optional)]
    if repeated or missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column {', '.join(missing)}")
        if extra:
            parts.append(f"unknown column {', '.join(extra)}")
        if repeated:
            parts.append(f"repeated column {', '.join(repeated)}")
        raise CsvFileError(
            f"{source}: line 1: header has {'; '.join(parts)} (expected: {','.join(required)}; "
            f"optional: {','.join(optional)})"
        )
    return names


def unguarded(cell: str) -> str:
    """A cell as typed: without the "'" an export writes before a formula's first
    character (or before a "'" of the text itself)."""
    if cell.startswith("'") and cell[1:].startswith((*FORMULA_STARTS, "'")):
        return cell[1:]
    return cell


def _wrong_width(line: int, record: list[str], names: list[str], source: str) -> RowProblem:
    return RowProblem(line, "row", f"has {len(record)} fields, the header has {len(names)}", source)


def _check_row(
    line: int, cells: Mapping[str, str], context: dict[str, Any]
) -> tuple[list[RowProblem], PatientRow | None]:
    patient = {key: value for key, value in cells.items() if key not in EPISODE_COLUMNS}
    try:
        row = PatientRow.model_validate(patient, context=context)
    except ValidationError as exc:
        return [_problem(line, error) for error in exc.errors()], None
    return [], row


def _product_line(
    line: int, cells: Mapping[str, str], source: str
) -> tuple[list[RowProblem], ProductLine | None]:
    problems = []
    code = cells["code"].strip()
    kind = cells["kind"].strip().lower()
    if not code:
        problems.append(RowProblem(line, "code", "empty; a value is required", source))
    if not cells["name"].strip():
        problems.append(RowProblem(line, "name", "empty; a value is required", source))
    if kind not in KINDS:
        said = f"{cells['kind'].strip()!r} is not" if kind else "empty; write"
        problems.append(RowProblem(line, "kind", f"{said} product or addon", source))
        return problems, None
    for column in PRODUCT_OPTIONAL_COLUMNS:
        if column not in KINDS[kind] and cells.get(column, "").strip():
            what = "a product" if kind == "product" else "an add-on"
            problems.append(
                RowProblem(
                    line,
                    column,
                    f"{what} has no {field_words(column)} in the record of care; leave it empty",
                    source,
                )
            )
    values = {key: cells.get(key, "") for key in ("name", *KINDS[kind])}
    return problems, (ProductLine(line, code, kind, values) if code else None)


def _given_by_code(
    products: ProductsFile | None,
) -> dict[str, tuple[list[ProductLine], list[ProductLine]]]:
    """The products file's rows by patient code: (products, add-ons), in file order."""
    given: dict[str, tuple[list[ProductLine], list[ProductLine]]] = {}
    for product in products.lines if products else ():
        kinds = given.setdefault(product.code, ([], []))
        kinds[0 if product.kind == "product" else 1].append(product)
    return given


def _episode(
    line: int,
    cells: Mapping[str, str],
    given: tuple[list[ProductLine], list[ProductLine]],
    products: ProductsFile | None,
    context: dict[str, Any],
) -> tuple[EpisodeRecord | None, list[RowProblem], list[RowProblem]]:
    """The row's episode read as a form reads it (core.records): the record, its
    problems and its warnings, each placed on its file, line and column."""
    source = products.source if products else ""
    values = {key: cells.get(key, "") for key in ("procedure_at", "protocol", "schedule")}
    values |= {key: cells.get(key, "") for key in EPISODE_COLUMNS}
    allergies = values.pop("allergies").strip()
    known_none = allergies.lower() == _NONE_KNOWN
    values["has_allergies"] = "no" if known_none else ""
    values["allergies"] = "" if known_none else allergies
    problems = []
    for key, rows in (("products", given[0]), ("addons", given[1])):
        if rows and values[key].strip().lower() == NONE_GIVEN:
            listed = ", ".join(str(row.line) for row in rows)
            problems.append(
                RowProblem(
                    line,
                    key,
                    f"{NONE_GIVEN!r}, yet {source} lists {key} for this patient (line {listed})",
                )
            )
            values[key] = ""

    def placed(found: FieldProblem) -> RowProblem:
        kind, _, rest = found.field.partition("-")
        number, _, column = rest.partition("-")
        if kind in ("product", "addon") and number.isdigit() and column:
            row = given[0 if kind == "product" else 1][int(number) - 1]
            return RowProblem(row.line, column, found.problem, source)
        return RowProblem(
            line, {"has_allergies": "allergies"}.get(found.field, found.field), found.problem
        )

    try:
        record, warned = episode_from_text(
            values,
            [row.values for row in given[0]],
            [row.values for row in given[1]],
            clinic_tz=context["clinic_tz"],
            now=context["now"],
            templates=context["templates"],
        )
    except RecordRefused as refused:
        return None, problems + [placed(p) for p in refused.problems], []
    if problems:
        return None, problems, []
    return record, [], [placed(p) for p in warned]


def _in_order(problems: list[RowProblem]) -> list[RowProblem]:
    """The patient file's problems first, then the products file's, each by line
    (stable: a line's problems keep their order)."""
    return sorted(problems, key=lambda p: (bool(p.source), p.line))


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
