"""Escalation policy defaults, alert wording, incident category and reporting clock."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from core.domain import Disposition, IncidentCategory, Seriousness
from core.escalation import (
    DEFAULT_POLICIES,
    alert_title,
    resolve_targets,
)
from core.incidents import report_due_on, suggest_category
from core.triage import SYMPTOM_CODES
from core.triage.groups import BODY_SYSTEMS


def test_every_symptom_is_on_the_form_exactly_once() -> None:
    counts = Counter(code for _, codes in BODY_SYSTEMS for code in codes)
    assert set(counts) == set(SYMPTOM_CODES)
    assert set(counts.values()) == {1}


def test_default_policies_follow_the_brief() -> None:
    emergency = DEFAULT_POLICIES[Disposition.EMERGENCY]
    assert [s.targets for s in emergency.steps] == [
        ("oncall", "treating"),
        ("senior",),
        ("physicians",),
    ]
    assert [s.wait_minutes for s in emergency.steps] == [5, 5, 5]
    assert emergency.repeat == 3
    assert [s.wait_minutes for s in DEFAULT_POLICIES[Disposition.URGENT].steps] == [15, 15, 15]
    assert not DEFAULT_POLICIES[Disposition.REVIEW].pages


def test_treating_resolves_to_the_physician_or_the_oncall() -> None:
    step = DEFAULT_POLICIES[Disposition.EMERGENCY].steps[0]
    assert resolve_targets(step, "dr-lee") == ("oncall", "dr-lee")
    assert resolve_targets(step, None) == ("oncall",)


def test_alert_title_is_short() -> None:
    assert alert_title(123, 2, Disposition.URGENT) == "[E-123 step 2] URGENT"


@pytest.mark.parametrize(
    ("symptoms", "temperature", "category"),
    [
        (["hives", "pus"], None, IncidentCategory.ALLERGIC),
        (["pus"], None, IncidentCategory.INFECTION),
        (["iv_site_pain"], None, IncidentCategory.IV_SITE),
        (["nodule"], None, IncidentCategory.NODULE),
        (["fainting"], None, IncidentCategory.VASOVAGAL),
        (["chills"], None, IncidentCategory.SYSTEMIC),
        (["erythema"], None, IncidentCategory.PROLONGED_ERYTHEMA),
        ([], 38.4, IncidentCategory.SYSTEMIC),
        ([], 37.0, IncidentCategory.OTHER),
    ],
)
def test_suggested_category(
    symptoms: list[str], temperature: float | None, category: IncidentCategory
) -> None:
    assert suggest_category(symptoms, temperature) is category


@pytest.mark.parametrize(
    ("seriousness", "days"),
    [
        (Seriousness.DEATH, 7),
        (Seriousness.LIFE_THREATENING, 7),
        (Seriousness.HOSPITALISATION, 15),
        (Seriousness.MEDICALLY_IMPORTANT, 15),
        (Seriousness.NON_SERIOUS, 30),
    ],
)
def test_reporting_clock_counts_from_the_day_the_clinic_learned(
    seriousness: Seriousness, days: int
) -> None:
    learned = date(2026, 12, 28)  # day 0; the clock runs across the new year
    assert (report_due_on(seriousness, learned) - learned).days == days
