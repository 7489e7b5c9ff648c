"""What is normal on day N: one case per protocol and per day boundary of the guidance."""

from __future__ import annotations

import pytest

from core.domain import Protocol
from core.triage.course import EMERGENCY_SIGNS, normal_course

MN, IV, BOTH, PRP = (
    Protocol.MICRONEEDLING,
    Protocol.EXOSOME_IV,
    Protocol.EXOSOME_IV_MICRONEEDLING,
    Protocol.PRP,
)

FLUSH = "pink-to-red flush, mild swelling, pinpoint bruising, tightness or dryness"
FLAKING_NOW = "Usual now (days 3-4): small flakiness"
FLAKING_NEXT = "Next: small flakiness"
BASELINE_AHEAD = "By day 7: back to baseline for typical responders"
BASELINE_NOW = "From day 7: back to baseline for typical responders"
LUMP_LATER = "Later (day 14 to month 3): any new lump or hard area"
LUMP_NOW = "Watch now (day 14 to month 3): any new lump or hard area"
LUMP_PAST = "Past month 3: a new lump or hard area"
CANNULA_NOW = "Usual now (first few days): a small bruise or tenderness at the cannula site"
CANNULA_PAST = "first few days only: a small bruise or tenderness at the cannula site"
NO_FACE = "No facial redness or swelling is expected from the infusion itself"
FACE_FROM_NEEDLING = "what the face shows comes from the microneedling"

MICRONEEDLING_PHRASES = (
    FLUSH,
    FLAKING_NOW,
    FLAKING_NEXT,
    BASELINE_AHEAD,
    BASELINE_NOW,
    LUMP_LATER,
    LUMP_NOW,
    LUMP_PAST,
)
INFUSION_PHRASES = (CANNULA_NOW, CANNULA_PAST, NO_FACE, FACE_FROM_NEEDLING)
EVERY_PHRASE = MICRONEEDLING_PHRASES + INFUSION_PHRASES

# (day, the microneedling phrases shown that day); every other one must be absent.
MICRONEEDLING_DAYS = [
    (0, {FLUSH, FLAKING_NEXT, BASELINE_AHEAD, LUMP_LATER}),
    (2, {FLUSH, FLAKING_NEXT, BASELINE_AHEAD, LUMP_LATER}),
    (3, {FLUSH, FLAKING_NOW, BASELINE_AHEAD, LUMP_LATER}),
    (4, {FLAKING_NOW, BASELINE_AHEAD, LUMP_LATER}),
    (5, {BASELINE_AHEAD, LUMP_LATER}),
    (6, {BASELINE_AHEAD, LUMP_LATER}),
    (7, {BASELINE_NOW, LUMP_LATER}),
    (13, {BASELINE_NOW, LUMP_LATER}),
    (14, {BASELINE_NOW, LUMP_NOW}),
    (90, {BASELINE_NOW, LUMP_NOW}),
    (91, {BASELINE_NOW, LUMP_PAST}),
    (400, {BASELINE_NOW, LUMP_PAST}),
]


def _shown(protocol: Protocol | None, day: int) -> set[str]:
    text = "\n".join(normal_course(protocol, day, country="JP").lines)
    return {phrase for phrase in EVERY_PHRASE if phrase in text}


@pytest.mark.parametrize("protocol", [MN, PRP])
@pytest.mark.parametrize(("day", "expected"), MICRONEEDLING_DAYS)
def test_microneedling_alone_or_with_prp(protocol: Protocol, day: int, expected: set[str]) -> None:
    assert _shown(protocol, day) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [(0, {CANNULA_NOW, NO_FACE}), (3, {CANNULA_NOW, NO_FACE}), (4, {CANNULA_PAST, NO_FACE})],
)
def test_exosome_iv_alone(day: int, expected: set[str]) -> None:
    # Nothing about the skin of the face: none of it is the usual course after an infusion.
    assert _shown(IV, day) == expected


@pytest.mark.parametrize(("day", "needling"), MICRONEEDLING_DAYS)
def test_exosome_iv_with_microneedling_gives_both(day: int, needling: set[str]) -> None:
    cannula = CANNULA_NOW if day <= 3 else CANNULA_PAST
    assert _shown(BOTH, day) == needling | {cannula, FACE_FROM_NEEDLING}


@pytest.mark.parametrize("day", [0, 4, 14, 91])
def test_protocol_not_recorded_says_so_and_gives_both(day: int) -> None:
    course = normal_course(None, day, country="JP")
    assert "protocol not recorded" in course.heading
    assert course.lines[0].startswith("Protocol not recorded")
    needling = [line for line in course.lines if line.startswith("If microneedling: ")]
    infusion = [line for line in course.lines if line.startswith("If exosome IV: ")]
    assert "\n".join(needling) == "\n".join(
        f"If microneedling: {line}" for line in normal_course(MN, day).lines
    )
    assert "\n".join(infusion) == "\n".join(
        f"If exosome IV: {line}" for line in normal_course(IV, day).lines
    )


@pytest.mark.parametrize(
    ("protocol", "words"),
    [
        (MN, "microneedling"),
        (IV, "exosome IV"),
        (BOTH, "exosome IV with microneedling"),
        (PRP, "microneedling with PRP"),
    ],
)
def test_heading_names_the_day_now_and_the_protocol_in_words(
    protocol: Protocol, words: str
) -> None:
    assert normal_course(protocol, 5).heading == f"What is normal on day 5 after {words}"


@pytest.mark.parametrize("protocol", [None, *Protocol])
def test_emergency_signs_and_local_number_always(protocol: Protocol | None) -> None:
    for day in (0, 5, 30):
        course = normal_course(protocol, day, country="GB")
        assert course.emergency == f"Call 999 (or 112) now (United Kingdom) for: {EMERGENCY_SIGNS}."
        assert course.all_lines == (course.heading, *course.lines, course.emergency)
    assert "hives with dizziness" in EMERGENCY_SIGNS and "fever above 38.5 °C" in EMERGENCY_SIGNS


def test_unknown_or_missing_country_is_said_plainly() -> None:
    unknown = normal_course(MN, 1, country="KE").emergency
    assert unknown.startswith("Call 112 now (mobile fallback; Kenya is not in the table")
    missing = normal_course(MN, 1).emergency
    assert missing.startswith("Call the local emergency number now (country not recorded")


def test_no_internal_codes_reach_the_coordinator() -> None:
    for protocol in (None, *Protocol):
        for day in range(0, 100):
            text = "\n".join(normal_course(protocol, day, country="JP").all_lines)
            # 'exosome_iv+microneedling', 'prp' are codes; the coordinator reads words.
            assert "_" not in text and "+" not in text and "prp" not in text


def test_a_negative_day_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        normal_course(MN, -1)
