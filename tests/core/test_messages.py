"""Aftercare messages: every language, every touchpoint, the three tiers, the local
emergency number in the patient's language, fallback, injection, validation; and the
emergency script for the triage form."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from core.countries import EmergencyContact, emergency_contact
from core.messages import (
    DEFAULT_KEY,
    SUPPORTED_LANGUAGES,
    MessageContext,
    emergency_script,
    fallback_notice,
    language_name,
    load_catalogue,
    render_message,
    resolve_language,
    validate_catalogue,
)
from core.schedules import builtin_templates

CATALOGUE = load_catalogue()
ALL_KEYS = sorted(CATALOGUE.message_keys())


JAPAN = emergency_contact("JP")  # 119
BRITAIN = emergency_contact("GB")  # 999, also 112
NOWHERE = emergency_contact("XK")  # not in the table: the 112 mobile fallback

# The tier sentences of each language, as a patient reads them.
TIER_WORDS = {
    "en": ("Call the local emergency number", "Message us right away", "Reply when it suits you"),
    "ja": ("今すぐ現地の救急番号", "すぐにこちらへメッセージ", "ご都合のよいときにお答えください"),
    "ko": ("지금 바로 현지 응급 번호", "바로 저희에게 메시지", "편하실 때 답해 주세요"),
    "zh": ("请立即拨打当地急救电话", "请马上给我们发消息", "方便的时候请回复我们"),
    "zh-Hant": ("請立即撥打當地緊急救護電話", "請馬上傳訊息給我們", "方便的時候請回覆我們"),
}
# The IV-site question of each language.
IV_WORDS = {
    "en": "where the drip went in",
    "ja": "点滴をした部分",
    "ko": "수액 주사를 맞은 자리",
    "zh": "打点滴的地方",
    "zh-Hant": "打點滴的地方",
}
# "The local emergency number is 999 or 112" as each language writes it.
BRITISH_NUMBERS = {
    "en": "999 (or 112)",
    "ja": "999（または112）",
    "ko": "999(또는 112)",
    "zh": "999（或112）",
    "zh-Hant": "999（或112）",
}
# The unknown-country warning of each language.
UNKNOWN_COUNTRY_WORDS = {
    "en": "could not confirm the emergency number",
    "ja": "救急番号を確認できていません",
    "ko": "응급 번호를 확인하지 못했습니다",
    "zh": "无法确认您目前所在国家的急救电话",
    "zh-Hant": "無法確認您目前所在國家的緊急救護電話",
}
# How each language says "today is day 9".
DAY_NINE = {
    "en": "Today is day 9 ",
    "ja": "今日は施術日（2026年11月20日）から9日目",
    "ko": "오늘은 시술(2026년 11월 20일) 후 9일째",
    "zh": "后的第9天",
    "zh-Hant": "後的第9天",
}


def _context(
    *,
    language: str = "en",
    key: str = "standard.1",
    photos: bool = True,
    name: str = "Mika Sato",
    infusion: bool = True,
    emergency: EmergencyContact = JAPAN,
    day: int | None = None,
) -> MessageContext:
    """A context for `key` ("default" picks a day no template defines); `day` is today."""
    if key == DEFAULT_KEY:
        template, touchpoint_day = "standard", 45
    else:
        template, _, day_text = key.rpartition(".")
        touchpoint_day = int(day_text)
    return MessageContext(
        patient_name=name,
        language=language,
        template=template,
        touchpoint_day=touchpoint_day,
        day=touchpoint_day if day is None else day,
        procedure_date=date(2026, 11, 20),
        photos_wanted=photos,
        infusion=infusion,
        emergency=emergency,
        coordinator_name="Nurse Kim Ji-won",
        clinic_name="Myeongdong Skin Clinic",
    )


BODY = (
    "Hi {patient_name}, day {day}. {call_now} {message_us} {reply_when}\n{iv_site_question}\n"
    "{photos_line}\n{coordinator_name}, {clinic_name}"
)


def _raw() -> dict[str, dict[str, Any]]:
    """A small valid catalogue as parsed TOML, for validation tests."""
    doc: dict[str, Any] = {
        "numbers_format": "{number} (or {alternatives})",
        "call_now": "Call {emergency_number} now.",
        "unknown_country_line": "{emergency_number} is the mobile fallback.",
        "message_us": "Message us.",
        "reply_when": "Reply when it suits you:",
        "iv_site_question": "- IV site?",
        "photos_line": "Photos please.",
        "emergency_script": "Call {emergency_number} now.",
        "default": {"text": BODY},
        "standard": {"1": {"text": BODY}, "3": {"text": BODY}},
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


@pytest.mark.parametrize("key", ALL_KEYS)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_message_carries_the_three_tiers_in_order(language: str, key: str) -> None:
    text = render_message(_context(language=language, key=key)).text
    positions = [text.find(words) for words in TIER_WORDS[language]]
    assert -1 not in positions, positions
    assert positions == sorted(positions)
    # Tier 1 names the number to call; tier 1 and 2 carry the two fever thresholds.
    assert text.find("119") < positions[1]
    assert text.find("38.5") < positions[1] < text.find("38.0") < positions[2]


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_tiers_name_every_sign_of_the_clinic_rule(language: str) -> None:
    """The English tiers list every sign; the translations are checked by count."""
    pack = CATALOGUE.languages["en"]
    call_now = pack.sentences["call_now"]
    for sign in [
        "fever above 38.5 °C",
        "vomiting",
        "pain that keeps getting worse",
        "numbness",
        "weakness",
        "eyesight",
        "confusion",
        "difficulty breathing",
        "tightness in your chest or throat",
        "wheezing",
        "racing or pounding heart",
        "fainting",
        "hives with dizziness",
    ]:
        assert sign in call_now, sign
    message_us = pack.sentences["message_us"]
    for sign in [
        "pus",
        "red streaks",
        "warmth or redness that spreads",
        "38.0 to 38.5 °C",
        "hives or swelling beyond the treated area",
        "new lump or hard area",
        "see a local doctor today if we have not replied within a few hours",
    ]:
        assert sign in message_us, sign
    # Every translation lists as many signs, separated by its own list mark.
    other = CATALOGUE.languages[language].sentences
    separator = {"en": ", ", "ja": "、", "ko": ", ", "zh": "、", "zh-Hant": "、"}[language]
    assert other["call_now"].count(separator) >= 10
    assert other["message_us"].count(separator) >= 5


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_number_is_written_in_the_patients_language(language: str) -> None:
    for key in ALL_KEYS:
        text = render_message(_context(language=language, key=key, emergency=BRITAIN)).text
        assert BRITISH_NUMBERS[language] in text
        if language != "en":
            assert "(or" not in text  # never the English fallback string


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_unknown_country_gives_112_with_a_warning_in_the_patients_language(
    language: str,
) -> None:
    assert not NOWHERE.known
    for key in ALL_KEYS:
        text = render_message(_context(language=language, key=key, emergency=NOWHERE)).text
        assert "112" in text
        assert UNKNOWN_COUNTRY_WORDS[language] in text
        # Said with the emergency tier, before the patient reads anything else.
        assert text.find(UNKNOWN_COUNTRY_WORDS[language]) < text.find(TIER_WORDS[language][1])
    known = render_message(_context(language=language)).text
    assert UNKNOWN_COUNTRY_WORDS[language] not in known


@pytest.mark.parametrize("key", ALL_KEYS)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_iv_site_question_only_after_an_infusion(language: str, key: str) -> None:
    question = CATALOGUE.languages[language].sentences["iv_site_question"]
    without = render_message(_context(language=language, key=key, infusion=False)).text
    assert IV_WORDS[language] not in without  # microneedling alone: no IV site to ask about
    with_drip = render_message(_context(language=language, key=key, infusion=True)).text
    if question in with_drip:
        # The question is a whole line, removed without leaving a gap in the list.
        assert without == with_drip.replace(question + "\n", "").replace("\n" + question, "")


def test_iv_site_question_is_asked_in_the_first_days() -> None:
    for key in ("default", "standard.1", "standard.3", "extended.7"):
        for language in SUPPORTED_LANGUAGES:
            text = render_message(_context(language=language, key=key, infusion=True)).text
            assert IV_WORDS[language] in text, (language, key)


@pytest.mark.parametrize("key", ALL_KEYS)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_message_says_the_day_it_is_now(language: str, key: str) -> None:
    text = render_message(_context(language=language, key=key, day=9)).text
    assert DAY_NINE[language] in text


def test_a_late_message_does_not_claim_the_touchpoints_day() -> None:
    text = render_message(_context(key="standard.7", day=10)).text
    assert "day 10" in text
    assert "week" not in text.lower()  # "it's been a week" would be wrong on day 10
    text = render_message(_context(key="standard.3", day=5)).text
    assert "day 5" in text and "day 3" not in text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_no_message_claims_anything_about_results(language: str) -> None:
    results = {
        "en": ["result"],
        "ja": ["仕上がり", "効果"],
        "ko": ["결과", "효과"],
        "zh": ["效果", "结果"],
        "zh-Hant": ["效果", "結果"],
    }[language]
    for key in ALL_KEYS:
        text = render_message(_context(language=language, key=key)).text.lower()
        for word in results:
            assert word not in text, (key, word)


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
    assert rendered.fallback_notice is not None
    assert rendered.fallback_notice.endswith("the message will be in English.")


@pytest.mark.parametrize(
    ("tag", "notice"),
    [
        ("th", "No Thai catalogue: the message will be in English."),
        ("th-TH", "No Thai catalogue: the message will be in English."),
        ("mn", "No Mongolian catalogue: the message will be in English."),
        ("ms", "No Malay catalogue: the message will be in English."),
        ("xx-invalid", "No xx-invalid catalogue: the message will be in English."),
        ("", "No language is recorded for this patient: the message will be in English."),
        ("ja", None),
        ("zh-TW", None),
        ("en-GB", None),
    ],
)
def test_fallback_notice_names_the_language(tag: str, notice: str | None) -> None:
    assert fallback_notice(tag) == notice
    assert render_message(_context(language=tag)).fallback_notice == notice


def test_language_name() -> None:
    assert language_name("th-TH") == "Thai"
    assert language_name("ja") == "Japanese"
    assert language_name("zh-Hant") == "Chinese"


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


@pytest.mark.parametrize("tier", ["call_now", "message_us", "reply_when", "day"])
def test_validation_requires_every_tier_and_the_day_in_every_message(tier: str) -> None:
    raw = _raw()
    raw["en"]["standard"]["1"]["text"] = BODY.replace("{" + tier + "}", "")
    with pytest.raises(ValueError, match=r"en\.toml.*\[standard\.1\].*\{" + tier + r"\}"):
        validate_catalogue(raw)


def test_validation_requires_the_tiers_in_order() -> None:
    raw = _raw()
    raw["ja"]["default"]["text"] = BODY.replace(
        "{call_now} {message_us}", "{message_us} {call_now}"
    )
    with pytest.raises(ValueError, match=r"ja\.toml.*\[default\].*order"):
        validate_catalogue(raw)


def test_validation_requires_optional_lines_to_stand_alone() -> None:
    raw = _raw()
    raw["en"]["default"]["text"] = BODY.replace("\n{iv_site_question}\n", " {iv_site_question}\n")
    with pytest.raises(ValueError, match=r"en\.toml.*\[default\].*iv_site_question.*own"):
        validate_catalogue(raw)


@pytest.mark.parametrize("sentence", ["call_now", "unknown_country_line", "emergency_script"])
def test_validation_requires_emergency_number_in_emergency_sentences(sentence: str) -> None:
    raw = _raw()
    raw["ko"] = copy.deepcopy(raw["en"])
    raw["ko"][sentence] = "Call the local emergency number."
    with pytest.raises(ValueError, match=rf"ko\.toml.*{sentence}.*emergency_number"):
        validate_catalogue(raw)


def test_validation_requires_every_shared_sentence() -> None:
    raw = _raw()
    del raw["ja"]["message_us"]
    with pytest.raises(ValueError, match=r"ja\.toml.*message_us is missing"):
        validate_catalogue(raw)


def test_validation_refuses_non_numeric_day() -> None:
    raw = _raw()
    raw["en"]["standard"]["week1"] = {"text": raw["en"]["default"]["text"]}
    with pytest.raises(ValueError, match=r"en\.toml.*standard\.week1"):
        validate_catalogue(raw)


# --- the emergency script for the triage form's emergency banner -------------------


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_emergency_script_in_the_patients_language_and_english(language: str) -> None:
    script = emergency_script(language, BRITAIN)
    assert script.language == language
    assert not script.fell_back
    assert script.number == "999"
    assert BRITISH_NUMBERS[language] in script.text
    assert "999 (or 112)" in script.english
    assert script.english == emergency_script("en", BRITAIN).text
    if language != "en":
        assert "(or" not in script.text


@pytest.mark.parametrize("language", [*SUPPORTED_LANGUAGES, "th"])
def test_emergency_script_is_short_and_not_a_phone_call(language: str) -> None:
    script = emergency_script(language, JAPAN)
    # One messenger bubble, not a call script.
    assert len(script.text) <= 400
    assert len(script.english) <= 400
    for phrase in ("hang up", "stay on the line", "on the phone with"):
        assert phrase not in script.english.lower()
    assert "119" in script.text


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_emergency_script_for_an_unknown_country_warns(language: str) -> None:
    script = emergency_script(language, NOWHERE)
    assert script.number == "112"
    assert UNKNOWN_COUNTRY_WORDS[language] in script.text
    assert UNKNOWN_COUNTRY_WORDS["en"] in script.english


def test_emergency_script_falls_back_to_english() -> None:
    script = emergency_script("th-TH", JAPAN)
    assert script.fell_back
    assert script.language == "en"
    assert script.text == script.english
