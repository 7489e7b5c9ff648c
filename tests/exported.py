"""Patient CSV rows and patient exports as text, for tests of the import and the exports."""

from __future__ import annotations

import io
from datetime import datetime

from pypdf import PdfReader
from sqlalchemy import Engine

from core.config import Settings
from core.exports.formats import ExportKind
from core.patient_import import COLUMNS
from db.database import Database
from db.engine import make_session_factory
from tui.exporting import render_patient_export

EXPORT_SETTINGS = Settings(clinic_name="Gangnam Skin", clinic_contact="+82 2 555 0100")


def patient_csv_values(code: str, **changes: str) -> dict[str, str]:
    """One row of the patient CSV, every required column filled, `changes` on top
    (`procedure_at` has no default: each test dates its own procedure)."""
    values = {
        "code": code,
        "family_name": "Tanaka",
        "given_name": "Yuki",
        "birth_date": "1985-04-02",
        "home_country": "JP",
        "current_country": "JP",
        "language": "ja",
        "timezone": "Asia/Tokyo",
        "channel": "line",
        "channel_handle": f"line:{code.lower()}",
        "phone": "+81 90 1234 5678",
        "email": "",
        "protocol": "microneedling",
        "schedule": "standard",
    }
    values.update(changes)
    if "procedure_at" not in values:
        raise TypeError("a patient CSV row needs procedure_at")
    return values


def patient_csv_line(code: str, **changes: str) -> str:
    """That row as one line, in the columns' order."""
    values = patient_csv_values(code, **changes)
    return ",".join(values[c] for c in COLUMNS)


def export_text(engine: Engine, now: datetime, patient_id: int, kind: ExportKind) -> str:
    """What a home physician would read: the export's text, a PDF read back with pypdf."""
    database = Database(engine, make_session_factory(engine))
    content = render_patient_export(
        database, patient_id, kind, settings=EXPORT_SETTINGS, now=now
    ).content
    if kind == "pdf":
        reader = PdfReader(io.BytesIO(content))
        return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())
    return content.decode("utf-8")
