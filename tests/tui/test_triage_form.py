"""The triage form on the patient screen, driven by Pilot on real databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Checkbox, Collapsible, Input, Select, Static
from textual.widgets._collapsible import CollapsibleTitle
from textual.widgets._select import SelectOverlay

from core.clock import FixedClock
from core.domain import (
    Disposition,
    EscalationStatus,
    NotificationStatus,
    Role,
    Trend,
)
from core.triage import RULES_VERSION, WHO_DECIDES, TriageOutcome
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import (
    Escalation,
    Incident,
    OutboxNotification,
    Patient,
    TreatmentEpisode,
    TriageAssessment,
)
from tests.factories import add_patient, add_staff
from tests.tui.pilot import open_patient, settle, workstation
from tui.app import AftercareApp
from tui.screens.patient import PatientScreen
from tui.triage_form import TriageModal, downgrade_warning


@pytest.fixture
def setup(engine: Engine, clock: FixedClock) -> tuple[AftercareApp, int]:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "dr-lee"
        patient = add_patient(
            session,
            "P-7",
            procedure_at=now - timedelta(days=2, hours=2),
            created_at=now,
            family_name="Sato",
            given_name="Yui",
        )
        episode = session.scalars(select(TreatmentEpisode)).one()
        episode.treating_physician_id = doctor.id
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        patient_id = patient.id
    app = workstation(engine, clock, actor)
    return app, patient_id


async def _open_form(pilot: Pilot[None], patient_id: int) -> TriageModal:
    await open_patient(pilot, patient_id)
    app = pilot.app
    await pilot.press("t")
    await pilot.pause()
    assert isinstance(app.screen, TriageModal)
    return app.screen


def _count(engine: Engine, model: type) -> int:
    with make_session_factory(engine)() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


async def test_emergency_shows_the_banner_and_saves_everything(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        assert form.query_one("#day", Input).value == "2"
        form.query_one("#symptom-erythema", Checkbox).value = True
        await pilot.pause()
        # Redness of the face is not the usual course after an infusion alone.
        assert form.outcome is not None and form.outcome.disposition is Disposition.MONITOR
        form.query_one("#symptom-shortness_of_breath", Checkbox).value = True
        form.query_one("#temperature", Input).value = "37.4"
        await pilot.pause()
        # Read afresh, typed wide: the checker would keep the MONITOR of the assert above.
        outcome: TriageOutcome | None = form.outcome
        assert outcome is not None and outcome.disposition is Disposition.EMERGENCY
        banner = str(form.query_one("#triage-banner", Static).render())
        assert "call 119 now" in banner and "Japan" in banner
        # One messenger bubble in the patient's language, and the same in English.
        assert "Send now (Japanese):\n今すぐ現地の救急番号 119 に電話してください。" in banner
        assert "The same in English:\nPlease call the local emergency number, 119, now." in banner
        preview = str(form.query_one("#triage-preview", Static).render())
        assert "EMERGENCY" in preview and "breath" in preview
        form.query_one("#note", Input).value = "[bold]can't breathe well[/]"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)

    with make_session_factory(engine)() as session:
        triage = session.scalars(select(TriageAssessment)).one()
        assert (triage.computed_disposition, triage.chosen_disposition) == (
            Disposition.EMERGENCY,
            Disposition.EMERGENCY,
        )
        assert triage.rules_version == RULES_VERSION
        assert triage.symptoms == ["erythema", "shortness_of_breath"]
        assert triage.temperature_c == 37.4 and triage.day == 2
        assert triage.note == "[bold]can't breathe well[/]"
        incident = session.scalars(select(Incident)).one()
        assert incident.triage_id == triage.id
        escalation = session.scalars(select(Escalation)).one()
        assert (escalation.status, escalation.disposition, escalation.incident_id) == (
            EscalationStatus.OPEN,
            Disposition.EMERGENCY,
            incident.id,
        )
        rows = session.scalars(select(OutboxNotification)).all()
        assert sorted(r.target_tag for r in rows) == ["dr-lee", "oncall"]
        assert all(r.status is NotificationStatus.PENDING for r in rows)
        assert all(r.title == f"[E-{escalation.id} step 1] EMERGENCY" for r in rows)
        assert len({r.idempotency_key for r in rows}) == 2
        patient = session.get_one(Patient, patient_id)
        assert patient.latest_disposition is Disposition.EMERGENCY


async def test_override_needs_a_reason_and_keeps_both(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot, patient_id)
        form.query_one("#symptom-itching", Checkbox).value = True
        form.query_one("#trend", Select).value = Trend.STABLE
        form.query_one("#override", Select).value = Disposition.REVIEW
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, TriageModal)
        assert "needs a written reason" in str(form.query_one("#reason-error", Static).render())
        form.query_one(
            "#override-reason", Input
        ).value = "Known nickel allergy; doctor wants eyes on it"
        await pilot.press("ctrl+s")
        await settle(pilot)
    with make_session_factory(engine)() as session:
        triage = session.scalars(select(TriageAssessment)).one()
        assert (triage.computed_disposition, triage.chosen_disposition) == (
            Disposition.EXPECTED,
            Disposition.REVIEW,
        )
        assert triage.override_reason == "Known nickel allergy; doctor wants eyes on it"
    # Review opens an incident and emails the treating physician once; nobody is paged.
    assert _count(engine, Incident) == 1
    with make_session_factory(engine)() as session:
        (escalation,) = session.scalars(select(Escalation)).all()
        assert escalation.disposition is Disposition.REVIEW
        rows = session.scalars(select(OutboxNotification)).all()
        assert [r.target_tag for r in rows] == ["dr-lee"]


async def test_bad_temperature_is_named_and_nothing_is_saved(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        form.query_one("#temperature", Input).value = "83"
        await pilot.pause()
        assert "Temperature:" in str(form.query_one("#numbers-error", Static).render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TriageModal)
        await pilot.press("escape")
        await settle(pilot)
    assert _count(engine, TriageAssessment) == 0


# --- v2: what is normal, a missing trend, who decides, overriding down ---------


def _text(form: TriageModal, selector: str) -> str:
    return str(form.query_one(selector, Static).render())


def _toasts(app: AftercareApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_normal_course_is_at_the_top_before_anything_is_ticked(
    setup: tuple[AftercareApp, int],
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(100, 60)) as pilot:
        form = await _open_form(pilot, patient_id)
        assert not any(box.value for box in form.query(Checkbox))
        fold = form.query_one("#normal-course-fold", Collapsible)
        assert not fold.collapsed  # room for it and the fields: open as it is
        course = form.query_one("#normal-course", Static)
        text = str(course.render())
        # The day it is now and this patient's protocol (an infusion alone), in the title.
        assert "What is normal on day 2 after exosome IV" in str(
            fold.query_one(CollapsibleTitle).render()
        )
        assert "cannula site" in text
        assert "No facial redness or swelling is expected from the infusion itself" in text
        assert "Call 119 now (Japan) for: fever above 38.5 °C" in text
        # First under the title, above the outcome and every tick box, and on screen.
        assert course.region.y < form.query_one("#triage-preview", Static).region.y
        assert course.region.y < min(box.region.y for box in form.query(Checkbox))
        assert course.region.height > 0 and course.region.y < 60


def _in_view(form: TriageModal, widget: Widget) -> bool:
    """Whether `widget` is wholly inside the form's scrolled view, as drawn now."""
    view = form.query_one(VerticalScroll).content_region
    region = widget.region
    return region.height > 0 and view.contains_region(region)


async def test_at_80x24_the_form_opens_on_its_fields_and_ctrl_o_shows_what_is_normal(
    setup: tuple[AftercareApp, int],
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot, patient_id)
        await pilot.pause()
        fold = form.query_one("#normal-course-fold", Collapsible)
        assert fold.collapsed
        title = fold.query_one(CollapsibleTitle)
        assert "What is normal on day 2" in str(title.render())
        assert "ctrl+o" in str(title.render())
        # The outcome and the first fields are on screen together, the day focused.
        for selector in ("#triage-preview", "#day", "#temperature", "#trend"):
            assert _in_view(form, form.query_one(selector)), selector
        assert app.focused is form.query_one("#day", Input)

        await pilot.press("ctrl+o")
        await pilot.pause()
        await pilot.pause()
        assert not fold.collapsed
        course = form.query_one("#normal-course", Static)
        assert "Call 119 now (Japan)" in str(course.render())
        assert course.region.height > 0 and course.region.y < 24
        # The day keeps the focus: typing goes on where it was.
        assert app.focused is form.query_one("#day", Input)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert fold.collapsed


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
async def test_the_override_list_opens_above_the_footer(
    setup: tuple[AftercareApp, int], size: tuple[int, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=size) as pilot:
        form = await _open_form(pilot, patient_id)
        chosen = form.query_one("#override", Select)
        chosen.focus()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        overlay = chosen.query_one(SelectOverlay)
        assert overlay.display and overlay.region.height >= len(Disposition) + 1
        # Every choice drawn, none under the footer's line or past the form's frame.
        assert overlay.region.bottom <= size[1] - 1
        assert form.query_one(VerticalScroll).region.contains_region(overlay.region)


async def test_a_missing_trend_is_asked_for_and_save_waits_for_it(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(80, 24)) as pilot:
        form = await _open_form(pilot, patient_id)
        assert not form.query_one("#triage-needs", Static).display
        # Day 2 redness after an infusion alone: monitor, urgent if worsening.
        form.query_one("#symptom-erythema", Checkbox).value = True
        await pilot.pause()
        assert form.outcome is not None and form.outcome.disposition is Disposition.MONITOR
        assert form.outcome.needs == ("trend",)
        needs = form.query_one("#triage-needs", Static)
        assert needs.display
        assert str(needs.render()) == (
            "Trend not recorded: if worsening this would be urgent. "
            "Choose improving, stable or worsening."
        )
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        assert "Not saved: choose the trend" in _text(form, "#numbers-error")
        assert any("Not saved: choose the trend" in toast for toast in _toasts(app))
        # Said once, where it is asked for, not again among the reasons.
        assert "Trend not recorded" not in _text(form, "#triage-preview")
        assert app.focused is form.query_one("#trend", Select)
        assert _count(engine, TriageAssessment) == 0

        form.query_one("#trend", Select).value = Trend.IMPROVING
        await pilot.pause()
        assert not form.query_one("#triage-needs", Static).display
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
    with make_session_factory(engine)() as session:
        triage = session.scalars(select(TriageAssessment)).one()
        assert triage.trend is Trend.IMPROVING
        assert triage.computed_disposition is Disposition.MONITOR


async def test_who_decides_follows_the_outcome(setup: tuple[AftercareApp, int]) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        form.query_one("#symptom-nodule", Checkbox).value = True
        await pilot.pause()
        assert form.outcome is not None and form.outcome.disposition is Disposition.REVIEW
        review = _text(form, "#who-decides")
        assert review == form.outcome.decided_by
        assert "treating physician" in review

        form.query_one("#symptom-wheezing", Checkbox).value = True
        await pilot.pause()
        # Read afresh, typed wide: the checker would keep the REVIEW of the assert above.
        outcome: TriageOutcome | None = form.outcome
        assert outcome is not None and outcome.disposition is Disposition.EMERGENCY
        emergency = _text(form, "#who-decides")
        assert emergency == outcome.decided_by
        assert "local emergency services" in emergency.lower()
        assert emergency != review

        # A form with an error has no outcome: the general note stands in.
        form.query_one("#temperature", Input).value = "83"
        await pilot.pause()
        assert _text(form, "#who-decides") == WHO_DECIDES


async def test_overriding_down_says_what_is_still_written(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        warning = form.query_one("#override-warning", Static)
        form.query_one("#symptom-nodule", Checkbox).value = True
        form.query_one("#override", Select).value = Disposition.MONITOR
        await pilot.pause()
        assert warning.display
        text = str(warning.render())
        assert "still documented (incident opens, marked downgraded)" in text
        assert "told once" not in text

        form.query_one("#symptom-pus", Checkbox).value = True
        form.query_one("#trend", Select).value = Trend.STABLE
        await pilot.pause()
        assert form.outcome is not None and form.outcome.disposition is Disposition.URGENT
        text = str(warning.render())
        assert "still documented (incident opens, marked downgraded)" in text
        assert "the treating physician is still told once" in text

        # Up, or the same, says nothing of the kind.
        form.query_one("#override", Select).value = Disposition.EMERGENCY
        await pilot.pause()
        assert not warning.display

        form.query_one("#override", Select).value = Disposition.MONITOR
        form.query_one("#override-reason", Input).value = "Photo shows a healing scratch"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PatientScreen)
        toast = _toasts(app)[-1]
        assert toast.startswith("Triage saved: MONITOR (computed urgent); incident #")
        assert "opened, marked downgraded" in toast
        assert "the treating physician is told once (E-" in toast
        assert toast.endswith("re-check added in 48 hours.")
    with make_session_factory(engine)() as session:
        triage = session.scalars(select(TriageAssessment)).one()
        assert (triage.computed_disposition, triage.chosen_disposition) == (
            Disposition.URGENT,
            Disposition.MONITOR,
        )


async def test_emergency_script_in_english_only_says_so(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    with transaction(make_session_factory(engine)) as session:
        session.get_one(Patient, patient_id).language = "mn"
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        form.query_one("#symptom-throat_tightness", Checkbox).value = True
        await pilot.pause()
        banner = _text(form, "#triage-banner")
        assert "No Mongolian catalogue: the message will be in English." in banner
        assert "Send now (English):\nPlease call the local emergency number, 119, now." in banner
        assert "The same in English" not in banner


def test_downgrade_warning_by_disposition() -> None:
    E, M, R, U, X = (
        Disposition.EXPECTED,
        Disposition.MONITOR,
        Disposition.REVIEW,
        Disposition.URGENT,
        Disposition.EMERGENCY,
    )
    assert downgrade_warning(R, None) is None
    assert downgrade_warning(M, E) is None  # below review nothing is documented anyway
    assert downgrade_warning(R, U) is None  # up is not down
    assert downgrade_warning(R, R) is None
    review = downgrade_warning(R, E)
    assert review is not None and "incident opens, marked downgraded" in review
    assert "told once" not in review
    for computed in (U, X):
        for chosen in (E, M, R):
            text = downgrade_warning(computed, chosen)
            assert text is not None and "treating physician is still told once" in text


async def test_high_dose_glutathione_by_dose_reaches_the_rules(
    engine: Engine, setup: tuple[AftercareApp, int]
) -> None:
    app, patient_id = setup
    with transaction(make_session_factory(engine)) as session:
        episode = session.scalars(select(TreatmentEpisode)).one()
        # Coded plainly, but the dose is at the clinic's threshold: high dose.
        episode.addons = [{"name": "glutathione", "dose": "1,200 mg"}]
    async with app.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        assert form.outcome is not None
        assert [lab.lab for lab in form.outcome.labs] == ["liver_panel_week_4"]
        assert "liver function" in _text(form, "#triage-preview")
        await pilot.press("escape")
        await settle(pilot)
    # A clinic with a higher threshold does not call 1,200 mg high.
    stricter = AftercareApp(
        app.database,
        app.settings.model_copy(update={"high_dose_glutathione_mg": 1500}),
        app.clock,
        actor=app.actor,
    )
    async with stricter.run_test(size=(120, 40)) as pilot:
        form = await _open_form(pilot, patient_id)
        assert form.outcome is not None and form.outcome.labs == ()
