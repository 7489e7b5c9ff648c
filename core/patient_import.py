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

The products file is read by `core.product_import`, the patient's own fields
are checked by `core.patient_fields` (as the forms check them), and both files
are read as CSV by `core.csv_files`.

Pure: the caller passes in the clock, the clinic's time zone, the schedule
templates in force, and (`CheckedFile.against_database`) the codes and active
physicians the database holds.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, ValidationError, ValidationInfo, field_validator

from core.csv_files import RowProblem, data_rows, unguarded, wrong_width
from core.domain import Protocol
from core.patient_fields import PatientFields, field_and_problem, lowered, validation_context
from core.product_import import Given, ProductsFile, given_by_code
from core.records import (
    NONE_GIVEN,
    TEXT_FIELDS,
    EpisodeRecord,
    FieldProblem,
    RecordRefused,
    clinic_time,
    episode_from_text,
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
    *TEXT_FIELDS,
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

_NONE_KNOWN: Final = "none"
"""Typed in `allergies`: asked, and no allergy is known."""


class PatientRow(PatientFields):
    """One row of the import file: the patient and their episode's procedure.

    Validation needs a context: `now`, `clinic_tz` and `templates` (name ->
    ScheduleTemplate).
    """

    procedure_at: datetime
    protocol: Annotated[Protocol, BeforeValidator(lowered)]
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
        context = validation_context(info)
        return clinic_time(value, context["clinic_tz"], context["now"])

    @field_validator("schedule", mode="before")
    @classmethod
    def _known_templates(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        return schedule_names(value, validation_context(info)["templates"])


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
    (`core.product_import.read_products_csv`); `source` names the patient file in errors.

    Codes already in the database and the active physicians are the caller's
    to add (`CheckedFile.against_database`). Raises CsvFileError when the file
    is empty, the header lacks a column or has an unknown or repeated one, or
    the text is not CSV at all.
    """
    context = {"now": now, "clinic_tz": clinic_tz, "templates": templates}
    given = given_by_code(products)
    rows: dict[int, PatientRow] = {}
    problems: list[RowProblem] = []
    warnings: list[RowProblem] = []
    codes: dict[int, str] = {}
    treating: dict[int, str] = {}
    first_line_of: dict[str, int] = {}
    for line, names, record in data_rows(text, source, COLUMNS, OPTIONAL_COLUMNS):
        if len(record) != len(names):
            codes[line] = ""
            problems.append(wrong_width(line, record, names, ""))
            continue
        cells = dict(zip(names, map(unguarded, record), strict=True))
        code = cells["code"].strip()
        codes[line] = code
        row_problems, row = _check_row(line, cells, context)
        if code in first_line_of:
            row_problems.append(
                RowProblem(line, "code", f"{code!r} is also on line {first_line_of[code]}")
            )
            theirs: Given = ([], [])
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


def _check_row(
    line: int, cells: Mapping[str, str], context: dict[str, Any]
) -> tuple[list[RowProblem], PatientRow | None]:
    patient = {key: value for key, value in cells.items() if key not in EPISODE_COLUMNS}
    try:
        row = PatientRow.model_validate(patient, context=context)
    except ValidationError as exc:
        return [RowProblem(line, *field_and_problem(error)) for error in exc.errors()], None
    return [], row


def _episode(
    line: int,
    cells: Mapping[str, str],
    given: Given,
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
