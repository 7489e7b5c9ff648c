"""Aftercare check-in messages and the emergency script, in the patient's language.

The wording is data: one TOML file per language in `core/data/messages/`
(`en.toml`, `ja.toml`, `zh.toml` for simplified Chinese, `zh-Hant.toml` for
traditional Chinese, `ko.toml`), so a coordinator or translator can read and
correct it without touching code.

Every message carries the clinic's three tiers of advice, in this order and in
plain words, so no message can go out without them:

1. `call_now`: call the local emergency number now (fever above 38.5 °C,
   persistent vomiting, increasing pain, numbness, weakness, vision changes or
   confusion, breathing difficulty, chest or throat tightness, wheezing,
   palpitations or fainting, hives with dizziness);
2. `message_us`: message the clinic right away, and see a local doctor today if
   the clinic has not replied within a few hours (pus, red streaks, spreading
   warmth or redness, fever 38.0-38.5 °C, hives or swelling beyond the treated
   area, a new lump or hard area);
3. `reply_when`: reply when it suits you, followed by the touchpoint's own
   questions, which are the only part each message writes itself.

Each language file holds those shared sentences and:

- `date_format`: how `{procedure_date}` is written (fields `{year}`, `{month}`,
  `{day}`, `{month_name}`; English month names, never the server's locale);
- `numbers_format` (`{number}`, `{alternatives}`) and `list_separator`: how
  "999 or 112" is written in that language, so a Japanese text never carries an
  English "(or 112)";
- `unknown_country_line` (`{emergency_number}`): said after `call_now` when the
  country the patient is in is not in the clinic's table and 112 is the mobile
  fallback;
- `photos_line`: the sentence asking for photos, used when a touchpoint wants them;
- `iv_site_question`: the question about the place the drip went in, a line of
  its own, kept only for a patient who had an infusion (exosome IV or an add-on
  infusion);
- `emergency_script` (`{emergency_number}`): the short text the coordinator
  sends from the triage form's emergency banner;
- `[default]` and one table per touchpoint, `[<template>.<day>]`, each with `text`.

`{day}` is the day it is now for the patient (the procedure date in Seoul to
today's date where the patient is), never the touchpoint's planned day: a day-7
message sent on day 9 says day 9.

The catalogue is validated when it loads: unknown or malformed placeholders,
a missing `[default]`, a message without one of the tiers or with the tiers out
of order, and languages whose keys differ from English all raise `ValueError`
naming the file and key.

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

import pycountry

from core.countries import EmergencyContact
from core.plain_text import shown

# Language codes as the catalogue files are named. zh is simplified Chinese
# (also used for zh-Hans, zh-CN, zh-SG); zh-Hant is traditional (zh-TW, zh-HK, zh-MO).
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ja", "zh", "zh-Hant", "ko")
FALLBACK_LANGUAGE = "en"
DEFAULT_KEY = "default"

# Placeholders a message text may use. The tier sentences come from the same
# file, already filled in with the emergency number.
MESSAGE_PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "patient_name",
        "day",
        "procedure_date",
        "coordinator_name",
        "clinic_name",
        "photos_line",
        "call_now",
        "message_us",
        "reply_when",
        "iv_site_question",
    }
)
# Every message must carry these: who it is for, the day it is now, the three
# tiers, where photos go when wanted, and who sent it.
REQUIRED_IN_MESSAGE: frozenset[str] = frozenset(
    {
        "patient_name",
        "day",
        "call_now",
        "message_us",
        "reply_when",
        "photos_line",
        "coordinator_name",
        "clinic_name",
    }
)
# The tiers, most urgent first: a patient reading from the top meets the
# emergency advice before anything else.
TIER_ORDER: tuple[str, ...] = ("call_now", "message_us", "reply_when")
DATE_PLACEHOLDERS: frozenset[str] = frozenset({"year", "month", "day", "month_name"})
DEFAULT_DATE_FORMAT = "{year}-{month:02d}-{day:02d}"

# Shared sentences: name -> (placeholders allowed, placeholders required).
_NUMBER = frozenset({"emergency_number"})
_SENTENCES: Mapping[str, tuple[frozenset[str], frozenset[str]]] = MappingProxyType(
    {
        "call_now": (_NUMBER, _NUMBER),
        "unknown_country_line": (_NUMBER, _NUMBER),
        "message_us": (frozenset(), frozenset()),
        "reply_when": (frozenset(), frozenset()),
        "photos_line": (frozenset(), frozenset()),
        "iv_site_question": (frozenset(), frozenset()),
        "emergency_script": (_NUMBER, _NUMBER),
        "numbers_format": (
            frozenset({"number", "alternatives"}),
            frozenset({"number", "alternatives"}),
        ),
    }
)
_OPTIONAL_SETTINGS = frozenset({"date_format", "list_separator"})
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
    """The patient's language tag as recorded ("ja", "zh-TW", "th")."""
    template: str
    touchpoint_day: int
    """The touchpoint's planned day: picks the message (`<template>.<touchpoint_day>`)."""
    day: int
    """The day it is now for the patient: what the message says."""
    procedure_date: date
    photos_wanted: bool
    infusion: bool
    """The patient had an infusion (exosome IV or an add-on drip): ask about the IV site."""
    emergency: EmergencyContact
    """The emergency number for the country the patient is in now."""
    coordinator_name: str
    clinic_name: str


@dataclass(frozen=True)
class RenderedMessage:
    """A message ready to paste into the patient's messenger."""

    text: str
    language: str
    fell_back: bool
    """True when the patient's language has no catalogue and the text is English."""
    key: str
    fallback_notice: str | None = None
    """For the coordinator, before sending: which language has no catalogue."""


@dataclass(frozen=True)
class EmergencyScript:
    """What to send a patient who must call emergency services, for a messenger chat."""

    text: str
    """In the patient's language (English when it has no catalogue)."""
    english: str
    """The same advice in English, so the coordinator can read what is sent."""
    language: str
    """The catalogue language of `text`."""
    fell_back: bool
    """True when the patient's language has no catalogue and `text` is English."""
    number: str
    """The number the patient is told to call first."""


@dataclass(frozen=True)
class LanguagePack:
    """One language's validated messages and shared sentences."""

    language: str
    date_format: str
    list_separator: str
    sentences: Mapping[str, str]
    messages: Mapping[str, str]

    @property
    def photos_line(self) -> str:
        """The sentence asking for photos."""
        return self.sentences["photos_line"]


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


def language_name(tag: str) -> str:
    """The English name of a language tag ("th-TH" -> "Thai"); the tag itself if unknown."""
    base = tag.strip().replace("_", "-").split("-")[0].lower()
    record: Any = None
    if len(base) in (2, 3) and base.isascii() and base.isalpha():
        try:
            key = "alpha_2" if len(base) == 2 else "alpha_3"
            record = pycountry.languages.get(**{key: base})
        except (KeyError, LookupError):  # older pycountry raised instead of returning None
            record = None
    if record is None:
        return tag.strip()
    return str(record.name).removesuffix(" (macrolanguage)")


def fallback_notice(tag: str) -> str | None:
    """What to tell the coordinator before an English fallback goes out, or None.

    "No Thai catalogue: the message will be in English."
    """
    if not resolve_language(tag)[1]:
        return None
    if not tag.strip():
        return "No language is recorded for this patient: the message will be in English."
    return f"No {language_name(tag)} catalogue: the message will be in English."


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


def emergency_numbers(pack: LanguagePack, contact: EmergencyContact) -> str:
    """The numbers to call as written in `pack`'s language: '999 (or 112)', '999（または112）'."""
    if not contact.alternatives:
        return contact.number
    return pack.sentences["numbers_format"].format_map(
        {"number": contact.number, "alternatives": pack.list_separator.join(contact.alternatives)}
    )


def _call_now(pack: LanguagePack, contact: EmergencyContact, sentence: str) -> str:
    """A sentence naming the local number, then the unknown-country warning if needed."""
    numbers = emergency_numbers(pack, contact)
    text = pack.sentences[sentence].format_map({"emergency_number": numbers})
    if not contact.known:
        warning = pack.sentences["unknown_country_line"]
        text = f"{text}\n{warning.format_map({'emergency_number': numbers})}"
    return text


def render_message(ctx: MessageContext, catalogue: Catalogue | None = None) -> RenderedMessage:
    """The message for one touchpoint, or the language's `default` when none is written.

    Unsupported languages get English with `fell_back=True` and a
    `fallback_notice` the coordinator must see before sending.
    """
    cat = catalogue if catalogue is not None else load_catalogue()
    language, fell_back = resolve_language(ctx.language)
    pack = cat.languages[language]
    key = f"{ctx.template}.{ctx.touchpoint_day}"
    if key not in pack.messages:
        key = DEFAULT_KEY
    template = pack.messages[key]
    # Remove optional placeholders from the template (ours), not from the
    # result, so the tidy-up never touches what the patient wrote.
    if not ctx.photos_wanted:
        template = _drop_field(template, "photos_line")
    if not ctx.infusion:
        template = _drop_field(template, "iv_site_question")
    template = _tidy(template)
    values: dict[str, str] = {
        # Names are stored text: any control character an old record still holds
        # is written visibly, never sent or shown as terminal control (core.plain_text).
        "patient_name": shown(ctx.patient_name),
        "day": str(ctx.day),
        "procedure_date": format_date(ctx.procedure_date, pack.date_format),
        "coordinator_name": shown(ctx.coordinator_name),
        "clinic_name": shown(ctx.clinic_name),
        "photos_line": pack.sentences["photos_line"],
        "call_now": _call_now(pack, ctx.emergency, "call_now"),
        "message_us": pack.sentences["message_us"],
        "reply_when": pack.sentences["reply_when"],
        "iv_site_question": pack.sentences["iv_site_question"],
    }
    # Only the validated template is parsed for fields; the values, including
    # the patient's name, are inserted as they are.
    text = template.format_map(values)
    return RenderedMessage(
        text=text,
        language=language,
        fell_back=fell_back,
        key=key,
        fallback_notice=fallback_notice(ctx.language),
    )


def emergency_script(
    language: str, contact: EmergencyContact, catalogue: Catalogue | None = None
) -> EmergencyScript:
    """The emergency advice to send now, in the patient's language and in English.

    Short enough for one messenger bubble: it names the local number (with the
    112 fallback warning when the country is unknown), tells the patient not to
    wait for the clinic's reply, and says the clinic stays in the conversation.
    """
    cat = catalogue if catalogue is not None else load_catalogue()
    resolved, fell_back = resolve_language(language)
    english = _call_now(cat.languages[FALLBACK_LANGUAGE], contact, "emergency_script")
    text = _call_now(cat.languages[resolved], contact, "emergency_script")
    return EmergencyScript(
        text=text, english=english, language=resolved, fell_back=fell_back, number=contact.number
    )


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
    message missing a required placeholder or with the tiers out of order, a
    missing shared sentence, or a language whose message keys differ from English.
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
        if name in _SENTENCES or name in _OPTIONAL_SETTINGS:
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
        _check_message(text, source, key)
    sentences: dict[str, str] = {}
    for name, (allowed, required) in _SENTENCES.items():
        value = _setting(doc, source, name)
        used = _placeholders(value, source, name, allowed, allow_spec=False)
        if missing := sorted(required - used):
            raise ValueError(
                f"message catalogue {source}: {name} must use "
                + ", ".join("{" + field + "}" for field in missing)
            )
        sentences[name] = value.strip()
    date_format = str(doc.get("date_format", DEFAULT_DATE_FORMAT))
    _placeholders(date_format, source, "date_format", DATE_PLACEHOLDERS, allow_spec=True)
    try:
        format_date(date(2000, 1, 1), date_format)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"message catalogue {source}: date_format: {exc}") from exc
    return LanguagePack(
        language=language,
        date_format=date_format,
        list_separator=str(doc.get("list_separator", ", ")),
        sentences=MappingProxyType(sentences),
        messages=MappingProxyType(messages),
    )


def _check_message(text: str, source: str, key: str) -> None:
    """Placeholders known and complete, tiers in order, optional lines on lines of their own."""
    used = _placeholders(text, source, key, MESSAGE_PLACEHOLDERS, allow_spec=False)
    if missing := sorted(REQUIRED_IN_MESSAGE - used):
        raise ValueError(
            f"message catalogue {source}: [{key}] must use "
            + ", ".join("{" + name + "}" for name in missing)
        )
    positions = [text.index("{" + tier + "}") for tier in TIER_ORDER]
    if positions != sorted(positions):
        raise ValueError(
            f"message catalogue {source}: [{key}] must give the tiers in the order "
            + ", ".join("{" + tier + "}" for tier in TIER_ORDER)
        )
    # Optional lines are removed whole, so each must stand alone on its line.
    for optional in ("photos_line", "iv_site_question"):
        field = "{" + optional + "}"
        if field in text and any(
            field in line and line.strip() != field for line in text.splitlines()
        ):
            raise ValueError(
                f"message catalogue {source}: [{key}] {field} must be on a line of its own"
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
    """The template without the lines that hold `{name}` (validated to stand alone)."""
    field = "{" + name + "}"
    return "\n".join(line for line in template.splitlines() if line.strip() != field)


def _tidy(text: str) -> str:
    """Trim line ends, collapse runs of blank lines and outer whitespace."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        line = line.rstrip()
        if not line and lines and not lines[-1]:
            continue
        lines.append(line)
    return "\n".join(lines)
