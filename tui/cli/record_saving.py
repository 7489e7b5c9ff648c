"""From episode options typed on the command line to a record saved: the options
applied to a new episode or to the one stored, every problem said at once (one
"error: ..." line each, naming the field and the option), warnings said, and
the save made as the signed-in person, after their role is checked.

Shared by `aftercare episode add|edit` (tui.cli.episode) and `patient add|edit`
(tui.cli.patient).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import typer

from tui.cli.errors import fail, refusals, warn
from tui.cli.opening import open_clinic, settings, signed_in
from tui.cli.record_options import OPTION_OF, EpisodeOptions, problem_words

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from core.records import EpisodeRecord, FieldProblem, RecordSaved
    from db.followup import Actor
    from db.services import Clinic

EXIT_REFUSED = 1
EXIT_CANNOT_READ = 2

NOT_GIVEN = {
    "procedure_at": "not given; the clinic time (Seoul), written YYYY-MM-DD HH:MM",
    "protocol": "not given; one of exosome_iv, microneedling, exosome_iv+microneedling, prp",
}
"""What a required field left out is told, instead of "'' is not a ..."."""


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
    from core.records import NONE_GIVEN, SCHEDULE_SEPARATOR, TEXT_FIELDS

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
    for key in ("treating_physician", *TEXT_FIELDS):
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
