"""The triage rule table: DOMAIN.md section 4 as data, checked when it loads.

The rows live in `core/data/triage_rules.toml` so a physician can read them
as written. Loading refuses a table with unknown symptoms or placeholders,
repeated ids, or a gap: a symptom of the vocabulary that, on some day with
some trend, no row covers. A gap would let a reported symptom fall through
to `expected`, which is the failure this module exists to prevent.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Annotated, Final, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from core.domain import Disposition, Trend
from core.triage.vocabulary import SYMPTOM_CODES, in_vocabulary_order

RULES_VERSION: Final = "2026.11-1"
"""Version of the shipped rule table, stored with every triage. Bump it on ANY
change to `core/data/triage_rules.toml` (a test pins the file's hash to it)."""

RULES_FILE: Final = "triage_rules.toml"

RULE_PLACEHOLDERS: Final = frozenset({"symptoms", "day", "temperature"})
LAB_PLACEHOLDERS: Final = frozenset({"findings"})

_Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class TrendCondition(StrEnum):
    """Which reported trends a rule row applies to."""

    ANY = "any"
    WORSENING = "worsening"
    NOT_WORSENING = "not_worsening"
    """Improving, stable, or no trend given."""

    def admits(self, trend: Trend | None) -> bool:
        """True when a finding with `trend` meets this condition."""
        if self is TrendCondition.ANY:
            return True
        return (trend is Trend.WORSENING) == (self is TrendCondition.WORSENING)


@dataclass(frozen=True)
class TemperatureBand:
    """A band of body temperature in °C: from `lower` (inclusive unless
    `lower_exclusive`) up to `upper` inclusive, or without end."""

    lower: float
    lower_exclusive: bool = False
    upper: float | None = None

    def contains(self, temperature_c: float) -> bool:
        """True when `temperature_c` lies in the band."""
        above_lower = (
            temperature_c > self.lower if self.lower_exclusive else temperature_c >= self.lower
        )
        return above_lower and (self.upper is None or temperature_c <= self.upper)


@dataclass(frozen=True)
class TriageRule:
    """One row of the rule table. Exactly one kind of finding makes it fire:
    listed symptoms (on its days, with its trend), a temperature band, or
    `nothing_reported` (fires only when no other row did)."""

    id: str
    disposition: Disposition
    source: str
    text: str
    """Template with {symptoms}, {day} and {temperature}."""
    symptoms: frozenset[str] = frozenset()
    day_from: int = 0
    day_to: int | None = None
    """Last day the row applies, inclusive; None for no end."""
    trend: TrendCondition = TrendCondition.ANY
    temperature: TemperatureBand | None = None
    nothing_reported: bool = False

    def applies_on(self, day: int, trend: Trend | None) -> bool:
        """True when the row's day range and trend condition admit this finding."""
        in_days = self.day_from <= day and (self.day_to is None or day <= self.day_to)
        return in_days and self.trend.admits(trend)

    def matching_symptoms(
        self, symptoms: Iterable[str], day: int, trend: Trend | None
    ) -> list[str]:
        """The reported symptoms this row fires on, in vocabulary order; empty if none."""
        if not self.symptoms or not self.applies_on(day, trend):
            return []
        return in_vocabulary_order(code for code in symptoms if code in self.symptoms)


@dataclass(frozen=True)
class LabRule:
    """A lab suggestion for the home physician (never an order)."""

    id: str
    text: str
    """Template with {findings}: the symptoms, temperature or add-on that triggered it."""
    symptoms: frozenset[str] = frozenset()
    temperature_at_least_c: float | None = None
    addons: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RuleTable:
    """The validated rule table, rows in file order."""

    rules: tuple[TriageRule, ...]
    labs: tuple[LabRule, ...]
    version: str


class _Band(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at_least: float | None = None
    above: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_lower_bound(self) -> Self:
        if (self.at_least is None) == (self.above is None):
            raise ValueError("give exactly one of at_least or above")
        if self.at_most is not None and self.at_most < self.as_band().lower:
            raise ValueError("at_most is below the lower bound")
        return self

    def as_band(self) -> TemperatureBand:
        if self.at_least is not None:
            return TemperatureBand(lower=self.at_least, upper=self.at_most)
        assert self.above is not None  # the validator demands one lower bound
        return TemperatureBand(lower=self.above, lower_exclusive=True, upper=self.at_most)


class _RuleRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: _Id
    disposition: Disposition
    source: _Text
    text: _Text
    symptoms: list[str] = Field(default_factory=list)
    day_from: int = Field(default=0, ge=0)
    day_to: int | None = Field(default=None, ge=0)
    trend: TrendCondition = TrendCondition.ANY
    temperature_c: _Band | None = None
    nothing_reported: bool = False

    @model_validator(mode="after")
    def _one_kind_of_finding(self) -> Self:
        kinds = [bool(self.symptoms), self.temperature_c is not None, self.nothing_reported]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of symptoms, temperature_c, nothing_reported")
        day_or_trend = self.day_from != 0 or self.day_to is not None
        day_or_trend = day_or_trend or self.trend is not TrendCondition.ANY
        if not self.symptoms and day_or_trend:
            raise ValueError("day_from, day_to and trend apply to symptom rows only")
        if self.day_to is not None and self.day_to < self.day_from:
            raise ValueError("day_to is before day_from")
        return self


class _LabRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: _Id
    text: _Text
    symptoms: list[str] = Field(default_factory=list)
    temperature_at_least_c: float | None = None
    addons: list[_Id] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_a_trigger(self) -> Self:
        if not (self.symptoms or self.addons or self.temperature_at_least_c is not None):
            raise ValueError("give symptoms, temperature_at_least_c or addons")
        return self


class _RuleFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: list[_RuleRow] = Field(min_length=1)
    lab: list[_LabRow] = Field(default_factory=list)


def parse_rule_table(text: str, source: str, version: str = RULES_VERSION) -> RuleTable:
    """Parse and check the TOML text of a rule table; `source` names it in errors.

    Raises ValueError on malformed TOML, a malformed row, an unknown symptom
    or placeholder, a repeated id, or a vocabulary symptom that some day and
    trend leave uncovered by every row.
    """
    try:
        raw = _RuleFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"triage rules {source}: malformed TOML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"triage rules {source}: {where}: {first['msg']}") from exc
    rules = tuple(_rule(row, source) for row in raw.rule)
    labs = tuple(_lab(row, source) for row in raw.lab)
    _refuse_repeated_ids([r.id for r in rules], "rule", source)
    _refuse_repeated_ids([lab.id for lab in labs], "lab", source)
    if sum(rule.nothing_reported for rule in rules) != 1:
        raise ValueError(f"triage rules {source}: need exactly one nothing_reported rule")
    table = RuleTable(rules=rules, labs=labs, version=version)
    gaps = uncovered(table)
    if gaps:
        code, day, trend = gaps[0]
        raise ValueError(
            f"triage rules {source}: no rule covers {code} on day {day} with trend "
            f"{trend or 'not given'} ({len(gaps)} gaps in all)"
        )
    return table


@cache
def rule_table() -> RuleTable:
    """The shipped rule table, read and checked once per process."""
    data = resources.files("core") / "data" / RULES_FILE
    return parse_rule_table(data.read_text(encoding="utf-8"), RULES_FILE)


def uncovered(table: RuleTable) -> list[tuple[str, int, Trend | None]]:
    """Every (symptom, day, trend) that no symptom row of `table` covers.

    Rows change only at their day bounds, so checking every day up to one
    past the last bound covers all days.
    """
    bounds = [rule.day_from for rule in table.rules]
    bounds += [rule.day_to + 1 for rule in table.rules if rule.day_to is not None]
    trends: list[Trend | None] = [None, *Trend]
    return [
        (code, day, trend)
        for code in SYMPTOM_CODES
        for day in range(max(bounds) + 1)
        for trend in trends
        if not any(rule.matching_symptoms((code,), day, trend) for rule in table.rules)
    ]


def _rule(row: _RuleRow, source: str) -> TriageRule:
    where = f"triage rules {source}: rule {row.id}"
    _check_codes(row.symptoms, where)
    _check_placeholders(row.text, RULE_PLACEHOLDERS, where)
    band = row.temperature_c
    return TriageRule(
        id=row.id,
        disposition=row.disposition,
        source=row.source,
        text=row.text,
        symptoms=frozenset(row.symptoms),
        day_from=row.day_from,
        day_to=row.day_to,
        trend=row.trend,
        temperature=None if band is None else band.as_band(),
        nothing_reported=row.nothing_reported,
    )


def _lab(row: _LabRow, source: str) -> LabRule:
    where = f"triage rules {source}: lab {row.id}"
    _check_codes(row.symptoms, where)
    _check_placeholders(row.text, LAB_PLACEHOLDERS, where)
    return LabRule(
        id=row.id,
        text=row.text,
        symptoms=frozenset(row.symptoms),
        temperature_at_least_c=row.temperature_at_least_c,
        addons=frozenset(row.addons),
    )


def _check_codes(codes: list[str], where: str) -> None:
    for code in codes:
        if code not in SYMPTOM_CODES:
            raise ValueError(f"{where}: unknown symptom {code!r}")


def _check_placeholders(text: str, allowed: frozenset[str], where: str) -> None:
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError as exc:
        raise ValueError(f"{where}: malformed text: {exc}") from exc
    for field in fields:
        if field not in allowed:
            raise ValueError(f"{where}: unknown placeholder {{{field}}}")


def _refuse_repeated_ids(ids: list[str], kind: str, source: str) -> None:
    seen: set[str] = set()
    for rule_id in ids:
        if rule_id in seen:
            raise ValueError(f"triage rules {source}: {kind} id {rule_id!r} is used twice")
        seen.add(rule_id)
