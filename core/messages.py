"""Aftercare check-in messages, one per touchpoint, in the patient's language.

The wording is data: one TOML file per language in `core/data/messages/`
(`en.toml`, `ja.toml`, `zh.toml` for simplified Chinese, `zh-Hant.toml` for
traditional Chinese, `ko.toml`), so a coordinator or translator can read and
correct it without touching code. Each file holds:

- `date_format`: how `{procedure_date}` is written (fields `{year}`, `{month}`,
  `{day}`, `{month_name}`; English month names, never the server's locale);
- `photos_line`: the sentence asking for photos, used when a touchpoint wants them;
- `safety_line`: the emergency sentence, with `{emergency_number}`; it is written
  once per language and every message must place it, so a wording fix cannot
  miss a message and no message can go out without it;
- `[default]` and one table per touchpoint, `[<template>.<day>]`, each with `text`.

The catalogue is validated when it loads: unknown or malformed placeholders,
a missing `[default]`, a message without the safety line, and languages whose
keys differ from English all raise `ValueError` naming the file and key.

Patient-written values (a name) are passed to `str.format_map` as values, never
formatted themselves, so braces or markup in a name are inserted literally.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

# Language codes as the catalogue files are named. zh is simplified Chinese
# (also used for zh-Hans, zh-CN, zh-SG); zh-Hant is traditional (zh-TW, zh-HK, zh-MO).
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ja", "zh", "zh-Hant", "ko")
FALLBACK_LANGUAGE = "en"
DEFAULT_KEY = "default"

# Placeholders a message text may use. `safety_line` is the localised emergency
# sentence from the same file, already filled in with the emergency number.
MESSAGE_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "patient_name",
        "day",
        "procedure_date",
        "emergency_number",
        "coordinator_name",
        "clinic_name",
        "photos_line",
        "safety_line",
    }
)
# Every message must carry these: who it is for, how to get emergency help,
# where photos go when wanted, and who sent it.
REQUIRED_IN_MESSAGE: frozenset[str] = frozenset(
    {"patient_name", "safety_line", "photos_line", "coordinator_name", "clinic_name"}
)
SAFETY_PLACEHOLDERS: frozenset[str] = frozenset({"emergency_number"})
DATE_PLACEHOLDERS: frozenset[str] = frozenset({"year", "month", "day", "month_name"})
DEFAULT_DATE_FORMAT = "{year}-{month:02d}-{day:02d}"

_SETTINGS = frozenset({"date_format", "photos_line", "safety_line"})
_MESSAGE_FIELDS = frozenset({"text"})
_TRADITIONAL_CHINESE_REGIONS = frozenset({"tw", "hk", "mo"})
# English month names are fixed here rather than taken from the locale, which
# depends on the server's settings.
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class MessageContext:
    """Everything needed to write one touchpoint's message to one patient."""

    patient_name: str
    language: str
    template: str
    day: int
    procedure_date: date
    photos_wanted: bool
    emergency_number: str
    coordinator_name: str
    clinic_name: str


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to paste into the patient's messenger."""

    text: str
    language: str
    fell_back: bool
    key: str


@dataclass(frozen=True)
class LanguagePack:
    """One language's validated messages and shared sentences."""

    language: str
    date_format: str
    photos_line: str
    safety_line: str
    messages: Mapping[str, str]


@dataclass(frozen=True)
class Catalogue:
    """All languages, each with the same message keys as English."""

    languages: Mapping[str, LanguagePack]

    def message_keys(self) -> frozenset[str]:
        """The message keys (`default` and `<template>.<day>`), identical in every language."""
        return frozenset(self.languages[FALLBACK_LANGUAGE].messages)


def resolve_language(tag: str) -> tuple[str, bool]:
    """Map a language tag to a catalogue language; True when it fell back to English.

    Tags are matched by base language ("ja-JP" -> ja). Chinese picks the script:
    an explicit Hant/Hans subtag wins, else Taiwan, Hong Kong and Macau mean
    traditional characters and everything else simplified.
    """
    subtags = tag.strip().replace("_", "-").lower().split("-")
    base = subtags[0]
    if base == "zh":
        rest = subtags[1:]
        if "hant" in rest:
            return "zh-Hant", False
        if "hans" not in rest and any(s in _TRADITIONAL_CHINESE_REGIONS for s in rest):
            return "zh-Hant", False
        return "zh", False
    if base in SUPPORTED_LANGUAGES:
        return base, False
    return FALLBACK_LANGUAGE, True


def format_date(value: date, date_format: str) -> str:
    """Write a date with a catalogue `date_format`."""
    return date_format.format_map(
        {
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "month_name": _MONTH_NAMES[value.month - 1],
        }
    )


def render_message(ctx: MessageContext, catalogue: Catalogue | None = None) -> RenderedMessage:
    """The message for one touchpoint, or the language's `default` when none is written.

    Unsupported languages get English with `fell_back=True`, so the coordinator
    can see the patient will need a translation.
    """
    cat = catalogue if catalogue is not None else load_catalogue()
    language, fell_back = resolve_language(ctx.language)
    pack = cat.languages[language]
    key = f"{ctx.template}.{ctx.day}"
    if key not in pack.messages:
        key = DEFAULT_KEY
    template = pack.messages[key]
    if not ctx.photos_wanted:
        # Remove the placeholder from the template (ours), not from the result,
        # so the tidy-up never touches what the patient wrote.
        template = _tidy(_drop_field(template, "photos_line"))
    safety = pack.safety_line.format_map({"emergency_number": ctx.emergency_number})
    values: dict[str, str] = {
        "patient_name": ctx.patient_name,
        "day": str(ctx.day),
        "procedure_date": format_date(ctx.procedure_date, pack.date_format),
        "emergency_number": ctx.emergency_number,
        "coordinator_name": ctx.coordinator_name,
        "clinic_name": ctx.clinic_name,
        "photos_line": pack.photos_line if ctx.photos_wanted else "",
        "safety_line": safety,
    }
    # Only the validated template is parsed for fields; the values, including
    # the patient's name, are inserted as they are.
    text = template.format_map(values)
    return RenderedMessage(text=text, language=language, fell_back=fell_back, key=key)


@cache
def load_catalogue() -> Catalogue:
    """Read and validate the shipped catalogue once per process."""
    folder = resources.files("core") / "data" / "messages"
    raw: dict[str, dict[str, Any]] = {}
    for language in SUPPORTED_LANGUAGES:
        entry = folder / f"{language}.toml"
        if not entry.is_file():
            raise ValueError(f"message catalogue: {language}.toml is missing")
        try:
            raw[language] = tomllib.loads(entry.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"message catalogue {language}.toml: {exc}") from exc
    return validate_catalogue(raw)


def validate_catalogue(raw: Mapping[str, Mapping[str, Any]]) -> Catalogue:
    """Check parsed TOML (language -> document) and build the catalogue.

    Raises `ValueError` naming the file and key for: a missing `[default]`,
    an unknown, positional or formatted placeholder, unbalanced braces, a
    message missing a required placeholder, a missing shared sentence, or a
    language whose message keys differ from English.
    """
    if FALLBACK_LANGUAGE not in raw:
        raise ValueError(f"message catalogue: {FALLBACK_LANGUAGE}.toml is required")
    packs = {language: _parse_language(language, doc) for language, doc in raw.items()}
    expected = set(packs[FALLBACK_LANGUAGE].messages)
    for language, pack in packs.items():
        found = set(pack.messages)
        if found != expected:
            problems = []
            if missing := sorted(expected - found):
                problems.append(f"missing keys {', '.join(missing)}")
            if extra := sorted(found - expected):
                problems.append(f"keys not in {FALLBACK_LANGUAGE}.toml {', '.join(extra)}")
            raise ValueError(f"message catalogue {language}.toml: {'; '.join(problems)}")
    return Catalogue(languages=MappingProxyType(packs))


def _parse_language(language: str, doc: Mapping[str, Any]) -> LanguagePack:
    """Validate one language file."""
    source = f"{language}.toml"
    messages: dict[str, str] = {}
    for name, value in doc.items():
        if name in _SETTINGS:
            if not isinstance(value, str):
                raise ValueError(f"message catalogue {source}: {name} must be a string")
        elif not isinstance(value, Mapping):
            raise ValueError(f"message catalogue {source}: unknown setting {name!r}")
        elif name == DEFAULT_KEY:
            messages[DEFAULT_KEY] = _message_text(source, DEFAULT_KEY, value)
        else:
            for day, table in value.items():
                # TOML keys are strings; "07" and "7" must not become two messages.
                if not (isinstance(day, str) and day.isascii() and day.isdigit()):
                    raise ValueError(
                        f"message catalogue {source}: [{name}.{day}] day must be a whole number"
                    )
                key = f"{name}.{int(day)}"
                if key in messages:
                    raise ValueError(f"message catalogue {source}: [{key}] is defined twice")
                if not isinstance(table, Mapping):
                    raise ValueError(f"message catalogue {source}: [{key}] must be a table")
                messages[key] = _message_text(source, key, table)
    if DEFAULT_KEY not in messages:
        raise ValueError(f"message catalogue {source}: [{DEFAULT_KEY}] message is missing")
    for key, text in messages.items():
        used = _placeholders(text, source, key, MESSAGE_PLACEHOLDERS, allow_spec=False)
        if missing := sorted(REQUIRED_IN_MESSAGE - used):
            raise ValueError(
                f"message catalogue {source}: [{key}] must use "
                + ", ".join("{" + name + "}" for name in missing)
            )
    safety_line = _setting(doc, source, "safety_line")
    if not _placeholders(safety_line, source, "safety_line", SAFETY_PLACEHOLDERS, False):
        raise ValueError(f"message catalogue {source}: safety_line must use {{emergency_number}}")
    photos_line = _setting(doc, source, "photos_line")
    # The photos sentence is inserted as a value, so braces in it would show literally.
    _placeholders(photos_line, source, "photos_line", frozenset(), allow_spec=False)
    date_format = str(doc.get("date_format", DEFAULT_DATE_FORMAT))
    _placeholders(date_format, source, "date_format", DATE_PLACEHOLDERS, allow_spec=True)
    try:
        format_date(date(2000, 1, 1), date_format)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"message catalogue {source}: date_format: {exc}") from exc
    return LanguagePack(
        language=language,
        date_format=date_format,
        photos_line=photos_line.strip(),
        safety_line=safety_line.strip(),
        messages=MappingProxyType(messages),
    )


def _message_text(source: str, key: str, table: Mapping[str, Any]) -> str:
    """The `text` of one message table, tidied."""
    if unknown := sorted(set(table) - _MESSAGE_FIELDS):
        raise ValueError(f"message catalogue {source}: [{key}] unknown field {', '.join(unknown)}")
    text = table.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"message catalogue {source}: [{key}] needs a non-empty text")
    return _tidy(text)


def _setting(doc: Mapping[str, Any], source: str, name: str) -> str:
    """A required shared sentence of a language file."""
    value = doc.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"message catalogue {source}: {name} is missing")
    return value


def _placeholders(
    text: str, source: str, key: str, allowed: frozenset[str], allow_spec: bool
) -> set[str]:
    """Names of the fields in `text`, refusing anything but plain known names.

    Attribute or index access (`{patient_name.__class__}`) and conversions are
    refused because the template is the only thing ever formatted.
    """
    used: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"message catalogue {source}: [{key}] {exc}") from exc
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in allowed:
            raise ValueError(f"message catalogue {source}: [{key}] unknown placeholder {{{field}}}")
        if conversion is not None or (spec and not allow_spec):
            raise ValueError(
                f"message catalogue {source}: [{key}] placeholder {{{field}}} "
                "must not have a conversion or format"
            )
        used.add(field)
    return used


def _drop_field(template: str, name: str) -> str:
    """The template with every `{name}` removed and other fields and escapes kept."""
    parts: list[str] = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is not None and field != name:
            parts.append("{" + field + "}")
    return "".join(parts)


def _tidy(text: str) -> str:
    """Trim line ends, collapse runs of blank lines and outer whitespace."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        line = line.rstrip()
        if not line and lines and not lines[-1]:
            continue
        lines.append(line)
    return "\n".join(lines)
