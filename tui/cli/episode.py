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
(tui.cli.patient) takes the same episode options for a patient's first episode:
both take them from tui.cli.record_options and save through tui.cli.record_saving.

Exit status: 0 saved, 1 refused (a bad value, an unknown patient, a role that
may not), 2 configuration or database error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tui.cli.arguments import LoginOption, PatientArgument
from tui.cli.errors import fail
from tui.cli.record_options import (
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
from tui.cli.record_saving import episode_input, patient_id_of, save_record, typed_episode

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.records import FieldProblem, RecordSaved
    from db.followup import Actor
    from db.services import Clinic

EXIT_REFUSED = 1


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
