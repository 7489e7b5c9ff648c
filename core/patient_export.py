"""Patients and what was given them, as the two CSV files `aftercare import patients`
reads: one row per patient with their episode, one row per product or add-on.

Every column is written, in a fixed order, so exporting, importing the files
into an empty database and exporting again gives the same bytes: the import
is the reader of this format and its rules are the only ones (docs/import.md).
The procedure time is written in clinic time, as the import reads it.

A cell a spreadsheet would run as a formula (it starts with = + - @) is
written after a "'", which the import takes off again; a phone number is
written '+81... for that reason.

Pure: the caller passes in the records (`db.patient_export`) and the clinic's zone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, tzinfo
from decimal import Decimal
from typing import Final

from core.csv_files import FORMULA_STARTS, unguarded
from core.patient_import import COLUMNS, EPISODE_COLUMNS
from core.plain_text import shown
from core.product_import import PRODUCT_COLUMNS, PRODUCT_OPTIONAL_COLUMNS
from core.records import NONE_GIVEN, SCHEDULE_SEPARATOR, EpisodeRecord, PatientRecord

PATIENT_FILE_COLUMNS: Final = (
    *COLUMNS[:3],
    "native_name",
    *COLUMNS[3:],
    *EPISODE_COLUMNS,
)
"""The patient file's header as written: the patient, the procedure, the record of care."""

PRODUCT_FILE_COLUMNS: Final = (*PRODUCT_COLUMNS, *PRODUCT_OPTIONAL_COLUMNS)
"""The products file's header as written."""

Exported = tuple[PatientRecord, EpisodeRecord]
"""One patient and the episode written with them."""


def patients_csv(records: Iterable[Exported], clinic_tz: tzinfo) -> str:
    """The patient file: a header and one row per patient, by code."""
    rows = [_patient_row(patient, episode, clinic_tz) for patient, episode in _by_code(records)]
    return _csv(PATIENT_FILE_COLUMNS, rows)


def products_csv(records: Iterable[Exported]) -> str:
    """The products file: a header and one row per product, then per add-on, of
    each patient by code, in the order they were recorded."""
    rows: list[Sequence[object]] = []
    for patient, episode in _by_code(records):
        for product in episode.products or ():
            rows.append(
                (
                    patient.code,
                    "product",
                    product.name,
                    product.mfds_reference,
                    product.lot_number,
                    product.expiry_date,
                    _yes_no(product.exosome),
                    None,
                )
            )
        for addon in episode.addons or ():
            dose = None if addon.dose_mg is None else _mg(addon.dose_mg)
            rows.append((patient.code, "addon", addon.name, None, None, None, None, dose))
    return _csv(PRODUCT_FILE_COLUMNS, rows)


def product_row_count(records: Iterable[Exported]) -> int:
    """How many rows the products file holds for `records`."""
    return sum(len(e.products or ()) + len(e.addons or ()) for _, e in records)


def _patient_row(patient: PatientRecord, episode: EpisodeRecord, clinic_tz: tzinfo) -> list[object]:
    if episode.has_allergies is False:
        allergies: str | None = "none"
    else:
        allergies = episode.allergies
    values: dict[str, object] = {
        "code": patient.code,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "native_name": patient.native_name,
        "birth_date": patient.birth_date,
        "home_country": patient.home_country,
        "current_country": patient.current_country,
        "language": patient.language,
        "timezone": patient.timezone,
        "channel": patient.channel.value,
        "channel_handle": patient.channel_handle,
        "phone": patient.phone,
        "email": patient.email,
        "procedure_at": f"{episode.procedure_at.astimezone(clinic_tz):%Y-%m-%d %H:%M}",
        "protocol": episode.protocol.value,
        "schedule": SCHEDULE_SEPARATOR.join(episode.schedule),
        "treating_physician": episode.treating_physician,
        "nurse_name": episode.nurse_name,
        "nurse_license_ref": episode.nurse_license_ref,
        "departure_date": episode.departure_date,
        "travel_insurer": episode.travel_insurer,
        "travel_policy_number": episode.travel_policy_number,
        "khidi_cover_ref": episode.khidi_cover_ref,
        "allergies": allergies,
        "vasovagal_history": _yes_no(episode.vasovagal_history),
        "sensitive_skin": _yes_no(episode.sensitive_skin),
        # Rows in the products file say what was given; "none" that nothing was.
        "products": NONE_GIVEN if episode.products == () else None,
        "addons": NONE_GIVEN if episode.addons == () else None,
    }
    return [values[column] for column in PATIENT_FILE_COLUMNS]


def _by_code(records: Iterable[Exported]) -> list[Exported]:
    # Sorted here, not by the database: collations order codes differently.
    return sorted(records, key=lambda record: record[0].code)


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else shown(str(value), notes=True)
    if text.startswith(FORMULA_STARTS) or unguarded(text) != text:
        # Also a text the import would otherwise take a "'" off: it reads back as written.
        return "'" + text
    return text


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def _mg(value: float) -> str:
    """A dose as the import reads it: plain digits, never 1e-05."""
    return format(Decimal(repr(value)).normalize(), "f")
