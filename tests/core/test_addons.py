"""High-dose glutathione is judged by the dose given; the code decides only without one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.addons import (
    DEFAULT_HIGH_DOSE_GLUTATHIONE_MG,
    addon_code,
    dose_mg,
    has_high_dose_glutathione,
    is_high_dose_glutathione,
    triage_addon_codes,
)
from core.config import Settings

T = DEFAULT_HIGH_DOSE_GLUTATHIONE_MG


def test_the_default_threshold_is_the_settings_default() -> None:
    assert T == 1200 == Settings().high_dose_glutathione_mg


@pytest.mark.parametrize(
    ("dose", "mg"),
    [
        ("1200 mg", 1200),
        ("1,200 mg", 1200),
        ("2.4 g", 2400),
        ("2,4 g", 2400),
        ("2400mg IV", 2400),
        ("2400 mg IV (high dose)", 2400),
        ("600 mg/5 mL", 600),
        ("1.2 grams", 1200),
        ("1200 MG", 1200),
        ("2 x 600 mg", 1200),
        ("600 mg + 600 mg", 1200),
        ("1 vial", None),
        ("1200", None),  # no unit: grams or milligrams?
        ("12 kg", None),
        ("5 mL", None),
        ("", None),
        (None, None),
        (1200, None),
    ],
)
def test_dose_is_read_in_mg(dose: object, mg: float | None) -> None:
    assert dose_mg(dose) == mg


@pytest.mark.parametrize(
    ("addon", "high"),
    [
        # The recorded dose decides, whatever the code says.
        ({"name": "glutathione", "dose": "1200 mg"}, True),
        ({"name": "glutathione", "dose": "1,199 mg"}, False),
        ({"name": "Glutathione", "dose": "2.4 g"}, True),
        ({"name": "glutathione_high_dose", "dose": "600 mg"}, False),
        ({"code": "glutathione", "dose_mg": 1500}, True),
        ({"name": "glutathione", "dose_mg": 600}, False),
        # Without a readable dose, the code decides.
        ("glutathione_high_dose", True),
        ("glutathione", False),
        ({"name": "glutathione_high_dose"}, True),
        ({"name": "glutathione_high_dose", "dose": "two vials"}, True),
        ({"name": "glutathione", "dose": "two vials"}, False),
        # Not glutathione at all.
        ({"name": "b_complex", "dose": "5000 mg"}, False),
        ("b_complex", False),
        ({"dose": "2400 mg"}, False),
        (None, False),
    ],
)
def test_high_dose_is_judged_by_dose_then_code(addon: object, high: bool) -> None:
    assert is_high_dose_glutathione(addon, T) is high


def test_the_threshold_is_the_clinics_setting() -> None:
    addon = {"name": "glutathione", "dose": "1200 mg"}
    assert is_high_dose_glutathione(addon, 1200)
    assert not is_high_dose_glutathione(addon, 1500)
    assert is_high_dose_glutathione(addon, 1000)


def test_doses_of_one_session_add_up() -> None:
    twice = [{"name": "glutathione", "dose": "600 mg"}, {"name": "glutathione", "dose": "600 mg"}]
    assert not any(is_high_dose_glutathione(a, T) for a in twice)
    assert has_high_dose_glutathione(twice, T)
    assert triage_addon_codes(twice, T) == ("glutathione_high_dose",)
    assert not has_high_dose_glutathione(twice[:1], T)
    assert not has_high_dose_glutathione([], T)


def test_triage_codes_from_recorded_addons() -> None:
    assert triage_addon_codes(["b_complex", {"name": "glutathione", "dose": "1200 mg"}], T) == (
        "b_complex",
        "glutathione_high_dose",
    )
    assert triage_addon_codes(["glutathione_high_dose"], T) == ("glutathione_high_dose",)
    assert triage_addon_codes(["glutathione"], T) == ("glutathione",)
    # Coded high but given at 600 mg: the triage rules read plain glutathione.
    assert triage_addon_codes([{"name": "glutathione_high_dose", "dose": "600 mg"}], T) == (
        "glutathione",
    )
    # Names become codes the rules accept; nameless entries and duplicates go.
    assert triage_addon_codes(["B-complex", {"dose": "5 mL"}, "b_complex", "", 7], T) == (
        "b_complex",
    )
    assert triage_addon_codes([], T) == ()


def test_addon_codes_are_what_the_triage_rules_accept() -> None:
    assert addon_code("Vitamin C (high dose)") == "vitamin_c_high_dose"
    assert addon_code({"name": "  NAD+ "}) == "nad"
    assert addon_code("5-ALA") is None  # a code must start with a letter
    assert addon_code({"name": 3}) is None


@given(st.integers(min_value=1, max_value=100_000), st.integers(min_value=1, max_value=10_000))
def test_dose_text_and_number_agree(mg: int, threshold: int) -> None:
    text = {"name": "glutathione", "dose": f"{mg:,} mg"}
    number = {"name": "glutathione", "dose_mg": mg}
    assert is_high_dose_glutathione(text, threshold) == (mg >= threshold)
    assert is_high_dose_glutathione(number, threshold) == (mg >= threshold)
    codes = triage_addon_codes([text], threshold)
    assert codes == ("glutathione_high_dose" if mg >= threshold else "glutathione",)
