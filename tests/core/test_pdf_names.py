"""The PDF summary as a home physician reads it: both names on the first page and at
the foot of every page, each lot, the zones, no internal codes; printed in Noto
Sans CJK (`fonts-noto-cjk`), and refused in one sentence naming that package
when the font is missing.

The text is read back with pypdf, as any reader's tool would. The font is
read once per process (core.exports.pdf_font), so only the first PDF here
pays for it.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from core.domain import Disposition, IncidentCategory, IncidentOutcome, Seriousness
from core.exports.document import Bullet, BulletList, Document, Heading, Paragraph
from core.exports.formats import render_export
from core.exports.pdf import LOST_CHARACTERS_NOTE, render_pdf
from core.exports.pdf_font import (
    MISSING_FONT,
    PdfFontMissing,
    face_for,
    find_cjk_font,
    font_folders,
)
from core.exports.records import PatientExport
from core.refusals import Refused
from tests.conftest import TEST_NOW
from tests.core.test_exports_summary import CLINIC, EXOSOME, GLUTATHIONE, sample_export

# (language, zone, family, given, own script): the four scripts the clinic's patients write.
PATIENTS = [
    ("ja", "Asia/Tokyo", "Yamamoto", "Sakura", "山本 さくら"),
    ("zh-CN", "Asia/Shanghai", "Wang", "Xiaoming", "王 小明"),
    ("zh-TW", "Asia/Taipei", "Chen", "Meiling", "陳 美玲"),
    ("ko", "Asia/Seoul", "Kim", "Minjun", "김 민준"),
]

FACES = {"ja": "JP", "zh-CN": "SC", "zh-TW": "TC", "ko": "KR"}

# Codes of the workstation that must never reach a home physician.
INTERNAL_CODES = [
    "shortness_of_breath",
    "khidi_escalated",
    "home_physician_contact",
    "no_answer",
    *(
        value.value
        for enum in (Seriousness, Disposition, IncidentCategory, IncidentOutcome)
        for value in enum
        if "_" in value.value
    ),
]


def patient(language: str, zone: str, family: str, given: str, native: str) -> PatientExport:
    """The sample exosome patient (3+ pages) as one of the four, KHIDI escalated."""
    export = sample_export(family_name=family, given_name=given)
    identity = replace(export.identity, native_name=native, language=language, timezone=zone)
    incidents = tuple(
        replace(i, khidi_escalated_on=TEST_NOW.date(), khidi_reference="KHIDI-2026-0042")
        for i in export.incidents
    )
    return replace(export, dossier=replace(export.dossier, identity=identity), incidents=incidents)


def pages(content: bytes) -> list[str]:
    """Each page's text, whitespace collapsed so wrapped lines still match."""
    reader = PdfReader(io.BytesIO(content))
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]


@pytest.mark.parametrize(("language", "zone", "family", "given", "native"), PATIENTS)
def test_both_names_lots_and_zones_with_both_names_at_the_foot_of_every_page(
    language: str, zone: str, family: str, given: str, native: str
) -> None:
    content = render_export("pdf", patient(language, zone, family, given, native), CLINIC)
    texts = pages(content)
    assert len(texts) >= 2
    first = texts[0]
    # Under the title, before anything else: whose record this is.
    assert first.index(native) < first.index("Patient")
    assert first.index(family) < first.index("Patient")
    whole = " ".join(texts)
    assert f"Name in own script: {native}" in whole
    for needle in (EXOSOME.lot_number, GLUTATHIONE.lot_number, zone, "Asia/Seoul"):
        assert needle and needle in whole, needle
    for number, text in enumerate(texts, 1):
        foot = f"{family}, {given} / {native} - AC-000777 - {CLINIC.name}"
        assert text.endswith(f"{foot} - page {number} of {len(texts)}"), (number, text[-120:])
    assert "?" not in first.split("Patient")[0]
    # One collection, one face per region: a Taiwanese name in traditional letterforms.
    resources = cast(DictionaryObject, PdfReader(io.BytesIO(content)).pages[0]["/Resources"])
    fonts = cast(DictionaryObject, resources["/Font"].get_object())
    names = {str(cast(DictionaryObject, f.get_object())["/BaseFont"]) for f in fonts.values()}
    assert any(f"NotoSansCJK{FACES[language]}" in name for name in names), names
    for code in INTERNAL_CODES:
        assert code not in whole, code


def test_the_face_follows_the_language_else_the_script() -> None:
    assert face_for(None, "김 민준") == face_for("ko", "") != face_for("ja", "")
    assert face_for("zh-TW", "") != face_for("zh-CN", "") != face_for("ja", "")
    assert face_for("th", "山本") == face_for("ja", "")


def test_the_same_document_gives_the_same_bytes() -> None:
    document = Document("Summary", (Paragraph("山本 さくら"),), running_names="Yamamoto Sakura")
    first = render_pdf(document, footer="JP-1", created_at=TEST_NOW)
    assert render_pdf(document, footer="JP-1", created_at=TEST_NOW) == first


def test_a_script_outside_the_font_is_said_in_words_and_warned_about() -> None:
    document = Document(
        "Summary",
        (
            Heading("Patient"),
            BulletList(
                (
                    Bullet(
                        "Name in own script: สมชาย ใจดี",
                        print_text="Name in own script: (not printable in this PDF)",
                    ),
                    Bullet("Note: feels better 🙂"),
                )
            ),
        ),
        running_names="Jaidee Somchai",
    )
    text = " ".join(pages(render_pdf(document, footer="TH-1", created_at=TEST_NOW)))
    assert "Name in own script: (not printable in this PDF)" in text
    assert "Note: feels better ?" in text
    assert " ".join(LOST_CHARACTERS_NOTE.split()) in text
    assert "Jaidee Somchai - TH-1 - page 1 of 1" in text


def test_latin_only_text_prints_as_itself_without_a_warning() -> None:
    document = Document("Summary", (Paragraph("José Müller, 38.6 °C – “fine”…"),))
    text = " ".join(pages(render_pdf(document, footer="X-1", created_at=TEST_NOW)))
    assert "José Müller, 38.6 °C – “fine”…" in text
    assert "cannot be printed" not in text


@settings(max_examples=10, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_any_text_renders(text: str) -> None:
    content = render_pdf(Document(text, (Paragraph(text),)), footer=text, created_at=TEST_NOW)
    assert content.startswith(b"%PDF-")


def test_without_the_font_the_export_is_refused_naming_the_package(tmp_path: Path) -> None:
    empty = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_DATA_DIRS": str(tmp_path)}
    with pytest.raises(PdfFontMissing) as refused:
        find_cjk_font(empty)
    assert isinstance(refused.value, Refused)  # every face shows a refusal as one sentence
    assert str(refused.value) == MISSING_FONT
    assert "\n" not in MISSING_FONT and "apt-get install fonts-noto-cjk" in MISSING_FONT


def test_the_font_is_found_where_the_user_put_it(tmp_path: Path) -> None:
    installed = find_cjk_font()
    own = tmp_path / "share" / "fonts" / "mine"
    own.mkdir(parents=True)
    (own / installed.regular.name).symlink_to(installed.regular)
    found = find_cjk_font({"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "share")})
    assert found.regular == own / installed.regular.name
    # Bold is not beside it: the system's is used, else the regular face again.
    assert found.bold in (installed.bold, found.regular)


def test_font_folders_follow_the_xdg_rules() -> None:
    folders = font_folders({"HOME": "/home/k", "XDG_DATA_DIRS": "relative:/opt/share"})
    assert folders == (
        Path("/home/k/.local/share/fonts"),
        Path("/home/k/.fonts"),
        Path("/opt/share/fonts"),
    )
    assert Path("/usr/share/fonts") in font_folders({})
