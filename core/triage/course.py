"""What is normal on day N: the expected course a coordinator reads before triaging.

Coordinator guidance, not a rule: the patient screen and the top of the
triage form show it for this patient's protocol on the day it is NOW, before
anything is ticked, so a flush on day 2 after microneedling is recognised as
the usual course and a flush after an infusion alone is not.

Sources, in the clinic's words:
- microneedling (alone, with an exosome ampoule, with PRP): the first 72
  hours of flush, mild swelling, pinpoint bruising and tightness; flakiness
  around days 3-4; back to baseline by day 7 for typical responders (the
  editorial guide on what counts as an adverse event versus the expected
  response);
- a new lump or hard area from two weeks to three months is the window of
  delayed granulomas (the case series on nodules after exosome treatment);
- exosome IV: bruising or tenderness at the cannula site; the infusion itself
  brings no facial redness or swelling (the clinic's aftercare guide);
- always: the emergency signs of the aftercare decision rule and the number
  for where the patient is now.

Pure: no database, no screen. `normal_course` is the one public function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from core.countries import emergency_contact
from core.domain import Protocol

FIRST_DAYS: Final = range(0, 4)
"""Days 0-3: flush, mild swelling, pinpoint bruising, tightness or dryness."""
FLAKING_DAYS: Final = range(3, 5)
"""Days 3-4: small flakiness."""
BASELINE_DAY: Final = 7
"""By day 7 the skin is back to baseline for typical responders."""
LUMP_WATCH_DAYS: Final = range(14, 91)
"""Day 14 to month 3 (day 90, the last granuloma-watch check): a new lump is a reason for review."""

EMERGENCY_SIGNS: Final = (
    "fever above 38.5 °C, persistent vomiting, increasing pain, numbness, weakness, "
    "vision changes or confusion, difficulty breathing, chest or throat tightness, "
    "wheezing, palpitations or fainting, hives with dizziness"
)
"""The first tier of the aftercare decision rule, as every message to a patient carries it."""

_MICRONEEDLING = frozenset(
    {Protocol.MICRONEEDLING, Protocol.EXOSOME_IV_MICRONEEDLING, Protocol.PRP}
)
_INFUSION = frozenset({Protocol.EXOSOME_IV, Protocol.EXOSOME_IV_MICRONEEDLING})

PROTOCOL_WORDS: Final = {
    Protocol.EXOSOME_IV: "exosome IV",
    Protocol.MICRONEEDLING: "microneedling",
    Protocol.EXOSOME_IV_MICRONEEDLING: "exosome IV with microneedling",
    Protocol.PRP: "microneedling with PRP",
}
"""Each protocol as a coordinator says it."""


@dataclass(frozen=True)
class NormalCourse:
    """What is normal on one day for one protocol, as lines a coordinator reads."""

    day: int
    """The day it is now (0 = procedure day)."""
    protocol: Protocol | None
    """The episode's protocol; None when it was not recorded."""
    heading: str
    """'What is normal on day 5 after microneedling'."""
    lines: tuple[str, ...]
    """The expected course: what is usual now first, then what to watch for later."""
    emergency: str
    """Always present: the emergency signs and the number to call."""

    @property
    def all_lines(self) -> tuple[str, ...]:
        """Heading, course and emergency line, in reading order."""
        return (self.heading, *self.lines, self.emergency)


def normal_course(
    protocol: Protocol | None, day: int, *, country: str | None = None
) -> NormalCourse:
    """The expected course for `protocol` on `day` (the day it is now), with the emergency line.

    `country` is where the patient is now (ISO alpha-2); the emergency line
    names its number, or says to confirm it when the country is unknown.
    A protocol that was not recorded is said plainly, and the guidance for
    microneedling and for an infusion are both given.
    """
    if day < 0:
        raise ValueError(f"day must be 0 or more (0 = procedure day), got {day}")
    if protocol is None:
        heading = f"What is normal on day {day}: protocol not recorded"
        lines = (
            "Protocol not recorded: ask which treatment the patient had. Both courses follow.",
            *(f"If microneedling: {line}" for line in _microneedling(day)),
            *(f"If exosome IV: {line}" for line in _infusion(day, alone=True)),
        )
    else:
        heading = f"What is normal on day {day} after {PROTOCOL_WORDS[protocol]}"
        lines = (
            *(_microneedling(day) if protocol in _MICRONEEDLING else ()),
            *(
                _infusion(day, alone=protocol not in _MICRONEEDLING)
                if protocol in _INFUSION
                else ()
            ),
        )
    return NormalCourse(
        day=day, protocol=protocol, heading=heading, lines=lines, emergency=_emergency(country)
    )


def _microneedling(day: int) -> tuple[str, ...]:
    lines: list[str] = []
    if day in FIRST_DAYS:
        lines.append(
            "Usual now (days 0-3): pink-to-red flush, mild swelling, pinpoint bruising, "
            "tightness or dryness."
        )
    if day in FLAKING_DAYS:
        lines.append("Usual now (days 3-4): small flakiness.")
    elif day < FLAKING_DAYS.start:
        lines.append("Next: small flakiness around days 3-4.")
    if day < BASELINE_DAY:
        lines.append(f"By day {BASELINE_DAY}: back to baseline for typical responders.")
    else:
        lines.append(
            f"From day {BASELINE_DAY}: back to baseline for typical responders; redness "
            "or swelling that persists beyond seven days is a reason for review."
        )
    if day < LUMP_WATCH_DAYS.start:
        lines.append(
            f"Later (day {LUMP_WATCH_DAYS.start} to month 3): any new lump or hard area at a "
            "treated site is a reason for review."
        )
    elif day in LUMP_WATCH_DAYS:
        lines.append(
            f"Watch now (day {LUMP_WATCH_DAYS.start} to month 3): any new lump or hard area "
            "at a treated site is a reason for review."
        )
    else:
        lines.append(
            "Past month 3: a new lump or hard area at a treated site is still a reason for review."
        )
    return tuple(lines)


def _infusion(day: int, *, alone: bool) -> tuple[str, ...]:
    cannula = (
        "Usual now (first few days): a small bruise or tenderness at the cannula site."
        if day in FIRST_DAYS
        else "Usual for the first few days only: a small bruise or tenderness at the cannula site."
    )
    face = (
        "No facial redness or swelling is expected from the infusion itself."
        if alone
        else "The infusion itself brings no facial redness or swelling; "
        "what the face shows comes from the microneedling."
    )
    return (cannula, face)


def _emergency(country: str | None) -> str:
    # The number first: it is what the coordinator reads out in a hurry.
    if country is None:
        call = (
            "Call the local emergency number now (country not recorded: ask where the patient is)"
        )
    else:
        contact = emergency_contact(country)
        where = (
            contact.country_name
            if contact.known
            else f"mobile fallback; {contact.country_name} is not in the table, confirm the number"
        )
        call = f"Call {contact.numbers_text} now ({where})"
    return f"{call} for: {EMERGENCY_SIGNS}."
