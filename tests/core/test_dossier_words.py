"""The patient's timeline speaks in words: symptoms, incident entries, seriousness,
missing inputs and lab suggestions, never their stored codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.domain import (
    Disposition,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    Seriousness,
    Trend,
)
from core.dossier import (
    DECISION_NOTE,
    IncidentNote,
    IncidentRecord,
    TriageRecord,
    build_timeline,
    entry_words,
    lab_suggestions_line,
    needs_words,
    symptom_words,
)
from tests.conftest import TEST_NOW

NOW = TEST_NOW


def _triage(**changes: Any) -> TriageRecord:
    values: dict[str, Any] = {
        "triage_id": 4,
        "assessed_at": NOW - timedelta(hours=1),
        "day": 5,
        "temperature_c": None,
        "trend": None,
        "symptoms": ("shortness_of_breath", "erythema"),
        "computed": Disposition.EMERGENCY,
        "chosen": Disposition.EMERGENCY,
        "override_reason": None,
        "reasons": ("Breathing signs",),
        "note": None,
        "staff": "Kim RN",
    }
    values.update(changes)
    return TriageRecord(**values)


def test_symptoms_read_as_words_and_unknown_codes_lose_their_underscores() -> None:
    assert symptom_words(["shortness_of_breath", "retired_code"]) == (
        "shortness of breath (dyspnoea), retired code"
    )


def test_incident_entries_are_named_as_the_incident_screen_names_them() -> None:
    assert entry_words("home_physician_contact") == "Contact with home physician"
    assert entry_words("something_new") == "Something new"


def test_missing_inputs_are_said_in_words() -> None:
    assert needs_words(["trend", "protocol"]) == (
        "trend not recorded",
        "treatment protocol not recorded",
    )


def test_lab_suggestions_are_one_line_of_sentences_or_nothing() -> None:
    assert lab_suggestions_line(()) is None
    assert lab_suggestions_line(("CRP and ESR", "Liver panel at week 4.")) == (
        "Lab suggestions for the home physician (not orders): CRP and ESR. Liver panel at week 4."
    )


def test_triage_entry_has_findings_needs_labs_and_who_decides() -> None:
    triage = _triage(trend=Trend.STABLE, labs=("CRP and ESR",), needs=("trend not recorded",))
    (entry,) = build_timeline(NOW, triages=[triage])
    assert "shortness_of_breath" not in entry.detail
    lines = entry.detail.splitlines()
    assert lines[0] == (
        "Findings: shortness of breath (dyspnoea), redness (erythema), trend stable"
    )
    assert "Missing when assessed (could have raised the outcome): trend not recorded" in lines
    assert "Lab suggestions for the home physician (not orders): CRP and ESR." in lines
    assert lines[-1] == DECISION_NOTE


def test_a_triage_without_labs_says_nothing_about_labs() -> None:
    (entry,) = build_timeline(NOW, triages=[_triage()])
    assert "Lab suggestions" not in entry.detail


def test_an_unassessed_incident_is_never_called_non_serious() -> None:
    incident = IncidentRecord(
        incident_id=3,
        opened_at=NOW,
        category=IncidentCategory.INFECTION,
        seriousness=Seriousness.NOT_ASSESSED,
        severity_grade=None,
        outcome=IncidentOutcome.UNKNOWN,
        status=IncidentStatus.OPEN,
        report_due_on=None,
        reported_on=None,
        suspect_product=None,
        notes=(IncidentNote(8, NOW, "home_physician_contact", "Called.", None),),
    )
    opened, note = build_timeline(NOW, incidents=[incident])
    assert opened.title == "Incident #3 opened: infection (seriousness not yet assessed)"
    assert note.title == "Incident #3: Contact with home physician"
