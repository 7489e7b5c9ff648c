"""Reading the products file of an import: the products and add-ons given, one per
row, keyed by the code of the patient in the patient file.

Each row is checked here on its own (a code, a kind, only the columns its kind
has); its values (lot, expiry, dose) are checked with its patient's episode by
`core.patient_import.check_patient_csv`, by the same rules as the forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from core.csv_files import RowProblem, data_rows, unguarded, wrong_width
from core.records import field_words

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


@dataclass(frozen=True)
class ProductLine:
    """One row of the products file whose code and kind could be read."""

    line: int
    code: str
    kind: str
    """Either "product" or "addon"."""
    values: dict[str, str]
    """The cells of `name` and the columns of its kind, as typed (core.records reads them)."""


Given: TypeAlias = tuple[list[ProductLine], list[ProductLine]]
"""One patient's rows of the products file: (products, add-ons), in file order."""


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
    for line, names, record in data_rows(text, source, PRODUCT_COLUMNS, PRODUCT_OPTIONAL_COLUMNS):
        if len(record) != len(names):
            codes[line] = ""
            problems.append(wrong_width(line, record, names, source))
            continue
        cells = dict(zip(names, map(unguarded, record), strict=True))
        codes[line] = cells["code"].strip()
        found, product = _product_line(line, cells, source)
        problems.extend(found)
        if product is not None:
            lines.append(product)
    return ProductsFile(source, lines, problems, codes)


def given_by_code(products: ProductsFile | None) -> dict[str, Given]:
    """The products file's rows by patient code: (products, add-ons), in file order."""
    given: dict[str, Given] = {}
    for product in products.lines if products else ():
        kinds = given.setdefault(product.code, ([], []))
        kinds[0 if product.kind == "product" else 1].append(product)
    return given


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
