"""The record of care by keyboard alone, driven by Pilot on SQLite and PostgreSQL at
80x24: a coordinator presses `N` on the queue and types a new patient with an
episode (two products with their lots, one add-on with its dose, a treating
physician who has a notify tag), pressing only keys. The home-physician summary,
its PDF and the FHIR bundle then carry both lots, and an emergency triage for that
patient pages the physician on their own tag."""

from __future__ import annotations

from sqlalchemy import Engine, select
from textual.pilot import Pilot
from textual.widgets import DataTable

from core.clock import FixedClock
from core.commands import TriageEntry
from core.domain import Disposition, Protocol, Role
from core.records import AddOn, Product
from core.triage import assess, parse_triage_input
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import OutboxNotification, Patient
from tests.exported import export_text
from tests.factories import add_patient, add_staff
from tests.tui.pilot import settle, type_text, workstation
from tui.care_forms import CareForm
from tui.screens.queue import QueueScreen

EXOSOME_LOT = "EXO-7731"
BOOSTER_LOT = "HB-2211/B"


async def _type(pilot: Pilot[None], text: str, then: str = "enter") -> None:
    """Type `text` key by key, then press `then` (enter moves to the next field)."""
    await type_text(pilot, text)
    if then:
        await pilot.press(then)


async def _choose(pilot: Pilot[None], downs: int) -> None:
    """In a focused Select: open it, go down `downs` options, take that one, move on."""
    await pilot.press("enter", *["down"] * downs, "enter", "tab")


async def test_a_new_patient_typed_by_keyboard_reaches_exports_and_pages_their_physician(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()  # 2026-11-22 15:00 in Seoul
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        add_staff(session, "dr.ahn", Role.PHYSICIAN, now).notify_tag = "dr-ahn"
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        add_patient(session, "P-1", procedure_at=now, created_at=now)
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
    app = workstation(engine, clock, actor, run_dispatcher=False)

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("N")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, CareForm)

        # The patient.
        await _type(pilot, "JP-0042")
        await _type(pilot, "Sato")
        await _type(pilot, "Hana")
        await _type(pilot, "")  # no name in own script
        await _type(pilot, "1990-02-03")
        await _type(pilot, "JP")
        await _type(pilot, "")  # country now: at home
        await _type(pilot, "ja")
        await _type(pilot, "")  # Japan has one zone: filled in
        await _choose(pilot, 1)  # LINE
        await _type(pilot, "line:sato.hana")
        await _type(pilot, "+81 90 1234 5678")
        await _type(pilot, "")  # no e-mail

        # The episode: the procedure yesterday morning, clinic time.
        await pilot.press("ctrl+u")
        await _type(pilot, "2026-11-21 10:30")
        await _choose(pilot, 1)  # exosome IV
        await _type(pilot, "")  # schedule: standard, as offered
        await _choose(pilot, 2)  # not recorded, Dr.Ahn, Dr.Lee
        await _type(pilot, "Choi Yuna")
        await _type(pilot, "RN-12345")
        await _type(pilot, "2026-11-24")
        await _type(pilot, "AIG Travel")
        await _type(pilot, "POL-778")
        await _type(pilot, "KH-2026-17")
        await _choose(pilot, 1)  # allergies: yes
        await _type(pilot, "penicillin")
        await pilot.press("tab", "tab")  # vasovagal history, sensitive skin: not recorded
        await pilot.press("tab")  # products: "none given" stays unticked

        await _type(pilot, "ExoGlow 5 ml")
        await _type(pilot, "MFDS-2024-001")
        await _type(pilot, EXOSOME_LOT)
        await _type(pilot, "2027-06")
        await _choose(pilot, 1)  # exosome: yes
        await pilot.press("enter")  # Add product: a second row, its name focused
        await pilot.pause()
        await _type(pilot, "Hyaluron Boost")
        await _type(pilot, "")
        await _type(pilot, BOOSTER_LOT)
        await _type(pilot, "2027-12")
        await pilot.press("tab", "tab", "tab")  # exosome, Add product, add-ons "none given"

        await _type(pilot, "glutathione")
        await _type(pilot, "1,200")  # enter: on to Add add-on
        await pilot.press("ctrl+s")  # Save, from the last field typed
        await settle(pilot)

        assert isinstance(app.screen, QueueScreen), app.screen.query_one("#error").render()
        toasts = [str(n.message) for n in app._notifications]
        assert any(t.startswith("Recorded patient JP-0042 and their episode; ") for t in toasts), (
            toasts
        )
        with make_session_factory(engine)() as session:
            patient_id = session.scalars(select(Patient.id).where(Patient.code == "JP-0042")).one()
        table = app.screen.query_one("#queue-table", DataTable)
        assert str(patient_id) in table.rows
        assert table.coordinate_to_cell_key(table.cursor_coordinate).row_key == str(patient_id)

    patient = app.clinic.patient_record(patient_id)
    assert patient is not None
    assert (patient.family_name, patient.given_name, str(patient.birth_date)) == (
        "Sato",
        "Hana",
        "1990-02-03",
    )
    assert (patient.timezone, patient.phone, patient.channel_handle) == (
        "Asia/Tokyo",
        "+819012345678",
        "line:sato.hana",
    )
    dossier = app.clinic.patient_dossier(patient_id)
    assert dossier is not None
    episode = app.clinic.episode_record(dossier.episodes[0].episode_id)
    assert episode is not None
    assert f"{episode.procedure_at:%Y-%m-%d %H:%M}" == "2026-11-21 01:30"  # UTC
    assert episode.protocol is Protocol.EXOSOME_IV
    assert episode.treating_physician == "dr.lee"
    assert (episode.nurse_name, episode.nurse_license_ref) == ("Choi Yuna", "RN-12345")
    assert (episode.has_allergies, episode.allergies) == (True, "penicillin")
    assert episode.vasovagal_history is None and episode.sensitive_skin is None
    assert episode.products is not None
    assert [
        (p.name, p.lot_number, p.expiry_date.isoformat() if p.expiry_date else None)
        for p in episode.products
    ] == [
        ("ExoGlow 5 ml", EXOSOME_LOT, "2027-06-30"),
        ("Hyaluron Boost", BOOSTER_LOT, "2027-12-31"),
    ]
    assert episode.products[0] == Product(
        "ExoGlow 5 ml", "MFDS-2024-001", EXOSOME_LOT, episode.products[0].expiry_date, True
    )
    assert episode.addons == (AddOn("glutathione", 1200.0),)

    # What the home physician reads carries both lots, in every format.
    for kind in ("summary", "pdf", "fhir"):
        text = export_text(engine, now, patient_id, kind)
        assert EXOSOME_LOT in text and BOOSTER_LOT in text, kind

    # An emergency for this patient pages the treating physician on their own tag.
    parsed = parse_triage_input({"day": 1, "symptoms": ["throat_tightness"], "country": "JP"})
    saved = app.clinic.record_triage(actor, patient_id, TriageEntry(parsed, assess(parsed)))
    assert saved.disposition is Disposition.EMERGENCY and saved.escalation_id is not None
    with make_session_factory(engine)() as session:
        tags = set(
            session.scalars(
                select(OutboxNotification.target_tag).where(
                    OutboxNotification.escalation_id == saved.escalation_id,
                    OutboxNotification.step == 1,
                )
            )
        )
    assert "dr-lee" in tags and "dr-ahn" not in tags
