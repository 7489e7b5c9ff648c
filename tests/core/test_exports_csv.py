"""The incident log CSV says seriousness in words: an incident a triage opened is
"not yet assessed", never non-serious, and free text still cannot become a formula."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from core.domain import IncidentCategory, IncidentOutcome, IncidentStatus, Seriousness
from core.incident_log import IncidentExport, IncidentLine, incidents_csv
from tests.conftest import TEST_NOW

TODAY = date(2026, 11, 22)


def _record(seriousness: Seriousness, actions: str | None = None) -> IncidentExport:
    line = IncidentLine(
        incident_id=9,
        patient_id=7,
        patient_code="AC-000777",
        patient_name="Tanaka Yuki",
        country="JP",
        category=IncidentCategory.SYSTEMIC,
        seriousness=seriousness,
        severity_grade=None,
        outcome=IncidentOutcome.UNKNOWN,
        status=IncidentStatus.OPEN,
        learned_on=TODAY,
        report_due_on=date(2026, 11, 29),
        reported_on=None,
        khidi_escalated_on=None,
        opened_at=TEST_NOW,
    )
    return IncidentExport(
        line=line,
        home_country="JP",
        onset_date=None,
        onset_day=2,
        suspect_product=None,
        causality=None,
        actions_taken=actions,
        report_reference=None,
        khidi_reference=None,
    )


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_unassessed_incident_is_not_yet_assessed_in_the_csv() -> None:
    text = incidents_csv([_record(Seriousness.NOT_ASSESSED)], TODAY)
    (row,) = _rows(text)
    assert row["seriousness"] == "not yet assessed"
    for wrong in ("non-serious", "Non-serious", "non_serious", "not_assessed"):
        assert wrong not in text, wrong


@pytest.mark.parametrize(
    ("seriousness", "words"),
    [
        (Seriousness.NON_SERIOUS, "non serious"),
        (Seriousness.MEDICALLY_IMPORTANT, "medically important"),
    ],
)
def test_assessed_seriousness_is_words_too(seriousness: Seriousness, words: str) -> None:
    (row,) = _rows(incidents_csv([_record(seriousness)], TODAY))
    assert row["seriousness"] == words


def test_free_text_still_cannot_run_as_a_formula() -> None:
    (row,) = _rows(incidents_csv([_record(Seriousness.NOT_ASSESSED, "=HYPERLINK(x)")], TODAY))
    assert row["actions_taken"] == "'=HYPERLINK(x)"


def test_category_outcome_and_status_are_words_not_codes() -> None:
    (row,) = _rows(incidents_csv([_record(Seriousness.MEDICALLY_IMPORTANT)], TODAY))
    assert (row["category"], row["outcome"], row["status"]) == (
        "Systemic symptoms",
        "unknown",
        "open",
    )
    assert row["seriousness"] == "medically important"
    for code in ("medically_important", "allergic_anaphylaxis"):
        assert code not in row.values()
