"""`aftercare patient move|contacts CODE`: where a patient is now, and how to reach them.

`move` changes the country and the time zone together: a country with one
zone needs no `--zone`, a country with several must be given one of its own.
The queue's local time, the windows not yet open, the messages and the
emergency number follow at once. `contacts` changes the phone, messenger
handle or e-mail, checked as the CSV import checks them. Each change is
audited with before and after. Exit status: 0 saved, 1 refused (a bad value
named by its field, an unknown patient, a role that may not), 2
configuration or database error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tui.cli.arguments import LoginOption, PatientArgument
from tui.cli.errors import fail, refusals
from tui.cli.opening import open_clinic, settings, signed_in

if TYPE_CHECKING:
    from collections.abc import Callable

    from db.followup import Actor
    from db.services import Clinic
    from db.whereabouts import WhereaboutsSaved

EXIT_REFUSED = 1
EXIT_CANNOT_READ = 2


def register(app: typer.Typer) -> None:
    """Add the `patient` command group to the `aftercare` CLI."""
    patient_app = typer.Typer(
        help="Where a patient is now and how to reach them.", no_args_is_help=True
    )
    app.add_typer(patient_app, name="patient")
    patient_app.command("move")(move)
    patient_app.command("contacts")(contacts)


def move(
    patient: PatientArgument,
    country: Annotated[
        str, typer.Option("--country", help="Where the patient is now: ISO code such as TH.")
    ],
    zone: Annotated[
        str | None,
        typer.Option(
            "--zone",
            help="IANA time zone of that country (Asia/Bangkok); needed only when it has several.",
        ),
    ] = None,
    login: LoginOption = None,
) -> None:
    """The patient is now in another country (and time zone).

    Example: aftercare patient move AC-000123 --country TH
    """
    from core.commands import PatientMove

    def work(clinic: Clinic, actor: Actor, patient_id: int) -> WhereaboutsSaved:
        return clinic.move_patient(actor, patient_id, PatientMove(country, zone))

    _save(patient, login, work)


def contacts(
    patient: PatientArgument,
    phone: Annotated[
        str | None, typer.Option("--phone", help="Phone number; an empty value removes it.")
    ] = None,
    handle: Annotated[
        str | None, typer.Option("--handle", help="Messenger handle on the patient's channel.")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="E-mail address; an empty value removes it.")
    ] = None,
    login: LoginOption = None,
) -> None:
    """New phone, messenger handle or e-mail; options left out stay as they are.

    Example: aftercare patient contacts AC-000123 --phone "+66 81 234 5678"
    """
    from dataclasses import replace

    def work(clinic: Clinic, actor: Actor, patient_id: int) -> WhereaboutsSaved:
        now = clinic.whereabouts(patient_id)
        if now is None:
            fail(f"no patient with code or id {patient!r}", EXIT_REFUSED)
        kept = now.contacts
        wanted = replace(
            kept,
            channel_handle=kept.channel_handle if handle is None else handle,
            phone=kept.phone if phone is None else phone,
            email=kept.email if email is None else email,
        )
        # Compared with what was just read: a colleague's edit in between is refused.
        return clinic.edit_contacts(actor, patient_id, wanted, expected=kept)

    _save(patient, login, work)


def _save(
    reference: str,
    login: str | None,
    work: Callable[[Clinic, Actor, int], WhereaboutsSaved],
) -> None:
    clinic = open_clinic(settings(EXIT_CANNOT_READ), EXIT_CANNOT_READ)
    try:
        actor = signed_in(clinic, login, flag="--as")
        with refusals(EXIT_REFUSED, unavailable=EXIT_CANNOT_READ, saying="not saved: "):
            patient_id = clinic.patient_by_reference(reference)
            if patient_id is None:
                fail(f"no patient with code or id {reference!r}", EXIT_REFUSED)
            saved = work(clinic, actor, patient_id)
        typer.echo(saved.words())
    finally:
        clinic.database.close()
