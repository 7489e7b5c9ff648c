"""The MFDS reporting clock and the incident log's rules (pure, no database)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.config import ConfigError, load_config
from core.domain import (
    Disposition,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    Seriousness,
)
from core.incident_log import (
    IncidentExport,
    IncidentFilter,
    IncidentLine,
    StatusFilter,
    check_grade,
    disagreement,
    incidents_csv,
    order_incidents,
    words,
)
from core.incidents import (
    DEFAULT_REPORTING,
    ClockState,
    ReportingPolicy,
    clinic_today,
    report_clock,
    triage_clock_disposition,
)

LEARNED = date(2026, 11, 2)  # day 0


@pytest.mark.parametrize(
    ("seriousness", "days"),
    [
        (Seriousness.DEATH, 7),
        (Seriousness.LIFE_THREATENING, 7),
        (Seriousness.HOSPITALISATION, 15),
        (Seriousness.DISABILITY, 15),
        (Seriousness.CONGENITAL_ANOMALY, 15),
        (Seriousness.MEDICALLY_IMPORTANT, 15),
        (Seriousness.NON_SERIOUS, 30),
    ],
)
def test_day_0_is_the_day_learned_and_each_edge_reads_right(
    seriousness: Seriousness, days: int
) -> None:
    due = DEFAULT_REPORTING.due_on(seriousness, LEARNED)
    assert due == LEARNED + timedelta(days=days)
    # Day 0 itself: the whole period is left.
    on_day_0 = report_clock(due, None, LEARNED)
    assert (on_day_0.state, on_day_0.days_left, on_day_0.label) == (
        ClockState.RUNNING,
        days,
        f"{days}d left",
    )
    # The day before the deadline, the deadline itself, the day after.
    assert report_clock(due, None, due - timedelta(days=1)).label == "1d left"
    last_day = report_clock(due, None, due)
    assert (last_day.state, last_day.label, last_day.short_label) == (
        ClockState.DUE_TODAY,
        "due today",
        "today",
    )
    late = report_clock(due, None, due + timedelta(days=1))
    assert (late.state, late.days_left, late.label, late.short_label) == (
        ClockState.OVERDUE,
        -1,
        "1d over",
        "1d late",
    )


def test_serious_and_non_serious_differ_by_policy_not_by_grade() -> None:
    serious = DEFAULT_REPORTING.due_on(Seriousness.HOSPITALISATION, LEARNED)
    non_serious = DEFAULT_REPORTING.due_on(Seriousness.NON_SERIOUS, LEARNED)
    assert (non_serious - serious).days == 15


def test_a_recorded_report_stops_the_clock_and_a_late_one_stays_late() -> None:
    due = LEARNED + timedelta(days=7)
    clock = report_clock(due, due + timedelta(days=3), due + timedelta(days=10))
    assert (clock.state, clock.days_left, clock.owed, clock.label, clock.short_label) == (
        ClockState.REPORTED,
        None,
        False,
        "reported 3d late",
        "",
    )
    assert report_clock(due, due, due + timedelta(days=10)).label == "reported"
    assert report_clock(due, LEARNED, due).label == "reported"


def test_no_due_date_is_no_deadline_not_reported() -> None:
    clock = report_clock(None, None, LEARNED)
    assert (clock.state, clock.owed, clock.label) == (ClockState.NO_DEADLINE, False, "no deadline")


def test_a_custom_policy_moves_every_deadline() -> None:
    policy = ReportingPolicy(life_threatening_days=5, serious_days=10, non_serious_days=20)
    assert policy.due_on(Seriousness.DEATH, LEARNED) == date(2026, 11, 7)
    assert policy.due_on(Seriousness.DISABILITY, LEARNED) == date(2026, 11, 12)
    assert policy.due_on(Seriousness.NON_SERIOUS, LEARNED) == date(2026, 11, 22)


@pytest.mark.parametrize(("lt", "serious", "non"), [(0, 15, 30), (7, 5, 30), (7, 15, 10)])
def test_an_inverted_or_zero_policy_is_refused(lt: int, serious: int, non: int) -> None:
    with pytest.raises(ValueError, match="ordered"):
        ReportingPolicy(lt, serious, non)


def test_policy_from_settings_and_a_bad_setting_names_the_key(tmp_path: Path) -> None:
    file = tmp_path / "aftercare.toml"
    file.write_text("report_days_life_threatening = 3\n")
    settings = load_config(environ={"AFTERCARE_REPORT_DAYS_SERIOUS": "12"}, path=file).settings
    policy = settings.reporting_policy()
    assert policy.due_on(Seriousness.HOSPITALISATION, LEARNED) == LEARNED + timedelta(days=12)
    assert policy.due_on(Seriousness.LIFE_THREATENING, LEARNED) == LEARNED + timedelta(days=3)
    with pytest.raises(ConfigError, match=r"report_days_serious.*ordered"):
        load_config(environ={"AFTERCARE_REPORT_DAYS_SERIOUS": "45"}, path=file)


def test_clinic_today_counts_seoul_days() -> None:
    # 15:30 UTC is 00:30 the next day in Seoul: the clock has turned over.
    assert clinic_today(datetime(2026, 11, 21, 15, 30, tzinfo=UTC)) == date(2026, 11, 22)
    assert clinic_today(datetime(2026, 11, 21, 14, 59, tzinfo=UTC)) == date(2026, 11, 21)


def _line(
    incident_id: int,
    due: date | None,
    *,
    reported: date | None = None,
    status: IncidentStatus = IncidentStatus.OPEN,
    category: IncidentCategory = IncidentCategory.OTHER,
    country: str = "JP",
    opened: int = 0,
) -> IncidentLine:
    return IncidentLine(
        incident_id=incident_id,
        patient_id=incident_id,
        patient_code=f"P-{incident_id}",
        patient_name="Tanaka Yuki",
        country=country,
        category=category,
        seriousness=Seriousness.NON_SERIOUS,
        severity_grade=None,
        outcome=IncidentOutcome.UNKNOWN,
        status=status,
        learned_on=LEARNED,
        report_due_on=due,
        reported_on=reported,
        khidi_escalated_on=None,
        opened_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=opened),
    )


def test_log_order_is_most_urgent_report_first_then_newest() -> None:
    today = date(2026, 11, 20)
    lines = [
        _line(1, date(2026, 11, 30)),
        _line(2, date(2026, 11, 18)),  # 2 days late
        _line(3, date(2026, 11, 10), reported=date(2026, 11, 9), opened=1),
        _line(4, date(2026, 11, 20)),  # due today
        _line(5, None, opened=5),
        _line(6, date(2026, 11, 30)),  # same day as 1: lower id first
    ]
    assert [line.incident_id for line in order_incidents(lines, today)] == [2, 4, 1, 6, 5, 3]


def test_filters_status_overdue_category_country() -> None:
    today = date(2026, 11, 20)
    late_closed = _line(1, date(2026, 11, 1), status=IncidentStatus.CLOSED)
    late_open = _line(2, date(2026, 11, 19), category=IncidentCategory.INFECTION, country="US")
    on_time = _line(3, date(2026, 11, 20))
    reported = _line(4, date(2026, 11, 1), reported=date(2026, 11, 1))
    lines = [late_closed, late_open, on_time, reported]

    def ids(wanted: IncidentFilter) -> list[int]:
        return [line.incident_id for line in lines if wanted.matches(line, today)]

    # "Open" is the work to do: closing an incident does not hide its unfiled report.
    assert ids(IncidentFilter()) == [1, 2, 3, 4]
    assert ids(IncidentFilter(status=StatusFilter.CLOSED)) == [1]
    # Late reports, whatever the status filter says.
    assert ids(IncidentFilter(overdue_only=True)) == [1, 2]
    assert ids(IncidentFilter(status=StatusFilter.CLOSED, overdue_only=True)) == [1, 2]
    filed_and_closed = _line(5, date(2026, 11, 1), reported=date(2026, 11, 1))
    filed_and_closed = filed_and_closed._replace(status=IncidentStatus.CLOSED)
    assert not IncidentFilter().matches(filed_and_closed, today)
    assert ids(IncidentFilter(category=IncidentCategory.INFECTION)) == [2]
    assert ids(IncidentFilter(country="JP")) == [1, 3, 4]
    assert (
        IncidentFilter(StatusFilter.ALL, True, IncidentCategory.INFECTION, "US").describe()
        == "reports overdue (any status), infection, in US"
    )


@pytest.mark.parametrize("grade", [0, 6, -1])
def test_grade_outside_1_to_5_is_refused(grade: int) -> None:
    with pytest.raises(ValueError, match="1 to 5"):
        check_grade(grade)
    assert check_grade(3) == 3 and check_grade(None) is None


def test_csv_has_every_incident_and_never_a_formula() -> None:
    today = date(2026, 11, 20)
    records = [
        IncidentExport(
            line=_line(7, date(2026, 11, 18)),
            home_country="JP",
            onset_date=date(2026, 11, 1),
            onset_day=2,
            suspect_product="ExoRene 5 mL (MFDS MFDS-1, lot L-9)",
            causality="possible",
            actions_taken='=HYPERLINK("http://example.invalid")',
            report_reference=None,
            khidi_reference=None,
        ),
        IncidentExport(
            line=_line(8, date(2026, 11, 30), reported=date(2026, 11, 19)),
            home_country="KR",
            onset_date=None,
            onset_day=None,
            suspect_product=None,
            causality=None,
            actions_taken='Antihistamine, "cool compress"\nphotos daily',
            report_reference="MFDS-2026-0042",
            khidi_reference=None,
        ),
    ]
    rows = list(csv.DictReader(io.StringIO(incidents_csv(records, today))))
    assert [row["incident"] for row in rows] == ["7", "8"]
    assert rows[0]["report_clock"] == "2d over"
    assert rows[0]["suspect_product"] == "ExoRene 5 mL (MFDS MFDS-1, lot L-9)"
    assert rows[0]["actions_taken"].startswith("'=")  # defused, still readable
    assert rows[1]["actions_taken"] == 'Antihistamine, "cool compress"\nphotos daily'
    assert (rows[1]["reported_on"], rows[1]["report_reference"]) == ("2026-11-19", "MFDS-2026-0042")
    assert rows[1]["report_clock"] == "reported"


@pytest.mark.parametrize(
    ("disposition", "days"),
    [(Disposition.EMERGENCY, 7), (Disposition.URGENT, 15), (Disposition.REVIEW, 30)],
)
def test_an_unassessed_triage_incident_runs_on_the_clock_the_triage_suggests(
    disposition: Disposition, days: int
) -> None:
    assert DEFAULT_REPORTING.due_on_triage(disposition, LEARNED) == LEARNED + timedelta(days=days)
    # The clinic's settings move the triage clocks with the seriousness ones.
    policy = ReportingPolicy(life_threatening_days=5, serious_days=10, non_serious_days=20)
    expected = {Disposition.EMERGENCY: 5, Disposition.URGENT: 10, Disposition.REVIEW: 20}
    assert policy.days_for_triage(disposition) == expected[disposition]


def test_not_assessed_without_a_triage_runs_the_strictest_clock_and_reads_in_words() -> None:
    assert DEFAULT_REPORTING.days_for(Seriousness.NOT_ASSESSED) == 7
    assert words(Seriousness.NOT_ASSESSED) == "not yet assessed"
    assert words(Seriousness.NON_SERIOUS) == "non serious"


def test_the_clock_follows_the_higher_of_computed_and_chosen() -> None:
    # Overriding down keeps the computed clock; overriding up tightens it.
    assert triage_clock_disposition(Disposition.URGENT, Disposition.MONITOR) is Disposition.URGENT
    assert triage_clock_disposition(Disposition.REVIEW, Disposition.URGENT) is Disposition.URGENT


@pytest.mark.parametrize(
    ("seriousness", "grade", "outcome", "fields"),
    [
        (Seriousness.HOSPITALISATION, 5, IncidentOutcome.FATAL, "Severity grade and seriousness"),
        (Seriousness.DEATH, 5, IncidentOutcome.UNKNOWN, "Severity grade and outcome"),
        (Seriousness.NON_SERIOUS, 4, IncidentOutcome.UNKNOWN, "Severity grade and seriousness"),
        (Seriousness.NOT_ASSESSED, 4, IncidentOutcome.UNKNOWN, "Severity grade and seriousness"),
        (Seriousness.DISABILITY, None, IncidentOutcome.FATAL, "Outcome and seriousness"),
    ],
)
def test_seriousness_grade_and_outcome_disagreements_name_both_fields(
    seriousness: Seriousness, grade: int | None, outcome: IncidentOutcome, fields: str
) -> None:
    problem = disagreement(seriousness, grade, outcome)
    assert problem is not None and problem.startswith(f"{fields} disagree")
    assert "_" not in problem


@pytest.mark.parametrize(
    ("seriousness", "grade", "outcome"),
    [
        (Seriousness.DEATH, 5, IncidentOutcome.FATAL),
        (Seriousness.LIFE_THREATENING, 4, IncidentOutcome.RECOVERING),
        (Seriousness.HOSPITALISATION, 4, IncidentOutcome.UNKNOWN),
        (Seriousness.NON_SERIOUS, 3, IncidentOutcome.RESOLVED),
        (Seriousness.NOT_ASSESSED, None, IncidentOutcome.UNKNOWN),
    ],
)
def test_agreeing_fields_pass(
    seriousness: Seriousness, grade: int | None, outcome: IncidentOutcome
) -> None:
    assert disagreement(seriousness, grade, outcome) is None
