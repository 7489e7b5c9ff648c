"""Add-on infusions as the triage rules and the follow-up schedule read them.

An episode records its add-ons either as codes ("b_complex",
"glutathione_high_dose") or as objects with a name and a dose
({"name": "glutathione", "dose": "1200 mg"}). Whether glutathione was a high
dose is a clinic decision (setting `high_dose_glutathione_mg`, default
1,200 mg in one session) judged by the dose given, whatever the code says:
a plain "glutathione" at 1,200 mg is high, and one coded high at 600 mg is
not. Only when no dose was recorded, or it cannot be read, does the code
decide, so an episode coded high keeps its week-4 liver panel reminder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

DEFAULT_HIGH_DOSE_GLUTATHIONE_MG: Final = 1200
"""The clinic's default threshold (mg in one session); the setting overrides it."""

GLUTATHIONE: Final = "glutathione"
HIGH_DOSE_GLUTATHIONE: Final = "glutathione_high_dose"
"""The add-on code the triage rules read for the week-4 liver panel suggestion."""

# One amount: a thousands-grouped number ("1,200"), or a plain one with an
# optional decimal part ("2.4", "2,4"), then mg or g. Not preceded by a digit or
# separator, so "2,4 g" is never misread as "4 g". An optional "N x" in front
# multiplies ("2 x 600 mg").
_AMOUNT = re.compile(
    r"(?:(?<![\d.,])(?P<times>\d+)\s*[x×]\s*)?"
    r"(?<![\d.,])(?P<number>\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:[.,]\d+)?)"
    r"\s*(?P<unit>mg|milligrams?|g|grams?)(?![a-z])",
    re.IGNORECASE,
)
_NOT_CODE = re.compile(r"[^a-z0-9]+")


def dose_mg(dose: object) -> float | None:
    """The amount in mg written in a dose such as "1,200 mg", "2.4 g" or "2400mg IV".

    Several amounts in one dose ("600 mg + 600 mg", "2 x 600 mg") are added up:
    the session's total, erring towards the liver panel reminder. None when no
    amount with a unit (mg or g) can be read; a bare number is not read, since
    "2.4" could be grams or milligrams.
    """
    if not isinstance(dose, str):
        return None
    total = 0.0
    found = False
    for match in _AMOUNT.finditer(dose):
        number = match["number"]
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", number):
            value = float(number.replace(",", ""))
        else:
            value = float(number.replace(",", "."))
        if match["unit"].lower().startswith("g"):
            value *= 1000
        if match["times"]:
            value *= int(match["times"])
        total += value
        found = True
    return total if found else None


def addon_code(addon: object) -> str | None:
    """The code of one recorded add-on ("B-complex" -> "b_complex"); None when it has none."""
    raw = (addon.get("name") or addon.get("code")) if isinstance(addon, Mapping) else addon
    if not isinstance(raw, str):
        return None
    code = _NOT_CODE.sub("_", raw.strip().lower()).strip("_")
    # The triage rules accept codes that start with a letter only.
    return code if code[:1].isalpha() else None


def _is_glutathione(code: str | None) -> bool:
    return code is not None and code.startswith(GLUTATHIONE)


def _recorded_mg(addon: object) -> float | None:
    """The dose of one add-on in mg, from `dose_mg` (a number) or `dose` (text)."""
    if not isinstance(addon, Mapping):
        return None
    given = addon.get("dose_mg")
    if isinstance(given, int | float) and not isinstance(given, bool):
        return float(given)
    return dose_mg(addon.get("dose"))


def is_high_dose_glutathione(addon: object, threshold_mg: int) -> bool:
    """Whether one recorded add-on is glutathione at or above `threshold_mg` in one session.

    The recorded dose decides when it can be read (`dose` text like "1200 mg",
    or a number in `dose_mg`); without one, the code "glutathione_high_dose" does.
    """
    code = addon_code(addon)
    if not _is_glutathione(code):
        return False
    amount = _recorded_mg(addon)
    if amount is not None:
        return amount >= threshold_mg
    return code == HIGH_DOSE_GLUTATHIONE


def has_high_dose_glutathione(recorded: Iterable[object], threshold_mg: int) -> bool:
    """Whether an episode had high-dose glutathione (the week-4 liver panel reminder).

    True when one add-on is (`is_high_dose_glutathione`), or when the readable
    glutathione doses of the session add up to the threshold (two entries of
    600 mg are 1,200 mg in one session).
    """
    addons = list(recorded)
    if any(is_high_dose_glutathione(addon, threshold_mg) for addon in addons):
        return True
    doses = [
        amount
        for addon in addons
        if _is_glutathione(addon_code(addon))
        if (amount := _recorded_mg(addon)) is not None
    ]
    return bool(doses) and sum(doses) >= threshold_mg


def triage_addon_codes(recorded: Iterable[object], threshold_mg: int) -> tuple[str, ...]:
    """The add-on codes the triage rules read, from the add-ons recorded on an episode.

    Glutathione becomes "glutathione_high_dose" when the episode had high-dose
    glutathione (`has_high_dose_glutathione`, the dose deciding over the code)
    and plain "glutathione" otherwise; other add-ons keep their code. Each code
    appears once, in the order recorded; entries without a name are left out.
    """
    addons = list(recorded)
    high = has_high_dose_glutathione(addons, threshold_mg)
    codes: list[str] = []
    for addon in addons:
        code = addon_code(addon)
        if code is None:
            continue
        if _is_glutathione(code):
            code = HIGH_DOSE_GLUTATHIONE if high else GLUTATHIONE
        if code not in codes:
            codes.append(code)
    return tuple(codes)
