"""Schedule templates and the one definition of a touchpoint's state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain import Protocol, TouchpointResolution, TouchpointState
from core.schedules import (
    LIVER_PANEL,
    LIVER_PANEL_REMINDER,
    TouchpointPlan,
    builtin_templates,
    days_after_procedure,
    event_plans,
    event_touchpoint_window,
    gets_granuloma_watch,
    load_templates,
    parse_template,
    touchpoint_state,
    touchpoint_window,
)

SEOUL = ZoneInfo("Asia/Seoul")


def test_builtin_templates_match_the_domain_brief() -> None:
    templates = builtin_templates()
    days = {name: [tp.day for tp in t.touchpoints] for name, t in templates.items()}
    assert days == {
        "standard": [1, 3, 7, 21],
        "extended": [7, 14, 28, 60, 84, 168],
        "granuloma-watch": [30, 60, 90],
        "return-cycle": [365, 730],
    }
    assert templates["granuloma-watch"].default_for_exosome
    assert all("lump" in tp.ask for tp in templates["granuloma-watch"].touchpoints)


def test_admin_template_overrides_and_extends(tmp_path: Path) -> None:
    (tmp_path / "standard.toml").write_text(
        'name = "standard"\n[[touchpoints]]\nday = 2\nask = "Call"\n'
    )
    (tmp_path / "iv-only.toml").write_text(
        'name = "iv-only"\n[[touchpoints]]\nday = 5\nask = "IV site?"\n'
    )
    templates = load_templates([tmp_path])
    assert [tp.day for tp in templates["standard"].touchpoints] == [2]
    assert "iv-only" in templates and "extended" in templates


@pytest.mark.parametrize(
    "text",
    ['name = "x"\n', 'name = "x"\n[[touchpoints]]\nday = -1\nask = "a"\n', "not toml ["],
)
def test_broken_template_names_its_file(text: str) -> None:
    with pytest.raises(ValueError, match=r"broken\.toml"):
        parse_template(text, "broken.toml")


def test_window_is_anchored_in_the_patients_time_zone() -> None:
    # Procedure at 10:00 in Seoul on 1 March: day 0 is 1 March (clinic time).
    procedure = datetime(2026, 3, 1, 10, 0, tzinfo=SEOUL)
    plan = TouchpointPlan(day=3, window_before=0, window_after=1, ask="", photos=False)
    new_york = ZoneInfo("America/New_York")
    window = touchpoint_window(procedure, plan, new_york)
    assert window.due_date == date(2026, 3, 4)
    assert window.opens_at == datetime(2026, 3, 4, tzinfo=new_york)
    assert window.closes_at == datetime(2026, 3, 6, tzinfo=new_york)
    # Same plan for a patient in Tokyo opens 14 hours earlier in absolute time.
    tokyo = touchpoint_window(procedure, plan, ZoneInfo("Asia/Tokyo"))
    assert window.opens_at - tokyo.opens_at == timedelta(hours=14)


def test_window_across_a_daylight_saving_change() -> None:
    # US clocks spring forward on 8 March 2026: that local day has 23 hours.
    procedure = datetime(2026, 3, 6, 10, 0, tzinfo=SEOUL)
    plan = TouchpointPlan(day=2, window_before=0, window_after=0, ask="", photos=False)
    window = touchpoint_window(procedure, plan, ZoneInfo("America/New_York"))
    assert window.closes_at - window.opens_at == timedelta(hours=23)


def test_state_boundaries() -> None:
    opens = datetime(2026, 3, 4, 5, 0, tzinfo=UTC)
    closes = opens + timedelta(days=2)
    tick = timedelta(microseconds=1)
    assert touchpoint_state(opens - tick, opens, closes, None) is TouchpointState.SCHEDULED
    assert touchpoint_state(opens, opens, closes, None) is TouchpointState.DUE
    assert touchpoint_state(closes - tick, opens, closes, None) is TouchpointState.DUE
    assert touchpoint_state(closes, opens, closes, None) is TouchpointState.OVERDUE


instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@given(now=instants, resolution=st.sampled_from(list(TouchpointResolution)))
def test_a_resolution_always_wins(now: datetime, resolution: TouchpointResolution) -> None:
    opens = datetime(2026, 1, 1, tzinfo=UTC)
    state = touchpoint_state(now, opens, opens + timedelta(days=1), resolution)
    assert state.value == resolution.value


@given(a=instants, b=instants)
def test_state_never_goes_back_in_time(a: datetime, b: datetime) -> None:
    """As the clock moves forward an open touchpoint only moves scheduled -> due -> overdue."""
    opens = datetime(2026, 1, 1, tzinfo=UTC)
    closes = opens + timedelta(days=3)
    order = [TouchpointState.SCHEDULED, TouchpointState.DUE, TouchpointState.OVERDUE]
    early, late = sorted((a, b))
    assert order.index(touchpoint_state(early, opens, closes, None)) <= order.index(
        touchpoint_state(late, opens, closes, None)
    )


def test_days_after_procedure_counts_clinic_calendar_days() -> None:
    procedure = datetime(2026, 3, 1, 23, 30, tzinfo=SEOUL)
    assert days_after_procedure(procedure, datetime(2026, 3, 1, 23, 59, tzinfo=SEOUL)) == 0
    assert days_after_procedure(procedure, datetime(2026, 3, 2, 0, 1, tzinfo=SEOUL)) == 1


@pytest.mark.parametrize(
    ("protocol", "flags", "watch"),
    [
        # An exosome IV protocol gets the watch whatever its products say.
        (Protocol.EXOSOME_IV, [], True),
        (Protocol.EXOSOME_IV_MICRONEEDLING, [False], True),
        # Microneedling with an exosome ampoule on the skin gets it too (v2).
        (Protocol.MICRONEEDLING, [True, False], True),
        (Protocol.MICRONEEDLING, [False, False], False),
        (Protocol.MICRONEEDLING, [], False),
        (Protocol.PRP, [False, True], True),
        (Protocol.PRP, [False], False),
        # Never recorded is not "no": the watch is kept.
        (Protocol.MICRONEEDLING, [False, None], True),
    ],
)
def test_granuloma_watch_follows_the_products_given(
    protocol: Protocol, flags: list[bool | None], watch: bool
) -> None:
    assert gets_granuloma_watch(protocol, flags) is watch
    assert gets_granuloma_watch(protocol, iter(flags)) is watch  # any iterable


def test_liver_panel_reminder_is_added_by_high_dose_glutathione() -> None:
    assert event_plans(high_dose_glutathione=False) == ()
    ((name, plan),) = event_plans(high_dose_glutathione=True)
    assert (name, plan) == (LIVER_PANEL, LIVER_PANEL_REMINDER) and name == "liver-panel"
    assert plan.day == 28 and not plan.photos
    assert plan.window_before + plan.window_after <= 2  # a short window, like day 1 or 3
    assert "home physician" in plan.ask and "liver function" in plan.ask
    # It is not a template a coordinator picks: templates stay as shipped.
    assert LIVER_PANEL not in builtin_templates()


def test_event_window_is_the_due_day_and_the_next_in_the_patients_zone() -> None:
    chicago = ZoneInfo("America/Chicago")
    # A monitor triage at 23:30 in Chicago on 2 March: 48 h later is 4 March, 23:30.
    due_at = datetime(2026, 3, 2, 23, 30, tzinfo=chicago) + timedelta(hours=48)
    window = event_touchpoint_window(due_at, chicago)
    assert window.due_date == date(2026, 3, 4)
    assert window.opens_at == datetime(2026, 3, 4, tzinfo=chicago)
    assert window.closes_at == datetime(2026, 3, 6, tzinfo=chicago)
    assert window.opens_at.tzinfo is UTC
    # The due date is where the patient is, not in Seoul.
    seoul = event_touchpoint_window(due_at, SEOUL)
    assert seoul.due_date == date(2026, 3, 5)
    tight = event_touchpoint_window(due_at, chicago, window_before=0, window_after=0)
    assert tight.closes_at - tight.opens_at == timedelta(days=1)


def test_event_window_matches_the_template_window_for_the_same_day() -> None:
    procedure = datetime(2026, 3, 1, 10, 0, tzinfo=SEOUL)
    tokyo = ZoneInfo("Asia/Tokyo")
    planned = touchpoint_window(procedure, LIVER_PANEL_REMINDER, tokyo)
    event = event_touchpoint_window(
        procedure + timedelta(days=28),
        tokyo,
        window_before=LIVER_PANEL_REMINDER.window_before,
        window_after=LIVER_PANEL_REMINDER.window_after,
    )
    assert event == planned


def test_event_window_refuses_naive_times_and_negative_windows() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        event_touchpoint_window(datetime(2026, 3, 1, 10, 0), SEOUL)
    with pytest.raises(ValueError, match=">= 0"):
        event_touchpoint_window(datetime(2026, 3, 1, tzinfo=UTC), SEOUL, window_after=-1)


def test_day_n_is_counted_to_today_where_the_patient_is() -> None:
    # Procedure on 1 March in Seoul; at 02:00 UTC on 3 March it is already the 3rd in
    # Seoul (day 2) but still the evening of the 2nd in New York (day 1).
    procedure = datetime(2026, 3, 1, 10, 0, tzinfo=SEOUL)
    now = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert days_after_procedure(procedure, now) == 2
    assert days_after_procedure(procedure, now, "America/New_York") == 1
    assert days_after_procedure(procedure, now, "Asia/Tokyo") == 2
    # A zone that is not a real key falls back to the clinic's calendar, never fails.
    assert days_after_procedure(procedure, now, "Not/AZone") == 2
