"""`aftercare import patients FILE.csv`: patients and their treatment episodes from a file.

Every row is checked before anything is written (core.patient_import), and
every problem is printed as "line N: column: problem". One bad row and
nothing is imported; a clean file goes in as one transaction, audited.
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

    Every row is checked first and every problem printed as
    "line N: column: problem"; if any row is bad nothing is imported.
    Only an active admin may import. Exit status: 0 imported, 1 bad file or
    rows or refused, 2 configuration or database error.
    """
    from zoneinfo import ZoneInfo

    from core.config import schedule_template_dirs
    from core.patient_import import CsvFileError, check_patient_csv, decode_csv
    from core.permissions import Action
    from core.schedules import load_templates

    loaded = loaded_config(EXIT_CANNOT_READ)
    settings = loaded.settings
    try:
        templates = load_templates(schedule_template_dirs(loaded))
    except ValueError as exc:
        fail(str(exc), EXIT_CANNOT_READ)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    clinic = open_clinic(settings, EXIT_CANNOT_READ)
    try:
        actor = signed_in(clinic, None, flag="--as")
        with refusals(EXIT_REFUSED, unavailable=EXIT_CANNOT_READ):
            # Before reading a single row: patient data is not for everyone to probe.
            clinic.check_permission(actor, Action.IMPORT_PATIENTS)
            try:
                checked = check_patient_csv(
                    decode_csv(data, str(file)),
                    str(file),
                    now=clinic.clock.now(),
                    clinic_tz=ZoneInfo(settings.clinic_timezone),
                    templates=templates,
                )
            except CsvFileError as exc:
                fail(str(exc))
            checked = checked.against_database(
                clinic.existing_patient_codes(checked.codes.values())
            )
            if checked.problems:
                for problem in checked.problems:
                    typer.echo(str(problem), err=True)
                bad = len(checked.bad_lines)
                fail(
                    f"{file}: {len(checked.problems)} "
                    f"problem{'s' if len(checked.problems) > 1 else ''}"
                    f" on {bad} of {checked.row_count} rows; nothing imported"
                )
            if not checked.rows:
                fail(f"{file}: no patients after the header; nothing imported")
            summary = clinic.import_patients(
                actor,
                list(checked.rows.values()),
                templates=templates,
                source=str(file.resolve()),
                sha256=hashlib.sha256(data).hexdigest(),
            )
    finally:
        clinic.database.close()
    typer.echo(
        f"imported {summary.patients} patients from {file} "
        f"({summary.episodes} episodes, {summary.touchpoints} touchpoints)"
    )
