"""`aftercare export summary|fhir <patient>`: one patient's record for a home physician
or a regulator.

Each export appends an audit event (who disclosed which record, in which
format) before any byte leaves the program. Exit status: 0 written, 1 unknown
patient or an output file that cannot be written, 2 configuration or database
error; every failure is one line on stderr.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from core.domain import IncidentCategory
from core.incident_log import IncidentFilter, StatusFilter
from tui.cli.arguments import LoginOption, PatientArgument
from tui.cli.errors import fail, refusals
from tui.cli.opening import open_clinic, settings, signed_in

if TYPE_CHECKING:
    from core.exports.formats import ExportKind
    from db.services import Clinic
    from db.services.exports import RenderedExport

Written = TypeVar("Written")

EXIT_NOT_EXPORTED = 1
EXIT_CANNOT_READ = 2
"""Configuration or database trouble: distinct from "no such patient"."""


def register(app: typer.Typer) -> None:
    """Add the `export` command group to the `aftercare` CLI."""
    export_app = typer.Typer(
        help="Export patients' records: for a home physician, a regulator, or the patient CSV.",
        no_args_is_help=True,
    )
    app.add_typer(export_app, name="export")
    export_app.command("summary")(summary)
    export_app.command("fhir")(fhir)
    export_app.command("incidents")(incidents)
    export_app.command("patients")(patients)


def summary(
    patient: PatientArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            dir_okay=False,
            help="Write to this file. Without it, Markdown goes to standard output and "
            "--pdf writes <patient code>-summary.pdf in the current directory.",
        ),
    ] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Write a PDF instead of Markdown.")] = False,
    login: LoginOption = None,
) -> None:
    """The English follow-up summary for the patient's home physician.

    Procedure, products with MFDS reference and lot, the timeline of check-ins,
    triages and incidents, current status and how to reach the clinic.
    The export is recorded in the audit trail. Exit status: 0 written,
    1 unknown patient or output not writable, 2 configuration or database error.
    """
    kind: ExportKind = "pdf" if pdf else "summary"
    # A PDF is never written to a terminal: it goes to a file, named if not given.
    _export(patient, kind, output, login, default_to_file=pdf)


def fhir(
    patient: PatientArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", dir_okay=False, help="Write to this file instead of standard output."
        ),
    ] = None,
    login: LoginOption = None,
) -> None:
    """A FHIR R4 Bundle (JSON) of Patient, Procedure, CarePlan and AdverseEvent resources.

    The export is recorded in the audit trail. Exit status: 0 written,
    1 unknown patient or output not writable, 2 configuration or database error.
    """
    _export(patient, "fhir", output, login, default_to_file=False)


def incidents(
    csv: Annotated[bool, typer.Option("--csv", help="CSV (the only format; required).")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", dir_okay=False, help="Write to this file instead of standard output."
        ),
    ] = None,
    status: Annotated[
        StatusFilter, typer.Option(help="Which incidents by status.")
    ] = StatusFilter.ALL,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only incidents whose MFDS report is late.")
    ] = False,
    category: Annotated[IncidentCategory | None, typer.Option(help="Only this category.")] = None,
    country: Annotated[
        str | None, typer.Option(help="Only patients now in this country (ISO code).")
    ] = None,
    login: LoginOption = None,
) -> None:
    """The incident log as CSV: one row per incident with its reporting clock.

    Columns include seriousness, grade, outcome, day 0, the MFDS due date, the
    clock on the day of export, report and KHIDI dates and references, and the
    suspect product with MFDS reference and lot. The export is recorded in the
    audit trail. Exit status: 0 written, 1 output not writable, 2 configuration
    or database error.
    """
    if not csv:
        fail("say --csv: CSV is the format of the incident log export", EXIT_NOT_EXPORTED)
    wanted = IncidentFilter(
        status=status,
        overdue_only=overdue,
        category=category,
        country=country.strip().upper() if country else None,
    )
    clinic = open_clinic(settings(EXIT_CANNOT_READ), EXIT_CANNOT_READ)
    try:
        exporter = _exporter(clinic, login)
        with refusals(EXIT_NOT_EXPORTED, unavailable=EXIT_CANNOT_READ):
            if output is None:
                with tempfile.TemporaryDirectory() as folder:
                    scratch = Path(folder) / "incidents.csv"
                    # Audited with the file it was written to: standard output.
                    clinic.save_incidents_csv(exporter, wanted, scratch, destination="<stdout>")
                    _to_stdout(scratch.read_bytes())
                return
            count = _written(output, lambda: clinic.save_incidents_csv(exporter, wanted, output))
        typer.echo(f"wrote {output} ({count} incidents)")
    finally:
        clinic.database.close()


def patients(
    csv_file: Annotated[
        Path,
        typer.Option(
            "--csv",
            dir_okay=False,
            help="Write the patients here: one row each, with their latest episode.",
        ),
    ],
    products: Annotated[
        Path | None,
        typer.Option(
            "--products",
            dir_okay=False,
            help="Write the products and add-ons given here, one per row (without it "
            "they are left out).",
        ),
    ] = None,
    login: LoginOption = None,
) -> None:
    """Every patient as the CSV files `aftercare import patients` reads (docs/import.md).

    One row per patient with their latest episode only (procedure time in
    clinic time, every column of the import), and with --products one row per
    product or add-on of that episode. Demo patients are left out. Importing
    the files into an empty database and exporting again gives the same files.
    The export is recorded in the audit trail. Exit status: 0 written,
    1 refused or output not writable, 2 configuration or database error.
    """
    clinic = open_clinic(settings(EXIT_CANNOT_READ), EXIT_CANNOT_READ)
    try:
        actor = signed_in(clinic, login, flag="--as", status=EXIT_NOT_EXPORTED)
        with refusals(EXIT_NOT_EXPORTED, unavailable=EXIT_CANNOT_READ):
            try:
                written = clinic.save_patients_csv(actor, csv_file, products)
            except OSError as exc:
                files = f"{csv_file} and {products}" if products else f"{csv_file}"
                fail(f"cannot write {files}: {exc.strerror or exc}", EXIT_NOT_EXPORTED)
    finally:
        clinic.database.close()
    if products is None:
        typer.echo(f"wrote {csv_file} ({written.patients} patients)")
        if written.product_rows:
            typer.echo(
                f"warning: {written.product_rows} product and add-on rows left out; "
                "give --products FILE to write them",
                err=True,
            )
        return
    typer.echo(
        f"wrote {csv_file} ({written.patients} patients) and {products} "
        f"({written.product_rows} products and add-ons)"
    )


def _export(
    reference: str,
    kind: ExportKind,
    output: Path | None,
    login: str | None,
    *,
    default_to_file: bool,
) -> None:
    clinic = open_clinic(settings(EXIT_CANNOT_READ), EXIT_CANNOT_READ)
    try:
        exporter = _exporter(clinic, login)  # first: refused people learn nothing
        # Unknown patient (also one removed between the look-up and the read): status 1.
        with refusals(EXIT_NOT_EXPORTED, unavailable=EXIT_CANNOT_READ):
            patient_id = clinic.patient_by_reference(reference)
            if patient_id is None:
                fail(f"no patient with code or id {reference!r}", EXIT_NOT_EXPORTED)
            rendered = clinic.render_patient_export(patient_id, kind)
            if output is None and default_to_file:
                output = Path.cwd() / rendered.file_name
            _deliver(clinic, rendered, output, login=exporter)
    finally:
        clinic.database.close()


def _deliver(clinic: Clinic, rendered: RenderedExport, output: Path | None, *, login: str) -> None:
    if output is None:
        # Audited first: a disclosure is recorded even if the reader stops reading.
        clinic.audit_disclosure(login, rendered)
        _to_stdout(rendered.content)
        return
    typer.echo(f"wrote {_written(output, lambda: clinic.save_export(login, rendered, output))}")


def _to_stdout(content: bytes) -> None:
    sys.stdout.buffer.write(terminal_safe(content))
    sys.stdout.buffer.flush()


def terminal_safe(content: bytes) -> bytes:
    """A text export as printed: every control character a record may still hold (an
    old database, a row written by hand) in its visible form, so the terminal it
    lands on shows it and obeys nothing (core.plain_text). Line ends (CSV's CRLF, a
    note's own newline) and tabs stay, so the text still reads as its format."""
    from core.plain_text import shown

    text = content.decode("utf-8", errors="replace")
    lines = text.split("\r\n")
    return "\r\n".join(shown(line, notes=True) for line in lines).encode("utf-8")


def _written(output: Path, save: Callable[[], Written]) -> Written:
    """What `save` returns, or status 1 when the output file cannot be written."""
    try:
        return save()
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_NOT_EXPORTED)


def _exporter(clinic: Clinic, login: str | None) -> str:
    """The staff login the audit trail names: the OS user's, or --as when the OS
    user may work as that login (tui.identity), and only if its role may export.
    Anyone else is refused: an export discloses patients' records."""
    from core.permissions import Action

    actor = signed_in(clinic, login, flag="--as", status=EXIT_NOT_EXPORTED)
    with refusals(EXIT_NOT_EXPORTED, unavailable=EXIT_CANNOT_READ):
        clinic.check_permission(actor, Action.EXPORT)
    return actor.username
