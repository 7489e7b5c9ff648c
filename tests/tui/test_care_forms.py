"""The record-of-care forms, driven by Pilot on SQLite and PostgreSQL: `N` on the
queue, `E`, `R` and `P` on the patient screen. A bad value is said beside its own
field and nothing is saved; a refusal by the database lands there too; an expired
lot needs a second Save; a correction says what it moved, and is refused when a
colleague corrected the record meanwhile."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import cast

import pytest
from rich.console import Console
from sqlalchemy import Engine, func, select
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, Select, Static

from core.clock import FixedClock
from core.domain import Channel, Protocol, Role
from core.records import AddOn, EpisodeRecord, Product
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import AuditEvent, Patient, Staff, Touchpoint, TreatmentEpisode
from tests.factories import add_patient, add_staff
from tests.tui.pilot import open_patient, settle, settle_until, workstation
from tui.app import AftercareApp
from tui.care_forms import CareForm
from tui.help import help_rows
from tui.modals import ConfirmModal
from tui.screens.patient import PatientScreen
from tui.screens.queue import QueueScreen


@dataclass
class Desk:
    app: AftercareApp
    engine: Engine
    patient_id: int
    episode_id: int
    colleague: Actor


@pytest.fixture
def desk(engine: Engine, clock: FixedClock) -> Desk:
    """A coordinator at the workstation, a colleague, a physician, and P-7 treated two
    days ago (2026-11-20 15:00 in Seoul)."""
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        other = add_staff(session, "rn.park", Role.COORDINATOR, now)
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        patient = add_patient(session, "P-7", procedure_at=now - timedelta(days=2), created_at=now)
        episode_id = session.scalars(
            select(TreatmentEpisode.id).where(TreatmentEpisode.patient_id == patient.id)
        ).one()
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        colleague = Actor(other.id, other.username, other.display_name)
        patient_id = patient.id
    app = workstation(engine, clock, actor, run_dispatcher=False)
    return Desk(app, engine, patient_id, episode_id, colleague)


def _counts(engine: Engine) -> tuple[int, int, int]:
    """Patients, episodes, audit events: nothing saved leaves all three alone."""
    with make_session_factory(engine)() as session:
        return (
            session.scalar(select(func.count()).select_from(Patient)) or 0,
            session.scalar(select(func.count()).select_from(TreatmentEpisode)) or 0,
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
        )


def _plain(widget: Static) -> str:
    console = Console(width=300, file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(widget.content)
    return " ".join(captured.get().split())


def _top(desk: Desk) -> Screen[object]:
    """The screen on top now (read afresh: a key press changes it)."""
    return desk.app.screen


def _toasts(app: AftercareApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _form(pilot: Pilot[None], desk: Desk, key: str) -> CareForm:
    """Press `key` (N on the queue; E, R, P on P-7's screen) and wait for the form."""
    if key != "N":
        await open_patient(pilot, desk.patient_id)
    await pilot.press(key)
    await settle(pilot)
    form = pilot.app.screen
    assert isinstance(form, CareForm)
    return form


def _fill(form: CareForm, values: dict[str, object]) -> None:
    for key, value in values.items():
        widget = form.query_one(f"#{key}")
        if isinstance(widget, Select):
            widget.value = Select.NULL if value is None else value
        else:
            assert isinstance(widget, Input)
            widget.value = str(value)


async def _save(pilot: Pilot[None], form: CareForm) -> None:
    form.query_one("#save", Button).focus()
    await pilot.press("enter")
    await settle(pilot)


def _beside(form: CareForm, key: str) -> str:
    return _plain(form.query_one(f"#{key}-error", Static))


def _said_anywhere(form: CareForm) -> dict[str, str]:
    """Every field problem on the form, by field."""
    return {
        (shown.id or "").removesuffix("-error"): _plain(shown)
        for shown in form.query(".field-error").results(Static)
        if _plain(shown)
    }


PATIENT = {
    "code": "JP-0042",
    "family_name": "Sato",
    "given_name": "Hana",
    "home_country": "JP",
    "language": "ja",
    "channel": Channel.LINE,
    "channel_handle": "line:sato.hana",
}
EPISODE = {"protocol": Protocol.EXOSOME_IV}


@pytest.mark.parametrize(
    ("key", "typed", "field", "words"),
    [
        (
            "E",
            {"product-1-name": "ExoGlow", "product-1-lot_number": "LOT A1"},
            "product-1-lot_number",
            "Product 1 lot: 'LOT A1' is not a lot number as printed on a label",
        ),
        (
            "E",
            {"product-1-name": "ExoGlow", "product-1-expiry_date": "2027-13"},
            "product-1-expiry_date",
            "Product 1 expiry: '2027-13' has no month 13",
        ),
        (
            "E",
            {"addon-1-name": "glutathione", "addon-1-dose_mg": "lots"},
            "addon-1-dose_mg",
            "Add-on 1 dose (mg): 'lots' is not a number of mg",
        ),
        (
            "E",
            {"departure_date": "2026-11-01"},
            "departure_date",
            "Departure date: 2026-11-01 is before the procedure (2026-11-22)",
        ),
        (
            "E",
            {"schedule": "standard;weekly"},
            "schedule",
            "Schedule templates: unknown template 'weekly'; known: extended, granuloma-watch",
        ),
        (
            "E",
            {"has_allergies": "yes"},
            "allergies",
            "Allergies (what): say what the patient is allergic to",
        ),
        ("E", {"protocol": None}, "protocol", "Protocol: not chosen: choose one"),
        # Refused by the database, once the form's own checks passed.
        ("N", {"code": "P-7"}, "code", "Patient code: 'P-7' is already a patient; choose another"),
    ],
)
async def test_a_bad_value_is_said_beside_its_field_and_nothing_is_saved(
    desk: Desk, key: str, typed: dict[str, object], field: str, words: str
) -> None:
    before = _counts(desk.engine)
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, key)
        _fill(form, {**(PATIENT if key == "N" else {}), **EPISODE, **typed})
        await pilot.pause()
        await _save(pilot, form)

        assert desk.app.screen is form, "the form stays open"
        assert _said_anywhere(form) == {field: _beside(form, field)}
        assert _beside(form, field).startswith(words)
        summary = _plain(form.query_one("#error", Static))
        assert summary.startswith("Not saved: 1 field needs a change: "), summary
        assert desk.app.focused is form.query_one(f"#{field}")
        for key_typed, value in typed.items():  # what was typed stays
            widget = form.query_one(f"#{key_typed}")
            assert cast("Input | Select[object]", widget).value == (
                Select.NULL if value is None else value
            )
        await pilot.press("escape")
        await pilot.pause()
        if typed != {"protocol": None}:  # with nothing typed there is nothing to lose
            assert isinstance(desk.app.screen, ConfirmModal)
            await pilot.press("y")
            await settle(pilot)
        assert isinstance(desk.app.screen, QueueScreen | PatientScreen)
    assert _counts(desk.engine) == before


async def test_a_physician_disabled_while_the_form_was_open_is_refused_beside_the_field(
    desk: Desk,
) -> None:
    before = _counts(desk.engine)
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, "E")
        _fill(form, {**EPISODE, "treating_physician": "dr.lee"})
        with transaction(make_session_factory(desk.engine)) as session:
            session.scalars(select(Staff).where(Staff.username == "dr.lee")).one().active = False
        await _save(pilot, form)
        assert desk.app.screen is form
        assert _beside(form, "treating_physician").startswith(
            "Treating physician: 'dr.lee' is not an active physician"
        )
        assert desk.app.focused is form.query_one("#treating_physician")
    assert _counts(desk.engine) == before


async def test_an_expired_lot_is_saved_only_when_save_is_pressed_again(desk: Desk) -> None:
    patients, episodes, _ = _counts(desk.engine)
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, "E")
        expired = {"product-1-name": "ExoGlow", "product-1-lot_number": "EX-1"}
        _fill(form, {**EPISODE, **expired, "product-1-expiry_date": "2025-01"})
        await _save(pilot, form)
        assert desk.app.screen is form
        assert _counts(desk.engine)[:2] == (patients, episodes)
        assert _beside(form, "product-1-expiry_date").startswith(
            "Product 1 expiry: expired 2025-01-31 before the procedure (2026-11-22)"
        )
        assert "Press Save again to record as typed." in _plain(form.query_one("#error", Static))
        assert desk.app.focused is form.query_one("#save")

        await pilot.press("enter")  # Save again: recorded as typed
        await settle_until(pilot, lambda: isinstance(desk.app.screen, PatientScreen))
        assert isinstance(desk.app.screen, PatientScreen)
        screen = desk.app.screen
        assert screen.dossier is not None and len(screen.dossier.episodes) == 2
    assert _counts(desk.engine)[:2] == (patients, episodes + 1)
    toast = next(t for t in _toasts(desk.app) if t.startswith("Recorded a new episode for P-7"))
    assert "Recorded as typed despite: Product 1 expiry: expired 2025-01-31" in toast
    with make_session_factory(desk.engine)() as session:
        confirmed = session.scalars(
            select(AuditEvent.after).where(AuditEvent.action == "episode.warnings")
        ).one()
    assert confirmed["confirmed"][0].startswith("Product 1 expiry: expired 2025-01-31")


async def test_e_adds_an_episode_to_a_returning_patient(desk: Desk) -> None:
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, "E")
        # Offered as typed by hand: now (15:00 in Seoul) and the standard schedule.
        assert form.query_one("#procedure_at", Input).value == "2026-11-22 15:00"
        assert form.query_one("#schedule", Input).value == "standard"
        _fill(form, {"protocol": Protocol.MICRONEEDLING})
        form.query_one("#addons").focus()
        await pilot.press("space")  # none given
        await _save(pilot, form)
        screen = desk.app.screen
        assert isinstance(screen, PatientScreen)
        assert screen.dossier is not None
        assert [e.protocol for e in screen.dossier.episodes] == [
            Protocol.MICRONEEDLING,
            Protocol.EXOSOME_IV,
        ]
    assert any(t.startswith("Recorded a new episode for P-7; ") for t in _toasts(desk.app))
    newest = max(e.episode_id for e in screen.dossier.episodes)
    recorded = desk.app.clinic.episode_record(newest)
    assert recorded is not None
    assert (recorded.addons, recorded.products) == ((), None)  # none given; not recorded


async def test_correcting_the_procedure_time_says_how_many_check_ins_moved(desk: Desk) -> None:
    with make_session_factory(desk.engine)() as session:
        open_ones = session.scalar(
            select(func.count())
            .select_from(Touchpoint)
            .where(Touchpoint.episode_id == desk.episode_id, Touchpoint.resolution.is_(None))
        )
    assert open_ones
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, "R")
        assert form.query_one("#procedure_at", Input).value == "2026-11-20 15:00"
        assert form.query_one("#protocol", Select).value is Protocol.EXOSOME_IV
        _fill(form, {"procedure_at": "2026-11-19 15:00"})
        await _save(pilot, form)
        assert isinstance(desk.app.screen, PatientScreen)
    toast = next(t for t in _toasts(desk.app) if t.startswith("Saved "))
    assert toast.startswith(f"Saved Procedure time; {open_ones} check-ins moved"), toast
    corrected = desk.app.clinic.episode_record(desk.episode_id)
    assert corrected is not None
    assert f"{corrected.procedure_at:%Y-%m-%d %H:%M}" == "2026-11-19 06:00"  # UTC


async def test_a_record_opened_and_saved_untouched_changes_nothing(
    desk: Desk, clock: FixedClock
) -> None:
    # Every kind of field filled, so each one is shown as it will be read back.
    recorded = EpisodeRecord(
        procedure_at=clock.now() - timedelta(hours=5, seconds=17),
        protocol=Protocol.EXOSOME_IV_MICRONEEDLING,
        schedule=("standard", "extended"),
        treating_physician="dr.lee",
        nurse_name="Choi Yuna",
        nurse_license_ref="RN-1",
        products=(
            Product("ExoGlow", "MFDS-1", "EX-1", date(2027, 6, 30), True),
            Product("Boost", None, None, None, None),
        ),
        addons=(AddOn("glutathione", 1200.0), AddOn("b_complex")),
        departure_date=date(2026, 11, 25),
        travel_insurer="AIG",
        has_allergies=False,
        vasovagal_history=True,
        sensitive_skin=False,
    )
    desk.app.clinic.record_episode(desk.colleague, desk.patient_id, recorded)
    before = _counts(desk.engine)
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, "R")
        assert form.query_one("#addon-1-dose_mg", Input).value == "1200"
        assert form.query_one("#product-1-expiry_date", Input).value == "2027-06-30"
        await _save(pilot, form)
        assert isinstance(desk.app.screen, PatientScreen)
    assert "Nothing to change: the form matched the record." in _toasts(desk.app)
    assert _counts(desk.engine) == before


async def test_a_correction_after_a_colleagues_is_refused_in_the_form(desk: Desk) -> None:
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, "R")
        opened = desk.app.clinic.episode_record(desk.episode_id)
        assert opened is not None
        desk.app.clinic.correct_episode(
            desk.colleague,
            desk.episode_id,
            replace(opened, nurse_name="Kang Mi-ra"),
            expected=opened,
        )
        before = _counts(desk.engine)
        _fill(form, {"nurse_name": "Choi Yuna"})
        await _save(pilot, form)
        assert desk.app.screen is form, "the form stays open with what was typed"
        summary = _plain(form.query_one("#error", Static))
        assert summary.startswith("Not saved: the record of care of P-7 was"), summary
        assert "since you opened the form" in summary
        assert form.query_one("#nurse_name", Input).value == "Choi Yuna"
        assert _counts(desk.engine) == before
    stored = desk.app.clinic.episode_record(desk.episode_id)
    assert stored is not None and stored.nurse_name == "Kang Mi-ra"


async def test_p_corrects_who_the_patient_is(desk: Desk) -> None:
    async with desk.app.run_test(size=(120, 40)) as pilot:
        form = await _form(pilot, desk, "P")
        # Where the patient is now has its own form (W): not offered here.
        assert not form.query("#current_country") and not form.query("#timezone")
        assert not form.query("#procedure_at")
        assert form.query_one("#family_name", Input).value == "Tanaka"
        _fill(form, {"family_name": "Tanaka-Sato", "birth_date": "1985-04-02"})
        await _save(pilot, form)
        screen = desk.app.screen
        assert isinstance(screen, PatientScreen)
        assert "Tanaka-Sato" in _plain(screen.query_one("#patient-banner", Static))
    assert "Saved Family name, Birth date." in _toasts(desk.app)


async def test_the_new_patient_form_fits_80x24_and_escape_asks_only_after_typing(
    desk: Desk,
) -> None:
    async with desk.app.run_test(size=(80, 24)) as pilot:
        form = await _form(pilot, desk, "N")
        frame = form.query_one(".care").region
        assert frame.right <= 80 and frame.bottom <= 24
        save = form.query_one("#save", Button).region
        assert frame.y < save.y and save.bottom <= frame.bottom, "Save stays on screen"
        assert desk.app.focused is form.query_one("#code")
        await pilot.press("escape")  # nothing typed: closed at once
        await pilot.pause()
        assert isinstance(desk.app.screen, QueueScreen)

        form = await _form(pilot, desk, "N")
        await pilot.press("J", "P")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(_top(desk), ConfirmModal)
        await pilot.press("n")  # keep typing
        await pilot.pause()
        assert _top(desk) is form
        assert form.query_one("#code", Input).value == "JP"
        form.query_one("#cancel", Button).focus()
        await pilot.press("enter")  # the Cancel button asks too
        await pilot.pause()
        assert isinstance(_top(desk), ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(_top(desk), QueueScreen)
    assert _counts(desk.engine)[0] == 1


async def test_the_new_keys_are_in_the_help_and_the_palette(desk: Desk) -> None:
    async with desk.app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        queue = desk.app.screen
        rows = {row.binding_id: row for row in help_rows(queue)}
        assert rows["queue.new-patient"].keys == "N"
        offered = [command.title for command in desk.app.get_system_commands(queue)]
        assert "New patient" in offered
        screen = await open_patient(pilot, desk.patient_id)
        rows = {row.binding_id: row for row in help_rows(cast("Screen[object]", screen))}
        assert {key: rows[key].keys for key in rows if key.startswith("patient.co")} == {
            "patient.correct-record": "R",
            "patient.correct-details": "P",
        }
        assert rows["patient.new-episode"].keys == "E"
        offered = [command.title for command in desk.app.get_system_commands(screen)]
        assert {"New episode", "Correct the record", "Correct details"} <= set(offered)
