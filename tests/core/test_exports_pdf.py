"""The PDF summary: its text reads back with the products, lots and timeline (names,
fonts and scripts: tests/core/test_pdf_names.py)."""

from __future__ import annotations

import io
from datetime import timedelta

from pypdf import PdfReader

from core.domain import Seriousness
from core.exports.formats import render_export
from core.exports.pdf import LOST_CHARACTERS_NOTE
from tests.conftest import TEST_NOW
from tests.core.test_exports_summary import CLINIC, LAB_TEXT, sample_export


def pdf_text(content: bytes) -> str:
    """All the PDF's text with whitespace collapsed, so wrapped lines still match."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def test_pdf_text_has_products_lots_and_timeline() -> None:
    content = render_export("pdf", sample_export(), CLINIC)
    assert content.startswith(b"%PDF-")
    text = pdf_text(content)
    for needle in (
        "ExoRene IV exosome concentrate",
        "MFDS-2024-98765",
        "LOT-EXO-4417",
        "Glutathione injection",
        "GTH-0042",
        "Triage day 2 by Kim RN: emergency",
        "Incident #9 opened: chills (found at the day 2 triage)",
        "Day 1 check-in (standard)",
        "Called Dr Sato in Osaka.",
        "How to reach the clinic: +82 2 0000 0000",
    ):
        assert needle in text, needle
    triage_at = TEST_NOW - timedelta(hours=2)
    assert f"{triage_at:%d %b %Y} 13:00 Asia/Seoul, UTC+9" in text
    # Latin-1 text survives as itself: nothing was lost, so no warning.
    assert "38.6 °C" in text
    assert LOST_CHARACTERS_NOTE.split(" (")[0] not in text


def test_pdf_has_the_lab_suggestions_and_who_decides() -> None:
    text = pdf_text(render_export("pdf", sample_export(), CLINIC))
    assert f"Lab suggestions for the home physician (not orders): {LAB_TEXT}." in text
    assert "Triage outcomes and who decides" in text
    assert "Local emergency services decide" in text


def test_pdf_of_an_old_triage_without_labs_renders() -> None:
    text = pdf_text(render_export("pdf", sample_export(labs=()), CLINIC))
    assert "Triage day 2 by Kim RN: emergency" in text
    assert "Lab suggestions" not in text


def test_pdf_says_an_unassessed_incident_is_not_yet_assessed() -> None:
    export = sample_export(seriousness=Seriousness.NOT_ASSESSED)
    text = pdf_text(render_export("pdf", export, CLINIC))
    assert "Seriousness (ICH E2A): not yet assessed by a physician" in text
    for wrong in ("non-serious", "Non-serious", "non_serious"):
        assert wrong not in text, wrong


def test_every_page_is_labelled_with_the_patient_code() -> None:
    reader = PdfReader(io.BytesIO(render_export("pdf", sample_export(), CLINIC)))
    pages = len(reader.pages)
    assert pages >= 2
    for number, page in enumerate(reader.pages, 1):
        assert f"AC-000777 - {CLINIC.name} - page {number} of {pages}" in page.extract_text()
