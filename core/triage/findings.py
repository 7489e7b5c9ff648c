"""What the coordinator reports for a triage, validated at the edge.

`parse_triage_input` turns the triage contract's JSON (docs/clinical-rules.md)
into `Findings`, or raises `TriageInputError` whose message is one line
naming the field. It never guesses: a value that is not exactly one of the
allowed forms is refused, because a mistyped temperature or symptom read as
something else could hide an emergency.

Decisions (the clinical rules leave them open):
- `symptoms` is required; `[]` says "nothing reported". A missing list is
  more likely a broken form than a patient with nothing to report.
- `country` may be missing or null: the triage still runs, and the outcome
  shows 112 as the mobile fallback with a warning. Refusing the whole triage
  would hide an emergency disposition for want of a country. A country that
  is given must be a real ISO 3166-1 alpha-2 code (any letter case): "UK" or
  "Japan" is refused rather than read as unknown, which would drop the
  table's known number.
- `day` must be a JSON integer (9, not 9.0 or "9"); `temperature_c` any JSON
  number in 30.0-45.0 °C (a Fahrenheit value is out of range, never converted).
- Repeated keys in the JSON object and NaN or Infinity are refused; repeated
  symptoms are harmless and count once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Final, NoReturn, TypeVar

import pycountry
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from core.domain import Protocol, Trend
from core.plain_text import shown
from core.triage.vocabulary import SYMPTOM_CODES

TEMPERATURE_RANGE_C: Final = (30.0, 45.0)
"""Accepted body temperatures in °C; anything else is a typo or another unit."""

INPUT_FIELD: Final = "input"
"""The field named in errors about the whole input (not JSON, not an object)."""

_ADDON_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


class TriageInputError(ValueError):
    """Triage input that cannot be read without guessing; str() is one line."""

    def __init__(self, field: str, message: str) -> None:
        # A key is the sender's text: echoed with its control characters made
        # visible, so an unknown key holding ESC is not a terminal command.
        field = shown(field)
        super().__init__(f"{field}: {message}")
        self.field = field
        """Where the problem is: 'day', 'symptoms[1]', or 'input' for the whole input."""
        self.message = message
        """What is wrong with it, without the field name."""


_Choice = TypeVar("_Choice", bound=StrEnum)


def _refuse(message: str) -> NoReturn:
    # The message is passed as context, not as the template, so braces in a
    # user's value cannot be read as placeholders.
    raise PydanticCustomError("triage_input", "{message}", {"message": message})


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "true/false"
        case int() | float():
            return "a number"
        case str():
            return "text"
        case list() | tuple() | set() | frozenset():
            return "a list"
        case Mapping():
            return "an object"
    return type(value).__name__


def _day(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _refuse(f"must be a whole number of days (0 = procedure day), got {value!r}")
    if value < 0:
        _refuse(f"must be 0 or more (0 = procedure day), got {value}")
    return value


def _temperature(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _refuse(f"must be a number in °C, got {_json_type(value)}")
    if not math.isfinite(value):
        _refuse(f"must be a finite number in °C, got {value}")
    low, high = TEMPERATURE_RANGE_C
    if not low <= value <= high:
        _refuse(f"{value} is outside {low}-{high} °C")
    return float(value)


def _one_of(kind: type[_Choice], value: object) -> _Choice | None:
    """A stored code of `kind` (a trend, a protocol), or None; any other value is refused."""
    if value is None or isinstance(value, kind):
        return value
    if isinstance(value, str) and value in kind._value2member_map_:
        return kind(value)
    _refuse(f"must be one of {', '.join(kind)} (got {value!r})")


def _trend(value: object) -> Trend | None:
    return _one_of(Trend, value)


def _list(value: object, what: str) -> object:
    # A bare string is refused rather than read as a list of one code.
    if not isinstance(value, list | tuple | set | frozenset):
        _refuse(f"must be a list of {what}, got {_json_type(value)}")
    return value


def _symptoms(value: object) -> object:
    return _list(value, "symptom codes ([] when nothing is reported)")


def _symptom(value: object) -> str:
    if not isinstance(value, str):
        _refuse(f"must be a symptom code, got {_json_type(value)}")
    if value not in SYMPTOM_CODES:
        _refuse(f"unknown symptom {value!r} (known: {', '.join(SYMPTOM_CODES)})")
    return value


def _country(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{2}", value):
        code = value.upper()
        try:
            known = pycountry.countries.get(alpha_2=code) is not None
        except (KeyError, LookupError):  # older pycountry raised instead of returning None
            known = False
        if known:
            return code
    # "UK" is the one non-ISO code coordinators type often; name the right one.
    hint = "the United Kingdom is GB" if value in ("UK", "uk") else "e.g. JP, GB, US"
    _refuse(f"{value!r} is not an ISO 3166-1 alpha-2 country code ({hint})")


def _protocol(value: object) -> Protocol | None:
    return _one_of(Protocol, value)


def _addons(value: object) -> object:
    return () if value is None else _list(value, "add-on codes")


def _addon(value: object) -> str:
    if not isinstance(value, str) or not _ADDON_CODE.fullmatch(value):
        _refuse(f"must be an add-on code like 'glutathione_high_dose', got {value!r}")
    return value


_Symptom = Annotated[str, BeforeValidator(_symptom)]
_Addon = Annotated[str, BeforeValidator(_addon)]


class Findings(BaseModel):
    """One triage's findings: what the patient reports on a given day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: Annotated[int, BeforeValidator(_day)]
    """Whole days since the procedure, 0 = procedure day."""
    temperature_c: Annotated[float | None, BeforeValidator(_temperature)] = None
    """Body temperature in °C, 30.0-45.0, or None when not measured."""
    trend: Annotated[Trend | None, BeforeValidator(_trend)] = None
    """How the reported symptoms are changing, or None when not said."""
    symptoms: Annotated[frozenset[_Symptom], BeforeValidator(_symptoms)]
    """Codes from the vocabulary; empty when nothing is reported."""
    country: Annotated[str | None, BeforeValidator(_country)] = None
    """ISO 3166-1 alpha-2 code of where the patient is now; None when not recorded."""
    protocol: Annotated[Protocol | None, BeforeValidator(_protocol)] = None
    """The episode's protocol, as recorded."""
    addons: Annotated[tuple[_Addon, ...], BeforeValidator(_addons)] = Field(default=())
    """Add-on infusion codes as recorded on the episode, e.g. 'glutathione_high_dose'."""


FIELDS: Final[tuple[str, ...]] = tuple(Findings.model_fields)
"""The top-level keys the triage contract accepts, in contract order."""


def parse_triage_input(raw: object) -> Findings:
    """Validate one triage input: JSON text (str or bytes) or an already-decoded mapping.

    Raises TriageInputError naming the first field that is wrong (unknown keys
    first, since a misspelt key usually explains a "required" one).
    """
    data = _decode(raw) if isinstance(raw, str | bytes | bytearray) else raw
    if not isinstance(data, Mapping):
        raise TriageInputError(INPUT_FIELD, f"must be one JSON object, got {_json_type(data)}")
    try:
        return Findings.model_validate(dict(data))
    except ValidationError as exc:
        raise _first_problem(exc) from None


def _decode(raw: str | bytes | bytearray) -> object:
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TriageInputError(INPUT_FIELD, f"not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise TriageInputError(INPUT_FIELD, "empty; expected one JSON object")
    try:
        return json.loads(text, object_pairs_hook=_no_repeated_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise TriageInputError(
            INPUT_FIELD,
            f"not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg.lower()})",
        ) from None


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise TriageInputError(key, "given twice")
        result[key] = value
    return result


def _no_constant(name: str) -> NoReturn:
    raise TriageInputError(INPUT_FIELD, f"not valid JSON ({name} is not a number JSON allows)")


def _first_problem(exc: ValidationError) -> TriageInputError:
    errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
    error = errors[0]
    loc = error["loc"]
    field = str(loc[0]) if loc else INPUT_FIELD
    field += "".join(f"[{part}]" for part in loc[1:])
    if error["type"] == "missing":
        return TriageInputError(field, "required")
    if error["type"] == "extra_forbidden":
        return TriageInputError(field, f"unknown field (known: {', '.join(FIELDS)})")
    return TriageInputError(field, str(error["msg"]))
