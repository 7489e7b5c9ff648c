"""Incident facts derived from a triage: a suggested category and the reporting clock.

The clock is policy (DOMAIN.md section 6, mirroring ICH E2A/E2D): fatal or
life-threatening serious events are reported to MFDS within 7 days, other
serious events within 15, non-serious ones periodically (30). Day 0 is the
day the clinic learned of the event. The regulatory officer confirms the duty.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from core.domain import IncidentCategory, Seriousness

REPORT_DAYS: dict[str, int] = {"fatal_or_life_threatening": 7, "serious": 15, "non_serious": 30}

# First match wins: the most specific, most dangerous pattern names the incident.
_CATEGORY_SIGNS: tuple[tuple[IncidentCategory, frozenset[str]], ...] = (
    (
        IncidentCategory.ALLERGIC,
        frozenset(
            {
                "hives",
                "facial_swelling_beyond_area",
                "severe_itching",
                "throat_tightness",
                "wheezing",
            }
        ),
    ),
    (
        IncidentCategory.INFECTION,
        frozenset({"pus", "red_streaks", "warmth", "expanding_redness", "blistering_or_dark_skin"}),
    ),
    (IncidentCategory.IV_SITE, frozenset({"iv_site_pain", "iv_site_swelling"})),
    (IncidentCategory.NODULE, frozenset({"nodule"})),
    (IncidentCategory.VASOVAGAL, frozenset({"fainting"})),
    (
        IncidentCategory.SYSTEMIC,
        frozenset(
            {
                "chills",
                "fatigue",
                "nausea",
                "persistent_vomiting",
                "dizziness",
                "palpitations",
                "shortness_of_breath",
                "chest_tightness",
                "numbness",
                "weakness",
                "vision_change",
                "confusion",
            }
        ),
    ),
    (
        IncidentCategory.PROLONGED_ERYTHEMA,
        frozenset({"flush", "erythema", "swelling", "mild_swelling"}),
    ),
)


def suggest_category(symptoms: Iterable[str], temperature_c: float | None) -> IncidentCategory:
    """The category a coordinator most likely files; they may change it later."""
    reported = set(symptoms)
    for category, signs in _CATEGORY_SIGNS:
        if reported & signs:
            return category
    if temperature_c is not None and temperature_c >= 38.0:
        return IncidentCategory.SYSTEMIC
    return IncidentCategory.OTHER


def report_due_on(
    seriousness: Seriousness, learned_on: date, days: dict[str, int] | None = None
) -> date:
    """The MFDS reporting deadline for an incident learned of on `learned_on` (day 0)."""
    policy = days or REPORT_DAYS
    if seriousness in (Seriousness.DEATH, Seriousness.LIFE_THREATENING):
        return learned_on + timedelta(days=policy["fatal_or_life_threatening"])
    if seriousness is Seriousness.NON_SERIOUS:
        return learned_on + timedelta(days=policy["non_serious"])
    return learned_on + timedelta(days=policy["serious"])
