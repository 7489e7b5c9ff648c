"""`aftercare patient add|edit|move|contacts`: a patient recorded by hand, who they
are, where they are now, and how to reach them.

`add` records a patient with their first treatment episode: the patient's
options and every option of `aftercare episode add` (tui.cli.episode), checked
as the record of care form checks them; every problem is said at once, one
line each naming the field and the option, and nothing is saved. `edit`
corrects who the patient is (names, birth date, language, home country,
channel); the code never changes.

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

from dataclasses import fields, replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tui.cli.arguments import LoginOption, PatientArgument
from tui.cli.errors import fail, refusals
from tui.cli.opening import open_clinic, settings, signed_in
from tui.cli.record_options import (
    OPTION_OF,
    AddonOption,
    AllergiesOption,
    DepartureOption,
    EpisodeOptions,
    InsurerOption,
    KhidiOption,
    NoAddonsOption,
    NoAllergiesOption,
    NoProductsOption,
    NurseLicenceOption,
    NurseOption,
    PolicyOption,
    ProcedureOption,
    ProductOption,
    ProtocolOption,
    ScheduleOption,
    SensitiveSkinOption,
    TreatingOption,
    VasovagalOption,
)
from tui.cli.record_saving import (
    episode_input,
    patient_id_of,
    save_record,
    text_of,
    typed_episode,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from core.records import FieldProblem, RecordSaved
    from db.followup import Actor
    from db.services import Clinic
    from db.whereabouts import WhereaboutsSaved

EXIT_REFUSED = 1
EXIT_CANNOT_READ = 2


PATIENT_OPTION_OF = {
    "code": "--code",
    "family_name": "--family-name",
    "given_name": "--given-name",
    "native_name": "--native-name",
    "birth_date": "--birth-date",
    "home_country": "--home-country",
    "current_country": "--country-now",
    "language": "--language",
    "timezone": "--timezone",
    "channel": "--channel",
    "channel_handle": "--handle",
    "phone": "--phone",
    "email": "--email",
}
"""Field key of core.records -> the option a person types it with."""


def _option(name: str, words: str, metavar: str = "TEXT") -> Any:
    return typer.Option(name, help=words, metavar=metavar)


FamilyNameOption = Annotated[
    str | None, _option("--family-name", "Family name as in the passport.")
]
GivenNameOption = Annotated[
    str | None, _option("--given-name", "Given name as in the passport (empty: none).")
]
NativeNameOption = Annotated[
    str | None, _option("--native-name", 'The name in the patient\'s own script ("山本 さくら").')
]
BirthDateOption = Annotated[str | None, _option("--birth-date", "YYYY-MM-DD.", "DATE")]
HomeCountryOption = Annotated[
    str | None, _option("--home-country", "Where the patient lives: ISO code such as JP.", "CC")
]
LanguageOption = Annotated[
    str | None, _option("--language", "The language to write in: ja, en, zh-Hant...", "TAG")
]
ChannelOption = Annotated[
    str | None,
    _option(
        "--channel",
        "How the clinic reaches them: line, wechat, whatsapp, kakaotalk, email, phone or sms.",
        "NAME",
    ),
]
HandleOption = Annotated[
    str | None, _option("--handle", "Their handle (or number) on that channel.")
]


def register(app: typer.Typer) -> None:
    """Add the `patient` command group to the `aftercare` CLI."""
    patient_app = typer.Typer(
        help="A patient recorded by hand, who they are, where they are now and how to reach them.",
        no_args_is_help=True,
    )
    app.add_typer(patient_app, name="patient")
    patient_app.command("add")(add)
    patient_app.command("edit")(edit)
    patient_app.command("move")(move)
    patient_app.command("contacts")(contacts)


def add(
    code: Annotated[str | None, _option("--code", "The new patient's code (JP-0042).")] = None,
    family_name: FamilyNameOption = None,
    given_name: GivenNameOption = None,
    native_name: NativeNameOption = None,
    birth_date: BirthDateOption = None,
    home_country: HomeCountryOption = None,
    country_now: Annotated[
        str | None,
        _option("--country-now", "Where the patient is now, when not at home: ISO code.", "CC"),
    ] = None,
    language: LanguageOption = None,
    timezone: Annotated[
        str | None, _option("--timezone", "Their time zone now (Asia/Tokyo).", "ZONE")
    ] = None,
    channel: ChannelOption = None,
    handle: HandleOption = None,
    phone: Annotated[str | None, _option("--phone", "Phone number (+81 90 ...).")] = None,
    email: Annotated[str | None, _option("--email", "E-mail address.")] = None,
    procedure: ProcedureOption = None,
    protocol: ProtocolOption = None,
    schedule: ScheduleOption = None,
    treating: TreatingOption = None,
    nurse: NurseOption = None,
    nurse_licence: NurseLicenceOption = None,
    departure: DepartureOption = None,
    insurer: InsurerOption = None,
    policy: PolicyOption = None,
    khidi_ref: KhidiOption = None,
    allergies: AllergiesOption = None,
    no_allergies: NoAllergiesOption = False,
    vasovagal: VasovagalOption = None,
    sensitive_skin: SensitiveSkinOption = None,
    product: ProductOption = None,
    no_products: NoProductsOption = False,
    addon: AddonOption = None,
    no_addons: NoAddonsOption = False,
    login: LoginOption = None,
) -> None:
    """A new patient with their first treatment episode and its follow-up.

    The episode options are those of `aftercare episode add`; --procedure,
    --protocol and --schedule are required, as are the code, family name, home
    country, language, time zone, channel and handle. Example:

    \b
    aftercare patient add --code JP-0042 --family-name Yamamoto --given-name Sakura \\
      --native-name "山本 さくら" --home-country JP --language ja --timezone Asia/Tokyo \\
      --channel line --handle sakura.y --procedure "2026-11-20 10:30" \\
      --protocol exosome_iv --schedule standard --treating dr.kim \\
      --product "name=ASCE+; mfds=MFDS-2024-118; lot=A2611-07; expiry=2027-05; exosome=yes" \\
      --addon "name=glutathione; dose=1200" --allergies penicillin
    """
    options = EpisodeOptions.of(locals())
    typed = {
        "code": code,
        "family_name": family_name,
        "given_name": given_name,
        "native_name": native_name,
        "birth_date": birth_date,
        "home_country": home_country,
        "current_country": country_now,
        "language": language,
        "timezone": timezone,
        "channel": channel,
        "channel_handle": handle,
        "phone": phone,
        "email": email,
    }
    given = {key: value for key, value in typed.items() if value is not None}

    def work(clinic: Clinic, actor: Actor) -> tuple[RecordSaved, Sequence[FieldProblem]]:
        from core.patient_fields import patient_from_text
        from core.records import NewPatient, RecordRefused

        inputs = episode_input(clinic)
        problems: list[FieldProblem] = []
        person = record = None
        warnings: Sequence[FieldProblem] = ()
        try:
            person = patient_from_text(given, now=inputs["now"], clinic_tz=inputs["clinic_tz"])
        except RecordRefused as refused:
            problems.extend(refused.problems)
        try:
            record, warnings = typed_episode(options, **inputs)
        except RecordRefused as refused:
            problems.extend(refused.problems)
        if person is None or record is None:
            raise RecordRefused(problems)  # every problem of both, at once
        return clinic.record_patient(actor, NewPatient(person, record)), warnings

    save_record(login, work, OPTION_OF | PATIENT_OPTION_OF)


def edit(
    patient: PatientArgument,
    family_name: FamilyNameOption = None,
    given_name: GivenNameOption = None,
    native_name: NativeNameOption = None,
    birth_date: BirthDateOption = None,
    home_country: HomeCountryOption = None,
    language: LanguageOption = None,
    channel: ChannelOption = None,
    handle: HandleOption = None,
    login: LoginOption = None,
) -> None:
    """Correct who the patient is; give only the options to change.

    The code never changes. Where the patient is now and their phone and
    e-mail have their own commands (`patient move`, `patient contacts`). Example:

    \b
    aftercare patient edit JP-0042 --family-name Yamamoto --native-name "山本 さくら"
    """
    typed = {
        "family_name": family_name,
        "given_name": given_name,
        "native_name": native_name,
        "birth_date": birth_date,
        "home_country": home_country,
        "language": language,
        "channel": channel,
        "channel_handle": handle,
    }
    given = {key: value for key, value in typed.items() if value is not None}
    if not given:
        fail("give at least one option to change (see --help); nothing was saved", EXIT_REFUSED)

    def work(clinic: Clinic, actor: Actor) -> tuple[RecordSaved, Sequence[FieldProblem]]:
        from core.patient_fields import patient_from_text

        patient_id = patient_id_of(clinic, patient)
        stored = clinic.patient_record(patient_id)
        if stored is None:
            fail(f"no patient with code or id {patient!r}; nothing was saved", EXIT_REFUSED)
        inputs = episode_input(clinic)
        values = {f.name: text_of(getattr(stored, f.name)) for f in fields(stored)} | given
        checked = patient_from_text(values, now=inputs["now"], clinic_tz=inputs["clinic_tz"])
        # Untouched fields stay exactly as stored; the check above covered them all.
        kept = {f.name: getattr(stored, f.name) for f in fields(stored) if f.name not in given}
        record = replace(checked, **kept)
        # Saved against what was just read: a colleague's correction in between is refused.
        return clinic.correct_patient(actor, patient_id, record, expected=stored), ()

    save_record(login, work, PATIENT_OPTION_OF)


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
