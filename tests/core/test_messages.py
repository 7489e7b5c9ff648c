"""Aftercare messages: every language, every touchpoint, fallback, injection, validation."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from core.messages import (
    DEFAULT_KEY,
    SUPPORTED_LANGUAGES,
    MessageContext,
    load_catalogue,
    render_message,
    resolve_language,
    validate_catalogue,
)
from core.schedules import builtin_templates

CATALOGUE = load_catalogue()
ALL_KEYS = sorted(CATALOGUE.message_keys())


def _context(
    *, language: str = "en", key: str = "standard.1", photos: bool = True, name: str = "Mika Sato"
) -> MessageContext:
    """A context for `key` ("default" picks a day no template defines)."""
    if key == DEFAULT_KEY:
        template, day = "standard", 45
    else:
        template, _, day_text = key.rpartition(".")
        day = int(day_text)
    return MessageContext(
        patient_name=name,
        language=language,
        template=template,
        day=day,
        procedure_date=date(2026, 11, 20),
        photos_wanted=photos,
        emergency_number="119",
        coordinator_name="Nurse Kim Ji-won",
        clinic_name="Myeongdong Skin Clinic",
    )


def _raw() -> dict[str, dict[str, Any]]:
    """A small valid catalogue as parsed TOML, for validation tests."""
    body = "Hi {patient_name}. {photos_line} {safety_line} {coordinator_name}, {clinic_name}"
    doc: dict[str, Any] = {
        "photos_line": "Photos please.",
        "safety_line": "Call {emergency_number}.",
        "default": {"text": body},
        "standard": {"1": {"text": body}, "3": {"text": body}},
    }
    return {"en": doc, "ja": copy.deepcopy(doc)}


@pytest.mark.parametrize("photos", [True, False])
@pytest.mark.parametrize("key", ALL_KEYS)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_message_renders_completely(language: str, key: str, photos: bool) -> None:
    rendered = render_message(_context(language=language, key=key, photos=photos))
    assert rendered.language == language
    assert not rendered.fell_back
    assert rendered.key == key
    assert "{" not in rendered.text
    assert "}" not in rendered.text
    for value in ("Mika Sato", "119", "Nurse Kim Ji-won", "Myeongdong Skin Clinic", "38.5"):
        assert value in rendered.text
    assert "\n\n\n" not in rendered.text
    assert rendered.text == rendered.text.strip()


def test_every_builtin_touchpoint_has_its_own_message() -> None:
    for template in builtin_templates().values():
        for plan in template.touchpoints:
            assert f"{template.name}.{plan.day}" in CATALOGUE.message_keys()


def test_unknown_touchpoint_uses_default() -> None:
    ctx = replace(_context(), template="custom-admin-template", day=5)
    rendered = render_message(ctx)
    assert rendered.key == DEFAULT_KEY
    assert "day 5" in rendered.text


@pytest.mark.parametrize("language", ["th", "mn", "de", "th-TH", "", "xx-invalid"])
def test_unsupported_language_falls_back_to_english(language: str) -> None:
    rendered = render_message(_context(language=language))
    assert rendered.language == "en"
    assert rendered.fell_back
    assert rendered.text == render_message(_context(language="en")).text


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("ja-JP", "ja"),
        ("JA_jp", "ja"),
        ("en-US", "en"),
        ("ko-KR", "ko"),
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-Hans-HK", "zh"),
        ("zh-SG", "zh"),
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-Hant", "zh-Hant"),
        ("zh-Hant-CN", "zh-Hant"),
    ],
)
def test_language_tags_resolve_by_base_language(tag: str, expected: str) -> None:
    assert resolve_language(tag) == (expected, False)


def test_japanese_tag_renders_japanese() -> None:
    rendered = render_message(_context(language="ja-JP"))
    assert rendered.language == "ja"
    assert not rendered.fell_back
    assert "Mika Sato様" in rendered.text
    assert "2026年11月20日" in rendered.text


def test_procedure_date_is_localised() -> None:
    assert "20 November 2026" in render_message(_context(language="en")).text
    assert "2026년 11월 20일" in render_message(_context(language="ko")).text


@pytest.mark.parametrize(
    "name",
    ["{clinic_name}", "[bold]x[/]", "{0}", "{patient_name.__class__}", "{", "}}{{", "%s"],
)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_patient_name_is_inserted_literally(language: str, name: str) -> None:
    rendered = render_message(_context(language=language, name=name))
    assert name in rendered.text
    # The clinic's real name still appears; the name did not become a placeholder.
    plain = render_message(_context(language=language, name="NAME"))
    assert rendered.text == plain.text.replace("NAME", name)


@pytest.mark.parametrize("key", ALL_KEYS)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_photos_line_only_when_wanted(language: str, key: str) -> None:
    photos_line = CATALOGUE.languages[language].photos_line
    with_photos = render_message(_context(language=language, key=key, photos=True))
    without = render_message(_context(language=language, key=key, photos=False))
    assert photos_line in with_photos.text
    assert photos_line not in without.text
    assert without.text == re.sub(r"\n{3,}", "\n\n", with_photos.text.replace(photos_line, ""))


def test_catalogue_is_cached() -> None:
    assert load_catalogue() is load_catalogue()


def test_every_language_has_the_same_keys_as_english() -> None:
    keys = set(CATALOGUE.languages["en"].messages)
    for language in SUPPORTED_LANGUAGES:
        assert set(CATALOGUE.languages[language].messages) == keys


def test_valid_crafted_catalogue_passes() -> None:
    catalogue = validate_catalogue(_raw())
    assert catalogue.message_keys() == {"default", "standard.1", "standard.3"}


def test_validation_names_missing_keys() -> None:
    raw = _raw()
    del raw["ja"]["standard"]["3"]
    with pytest.raises(ValueError, match=r"ja\.toml.*missing keys standard\.3"):
        validate_catalogue(raw)


def test_validation_names_extra_keys() -> None:
    raw = _raw()
    raw["ja"]["extended"] = {"7": {"text": raw["ja"]["default"]["text"]}}
    with pytest.raises(ValueError, match=r"ja\.toml.*extended\.7"):
        validate_catalogue(raw)


def test_validation_names_unknown_placeholder() -> None:
    raw = _raw()
    raw["ja"]["standard"]["1"]["text"] += " {patient_nmae}"
    with pytest.raises(ValueError, match=r"ja\.toml.*\[standard\.1\].*\{patient_nmae\}"):
        validate_catalogue(raw)


@pytest.mark.parametrize(
    "extra", ["{patient_name.__class__}", "{patient_name!r}", "{day:>5}", "{}", "{0}", "{oops"]
)
def test_validation_refuses_tricky_fields(extra: str) -> None:
    raw = _raw()
    raw["en"]["default"]["text"] += " " + extra
    with pytest.raises(ValueError, match=r"en\.toml.*\[default\]"):
        validate_catalogue(raw)


def test_validation_requires_default() -> None:
    raw = _raw()
    del raw["ja"]["default"]
    with pytest.raises(ValueError, match=r"ja\.toml.*\[default\]"):
        validate_catalogue(raw)


def test_validation_requires_safety_line_in_every_message() -> None:
    raw = _raw()
    raw["en"]["standard"]["1"]["text"] = raw["en"]["standard"]["1"]["text"].replace(
        "{safety_line}", ""
    )
    with pytest.raises(ValueError, match=r"en\.toml.*\[standard\.1\].*\{safety_line\}"):
        validate_catalogue(raw)


def test_validation_requires_emergency_number_in_safety_line() -> None:
    raw = _raw()
    raw["ko"] = copy.deepcopy(raw["en"])
    raw["ko"]["safety_line"] = "Call the local emergency number."
    with pytest.raises(ValueError, match=r"ko\.toml.*emergency_number"):
        validate_catalogue(raw)


def test_validation_refuses_non_numeric_day() -> None:
    raw = _raw()
    raw["en"]["standard"]["week1"] = {"text": raw["en"]["default"]["text"]}
    with pytest.raises(ValueError, match=r"en\.toml.*standard\.week1"):
        validate_catalogue(raw)
