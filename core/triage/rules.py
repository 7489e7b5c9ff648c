"""The triage rule table (docs/clinical-rules.md) as data, checked when it loads.

The rows live in `core/data/triage_rules.toml` so a physician can read them
as written. Loading refuses a table with unknown symptoms or placeholders,
repeated ids, or a gap: a symptom of the vocabulary that, on some day with
some trend, after some protocol, no row covers. A gap would let a reported
symptom fall through to `expected`, which is the failure this module exists
to prevent.

Rows read one finding at a time, or (v2) a pair a nurse reads together: a
symptom row with `together_with` fires only when a partner symptom or a
temperature in its band is reported too. Rows may be limited to protocols.
"""

from __future__ import annotations

import string
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
    model_validator,
)

from core.data_tables import read_table
from core.domain import Disposition, IncidentCategory, Protocol, Trend
from core.triage.vocabulary import SYMPTOM_CODES, in_vocabulary_order

RULES_VERSION: Final = "2026.12-1"
"""Version of the shipped rule table, stored with every triage. Bump it on ANY
change to `core/data/triage_rules.toml` (a test pins the file's hash to it)."""

RULES_FILE: Final = "triage_rules.toml"

NOT_RECORDED: Final = "not_recorded"
"""In a row's `protocols`: the episode's protocol was not given."""

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
    `lower_exclusive`) up to `upper` (inclusive unless `upper_exclusive`);
    a missing bound means no end on that side."""

    lower: float | None
    lower_exclusive: bool = False
    upper: float | None = None
    upper_exclusive: bool = False

    def contains(self, temperature_c: float) -> bool:
        """True when `temperature_c` lies in the band."""
        if self.lower is not None and (
            temperature_c <= self.lower if self.lower_exclusive else temperature_c < self.lower
        ):
            return False
        if self.upper is None:
            return True
        return temperature_c < self.upper if self.upper_exclusive else temperature_c <= self.upper


@dataclass(frozen=True)
class TriageRule:
    """One row of the rule table. Exactly one kind of finding makes it fire:
    listed symptoms (on its days, with its trend, after its protocols, and
    with a partner finding when `together_with` or `together_temperature` is
    set), a temperature band, or `nothing_reported` (fires only when no other
    row did)."""

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
    protocols: frozenset[str] | None = None
    """Protocol values (or NOT_RECORDED) the row applies after; None for all."""
    together_with: frozenset[str] = frozenset()
    together_temperature: TemperatureBand | None = None
    category: IncidentCategory | None = None
    """The incident category this row points to, if any."""

    @property
    def needs_a_partner(self) -> bool:
        """True for a combination row: one finding alone never makes it fire."""
        return bool(self.together_with) or self.together_temperature is not None

    def applies_on(self, day: int, trend: Trend | None, protocol: Protocol | None = None) -> bool:
        """True when the row's days, trend and protocol conditions admit this finding."""
        in_days = self.day_from <= day and (self.day_to is None or day <= self.day_to)
        return in_days and self.trend.admits(trend) and self.admits_protocol(protocol)

    def admits_protocol(self, protocol: Protocol | None) -> bool:
        """True when the row applies after `protocol` (None: not recorded)."""
        if self.protocols is None:
            return True
        return (protocol.value if protocol is not None else NOT_RECORDED) in self.protocols

    def matching_symptoms(
        self,
        symptoms: Iterable[str],
        day: int,
        trend: Trend | None,
        protocol: Protocol | None = None,
    ) -> list[str]:
        """The reported symptoms of the row's own list, in vocabulary order; empty
        if none or if its days, trend or protocol do not apply. A combination row
        also needs its partner: see `partners`."""
        if not self.symptoms or not self.applies_on(day, trend, protocol):
            return []
        return in_vocabulary_order(code for code in symptoms if code in self.symptoms)

    def partners(
        self, symptoms: Iterable[str], temperature_c: float | None
    ) -> tuple[list[str], bool]:
        """The partner symptoms reported, and whether the temperature completes the pair."""
        codes = in_vocabulary_order(code for code in symptoms if code in self.together_with)
        band = self.together_temperature
        warm = band is not None and temperature_c is not None and band.contains(temperature_c)
        return codes, warm


@dataclass(frozen=True)
class LabRule:
    """A lab suggestion for the home physician (never an order)."""

    id: str
    text: str
    """Template with {findings}: the symptoms, temperature or add-on that triggered it."""
    symptoms: frozenset[str] = frozenset()
    temperature_at_least_c: float | None = None
    addons: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    """Rule rows whose firing triggers this suggestion."""
    day_from: int = 0
    day_to: int | None = None

    def applies_on(self, day: int) -> bool:
        """True when the suggestion is for this day since the procedure."""
        return self.day_from <= day and (self.day_to is None or day <= self.day_to)


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
    below: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.at_least is not None and self.above is not None:
            raise ValueError("give at most one of at_least or above")
        if self.at_most is not None and self.below is not None:
            raise ValueError("give at most one of at_most or below")
        band = self.as_band()
        if band.lower is None and band.upper is None:
            raise ValueError("give a bound: at_least or above, and/or at_most or below")
        if band.lower is not None and band.upper is not None and band.upper <= band.lower:
            raise ValueError("the upper bound is not above the lower bound")
        return self

    def as_band(self) -> TemperatureBand:
        lower = self.above if self.above is not None else self.at_least
        upper = self.below if self.below is not None else self.at_most
        return TemperatureBand(
            lower=lower,
            lower_exclusive=self.above is not None,
            upper=upper,
            upper_exclusive=self.below is not None,
        )


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
    protocols: list[str] | None = Field(default=None, min_length=1)
    together_with: list[str] = Field(default_factory=list)
    together_with_temperature_c: _Band | None = None
    category: IncidentCategory | None = None

    @model_validator(mode="after")
    def _one_kind_of_finding(self) -> Self:
        kinds = [bool(self.symptoms), self.temperature_c is not None, self.nothing_reported]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of symptoms, temperature_c, nothing_reported")
        conditions = self.day_from != 0 or self.day_to is not None
        conditions = conditions or self.trend is not TrendCondition.ANY
        conditions = conditions or self.protocols is not None or bool(self.together_with)
        conditions = conditions or self.together_with_temperature_c is not None
        if not self.symptoms and conditions:
            raise ValueError(
                "day_from, day_to, trend, protocols and together_with apply to symptom rows only"
            )
        known = {*Protocol._value2member_map_, NOT_RECORDED}
        for protocol in self.protocols or ():
            if protocol not in known:
                raise ValueError(
                    f"unknown protocol {protocol!r} (known: {', '.join(sorted(known))})"
                )
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
    rules: list[_Id] = Field(default_factory=list)
    day_from: int = Field(default=0, ge=0)
    day_to: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _has_a_trigger(self) -> Self:
        triggers = self.symptoms or self.addons or self.rules
        if not (triggers or self.temperature_at_least_c is not None):
            raise ValueError("give symptoms, temperature_at_least_c, addons or rules")
        if self.day_to is not None and self.day_to < self.day_from:
            raise ValueError("day_to is before day_from")
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
    raw = read_table(_RuleFile, text, f"triage rules {source}")
    rules = tuple(_rule(row, source) for row in raw.rule)
    labs = tuple(_lab(row, source) for row in raw.lab)
    _refuse_repeated_ids([r.id for r in rules], "rule", source)
    _refuse_repeated_ids([lab.id for lab in labs], "lab", source)
    rule_ids = {rule.id for rule in rules}
    for lab in labs:
        for rule_id in sorted(lab.rules - rule_ids):
            raise ValueError(f"triage rules {source}: lab {lab.id}: unknown rule {rule_id!r}")
    if sum(rule.nothing_reported for rule in rules) != 1:
        raise ValueError(f"triage rules {source}: need exactly one nothing_reported rule")
    table = RuleTable(rules=rules, labs=labs, version=version)
    gaps = uncovered(table)
    if gaps:
        code, day, trend, protocol = gaps[0]
        raise ValueError(
            f"triage rules {source}: no rule covers {code} on day {day} with trend "
            f"{trend or 'not given'} after protocol {protocol or 'not recorded'} "
            f"({len(gaps)} gaps in all)"
        )
    return table


@cache
def rule_table() -> RuleTable:
    """The shipped rule table, read and checked once per process."""
    data = resources.files("core") / "data" / RULES_FILE
    return parse_rule_table(data.read_text(encoding="utf-8"), RULES_FILE)


def uncovered(table: RuleTable) -> list[tuple[str, int, Trend | None, Protocol | None]]:
    """Every (symptom, day, trend, protocol) that no single-finding row covers.

    Combination rows do not count: they fire only with a partner. Rows
    change only at their day bounds, so checking every day up to one past the
    last bound covers all days.
    """
    bounds = [rule.day_from for rule in table.rules]
    bounds += [rule.day_to + 1 for rule in table.rules if rule.day_to is not None]
    trends: list[Trend | None] = [None, *Trend]
    protocols: list[Protocol | None] = [None, *Protocol]
    # Only the rows naming a code can cover it: checking those few keeps the
    # load fast enough for the command line's cold start.
    rows_for = {
        code: [r for r in table.rules if code in r.symptoms and not r.needs_a_partner]
        for code in SYMPTOM_CODES
    }
    return [
        (code, day, trend, protocol)
        for code in SYMPTOM_CODES
        for day in range(max(bounds) + 1)
        for trend in trends
        for protocol in protocols
        if not any(rule.applies_on(day, trend, protocol) for rule in rows_for[code])
    ]


def _rule(row: _RuleRow, source: str) -> TriageRule:
    where = f"triage rules {source}: rule {row.id}"
    _check_codes(row.symptoms, where)
    _check_codes(row.together_with, where)
    _check_placeholders(row.text, RULE_PLACEHOLDERS, where)
    band = row.temperature_c
    partner_band = row.together_with_temperature_c
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
        protocols=None if row.protocols is None else frozenset(row.protocols),
        together_with=frozenset(row.together_with),
        together_temperature=None if partner_band is None else partner_band.as_band(),
        category=row.category,
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
        rules=frozenset(row.rules),
        day_from=row.day_from,
        day_to=row.day_to,
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
