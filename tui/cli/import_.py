"""`aftercare import patients FILE.csv [--products PRODUCTS.csv]`: patients and their
treatment episodes, with the record of care and the products given, from files.

Every row of both files is checked before anything is written
(core.patient_import), and every problem is printed as "line N: column:
problem" (prefixed with the products file's name for its rows); warnings (a
lot expired before the procedure) as "warning: ...". One bad row and nothing
is imported; clean files go in a few hundred rows per short transaction,
hidden from every queue until the last is in, then shown at once (all or
nothing), audited.
Only an active admin may import (core.permissions, Action.IMPORT_PATIENTS);
who imports is the operating-system login.

Exit status: 0 imported, 1 a bad file or row or a refusal, 2 configuration
or database trouble.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import typer

from tui.cli.errors import fail, refusals
from tui.cli.opening import loaded_config, open_clinic, signed_in

EXIT_REFUSED = 1
EXIT_CANNOT_READ = 2
"""Configuration or database trouble, told apart from a bad file."""


def register(app: typer.Typer) -> None:
    """Add the `import` command group to the `aftercare` CLI."""
    import_app = typer.Typer(help="Bring records in from files.", no_args_is_help=True)
    app.add_typer(import_app, name="import")
    import_app.command("patients")(patients)


def patients(
    file: Annotated[
        Path, typer.Argument(help="A CSV file (UTF-8, comma-separated, header on line 1).")
    ],
    products: Annotated[
        Path | None,
        typer.Option(
            "--products",
            dir_okay=False,
            help="A second CSV file: the products and add-ons given, one per row, "
            "keyed by patient code (columns code, kind, name, mfds_reference, "
            "lot_number, expiry_date, exosome, dose_mg).",
        ),
    ] = None,
) -> None:
    """Import patients, each with one treatment episode and its touchpoints, from CSV.

    Header (any order): code, family_name, given_name, birth_date (YYYY-MM-DD
    or empty), home_country and current_country (ISO codes such as JP;
    current_country empty = at home), language (ja, en, zh-Hant ...),
    timezone (Asia/Tokyo ...), channel (line, wechat, whatsapp, kakaotalk,
    email, phone, sms), channel_handle, phone (+81 90 ... or empty), email
    (or empty), procedure_at (clinic time, YYYY-MM-DD HH:MM), protocol
    (exosome_iv, microneedling, exosome_iv+microneedling, prp), schedule
    (template names separated by ';').

    Optional columns, empty = not recorded: native_name, treating_physician
    (an active physician's login), nurse_name, nurse_license_ref,
    departure_date (YYYY-MM-DD), travel_insurer, travel_policy_number,
    khidi_cover_ref, allergies (what, or 'none' when none are known),
    vasovagal_history and sensitive_skin (yes or no), products and addons
    ('none' when none were given; empty with rows in --products: those rows).

    Products file: kind is product or addon; a product has name,
    mfds_reference, lot_number, expiry_date (YYYY-MM-DD or YYYY-MM) and
    exosome (yes/no); an add-on has name and dose_mg. A lot that expired
    before the procedure is printed as a warning and imported.

    Every row of both files is checked first and every problem printed as
    "line N: column: problem"; if any row is bad nothing is imported.
    docs/import.md describes both files. Only an active admin may import.
    Exit status: 0 imported, 1 bad file or rows or refused, 2 configuration
    or database error.
    """
    from zoneinfo import ZoneInfo

    from core.config import schedule_template_dirs
    from core.csv_files import CsvFileError, decode_csv
    from core.patient_import import check_patient_csv
    from core.permissions import Action
    from core.product_import import read_products_csv
    from core.schedules import load_templates

    loaded = loaded_config(EXIT_CANNOT_READ)
    settings = loaded.settings
    try:
        templates = load_templates(schedule_template_dirs(loaded))
    except ValueError as exc:
        fail(str(exc), EXIT_CANNOT_READ)
    data = _read(file)
    products_data = _read(products) if products is not None else None
    clinic = open_clinic(settings, EXIT_CANNOT_READ)
    try:
        actor = signed_in(clinic, None, flag="--as")
        with refusals(EXIT_REFUSED, unavailable=EXIT_CANNOT_READ):
            # Before reading a single row: patient data is not for everyone to probe.
            clinic.check_permission(actor, Action.IMPORT_PATIENTS)
            try:
                given = (
                    read_products_csv(decode_csv(products_data, str(products)), str(products))
                    if products_data is not None
                    else None
                )
                checked = check_patient_csv(
                    decode_csv(data, str(file)),
                    str(file),
                    now=clinic.clock.now(),
                    clinic_tz=ZoneInfo(settings.clinic_timezone),
                    templates=templates,
                    products=given,
                )
            except CsvFileError as exc:
                fail(str(exc))
            checked = checked.against_database(
                clinic.existing_patient_codes(checked.codes.values()),
                physicians=[login for login, _ in clinic.physicians()],
            )
            for warning in checked.warnings:
                typer.echo(f"warning: {warning}", err=True)
            if checked.problems:
                for problem in checked.problems:
                    typer.echo(str(problem), err=True)
                fail(checked.refusal(str(file)))
            if not checked.rows:
                fail(f"{file}: no patients after the header; nothing imported")
            summary = clinic.import_patients(
                actor,
                list(checked.rows.values()),
                templates=templates,
                source=str(file.resolve()),
                sha256=hashlib.sha256(data).hexdigest(),
                products_source=str(products.resolve()) if products is not None else None,
                products_sha256=(
                    hashlib.sha256(products_data).hexdigest() if products_data is not None else None
                ),
            )
    finally:
        clinic.database.close()
    if summary.removed_unfinished:
        typer.echo(
            f"removed {len(summary.removed_unfinished)} patients an earlier import cut short "
            f"had left unfinished ({', '.join(summary.removed_unfinished[:5])}"
            f"{' ...' if len(summary.removed_unfinished) > 5 else ''})",
            err=True,
        )
    typer.echo(
        f"imported {summary.patients} patients from {file} "
        f"({summary.episodes} episodes, {summary.touchpoints} touchpoints)"
    )


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
