"""The symptom vocabulary of the triage contract (docs/clinical-rules.md).

The codes are the stable interface: they arrive in triage JSON, are stored
with every recorded triage, and are never renamed once released. The labels
are CTCAE-aligned wording a nurse reads back to a physician; they may be
improved freely. MedDRA terms are licensed and deliberately not used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

SYMPTOMS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "flush": "flush",
        "mild_swelling": "mild swelling",
        "swelling": "swelling",
        "pinpoint_bruising": "pinpoint bruising",
        "tightness_dryness": "tightness or dryness",
        "flaking": "flaking",
        "erythema": "redness (erythema)",
        "warmth": "warmth",
        "expanding_redness": "expanding redness",
        "red_streaks": "red streaks",
        "pus": "pus",
        "nodule": "new lump, papule or hard area (nodule)",
        "iv_site_pain": "pain at the IV site",
        "iv_site_swelling": "swelling at the IV site",
        "itching": "itching",
        "severe_itching": "severe itching",
        "hives": "hives (urticaria)",
        "facial_swelling_beyond_area": "facial swelling beyond the treated area",
        "blistering_or_dark_skin": "blistering or dark skin",
        "chills": "chills",
        "fatigue": "fatigue",
        "nausea": "nausea",
        "persistent_vomiting": "persistent vomiting",
        "dizziness": "dizziness",
        "fainting": "fainting (syncope)",
        "palpitations": "palpitations",
        "chest_tightness": "chest tightness",
        "shortness_of_breath": "shortness of breath (dyspnoea)",
        "throat_tightness": "throat tightness",
        "wheezing": "wheezing",
        "numbness": "numbness",
        "weakness": "weakness",
        "vision_change": "vision change",
        "confusion": "confusion",
        "increasing_pain": "increasing pain",
    }
)
"""Symptom code -> label, in the order of the clinical rules (the order reasons name them)."""

SYMPTOM_CODES: Final[tuple[str, ...]] = tuple(SYMPTOMS)
"""Every code of the vocabulary, in the clinical rules' order."""

_RANK: Final[Mapping[str, int]] = {code: rank for rank, code in enumerate(SYMPTOM_CODES)}


def in_vocabulary_order(codes: Iterable[str]) -> list[str]:
    """`codes` without repeats, in vocabulary order, so wording never depends on input order."""
    return sorted(set(codes), key=_RANK.__getitem__)


def describe_symptoms(codes: Iterable[str]) -> str:
    """The symptoms as a nurse says them: 'flush, redness (erythema) and swelling'."""
    labels = [SYMPTOMS[code] for code in in_vocabulary_order(codes)]
    if len(labels) <= 1:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} and {labels[-1]}"
