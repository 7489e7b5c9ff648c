"""Regenerate docs/summary-ja.png and docs/summary-en.png: the first page of the PDF
summary a home physician receives, for a Japanese and an English-speaking patient.

The patients are the invented demo data (`aftercare demo`), the PDF is rendered by
the product's own export, and poppler's `pdftoppm` (Debian: poppler-utils) turns
the first page into a PNG; the PDFs are kept beside them as docs/summary-*.pdf
only when --keep-pdf is given.

Usage: .venv/bin/python docs/make_summary_samples.py [--keep-pdf]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exists, select

from core.config import Settings
from db.database import initialise_database, open_database
from db.demo import load_demo
from db.engine import make_session_factory, transaction
from db.models import Incident, Patient
from tui.exporting import render_patient_export

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
DOCS = Path(__file__).parent
RESOLUTION = 60  # dots per inch: legible in the README, well under 200 KB


def main() -> None:
    keep_pdf = "--keep-pdf" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'demo.db'}"
        initialise_database(url)
        database = open_database(url)
        load_demo(database.engine, patients=200, seed=7, now=NOW)
        settings = Settings(
            database_url=url,
            clinic_name="Example Regenerative Clinic",
            clinic_contact="+82 2 555 0100, care@example-clinic.kr",
        )
        for language, name in (("ja", "summary-ja"), ("en", "summary-en")):
            patient_id = _patient_with_an_incident(database.engine, language)
            rendered = render_patient_export(
                database, patient_id, "pdf", settings=settings, now=NOW
            )
            pdf = Path(scratch) / f"{name}.pdf"
            pdf.write_bytes(rendered.content)
            subprocess.run(
                [
                    "pdftoppm",
                    "-png",
                    "-r",
                    str(RESOLUTION),
                    "-f",
                    "1",
                    "-l",
                    "1",
                    "-singlefile",
                    str(pdf),
                    str(DOCS / name),
                ],
                check=True,
            )
            if keep_pdf:
                (DOCS / f"{name}.pdf").write_bytes(rendered.content)
            size = (DOCS / f"{name}.png").stat().st_size
            print(
                f"{name}.png: patient {rendered.patient_code}, PDF {len(rendered.content)} "
                f"bytes, PNG {size} bytes"
            )
        database.close()


def _patient_with_an_incident(engine: object, language: str) -> int:
    """The first demo patient of `language` with an incident: the summary shows the most."""
    from sqlalchemy import Engine

    assert isinstance(engine, Engine)
    with transaction(make_session_factory(engine)) as session:
        query = (
            select(Patient.id)
            .where(Patient.language == language)
            .where(exists().where(Incident.patient_id == Patient.id))
            .order_by(Patient.id)
        )
        found = session.scalars(query.limit(1)).first()
        if found is None:
            raise SystemExit(f"no demo patient of language {language!r} with an incident")
        if language == "ja":
            # The demo names no one in their own script: this one gets an invented pair.
            patient = session.get_one(Patient, found)
            patient.family_name, patient.given_name = "Yamamoto", "Sakura"
            patient.native_name = "山本 さくら"
    return found


if __name__ == "__main__":
    main()
