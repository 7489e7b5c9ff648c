"""What the clinic gives and writes in the demo: products, notes, symptom stories.

Static tables only, like `people`: protocols and their products (made-up
names that do not refer to real products, each marked exosome preparation or
not), the add-ons as episodes record them, documentation, the notes staff
leave on touchpoints, and the scenarios a triage can report, each with the
days after the procedure on which it is plausible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.domain import IncidentCategory, Protocol, Trend
from core.schedules import LIVER_PANEL

# Protocols with an infusion: IV-site findings and vasovagal stories fit only these.
IV_PROTOCOLS = frozenset({Protocol.EXOSOME_IV, Protocol.EXOSOME_IV_MICRONEEDLING})

PROTOCOL_WEIGHTS: tuple[tuple[Protocol, int], ...] = (
    (Protocol.EXOSOME_IV, 30),
    (Protocol.MICRONEEDLING, 25),
    (Protocol.EXOSOME_IV_MICRONEEDLING, 30),
    (Protocol.PRP, 15),
)
# How a coordinator says each protocol (alert texts carry words, not codes).
PROTOCOL_WORDS: dict[Protocol, str] = {
    Protocol.EXOSOME_IV: "exosome IV",
    Protocol.MICRONEEDLING: "microneedling",
    Protocol.EXOSOME_IV_MICRONEEDLING: "exosome IV + microneedling",
    Protocol.PRP: "PRP",
}


@dataclass(frozen=True)
class DemoProduct:
    """A product line: one MFDS reference, many lots (lot codes start with `lot_prefix`)."""

    key: str
    name: str
    mfds_reference: str
    manufacturer: str
    lot_prefix: str
    dose: str
    exosome: bool = False


PRODUCTS: dict[str, DemoProduct] = {
    p.key: p
    for p in (
        DemoProduct(
            "exo_iv",
            "ExoRene IV exosome concentrate 5 mL",
            "MFDS-2024-01873",
            "Seorin Biolabs (fictional)",
            "ERV",
            "1 vial (5 mL) in 100 mL saline IV over 30 min",
            exosome=True,
        ),
        DemoProduct(
            "exo_topical",
            "DermExo ampoule 5 mL",
            "MFDS-2023-04412",
            "Gaon Bio (fictional)",
            "DXA",
            "1 ampoule (5 mL) with microneedling",
            exosome=True,
        ),
        DemoProduct(
            "gf_serum",
            "GF Booster serum (EGF/FGF) 3 mL",
            "MFDS-2024-02256",
            "Mirae Cosmeceutical (fictional)",
            "GFB",
            "3 mL topical after microneedling",
        ),
        DemoProduct(
            "prp_kit",
            "AutoPlas PRP preparation kit",
            "MFDS-2022-07719",
            "Hanul Medical (fictional)",
            "APK",
            "20 mL whole blood, 4 mL PRP injected",
        ),
        DemoProduct(
            "numbing",
            "Lidocaine 9.6% topical cream",
            "MFDS-2021-05530",
            "Daehan Pharm (fictional)",
            "LDC",
            "thin layer, 40 min before needling",
        ),
        DemoProduct(
            "glutathione",
            "Glutathione 600 mg/5 mL injection",
            "MFDS-2020-03391",
            "Daehan Pharm (fictional)",
            "GTH",
            "600 mg IV",
        ),
        DemoProduct(
            "glutathione_1200",
            "Glutathione 600 mg/5 mL injection",
            "MFDS-2020-03391",
            "Daehan Pharm (fictional)",
            "GTH",
            "1,200 mg IV (2 vials)",
        ),
        DemoProduct(
            "glutathione_high",
            "Glutathione 600 mg/5 mL injection",
            "MFDS-2020-03391",
            "Daehan Pharm (fictional)",
            "GTH",
            "2400 mg IV (high dose)",
        ),
        DemoProduct(
            "b_complex",
            "Vitamin B-complex injection 2 mL",
            "MFDS-2019-06148",
            "Daehan Pharm (fictional)",
            "BCX",
            "2 mL in the IV bag",
        ),
    )
}

# Main products per protocol (add-on infusions are appended from the episode's add-ons).
PROTOCOL_PRODUCTS: dict[Protocol, tuple[str, ...]] = {
    Protocol.EXOSOME_IV: ("exo_iv",),
    Protocol.MICRONEEDLING: ("exo_topical", "numbing"),
    Protocol.EXOSOME_IV_MICRONEEDLING: ("exo_iv", "gf_serum"),
    Protocol.PRP: ("prp_kit",),
}


@dataclass(frozen=True)
class DemoAddon:
    """One way an episode records an add-on: a bare code, or a name with its dose."""

    key: str
    recorded: Any
    product: str


# Old episodes record bare codes; newer ones the name with the dose in mg, which
# decides high dose over the code (core.addons): the plain "glutathione" at
# 1,200 mg is high, so its episode gets the week-4 liver panel reminder.
ADDONS: dict[str, DemoAddon] = {
    a.key: a
    for a in (
        DemoAddon("b_complex", "b_complex", "b_complex"),
        DemoAddon("glutathione", "glutathione", "glutathione"),
        DemoAddon("glutathione_600", {"name": "glutathione", "dose": "600 mg"}, "glutathione"),
        DemoAddon(
            "glutathione_1200", {"name": "glutathione", "dose": "1,200 mg"}, "glutathione_1200"
        ),
        DemoAddon("glutathione_high_dose", "glutathione_high_dose", "glutathione_high"),
        DemoAddon(
            "glutathione_2400",
            {"name": "glutathione_high_dose", "dose": "2.4 g"},
            "glutathione_high",
        ),
    )
}
# Usual and high doses of glutathione, as the demo draws them.
GLUTATHIONE_USUAL: tuple[str, ...] = ("glutathione", "glutathione_600", "glutathione_600")
GLUTATHIONE_HIGH: tuple[str, ...] = (
    "glutathione_1200",
    "glutathione_high_dose",
    "glutathione_2400",
)

ALLERGIES: tuple[str, ...] = (
    "Penicillin (rash)",
    "Latex",
    "Lidocaine: local swelling in 2019",
    "NSAIDs (hives)",
    "Shellfish",
    "Adhesive tape (contact dermatitis)",
    "Sulfonamides",
)

DOCUMENT_ITEMS: tuple[tuple[str, float], ...] = (
    ("itemised_receipt", 0.97),
    ("aftercare_card", 0.94),
    ("protocol_summary", 0.92),
    ("mfds_reference", 0.93),
    ("lot_and_expiry", 0.88),
    ("nurse_licensure", 0.86),
)

KHIDI_COVER_REF = "KHIDI-LIAB-2026-0042"

DONE_NOTES: tuple[str, ...] = (
    "Healing as expected; aftercare advice repeated.",
    "Photos reviewed: mild redness settling.",
    "Patient well, no concerns.",
    "Patient happy with result so far.",
    "Some dryness; moisturiser and SPF advice sent.",
    "No fever, no IV-site pain. Continue schedule.",
    "Replied with photos; nothing new at treated sites.",
    "Asked about make-up; advised to wait until day 3.",
)
LIVER_PANEL_NOTES: tuple[str, ...] = (
    "Suggested a comprehensive panel with liver function to the home physician.",
    "Patient will ask their GP for the week-4 panel including liver function; letter sent.",
    "Home physician already booked bloods including liver function.",
)
RETURN_NOTES: tuple[str, ...] = (
    "Patient plans next visit in spring.",
    "Not planning another trip yet; ask again later.",
    "Interested in a booster session; sent the booking link.",
)
# Notes on a done touchpoint, by template; other templates use DONE_NOTES.
NOTES_BY_TEMPLATE: dict[str, tuple[str, ...]] = {
    "return-cycle": RETURN_NOTES,
    LIVER_PANEL: LIVER_PANEL_NOTES,
}
SKIP_REASONS: tuple[str, ...] = (
    "Patient asked to skip this check: travelling for work.",
    "Covered by the triage call the day before.",
    "Patient declined further follow-up for this step.",
    "Home physician is following up locally.",
    "Duplicate of an earlier contact this week.",
)
UNREACHABLE_NOTES: tuple[str, ...] = (
    "Three attempts on the messenger, no reply.",
    "Messages delivered but not read; e-mail bounced.",
    "No answer on any channel within the window.",
)
ATTEMPT_NOTES: tuple[str, ...] = (
    "Aftercare message sent in the patient's language.",
    "Photo request sent.",
    "Patient asked us to call after work.",
    "Left a message.",
)


@dataclass(frozen=True)
class Scenario:
    """What a patient reports at a triage, and on which days it is plausible."""

    symptoms: tuple[str, ...]
    trend: Trend | None
    temperature_c: float | None
    first_day: int
    last_day: int
    weight: float
    iv_only: bool = False


_I, _S, _W = Trend.IMPROVING, Trend.STABLE, Trend.WORSENING
# Mostly the normal course, a tail of adverse events (the triage contract's symptom vocabulary).
SCENARIOS: tuple[Scenario, ...] = (
    Scenario((), None, None, 0, 10_000, 30),
    Scenario(("flush", "mild_swelling"), _I, None, 0, 3, 20),
    Scenario(("erythema", "tightness_dryness"), _I, None, 0, 3, 15),
    Scenario(("pinpoint_bruising",), _S, None, 0, 7, 10),
    Scenario(("flaking", "tightness_dryness"), _I, None, 2, 7, 12),
    Scenario(("erythema",), _S, None, 4, 7, 12),
    Scenario(("itching", "flaking"), _S, None, 8, 90, 8),
    Scenario(("tightness_dryness",), _S, 36.8, 8, 40, 6),
    Scenario(("erythema", "swelling"), _S, None, 8, 40, 6),
    Scenario(("erythema", "mild_swelling"), None, None, 2, 21, 8),  # trend not said
    Scenario(("nodule",), _S, None, 12, 200, 9),
    Scenario(("warmth", "expanding_redness"), _S, 37.4, 2, 14, 4),
    Scenario(("iv_site_pain", "iv_site_swelling"), _I, None, 0, 7, 5, True),
    Scenario(("fatigue", "chills"), _S, 37.6, 0, 14, 4),
    Scenario(("severe_itching",), _S, None, 0, 14, 3),
    Scenario(("erythema", "warmth"), _W, None, 2, 7, 3),
    Scenario(("pus", "warmth"), _W, 37.9, 3, 21, 2),
    Scenario(("hives",), _S, None, 0, 7, 2),
    Scenario(("chills",), _S, 38.3, 0, 14, 2),
    Scenario(("chills", "persistent_vomiting"), _W, 38.9, 1, 10, 1),
    Scenario(("throat_tightness", "hives"), _W, None, 0, 3, 0.7),
    Scenario(("dizziness", "palpitations"), None, None, 0, 3, 0.7, True),
)  # fmt: skip

# First match wins: the incident category a set of findings suggests.
CATEGORY_BY_SYMPTOM: tuple[tuple[frozenset[str], IncidentCategory], ...] = (
    (
        frozenset({"hives", "facial_swelling_beyond_area", "throat_tightness", "wheezing"}),
        IncidentCategory.ALLERGIC,
    ),
    (frozenset({"severe_itching"}), IncidentCategory.ALLERGIC),
    (frozenset({"pus", "red_streaks", "warmth", "expanding_redness"}), IncidentCategory.INFECTION),
    (frozenset({"nodule"}), IncidentCategory.NODULE),
    (frozenset({"iv_site_pain", "iv_site_swelling"}), IncidentCategory.IV_SITE),
    (frozenset({"fainting", "palpitations"}), IncidentCategory.VASOVAGAL),
    (
        frozenset({"chills", "fatigue", "nausea", "persistent_vomiting", "dizziness"}),
        IncidentCategory.SYSTEMIC,
    ),
    (
        frozenset({"erythema", "swelling", "flush", "mild_swelling"}),
        IncidentCategory.PROLONGED_ERYTHEMA,
    ),
)

OVERRIDE_UP = "Photos unclear and the patient is anxious: erring on the side of caution."
OVERRIDE_DOWN = (
    "Treating physician reviewed photos by video call: consistent with expected healing."
)
INCIDENT_ACTIONS: tuple[str, ...] = (
    "Conservative care advised; photos every 48 h; home physician informed.",
    "Cold compresses and antihistamine advice; physician call booked.",
    "Advised review by the home physician; protocol summary sent in English.",
    "Told to attend local emergency services; clinic physician followed up by phone.",
)
CAUSALITY: tuple[str, ...] = ("possible", "probable", "unlikely", "not assessable")
