"""A stand-in for the triage rules, good enough to label demo rows.

The demo must record a computed disposition and its reasons with every
triage, but must not depend on the real rules engine (which lives elsewhere
and may change): `demo_triage` is a plausible, compact reading of the clinical
triage rules (docs/clinical-rules.md) over the same symptom vocabulary. Rows
carry rules_version "demo".
`demo_labs` and `demo_needs` do the same for the lab suggestions (the ids of
the clinic's lab rows) and the missing inputs that could raise the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import Disposition, Trend

RULES_VERSION = "demo"

_SITE = frozenset({"flush", "erythema", "mild_swelling", "swelling", "itching"})
_MINOR = frozenset({"pinpoint_bruising", "tightness_dryness", "flaking"})
_WORSENING_URGENT = frozenset({"flush", "erythema", "swelling", "warmth", "expanding_redness"})
_URGENT, _EMERGENCY = Disposition.URGENT, Disposition.EMERGENCY
_SINGLE_RULES: tuple[tuple[str, Disposition, str, str], ...] = (
    ("nodule", Disposition.REVIEW, "nodule_any_day", "new lump or hard area at a site"),
    ("warmth expanding_redness", Disposition.REVIEW, "infection_signs", "infection sign"),
    ("iv_site_pain iv_site_swelling", Disposition.REVIEW, "iv_site", "IV-site problem"),
    ("severe_itching", Disposition.REVIEW, "allergic_itching", "allergic-type reaction"),
    ("chills fatigue nausea dizziness", Disposition.REVIEW, "systemic", "systemic symptom"),
    ("pus red_streaks", _URGENT, "pus_or_streaks", "infection sign"),
    ("hives facial_swelling_beyond_area", _URGENT, "allergic", "allergic-type reaction"),
    ("persistent_vomiting increasing_pain", _EMERGENCY, "vomiting_pain", "red flag"),
    ("numbness weakness vision_change confusion", _EMERGENCY, "neuro", "neurological"),
    (
        "shortness_of_breath chest_tightness throat_tightness wheezing",
        _EMERGENCY,
        "respiratory",
        "possible anaphylaxis",
    ),
    ("palpitations fainting", _EMERGENCY, "cardiovascular", "cardiovascular"),
    ("blistering_or_dark_skin", _EMERGENCY, "necrotising", "possible necrotising infection"),
)
_SINGLE: dict[str, tuple[Disposition, str, str]] = {
    code: (disposition, rule, why)
    for codes, disposition, rule, why in _SINGLE_RULES
    for code in codes.split()
}


def demo_triage(
    day: int, temperature_c: float | None, trend: Trend | None, symptoms: Sequence[str]
) -> tuple[Disposition, list[dict[str, str]]]:
    """A plausible reading of the clinical triage rules for demo rows (not the rules engine).

    Returns the highest disposition any finding reaches and one reason per finding.
    """
    fired: list[tuple[Disposition, str, str]] = []
    for code in symptoms:
        label = code.replace("_", " ")
        if trend == Trend.WORSENING and day >= 2 and code in _WORSENING_URGENT:
            fired.append((Disposition.URGENT, "worsening_from_day_2", f"{label}, getting worse"))
        elif code in _SITE and day <= 3:
            fired.append((Disposition.EXPECTED, "site_day_0_3", f"{label} in the first 72 hours"))
        elif code in _SITE and (day <= 7 or code == "itching"):
            fired.append((Disposition.MONITOR, "site_day_4_7", f"{label} still there on day {day}"))
        elif code in _SITE:
            fired.append((Disposition.REVIEW, "site_after_day_7", f"{label} beyond seven days"))
        elif code in _MINOR:
            late = day > 7
            fired.append(
                (Disposition.MONITOR, "minor_after_day_7", f"{label} after the first week")
                if late
                else (Disposition.EXPECTED, "minor_day_0_7", f"{label} in the first week")
            )
        elif code in _SINGLE:
            disposition, rule, why = _SINGLE[code]
            fired.append((disposition, rule, f"{label}: {why}"))
        else:
            raise ValueError(f"unknown symptom code {code!r}")
    if temperature_c is not None and temperature_c > 38.5:
        fired.append((Disposition.EMERGENCY, "fever_above_38_5", f"temperature {temperature_c} °C"))
    elif temperature_c is not None and temperature_c >= 38.0:
        fired.append((Disposition.URGENT, "fever_38_0_to_38_5", f"temperature {temperature_c} °C"))
    if not fired:
        fired.append((Disposition.EXPECTED, "nothing_reported", "nothing reported: normal course"))
    reasons = [{"rule": rule, "text": why} for _, rule, why in fired]
    return Disposition.highest([d for d, _, _ in fired]), reasons


_LABS: tuple[tuple[str, frozenset[str], str], ...] = (
    (
        "cbc_bmp_week_2",
        frozenset({"chills", "fatigue", "nausea", "dizziness", "persistent_vomiting"}),
        "Systemic symptoms during recovery: the home physician may request a CBC and "
        "basic metabolic panel at week 2",
    ),
    (
        "crp_esr",
        frozenset({"warmth", "expanding_redness", "pus", "red_streaks", "blistering_or_dark_skin"}),
        "Infection signs at a treated site: the home physician may request an inflammatory "
        "panel (CRP and ESR)",
    ),
)
_LIVER_PANEL = (
    "liver_panel_week_4",
    "High-dose glutathione add-on: the home physician may request a comprehensive panel "
    "including liver function at week 4",
)


def demo_labs(
    temperature_c: float | None, symptoms: Sequence[str], addons: Sequence[str]
) -> list[dict[str, str]]:
    """Lab suggestions for demo rows, as {"lab": id, "text": words}: systemic signs or a
    temperature from 38.0 °C, infection signs, and high-dose glutathione (week-4 liver panel)."""
    found = set(symptoms)
    labs = []
    for lab, codes, text in _LABS:
        fever = lab == "cbc_bmp_week_2" and temperature_c is not None and temperature_c >= 38.0
        if codes & found or fever:
            labs.append({"lab": lab, "text": text})
    if "glutathione_high_dose" in addons:
        labs.append({"lab": _LIVER_PANEL[0], "text": _LIVER_PANEL[1]})
    return labs


def demo_needs(day: int, trend: Trend | None, symptoms: Sequence[str]) -> list[str]:
    """Inputs missing from a demo triage that could raise its outcome: the trend of a site
    finding from day 2, where getting worse would make it urgent. The demo always
    records the protocol, so it is never missing."""
    if trend is None and day >= 2 and _WORSENING_URGENT.intersection(symptoms):
        return ["trend"]
    return []


def nudge(disposition: Disposition, by: int) -> Disposition:
    """The disposition `by` ranks up (or down), kept within the scale."""
    order = list(Disposition)
    return order[max(0, min(len(order) - 1, order.index(disposition) + by))]
