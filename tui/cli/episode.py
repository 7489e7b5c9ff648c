"""`aftercare episode add|edit CODE`: a treatment episode recorded or corrected by hand.

The options are the fields of the record of care form, typed as text and
checked by the same rules (core.records.episode_from_text), so a value the
form takes is a value the command takes. Every problem is said at once, one
line each on stderr, naming the field and the option ("error: Product 2 lot
(--product 2: lot): ..."), and nothing is saved; a warning (a product that
expired before the procedure) is said and the record is saved, as a form
saves it once confirmed.

`edit` reads the episode, applies only the options given and saves it against
what it read, so a colleague's correction in between is refused. `patient add`
(tui.cli.patient) takes the same episode options for a patient's first episode.

Exit status: 0 saved, 1 refused (a bad value, an unknown patient, a role that
may not), 2 configuration or database error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tui.cli.arguments import LoginOption, PatientArgument
from tui.cli.errors import fail, refusals, warn
from tui.cli.opening import open_clinic, settings, signed_in

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from core.records import EpisodeRecord, FieldProblem, RecordSaved
    from db.followup import Actor
    from db.services import Clinic

EXIT_REFUSED = 1
EXIT_CANNOT_READ = 2

PRODUCT_KEYS = {
    "name": "name",
    "mfds": "mfds_reference",
    "lot": "lot_number",
    "expiry": "expiry_date",
    "exosome": "exosome",
}
"""What a person types in --product (name=...; lot=...) -> the field of a product row."""
ADDON_KEYS = {"name": "name", "dose": "dose_mg"}
"""What a person types in --addon (name=...; dose=...) -> the field of an add-on row."""
PAIR_SEPARATOR = ";"

# The episode options' names, each once: (option, field key of core.records).
SCALAR_OPTIONS = {
    "procedure": ("--procedure", "procedure_at"),
    "protocol": ("--protocol", "protocol"),
    "schedule": ("--schedule", "schedule"),
    "treating": ("--treating", "treating_physician"),
    "nurse": ("--nurse", "nurse_name"),
    "nurse_licence": ("--nurse-licence", "nurse_license_ref"),
    "departure": ("--departure", "departure_date"),
    "insurer": ("--insurer", "travel_insurer"),
    "policy": ("--policy", "travel_policy_number"),
    "khidi_ref": ("--khidi-ref", "khidi_cover_ref"),
    "vasovagal": ("--vasovagal", "vasovagal_history"),
    "sensitive_skin": ("--sensitive-skin", "sensitive_skin"),
}
OPTION_OF = {key: option for option, key in SCALAR_OPTIONS.values()} | {
    "has_allergies": "--allergies / --no-allergies",
    "allergies": "--allergies",
    "products": "--product / --no-products",
    "addons": "--addon / --no-addons",
}
"""Field key -> the option a person types it with, said beside each problem."""
NOT_GIVEN = {
    "procedure_at": "not given; the clinic time (Seoul), written YYYY-MM-DD HH:MM",
    "protocol": "not given; one of exosome_iv, microneedling, exosome_iv+microneedling, prp",
}
"""What a required field left out is told, instead of "'' is not a ..."."""


ProcedureOption = Annotated[
    str | None,
    typer.Option(
        "--procedure", help='When, in clinic time (Seoul): "YYYY-MM-DD HH:MM".', metavar="TIME"
    ),
]
ProtocolOption = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        help="exosome_iv, microneedling, exosome_iv+microneedling or prp.",
        metavar="PROTOCOL",
    ),
]
ScheduleOption = Annotated[
    str | None,
    typer.Option(
        "--schedule",
        help='Follow-up templates, several separated by ";" ("standard;extended"); '
        "`aftercare schedules` lists them.",
        metavar="NAMES",
    ),
]
TreatingOption = Annotated[
    str | None,
    typer.Option(
        "--treating",
        help="The treating physician's staff login (dr.kim); they get the pages about it.",
        metavar="LOGIN",
    ),
]
NurseOption = Annotated[
    str | None, typer.Option("--nurse", help="The nurse who gave the treatment.", metavar="TEXT")
]
NurseLicenceOption = Annotated[
    str | None, typer.Option("--nurse-licence", help="The nurse's licence number.", metavar="TEXT")
]
DepartureOption = Annotated[
    str | None, typer.Option("--departure", help="The flight home: YYYY-MM-DD.", metavar="DATE")
]
InsurerOption = Annotated[
    str | None, typer.Option("--insurer", help="The travel insurer.", metavar="TEXT")
]
PolicyOption = Annotated[
    str | None, typer.Option("--policy", help="The travel insurance policy number.", metavar="TEXT")
]
KhidiOption = Annotated[
    str | None, typer.Option("--khidi-ref", help="The KHIDI cover reference.", metavar="TEXT")
]
AllergiesOption = Annotated[
    str | None,
    typer.Option(
        "--allergies", help='What the patient is allergic to ("penicillin").', metavar="TEXT"
    ),
]
NoAllergiesOption = Annotated[
    bool, typer.Option("--no-allergies", help="Asked: no allergies known.")
]
VasovagalOption = Annotated[
    str | None,
    typer.Option(
        "--vasovagal",
        help="Has the patient fainted at needles or blood before? yes or no.",
        metavar="yes|no",
    ),
]
SensitiveSkinOption = Annotated[
    str | None,
    typer.Option("--sensitive-skin", help="Sensitive skin? yes or no.", metavar="yes|no"),
]
ProductOption = Annotated[
    list[str] | None,
    typer.Option(
        "--product",
        help='A product given, as key=value pairs separated by ";": name (required), mfds '
        "(MFDS reference), lot, expiry (YYYY-MM or YYYY-MM-DD), exosome (yes or no). "
        'Repeat for each product. "edit": any --product replaces the whole list.',
        metavar='"name=..; lot=.."',
    ),
]
NoProductsOption = Annotated[
    bool, typer.Option("--no-products", help="Asked: no products were given.")
]
AddonOption = Annotated[
    list[str] | None,
    typer.Option(
        "--addon",
        help='An add-on infusion given, as "name=glutathione; dose=1200" (dose in mg). '
        'Repeat for each add-on. "edit": any --addon replaces the whole list.',
        metavar='"name=..; dose=.."',
    ),
]
NoAddonsOption = Annotated[bool, typer.Option("--no-addons", help="Asked: no add-ons were given.")]


@dataclass(frozen=True)
class EpisodeOptions:
    """The episode options as typed; None (or False, or empty): not given."""

    procedure: str | None = None
    protocol: str | None = None
    schedule: str | None = None
    treating: str | None = None
    nurse: str | None = None
    nurse_licence: str | None = None
    departure: str | None = None
    insurer: str | None = None
    policy: str | None = None
    khidi_ref: str | None = None
    allergies: str | None = None
    no_allergies: bool = False
    vasovagal: str | None = None
    sensitive_skin: str | None = None
    product: Sequence[str] | None = None
    no_products: bool = False
    addon: Sequence[str] | None = None
    no_addons: bool = False

    @classmethod
    def of(cls, arguments: Mapping[str, Any]) -> EpisodeOptions:
        """The episode options among a command's arguments (its `locals()`): the
        three commands share them without listing eighteen names three times."""
        return cls(**{f.name: arguments[f.name] for f in fields(cls)})

    @property
    def given(self) -> bool:
        """Whether any episode option was given at all."""
        return any(getattr(self, f.name) not in (None, False, [], ()) for f in fields(self))

    def values(self) -> dict[str, str]:
        """The text of every field given, by field key (an empty value clears it)."""
        from core.records import NONE_GIVEN

        typed = {
            key: getattr(self, name)
            for name, (_, key) in SCALAR_OPTIONS.items()
            if getattr(self, name) is not None
        }
        if self.no_allergies:
            # Both given is said once, by `problems`.
            typed.update(has_allergies="no", allergies="")
        elif self.allergies is not None:
            # Typing what the allergy is answers the question; empty: not asked.
            typed.update(has_allergies="yes" if self.allergies.strip() else "")
            typed.update(allergies=self.allergies)
        if self.product or self.no_products:
            typed["products"] = NONE_GIVEN if self.no_products else ""
        if self.addon or self.no_addons:
            typed["addons"] = NONE_GIVEN if self.no_addons else ""
        return typed

    def problems(self) -> list[FieldProblem]:
        """What is wrong with the options themselves, before any value is read."""
        from core.records import FieldProblem

        found = []
        if self.no_allergies and self.allergies:
            found.append(FieldProblem("allergies", "give --allergies or --no-allergies, not both"))
        for kind, typed, keys in (
            ("product", self.product, PRODUCT_KEYS),
            ("addon", self.addon, ADDON_KEYS),
        ):
            for n, text in enumerate(typed or (), start=1):
                found.extend(FieldProblem(f"{kind}-{n}", p) for p in _pairs(text, keys)[1])
        return found

    def rows(self, kind: str) -> list[dict[str, str]]:
        """The --product (kind "product") or --addon rows, by field of core.records."""
        if kind == "product":
            return [_pairs(text, PRODUCT_KEYS)[0] for text in self.product or ()]
        return [_pairs(text, ADDON_KEYS)[0] for text in self.addon or ()]


def _pairs(text: str, keys: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """ "name=ASCE+; lot=A1" -> ({"name": "ASCE+", "lot_number": "A1"}, problems)."""
    row: dict[str, str] = {}
    problems = []
    known = ", ".join(keys)
    for part in (p.strip() for p in text.split(PAIR_SEPARATOR)):
        if not part:
            continue
        typed, equals, value = part.partition("=")
        key = typed.strip().lower()
        if not equals:
            problems.append(f"{part!r} is not key=value; keys: {known}")
        elif key not in keys:
            problems.append(f"{key!r} is not a key; keys: {known}")
        elif keys[key] in row:
            problems.append(f"{key} is given twice")
        else:
            row[keys[key]] = value.strip()
    return row, problems


def problem_words(problem: FieldProblem, options: Mapping[str, str] = OPTION_OF) -> str:
    """'Product 2 lot: <problem> [--product 2: lot]': the field in words, what is
    wrong, and the option it was typed with."""
    from core.records import field_words

    kind, _, rest = problem.field.partition("-")
    if kind in ("product", "addon") and rest:
        n, _, key = rest.partition("-")
        typed = PRODUCT_KEYS if kind == "product" else ADDON_KEYS
        shown = next((k for k, v in typed.items() if v == key), "")
        words = field_words(problem.field) if key else f"{kind.title()} {n}"
        option = f"--{kind} {n}" + (f": {shown}" if shown else "")
    else:
        words, option = field_words(problem.field), options.get(problem.field, "")
    return f"{words}: {problem.problem}" + (f" [{option}]" if option else "")


def typed_episode(
    options: EpisodeOptions,
    *,
    now: datetime,
    clinic_tz: tzinfo,
    templates: Sequence[str],
    stored: EpisodeRecord | None = None,
) -> tuple[EpisodeRecord, tuple[FieldProblem, ...]]:
    """The episode the options describe: a new one, or `stored` with the options
    given applied. Returns the record and its warnings; raises RecordRefused with
    every problem of the options and of the values."""
    from core.records import RecordRefused, episode_from_text, episode_problems

    given = options.values()
    values, products, addons = ({}, [], []) if stored is None else _as_text(stored, clinic_tz)
    values.update(given)
    if "products" in given:
        products = options.rows("product")
    if "addons" in given:
        addons = options.rows("addon")
    checked_at = now
    if stored is not None and "procedure_at" not in given:
        # The episode keeps its procedure time: the age rule is for new records (db
        # keeps an old episode's time too), so the time is read as of that moment.
        checked_at = stored.procedure_at
    problems = options.problems()
    try:
        record, warnings = episode_from_text(
            values,
            products,
            addons,
            clinic_tz=clinic_tz,
            now=checked_at,
            templates=templates,
        )
    except RecordRefused as refused:
        problems += [_given_or_not(p, values) for p in refused.problems]
        raise RecordRefused(problems) from None
    if problems:
        raise RecordRefused(problems)
    if stored is None:
        return record, warnings
    # Untouched fields stay exactly as stored (a procedure time with seconds).
    kept = {f.name for f in fields(stored)} - set(given)
    record = replace(record, **{name: getattr(stored, name) for name in kept})
    # A warning the record already carried was said when it was saved: only new ones.
    known = {str(p) for p in episode_problems(stored, now=checked_at, templates=templates)}
    return record, tuple(w for w in warnings if str(w) not in known)


def _given_or_not(problem: FieldProblem, values: Mapping[str, str]) -> FieldProblem:
    from core.records import FieldProblem

    left_out = problem.field in NOT_GIVEN and not values.get(problem.field, "").strip()
    return FieldProblem(problem.field, NOT_GIVEN[problem.field]) if left_out else problem


def text_of(value: object) -> str:
    """A stored value as typed into a field: "" for none, a date as YYYY-MM-DD, a
    choice by the value it is typed as."""
    from enum import Enum

    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _as_text(
    record: EpisodeRecord, clinic_tz: tzinfo
) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]]]:
    """The stored episode as a form shows it: text values, product rows, add-on rows."""
    from core.records import NONE_GIVEN, SCHEDULE_SEPARATOR

    def said(answer: bool | None) -> str:
        return "" if answer is None else "yes" if answer else "no"

    values = {
        "procedure_at": f"{record.procedure_at.astimezone(clinic_tz):%Y-%m-%d %H:%M}",
        "protocol": record.protocol.value,
        "schedule": SCHEDULE_SEPARATOR.join(record.schedule),
        "has_allergies": said(record.has_allergies),
        "vasovagal_history": said(record.vasovagal_history),
        "sensitive_skin": said(record.sensitive_skin),
        "products": NONE_GIVEN if record.products == () else "",
        "addons": NONE_GIVEN if record.addons == () else "",
    }
    for key in (
        "treating_physician",
        "nurse_name",
        "nurse_license_ref",
        "departure_date",
        "travel_insurer",
        "travel_policy_number",
        "khidi_cover_ref",
        "allergies",
    ):
        values[key] = text_of(getattr(record, key))
    products = [
        {
            "name": p.name,
            "mfds_reference": text_of(p.mfds_reference),
            "lot_number": text_of(p.lot_number),
            "expiry_date": text_of(p.expiry_date),
            "exosome": said(p.exosome),
        }
        for p in record.products or ()
    ]
    addons = [{"name": a.name, "dose_mg": text_of(a.dose_mg)} for a in record.addons or ()]
    return values, products, addons


@contextmanager
def field_refusals(options: Mapping[str, str] = OPTION_OF) -> Iterator[None]:
    """A record refused field by field: one "error: ..." line per problem, then the
    one error line and exit 1. Inside `refusals`, which takes every other refusal."""
    from core.records import RecordRefused

    try:
        yield
    except RecordRefused as refused:
        for problem in refused.problems:
            typer.echo(f"error: {problem_words(problem, options)}", err=True)
        count = len(refused.problems)
        fail(f"{count} problem{'s' if count != 1 else ''}; nothing was saved", EXIT_REFUSED)


def save_record(
    login: str | None,
    work: Callable[[Clinic, Actor], tuple[RecordSaved, Sequence[FieldProblem]]],
    options: Mapping[str, str] = OPTION_OF,
) -> None:
    """Open the clinic, sign in, check the role, run `work` (which reads and saves),
    then say the warnings and what was saved."""
    from core.permissions import Action

    clinic = open_clinic(settings(EXIT_CANNOT_READ), EXIT_CANNOT_READ)
    try:
        actor = signed_in(clinic, login, flag="--as")
        with (
            refusals(EXIT_REFUSED, unavailable=EXIT_CANNOT_READ, saying="not saved: "),
            field_refusals(options),
        ):
            # Asked before anything is read, so a refused person learns nothing.
            clinic.check_permission(actor, Action.EDIT_EPISODE)
            saved, warnings = work(clinic, actor)
    finally:
        clinic.database.close()
    for warning in warnings:
        warn(problem_words(warning, options))
    typer.echo(saved.words())


def patient_id_of(clinic: Clinic, reference: str) -> int:
    """The patient with this code or id; an unknown one ends the command."""
    patient_id = clinic.patient_by_reference(reference)
    if patient_id is None:
        fail(f"no patient with code or id {reference!r}; nothing was saved", EXIT_REFUSED)
    return patient_id


def episode_input(clinic: Clinic) -> dict[str, Any]:
    """What reading typed episode text needs from the clinic: now, its zone, the templates."""
    from zoneinfo import ZoneInfo

    return {
        "now": clinic.clock.now(),
        "clinic_tz": ZoneInfo(clinic.settings.clinic_timezone),
        "templates": clinic.template_names(),
    }


def register(app: typer.Typer) -> None:
    """Add the `episode` command group to the `aftercare` CLI."""
    episode_app = typer.Typer(
        help="A treatment episode recorded or corrected by hand.", no_args_is_help=True
    )
    app.add_typer(episode_app, name="episode")
    episode_app.command("add")(add)
    episode_app.command("edit")(edit)


def add(
    patient: PatientArgument,
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
    """A returning patient's new treatment episode, with its follow-up.

    --procedure, --protocol and --schedule are required. Example:

    \b
    aftercare episode add JP-0042 --procedure "2026-11-20 10:30" \\
      --protocol exosome_iv --schedule standard --treating dr.kim \\
      --product "name=ASCE+ Exosome; lot=A2611-07; expiry=2027-05; exosome=yes" \\
      --addon "name=glutathione; dose=1200" --no-allergies
    """
    options = EpisodeOptions.of(locals())

    def work(clinic: Clinic, actor: Actor) -> tuple[RecordSaved, Sequence[FieldProblem]]:
        patient_id = patient_id_of(clinic, patient)
        record, warnings = typed_episode(options, **episode_input(clinic))
        return clinic.record_episode(actor, patient_id, record), warnings

    save_record(login, work)


def edit(
    patient: PatientArgument,
    episode: Annotated[
        int | None,
        typer.Option(
            "--episode", help="Which episode (its id); the latest one when left out.", metavar="ID"
        ),
    ] = None,
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
    """Correct an episode: give only the options to change; the rest stays.

    An empty value clears a field (--insurer ""). Any --product replaces the
    whole product list (give every product), as any --addon replaces the
    add-ons. A new procedure time moves the check-ins not yet done. Example:

    \b
    aftercare episode edit JP-0042 --procedure "2026-11-21 09:00" \\
      --product "name=ASCE+ Exosome; lot=A2611-08; expiry=2027-05; exosome=yes"
    """
    options = EpisodeOptions.of(locals())
    if not options.given:
        fail("give at least one option to change (see --help); nothing was saved", EXIT_REFUSED)

    def work(clinic: Clinic, actor: Actor) -> tuple[RecordSaved, Sequence[FieldProblem]]:
        patient_id = patient_id_of(clinic, patient)
        episode_id = _episode_of(clinic, patient, patient_id, episode)
        stored = clinic.episode_record(episode_id)
        if stored is None:
            fail(f"episode {episode_id} no longer exists; nothing was saved", EXIT_REFUSED)
        record, warnings = typed_episode(options, stored=stored, **episode_input(clinic))
        # Saved against what was just read: a colleague's correction in between is refused.
        saved = clinic.correct_episode(actor, episode_id, record, expected=stored)
        return saved, warnings

    save_record(login, work)


def _episode_of(clinic: Clinic, reference: str, patient_id: int, wanted: int | None) -> int:
    """The episode to edit: `wanted` when it is this patient's, else their latest."""
    dossier = clinic.patient_dossier(patient_id)
    episodes = [] if dossier is None else [e.episode_id for e in dossier.episodes]
    if not episodes:
        fail(f"{reference} has no episode; record one with `aftercare episode add`", EXIT_REFUSED)
    if wanted is None:
        return episodes[0]  # most recent procedure first
    if wanted not in episodes:
        listed = ", ".join(str(e) for e in episodes)
        fail(f"episode {wanted} is not {reference}'s; theirs: {listed}", EXIT_REFUSED)
    return wanted
