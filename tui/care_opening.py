"""Opening the record of care form (tui.care_forms) from a screen: `N` on the
queue (a new patient with their first episode), and on the patient screen `E`
(a new episode), `R` (correct the latest episode) and `P` (correct who the
patient is).

What a form needs from the database (the physicians, the templates, the record
as stored now) is read in a thread before it opens, so the screen never waits
on the database; a record gone meanwhile or a database away for a moment is a
toast, and the screen stays.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Final, TypeVar

from core.records import PATIENT_FIELDS, EpisodeRecord, NewPatient, PatientRecord, RecordSaved
from core.refusals import NotFound, Refused
from tui.care_fields import FormChoices
from tui.care_forms import CareForm, Typed

if TYPE_CHECKING:
    from core.dossier import PatientIdentity
    from db.followup import Actor
    from tui.actions import FollowUpActions

Opened = TypeVar("Opened")

CORRECTABLE_PATIENT_FIELDS: Final = (
    "family_name",
    "given_name",
    "native_name",
    "birth_date",
    "home_country",
    "language",
    "channel",
    "channel_handle",
)
"""Who the patient is; the code stays, and where they are now has its own form (W)."""


def open_new_patient(
    screen: FollowUpActions, actor: Actor, saved: Callable[[RecordSaved], None]
) -> None:
    """`N` on the queue: a new patient with their first episode."""
    clinic = screen.aftercare.clinic

    def save(typed: Typed) -> RecordSaved:
        assert typed.patient is not None and typed.episode is not None
        return clinic.record_patient(actor, NewPatient(typed.patient, typed.episode))

    def form_for(choices: FormChoices) -> CareForm:
        heading = "New patient, with their first treatment episode"
        now = screen.aftercare.clock.now()
        return CareForm(heading, choices, save, patient_fields=PATIENT_FIELDS, now=now)

    _open(screen, lambda: FormChoices.read(clinic), form_for, saved)


def open_new_episode(
    screen: FollowUpActions,
    actor: Actor,
    who: PatientIdentity,
    saved: Callable[[RecordSaved], None],
) -> None:
    """`E` on the patient screen: a returning patient's new episode."""
    clinic = screen.aftercare.clinic

    def save(typed: Typed) -> RecordSaved:
        assert typed.episode is not None
        return clinic.record_episode(actor, who.patient_id, typed.episode)

    def form_for(choices: FormChoices) -> CareForm:
        heading = f"New treatment episode: {who.code} {who.display_name}"
        return CareForm(heading, choices, save, now=screen.aftercare.clock.now())

    _open(screen, lambda: FormChoices.read(clinic), form_for, saved)


def open_episode_correction(
    screen: FollowUpActions,
    actor: Actor,
    who: PatientIdentity,
    episode_id: int,
    saved: Callable[[RecordSaved], None],
) -> None:
    """`R` on the patient screen: the episode as stored now, saved against itself."""
    clinic = screen.aftercare.clinic

    def read() -> tuple[FormChoices, EpisodeRecord]:
        opened = clinic.episode_record(episode_id)
        if opened is None:
            raise NotFound("the episode is no longer there; read the patient again (r)")
        return FormChoices.read(clinic), opened

    def form_for(read: tuple[FormChoices, EpisodeRecord]) -> CareForm:
        choices, opened = read

        def save(typed: Typed) -> RecordSaved:
            assert typed.episode is not None
            return clinic.correct_episode(actor, episode_id, typed.episode, expected=opened)

        heading = f"Correct the record of care: {who.code} {who.display_name}"
        now = screen.aftercare.clock.now()
        return CareForm(heading, choices, save, episode=opened, now=now)

    _open(screen, read, form_for, saved)


def open_details_correction(
    screen: FollowUpActions,
    actor: Actor,
    who: PatientIdentity,
    saved: Callable[[RecordSaved], None],
) -> None:
    """`P` on the patient screen: who the patient is, saved against the record as opened."""
    clinic = screen.aftercare.clinic

    def read() -> PatientRecord:
        opened = clinic.patient_record(who.patient_id)
        if opened is None:
            raise NotFound("the patient is no longer there")
        return opened

    def form_for(opened: PatientRecord) -> CareForm:
        def save(typed: Typed) -> RecordSaved:
            assert typed.patient is not None
            return clinic.correct_patient(actor, who.patient_id, typed.patient, expected=opened)

        return CareForm(
            f"Correct the patient's details: {who.code} (where they are now: W)",
            FormChoices((), ()),
            save,
            patient_fields=CORRECTABLE_PATIENT_FIELDS,
            patient=opened,
            with_episode=False,
            now=screen.aftercare.clock.now(),
        )

    _open(screen, read, form_for, saved)


def _open(
    screen: FollowUpActions,
    read: Callable[[], Opened],
    form_for: Callable[[Opened], CareForm],
    saved: Callable[[RecordSaved], None],
) -> None:
    """Read what the form needs off the event loop (`read`), open the form made of it,
    and hand a saved record to `saved`; a refusal to read is a toast."""
    app = screen.aftercare

    def opened(what: Opened) -> None:
        def closed(record: RecordSaved | None) -> None:
            if record is not None:
                saved(record)

        app.push_screen(form_for(what), closed)

    def run() -> None:
        try:
            what = read()
        except Refused as exc:
            failed = str(exc)
        except Exception as exc:  # the database gone for a moment must not kill the screen
            failed = f"could not open the form ({exc})"
        else:
            with suppress(RuntimeError):  # the app is closing
                app.call_from_thread(opened, what)
            return
        with suppress(RuntimeError):
            app.call_from_thread(
                app.notify, failed, title="Not opened", severity="error", markup=False
            )

    screen.run_worker(run, thread=True, group="care-open", exit_on_error=False)


def saved_words(saved: RecordSaved) -> str:
    """The toast after a save: what it did, and the warnings confirmed."""
    words = saved.words()
    if saved.warnings:
        words += " Recorded as typed despite: " + "; ".join(saved.warnings) + "."
    return words
