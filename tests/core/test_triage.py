"""The triage rules of docs/clinical-rules.md, their validation and their properties.

Missing an emergency is the worst failure this product can have, so the rule
table is tested three ways: a case per row and boundary, an independent
re-reading of the clinical rules checked against every symptom on every day
with every trend after every protocol, and hypothesis properties (a finding
never lowers a disposition; what is missing is named exactly when it matters).
"""

from __future__ import annotations

import hashlib
import random
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain import Disposition, IncidentCategory, Protocol, Trend
from core.triage import (
    RULES_VERSION,
    SYMPTOM_CODES,
    Findings,
    TriageInputError,
    TriageOutcome,
    assess,
    parse_rule_table,
    parse_triage_input,
    rule_table,
)
from core.triage.outcome import PROTOCOL_NOT_RECORDED, TREND_NOT_RECORDED
from core.triage.rules import RULES_FILE

E, M, R, U, X = (
    Disposition.EXPECTED,
    Disposition.MONITOR,
    Disposition.REVIEW,
    Disposition.URGENT,
    Disposition.EMERGENCY,
)
W = Trend.WORSENING

# Bump RULES_VERSION and re-pin here on ANY change to core/data/triage_rules.toml.
PINNED_RULES = {
    "2026.11-1": "ff6dca1d380c7b4f779c8d56d18199af556a73c570d5ddbfd3d3b829ecc78817",
    "2026.12-1": "7d36edf193faafed6a12253206d640e508b744748b9e07b883b56e79feb5342d",
}

CONTRACT_EXAMPLE = (
    '{"day": 9, "temperature_c": 37.1, "trend": "worsening",\n'
    ' "symptoms": ["erythema", "warmth"], "country": "JP",\n'
    ' "protocol": "exosome_iv+microneedling", "addons": ["glutathione_high_dose"]}'
)


def triage(
    day: int,
    *symptoms: str,
    temperature_c: float | None = None,
    trend: Trend | None = None,
    country: str | None = "JP",
    addons: tuple[str, ...] = (),
    protocol: Protocol | None = None,
) -> TriageOutcome:
    return assess(
        Findings(
            day=day,
            symptoms=frozenset(symptoms),
            temperature_c=temperature_c,
            trend=trend,
            country=country,
            addons=addons,
            protocol=protocol,
        )
    )


NOTES = {TREND_NOT_RECORDED, PROTOCOL_NOT_RECORDED}


def fired(outcome: TriageOutcome) -> set[str]:
    """The rule rows that fired (the notes about a missing input are tested apart)."""
    return {reason.rule for reason in outcome.reasons} - NOTES


# (day, symptoms, temperature, trend) -> disposition and exactly the rules that fire.
CASES: list[tuple[int, tuple[str, ...], float | None, Trend | None, Disposition, set[str]]] = [
    # nothing reported, and temperatures below a fever
    (1, (), None, None, E, {"nothing_reported"}),
    (5, (), 37.9, None, E, {"nothing_reported"}),
    (5, (), 36.0, Trend.STABLE, E, {"nothing_reported"}),
    # low temperatures (v2): below 36.0 urgent, below 35.0 emergency
    (5, (), 35.9, None, U, {"low_temperature"}),
    (5, (), 35.0, None, U, {"low_temperature"}),
    (5, (), 34.99, None, X, {"hypothermia"}),
    (5, (), 30.0, Trend.STABLE, X, {"hypothermia"}),
    # site reaction: expected days 0-3, monitor 4-7, review after 7 (boundaries 3|4, 7|8)
    (0, ("flush",), None, None, E, {"site_reaction_day_0_3"}),
    (3, ("erythema", "mild_swelling"), None, None, E, {"site_reaction_day_0_3"}),
    (4, ("erythema",), None, None, M, {"site_reaction_day_4_7"}),
    (7, ("swelling",), None, Trend.IMPROVING, M, {"site_reaction_day_4_7"}),
    (7, ("mild_swelling",), None, Trend.STABLE, M, {"site_reaction_day_4_7"}),
    (8, ("swelling",), None, None, R, {"site_reaction_after_day_7"}),
    (8, ("flush", "mild_swelling"), None, Trend.IMPROVING, R, {"site_reaction_after_day_7"}),
    # itching: expected 0-3, monitor 4-7 (any trend, clinic decision) and after day 7
    (3, ("itching",), None, W, E, {"itching_day_0_3"}),
    (4, ("itching",), None, None, M, {"site_reaction_day_4_7"}),
    (5, ("itching",), None, W, M, {"itching_worsening_day_4_7"}),
    (7, ("itching",), None, W, M, {"itching_worsening_day_4_7"}),
    (8, ("itching",), None, W, M, {"mild_skin_after_day_7"}),
    (60, ("itching",), None, None, M, {"mild_skin_after_day_7"}),
    # mild swelling worsening on days 4-7: review (clinic decision)
    (3, ("mild_swelling",), None, W, E, {"site_reaction_day_0_3"}),
    (4, ("mild_swelling",), None, W, R, {"mild_swelling_worsening_day_4_7"}),
    (8, ("mild_swelling",), None, W, R, {"site_reaction_after_day_7"}),
    # bruising, tightness and flaking: expected in the first week, monitor after
    (7, ("pinpoint_bruising", "tightness_dryness"), None, None, E, {"bruising_tightness_day_0_7"}),
    (8, ("pinpoint_bruising",), None, None, M, {"mild_skin_after_day_7"}),
    (3, ("flaking",), None, None, E, {"flaking_day_0_7"}),
    (7, ("flaking",), None, W, E, {"flaking_day_0_7"}),
    (8, ("flaking", "tightness_dryness"), None, None, M, {"mild_skin_after_day_7"}),
    # review, any day
    (0, ("nodule",), None, None, R, {"nodule"}),
    (45, ("nodule",), None, W, R, {"nodule"}),
    (5, ("warmth",), None, Trend.STABLE, R, {"infection_signs"}),
    (30, ("expanding_redness",), None, None, R, {"infection_signs"}),
    (1, ("warmth", "expanding_redness"), None, W, R, {"infection_signs_worsening_day_0_1"}),
    (0, ("iv_site_pain", "iv_site_swelling"), None, None, R, {"iv_site"}),
    (2, ("severe_itching",), None, None, R, {"severe_itching"}),
    (1, ("chills", "fatigue", "nausea", "dizziness"), None, None, R, {"systemic_symptoms"}),
    # urgent
    (3, ("pus",), None, None, U, {"pus_or_red_streaks"}),
    (20, ("red_streaks",), None, Trend.IMPROVING, U, {"pus_or_red_streaks"}),
    (1, ("flush",), None, W, E, {"site_reaction_day_0_3"}),
    (2, ("flush",), None, W, U, {"worsening_from_day_2", "site_reaction_day_0_3"}),
    (
        2,
        ("flush", "itching"),
        None,
        None,
        E,
        {"site_reaction_day_0_3", "itching_day_0_3"},
    ),
    (5, ("erythema",), None, W, U, {"worsening_from_day_2"}),
    (9, ("swelling",), None, W, U, {"worsening_from_day_2", "site_reaction_after_day_7"}),
    (2, ("warmth",), None, W, U, {"worsening_from_day_2"}),
    (6, ("expanding_redness",), None, W, U, {"worsening_from_day_2"}),
    (5, (), 38.0, None, U, {"fever_38_0_to_38_5"}),
    (5, (), 38.2, None, U, {"fever_38_0_to_38_5"}),
    (5, (), 38.5, None, U, {"fever_38_0_to_38_5"}),
    (0, ("hives",), None, None, U, {"allergic_reaction"}),
    (4, ("facial_swelling_beyond_area",), None, None, U, {"allergic_reaction"}),
    # an infection sign with a systemic one (v2): urgent at least
    (
        3,
        ("warmth", "chills"),
        None,
        Trend.STABLE,
        U,
        {"infection_with_systemic_signs", "infection_signs", "systemic_symptoms"},
    ),
    (
        3,
        ("expanding_redness",),
        38.0,
        Trend.STABLE,
        U,
        {"infection_with_systemic_signs", "infection_signs", "fever_38_0_to_38_5"},
    ),
    (3, ("expanding_redness",), 37.9, Trend.STABLE, R, {"infection_signs"}),
    (3, ("warmth", "dizziness"), None, Trend.STABLE, R, {"infection_signs", "systemic_symptoms"}),
    (
        20,
        ("red_streaks", "nausea"),
        None,
        None,
        U,
        {"infection_with_systemic_signs", "pus_or_red_streaks", "systemic_symptoms"},
    ),
    (3, ("fatigue",), 38.2, None, U, {"fever_38_0_to_38_5", "systemic_symptoms"}),
    # emergency
    (5, (), 38.6, None, X, {"fever_above_38_5"}),
    (5, (), 45.0, None, X, {"fever_above_38_5"}),
    (2, ("persistent_vomiting", "increasing_pain"), None, None, X, {"vomiting_or_increasing_pain"}),
    (1, ("numbness", "weakness", "vision_change", "confusion"), None, None, X, {"neurological"}),
    (
        0,
        ("shortness_of_breath", "chest_tightness", "throat_tightness", "wheezing"),
        None,
        None,
        X,
        {"respiratory"},
    ),
    (0, ("palpitations", "fainting"), None, None, X, {"cardiovascular"}),
    (6, ("blistering_or_dark_skin",), None, None, X, {"blistering_or_dark_skin"}),
    # possible anaphylaxis (v2): skin signs with circulation or stomach signs, any day
    (
        0,
        ("hives", "dizziness"),
        None,
        None,
        X,
        {"possible_anaphylaxis", "allergic_reaction", "systemic_symptoms"},
    ),
    (
        40,
        ("facial_swelling_beyond_area", "persistent_vomiting"),
        None,
        None,
        X,
        {"possible_anaphylaxis", "allergic_reaction", "vomiting_or_increasing_pain"},
    ),
    (
        1,
        ("hives", "palpitations"),
        None,
        None,
        X,
        {"possible_anaphylaxis", "allergic_reaction", "cardiovascular"},
    ),
    (1, ("hives", "nausea"), None, None, U, {"allergic_reaction", "systemic_symptoms"}),
    (1, ("swelling", "dizziness"), None, None, R, {"site_reaction_day_0_3", "systemic_symptoms"}),
    # mixed: the highest wins and every rule that fired is listed
    (
        2,
        ("flush", "hives", "throat_tightness"),
        38.2,
        None,
        X,
        {"site_reaction_day_0_3", "allergic_reaction", "respiratory", "fever_38_0_to_38_5"},
    ),
]


# After an infusion alone (v2) facial redness or swelling in the first days is not the usual course.
IV_ONLY_CASES: list[tuple[int, tuple[str, ...], Protocol | None, Disposition, set[str]]] = [
    (0, ("flush",), Protocol.EXOSOME_IV, M, {"facial_reaction_after_infusion_day_0_3"}),
    (
        3,
        ("swelling", "erythema"),
        Protocol.EXOSOME_IV,
        M,
        {"facial_reaction_after_infusion_day_0_3"},
    ),
    (4, ("erythema",), Protocol.EXOSOME_IV, M, {"site_reaction_day_4_7"}),
    (2, ("itching",), Protocol.EXOSOME_IV, E, {"itching_day_0_3"}),
    (0, ("flush",), Protocol.MICRONEEDLING, E, {"site_reaction_day_0_3"}),
    (3, ("mild_swelling",), Protocol.EXOSOME_IV_MICRONEEDLING, E, {"site_reaction_day_0_3"}),
    (1, ("erythema",), Protocol.PRP, E, {"site_reaction_day_0_3"}),
    (1, ("erythema",), None, E, {"site_reaction_day_0_3"}),
]


@pytest.mark.parametrize(("day", "symptoms", "protocol", "disposition", "rules"), IV_ONLY_CASES)
def test_after_an_infusion_alone(
    day: int,
    symptoms: tuple[str, ...],
    protocol: Protocol | None,
    disposition: Disposition,
    rules: set[str],
) -> None:
    outcome = triage(day, *symptoms, trend=Trend.STABLE, protocol=protocol)
    assert outcome.disposition is disposition
    assert fired(outcome) == rules


@pytest.mark.parametrize(("day", "symptoms", "temperature", "trend", "disposition", "rules"), CASES)
def test_rule_table_case(
    day: int,
    symptoms: tuple[str, ...],
    temperature: float | None,
    trend: Trend | None,
    disposition: Disposition,
    rules: set[str],
) -> None:
    outcome = triage(day, *symptoms, temperature_c=temperature, trend=trend)
    assert outcome.disposition is disposition
    assert fired(outcome) == rules
    assert outcome.incident is disposition.opens_incident


def test_every_rule_row_has_a_case() -> None:
    exercised = set().union(*(rules for *_, rules in CASES), *(r for *_, r in IV_ONLY_CASES))
    assert exercised == {rule.id for rule in rule_table().rules}


def domain_disposition(
    code: str, day: int, trend: Trend | None, protocol: Protocol | None = None
) -> Disposition:
    """The clinical rules for one symptom, re-read independently of the rule file
    (including the three clinic decisions where the table has gaps)."""
    single = _one_symptom(code, day, trend)
    facial = code in ("flush", "erythema", "mild_swelling", "swelling")
    if protocol is Protocol.EXOSOME_IV and facial and day <= 3:
        return Disposition.highest([single, M])
    return single


def _one_symptom(code: str, day: int, trend: Trend | None) -> Disposition:
    worsening = trend is Trend.WORSENING
    singles = {
        X: "persistent_vomiting increasing_pain numbness weakness vision_change confusion "
        "shortness_of_breath chest_tightness throat_tightness wheezing palpitations fainting "
        "blistering_or_dark_skin",
        U: "pus red_streaks hives facial_swelling_beyond_area",
        R: "nodule iv_site_pain iv_site_swelling severe_itching chills fatigue nausea dizziness",
    }
    for disposition, codes in singles.items():
        if code in codes.split():
            return disposition
    if code in ("warmth", "expanding_redness"):
        return U if worsening and day >= 2 else R
    if code in ("flush", "erythema", "swelling"):
        if worsening and day >= 2:
            return U
        return E if day <= 3 else M if day <= 7 else R
    if code == "mild_swelling":
        return E if day <= 3 else (R if worsening else M) if day <= 7 else R
    if code == "itching":
        return E if day <= 3 else M
    assert code in ("pinpoint_bruising", "tightness_dryness", "flaking"), code
    return E if day <= 7 else M


def test_every_symptom_on_every_day_with_every_trend() -> None:
    table = rule_table()
    for code in SYMPTOM_CODES:
        for day in range(121):
            for trend in (None, *Trend):
                for protocol in (None, *Protocol):
                    findings = Findings(
                        day=day, symptoms=frozenset({code}), trend=trend, protocol=protocol
                    )
                    outcome = assess(findings, table)
                    case = (code, day, trend, protocol)
                    assert outcome.reasons, case
                    assert "nothing_reported" not in fired(outcome), case
                    assert outcome.disposition is domain_disposition(*case), case


# --- properties --------------------------------------------------------------------------

COUNTRIES = st.sampled_from([None, "JP", "GB", "US", "KR", "DE", "BR", "AQ"])
TEMPERATURES = st.one_of(st.none(), st.floats(min_value=30.0, max_value=45.0))
TRENDS = st.one_of(st.none(), st.sampled_from(list(Trend)))
SYMPTOM_SETS = st.frozensets(st.sampled_from(SYMPTOM_CODES), max_size=6)


@st.composite
def findings(draw: st.DrawFn) -> Findings:
    return Findings(
        day=draw(st.integers(min_value=0, max_value=200)),
        temperature_c=draw(TEMPERATURES),
        trend=draw(TRENDS),
        symptoms=draw(SYMPTOM_SETS),
        country=draw(COUNTRIES),
        addons=tuple(draw(st.lists(st.sampled_from(["glutathione_high_dose", "b_complex"])))),
        protocol=draw(st.one_of(st.none(), st.sampled_from(list(Protocol)))),
    )


def with_(base: Findings, **changes: Any) -> Findings:
    return Findings.model_validate({**base.model_dump(), **changes})


@given(findings(), st.sampled_from(SYMPTOM_CODES))
def test_adding_a_symptom_never_lowers_the_disposition(base: Findings, code: str) -> None:
    more = with_(base, symptoms=base.symptoms | {code})
    assert assess(more).disposition.severity >= assess(base).disposition.severity


@given(findings(), st.floats(min_value=30.0, max_value=45.0))
def test_a_temperature_further_from_normal_never_lowers_the_disposition(
    base: Findings, temperature: float
) -> None:
    """Hotter above 37.0 °C, colder below it, or measured for the first time (v2:
    low temperatures count too)."""
    old = base.temperature_c
    if old is not None:
        further = temperature >= old >= 37.0 or temperature <= old <= 37.0
        if not further:
            return
    changed = with_(base, temperature_c=temperature)
    assert assess(changed).disposition.severity >= assess(base).disposition.severity


@given(findings())
def test_a_missing_trend_is_named_exactly_when_worsening_would_raise_the_outcome(
    base: Findings,
) -> None:
    outcome = assess(base)
    if base.trend is not None:
        assert "trend" not in outcome.needs
        return
    worse = assess(with_(base, trend=Trend.WORSENING))
    raises = worse.disposition.severity > outcome.disposition.severity
    assert ("trend" in outcome.needs) is raises
    notes = [r for r in outcome.reasons if r.rule == TREND_NOT_RECORDED]
    assert len(notes) == int(raises)
    if raises:
        assert f"if worsening this is {worse.disposition.value}" in notes[0].text


@given(findings())
def test_a_missing_protocol_is_named_exactly_when_one_would_raise_the_outcome(
    base: Findings,
) -> None:
    outcome = assess(base)
    if base.protocol is not None:
        assert "protocol" not in outcome.needs
        return
    worst = max(assess(with_(base, protocol=p)).disposition.severity for p in Protocol)
    assert ("protocol" in outcome.needs) is (worst > outcome.disposition.severity)


@given(findings())
def test_reporting_worsening_never_lowers_the_disposition(base: Findings) -> None:
    worse = with_(base, trend=Trend.WORSENING)
    assert assess(worse).disposition.severity >= assess(base).disposition.severity


@given(findings(), st.randoms(use_true_random=False))
def test_result_never_depends_on_symptom_order(base: Findings, rnd: random.Random) -> None:
    symptoms = sorted(base.symptoms)
    shuffled = list(symptoms)
    rnd.shuffle(shuffled)
    raw = base.model_dump(mode="json")
    first = parse_triage_input({**raw, "symptoms": symptoms})
    second = parse_triage_input({**raw, "symptoms": shuffled})
    assert assess(first).to_json() == assess(second).to_json()


@given(findings())
def test_every_outcome_is_complete_and_every_emergency_carries_a_number(base: Findings) -> None:
    outcome = assess(base)
    assert outcome.reasons
    assert outcome.disposition is Disposition.highest([r.disposition for r in outcome.reasons])
    assert outcome.reasons[0].disposition is outcome.disposition
    assert outcome.incident is (outcome.disposition.severity >= R.severity)
    assert outcome.rules_version == RULES_VERSION
    output = outcome.to_json()
    assert output["needs"] == list(outcome.needs)
    assert output["decided_by"] == outcome.decided_by
    who = "Local emergency services" if outcome.disposition is X else "treating physician"
    assert who in output["decided_by"]
    if outcome.disposition is X:
        assert output["emergency_number"].isdigit()
        assert outcome.emergency_number in outcome.action
    if not outcome.emergency.known:
        assert output["emergency_number"] == "112"
        assert "112" in output["emergency_warning"]


@settings(max_examples=200)
@given(st.sampled_from(SYMPTOM_CODES), st.integers(min_value=0, max_value=400), TRENDS)
def test_a_reported_symptom_never_reads_as_nothing_reported(
    code: str, day: int, trend: Trend | None
) -> None:
    outcome = assess(Findings(day=day, symptoms=frozenset({code}), trend=trend))
    assert "nothing_reported" not in fired(outcome)


# --- reasons, labs, emergency numbers ------------------------------------------------------


def test_contract_example() -> None:
    outcome = assess(parse_triage_input(CONTRACT_EXAMPLE))
    output = outcome.to_json()
    assert output["disposition"] == "urgent"
    assert output["incident"] is True
    assert output["emergency_number"] == "119"
    assert [r["rule"] for r in output["reasons"]] == [
        "worsening_from_day_2",
        "site_reaction_after_day_7",
    ]
    assert output["reasons"][0]["text"].startswith(
        "Redness (erythema) and warmth getting worse on day 9"
    )
    assert [lab["lab"] for lab in output["labs"]] == ["crp_esr", "liver_panel_week_4"]
    assert output["rules_version"] == RULES_VERSION
    assert "emergency_warning" not in output


def test_reason_texts_read_back_to_a_physician() -> None:
    fever = triage(3, temperature_c=38.2).reasons[0].text
    assert fever == (
        "Temperature 38.2 °C is a fever (38.0-38.5 °C): "
        "page the on-call and treating physician today"
    )
    high = triage(3, temperature_c=38.55).reasons[0].text
    assert high.startswith("Temperature 38.55 °C is above 38.5 °C")
    nothing = triage(3).reasons[0]
    assert nothing.rule == "nothing_reported"
    assert "expected course" in nothing.text
    (site,) = [
        r.text
        for r in triage(2, "swelling", "flush", "erythema").reasons
        if r.rule == "site_reaction_day_0_3"
    ]
    assert site.startswith("Flush, swelling and redness (erythema) on day 2")
    (pair,) = [
        r.text for r in triage(0, "hives", "dizziness").reasons if r.rule == "possible_anaphylaxis"
    ]
    assert pair.startswith("Hives (urticaria) and dizziness on day 0")
    assert "possible anaphylaxis" in pair
    (fever,) = [
        r.text
        for r in triage(3, "pus", temperature_c=38.2).reasons
        if r.rule == "infection_with_systemic_signs"
    ]
    assert fever.startswith("Pus with a temperature of 38.2 °C on day 3")
    low = triage(3, temperature_c=35.5).reasons[0].text
    assert low.startswith("Temperature 35.5 °C is low (below 36.0 °C): possible sepsis")
    normal = triage(3, temperature_c=36.0).reasons[0].text
    assert "no temperature below 36.0 °C or of 38.0 °C or more" in normal


def test_a_missing_trend_is_said_and_asked_for() -> None:
    missing = triage(5, "erythema")
    assert missing.disposition is M
    assert missing.needs == ("trend",)
    assert missing.reasons[0].rule == TREND_NOT_RECORDED
    assert missing.reasons[0].text == (
        "Trend not recorded: read as not worsening; if worsening this is urgent. "
        "Ask whether it is improving, stable or getting worse."
    )
    assert missing.to_json()["needs"] == ["trend"]
    given = triage(5, "erythema", trend=Trend.STABLE)
    assert (given.disposition, given.needs) == (M, ())
    assert TREND_NOT_RECORDED not in {r.rule for r in given.reasons}
    # A finding whose outcome does not depend on the trend asks for nothing.
    assert triage(5, "nodule").needs == ()
    assert triage(5).to_json()["needs"] == []


def test_a_missing_protocol_is_said_and_asked_for_where_the_infusion_row_applies() -> None:
    missing = triage(1, "flush", trend=Trend.STABLE)
    assert (missing.disposition, missing.needs) == (E, ("protocol",))
    assert "Protocol not recorded" in missing.reasons[0].text
    assert "would be monitor" in missing.reasons[0].text
    assert triage(1, "flush", trend=Trend.STABLE, protocol=Protocol.MICRONEEDLING).needs == ()
    assert triage(6, "flush", trend=Trend.STABLE).needs == ()


@pytest.mark.parametrize(
    ("symptoms", "temperature", "category"),
    [
        (("hives", "dizziness"), None, IncidentCategory.ALLERGIC),
        (("wheezing", "fatigue"), None, IncidentCategory.ALLERGIC),
        (("pus", "chills"), None, IncidentCategory.INFECTION),
        (("warmth",), None, IncidentCategory.INFECTION),
        (("nodule",), None, IncidentCategory.NODULE),
        (("iv_site_pain",), None, IncidentCategory.IV_SITE),
        (("fatigue",), None, IncidentCategory.SYSTEMIC),
        ((), 38.9, IncidentCategory.SYSTEMIC),
        ((), 35.5, IncidentCategory.SYSTEMIC),
        (("flaking",), None, IncidentCategory.OTHER),
    ],
)
def test_the_incident_category_comes_from_the_rules_that_fired(
    symptoms: tuple[str, ...], temperature: float | None, category: IncidentCategory
) -> None:
    assert triage(10, *symptoms, temperature_c=temperature, trend=Trend.STABLE).category is category


def test_every_disposition_says_who_decides() -> None:
    assert "Local emergency services" in triage(1, "wheezing").decided_by
    for outcome in (triage(1), triage(5, "erythema"), triage(1, "nodule"), triage(1, "pus")):
        assert "treating physician" in outcome.decided_by


def test_reasons_are_most_severe_first() -> None:
    outcome = triage(9, "flaking", "nodule", "pus", "wheezing", temperature_c=38.1)
    severities = [r.disposition.severity for r in outcome.reasons]
    assert severities == sorted(severities, reverse=True)
    assert outcome.reasons[0].rule == "respiratory"


@pytest.mark.parametrize(
    ("symptoms", "temperature", "addons", "labs"),
    [
        ((), None, (), []),
        (("flush", "nodule", "hives"), 37.5, ("b_complex",), []),
        (("fatigue",), None, (), ["cbc_bmp_week_2"]),
        (("persistent_vomiting",), None, (), ["cbc_bmp_week_2"]),
        ((), 38.0, (), ["cbc_bmp_week_2"]),
        (("warmth",), None, (), ["crp_esr"]),
        (("pus", "red_streaks", "expanding_redness"), None, (), ["crp_esr"]),
        (("blistering_or_dark_skin",), None, (), ["crp_esr"]),
        ((), None, ("glutathione_high_dose",), ["liver_panel_week_4"]),
        (
            ("chills", "pus"),
            38.9,
            ("glutathione_high_dose",),
            ["cbc_bmp_week_2", "crp_esr", "liver_panel_week_4"],
        ),
    ],
)
def test_lab_suggestions(
    symptoms: tuple[str, ...], temperature: float | None, addons: tuple[str, ...], labs: list[str]
) -> None:
    outcome = triage(10, *symptoms, temperature_c=temperature, addons=addons)
    assert [lab.lab for lab in outcome.labs] == labs


def test_lab_text_names_what_triggered_it_and_fits_the_day() -> None:
    (early,) = triage(13, "nausea", "chills", temperature_c=38.1).labs
    assert early.lab == "cbc_bmp_week_2"
    assert early.text.startswith(
        "Systemic symptoms during recovery (chills and nausea; temperature"
    )
    assert "CBC and basic metabolic panel at week 2" in early.text
    (later,) = triage(14, "nausea", "chills", temperature_c=38.1).labs
    assert later.lab == "cbc_bmp_now"
    assert later.text.endswith("CBC and basic metabolic panel now")
    (liver,) = triage(3, addons=("glutathione_high_dose",)).labs
    assert liver.text.startswith("High-dose glutathione add-on")
    assert "glutathione_high_dose" not in liver.text


def test_crp_esr_whenever_a_rule_names_possible_infection() -> None:
    # Worsening redness from day 2 names a possible infection without an infection code.
    outcome = triage(3, "erythema", trend=Trend.WORSENING)
    assert any("possible infection" in r.text for r in outcome.reasons)
    assert [lab.lab for lab in outcome.labs] == ["crp_esr"]
    assert "(redness (erythema))" in outcome.labs[0].text.lower()


def test_emergency_numbers_by_country() -> None:
    japan = triage(1, "wheezing", country="JP")
    assert japan.emergency_number == "119"
    assert "119" in japan.action and "Japan" in japan.action
    britain = triage(1, "wheezing", country="GB").to_json()
    assert (britain["emergency_number"], britain["emergency_alternatives"]) == ("999", ["112"])
    assert "emergency_warning" not in britain
    brazil = triage(1, "wheezing", country="BR").to_json()
    assert brazil["emergency_number"] == "112"
    assert "not in the clinic's emergency-number table" in brazil["emergency_warning"]
    nowhere = triage(1, "wheezing", country=None)
    assert nowhere.emergency_number == "112"
    assert nowhere.emergency.warning is not None
    assert "No country recorded" in nowhere.emergency.warning
    assert "confirm the local number" in nowhere.action


def test_lower_case_country_is_read_as_its_code() -> None:
    assert parse_triage_input({"day": 1, "symptoms": [], "country": "jp"}).country == "JP"


# --- validation at the edge ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"day": 1, "temperature_c": 46.2, "symptoms": []}', "temperature_c: 46.2 is outside"),
        ('{"day": 1, "temperature_c": 29.9, "symptoms": []}', "temperature_c: 29.9 is outside"),
        ('{"day": 1, "temperature_c": 101.3, "symptoms": []}', "temperature_c: 101.3 is outside"),
        ('{"day": 1, "temperature_c": "38.2", "symptoms": []}', "temperature_c: must be a number"),
        ('{"day": 1, "temperature_c": true, "symptoms": []}', "temperature_c: must be a number"),
        ('{"day": 1, "temperature_c": NaN, "symptoms": []}', "input: not valid JSON"),
        ('{"day": 1, "symptoms": ["flush", "rash"]}', "symptoms[1]: unknown symptom 'rash'"),
        ('{"day": 1, "symptoms": ["Flush"]}', "symptoms[0]: unknown symptom 'Flush'"),
        ('{"day": 1, "symptoms": [7]}', "symptoms[0]: must be a symptom code"),
        ('{"day": 1, "symptoms": "flush"}', "symptoms: must be a list"),
        ('{"day": 1, "symptoms": null}', "symptoms: must be a list"),
        ('{"day": 1}', "symptoms: required"),
        ('{"symptoms": []}', "day: required"),
        ('{"day": -1, "symptoms": []}', "day: must be 0 or more"),
        ('{"day": 9.0, "symptoms": []}', "day: must be a whole number"),
        ('{"day": "9", "symptoms": []}', "day: must be a whole number"),
        ('{"day": true, "symptoms": []}', "day: must be a whole number"),
        (
            '{"day": 1, "symptoms": [], "trend": "worse"}',
            "trend: must be one of improving, stable, worsening",
        ),
        ('{"day": 1, "symptoms": [], "country": "UK"}', "country: 'UK' is not an ISO 3166-1"),
        ('{"day": 1, "symptoms": [], "country": "Japan"}', "country: 'Japan' is not an ISO"),
        ('{"day": 1, "symptoms": [], "country": "XX"}', "country: 'XX' is not an ISO"),
        ('{"day": 1, "symptoms": [], "protocol": "botox"}', "protocol: must be one of"),
        ('{"day": 1, "symptoms": [], "addons": ["High Dose"]}', "addons[0]: must be an add-on"),
        ('{"day": 1, "symptoms": [], "sypmtoms": []}', "sypmtoms: unknown field"),
        ('{"dya": 1, "symptoms": []}', "dya: unknown field"),
        ('{"day": 1, "day": 2, "symptoms": []}', "day: given twice"),
        ('{"day": x}', "input: not valid JSON (line 1 column 9"),
        ('{"day": 1, "symptoms": []} {}', "input: not valid JSON (line 1 column 28"),
        ("[]", "input: must be one JSON object"),
        ("", "input: empty"),
        (b"\xff", "input: not valid UTF-8"),
    ],
)
def test_bad_input_names_the_field_in_one_line(raw: str | bytes, message: str) -> None:
    with pytest.raises(TriageInputError) as caught:
        parse_triage_input(raw)
    text = str(caught.value)
    assert text.startswith(message), text
    assert "\n" not in text
    assert text == f"{caught.value.field}: {caught.value.message}"


def test_optional_fields_may_be_absent_or_null() -> None:
    bare = parse_triage_input(b'{"day": 0, "symptoms": []}')
    assert (bare.temperature_c, bare.trend, bare.country, bare.protocol, bare.addons) == (
        None,
        None,
        None,
        None,
        (),
    )
    nulls = parse_triage_input(
        '{"day": 0, "symptoms": [], "temperature_c": null, "trend": null,'
        ' "country": null, "protocol": null, "addons": null}'
    )
    assert nulls == bare
    whole = parse_triage_input('{"day": 0, "symptoms": [], "temperature_c": 38}')
    assert whole.temperature_c == 38.0


# --- the rule file ------------------------------------------------------------------------


def rules_text() -> str:
    return (resources.files("core") / "data" / RULES_FILE).read_text(encoding="utf-8")


def test_rule_file_change_bumps_the_version() -> None:
    digest = hashlib.sha256(rules_text().encode("utf-8")).hexdigest()
    assert PINNED_RULES.get(RULES_VERSION) == digest, (
        f"{RULES_FILE} changed: bump RULES_VERSION in core/triage/rules.py and pin "
        f'"{digest}" for it in PINNED_RULES'
    )


def drop_rule(text: str, rule_id: str) -> str:
    blocks = text.split("[[rule]]")
    kept = [b for b in blocks if f'id = "{rule_id}"\n' not in b]
    assert len(kept) == len(blocks) - 1
    return "[[rule]]".join(kept)


@pytest.mark.parametrize(
    "rule_id",
    [
        "itching_worsening_day_4_7",
        "infection_signs_worsening_day_0_1",
        "respiratory",
        "itching_day_0_3",
        "site_reaction_day_0_3",
        "facial_reaction_after_infusion_day_0_3",
    ],
)
def test_a_gap_in_the_rules_is_refused(rule_id: str) -> None:
    with pytest.raises(ValueError, match="no rule covers"):
        parse_rule_table(drop_rule(rules_text(), rule_id), "test")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('"hives", "facial', '"hivez", "facial'), "unknown symptom 'hivez'"),
        (("{temperature} °C is a fever", "{temp} °C is a fever"), "unknown placeholder {temp}"),
        (('id = "nodule"', 'id = "iv_site"'), "rule id 'iv_site' is used twice"),
        (('disposition = "urgent"', 'disposition = "urgentish"'), "disposition"),
        (("at_least = 38.0, at_most", "at_least = 38.0, above = 37.0, at_most"), "at most one of"),
        (("at_least = 35.0, below = 36.0", "at_least = 36.0, below = 35.0"), "not above the lower"),
        (('protocols = ["exosome_iv"]', 'protocols = ["botox"]'), "unknown protocol 'botox'"),
        (('together_with = ["chills"', 'together_with = ["shivers"'), "unknown symptom 'shivers'"),
        (('rules = ["worsening_from_day_2"', 'rules = ["worse"'), "unknown rule 'worse'"),
        (("day_to = 3\n", "day_to = 3\nday_tto = 4\n"), "day_tto"),
    ],
)
def test_a_malformed_rule_file_is_refused(change: tuple[str, str], message: str) -> None:
    old, new = change
    text = rules_text()
    assert old in text
    with pytest.raises(ValueError, match="triage rules test") as caught:
        parse_rule_table(text.replace(old, new, 1), "test")
    assert message in str(caught.value)
