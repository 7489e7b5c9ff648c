"""Symptoms grouped by body system, in the order a nurse asks about them.

The triage form shows one group per heading; every vocabulary code belongs
to exactly one group (a test checks it), so no symptom can be missing from
the form.
"""

from __future__ import annotations

from typing import Final

BODY_SYSTEMS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (
        "Breathing, heart and fainting",
        (
            "shortness_of_breath",
            "throat_tightness",
            "wheezing",
            "chest_tightness",
            "palpitations",
            "fainting",
        ),
    ),
    ("Nerves and eyes", ("numbness", "weakness", "vision_change", "confusion")),
    ("Allergic", ("hives", "facial_swelling_beyond_area", "severe_itching")),
    ("Infection signs", ("pus", "red_streaks", "expanding_redness", "warmth")),
    (
        "Treated skin",
        (
            "blistering_or_dark_skin",
            "increasing_pain",
            "nodule",
            "erythema",
            "swelling",
            "mild_swelling",
            "flush",
            "itching",
            "pinpoint_bruising",
            "tightness_dryness",
            "flaking",
        ),
    ),
    ("IV site", ("iv_site_pain", "iv_site_swelling")),
    ("Whole body", ("persistent_vomiting", "chills", "fatigue", "nausea", "dizziness")),
)
"""(heading, symptom codes); the dangerous groups come first."""
