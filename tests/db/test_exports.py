"""Patient exports read from a real database and written with their audit event,
on SQLite and PostgreSQL.

`add_exported_patient` builds the patient the CLI tests export too: a real
triage (fever above 38.5 °C, so an emergency and an incident), two products
with distinctive MFDS references and lots, the exosome as suspect product,
and a hand-written incident entry.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.servicerequest import ServiceRequest
from pypdf import PdfReader
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.config import Settings
from core.domain import Role, Seriousness
from core.exports.formats import ExportKind
from core.exports.labels import SERIOUSNESS_LABELS
from core.incident_log import IncidentFilter, StatusFilter
from db.audit import verify_chain
from db.database import Database
from db.engine import make_session_factory, transaction
from db.exports import load_patient_export
from db.followup import Actor
from db.models import (
    AuditEvent,
    Incident,
    IncidentEntry,
    Patient,
    ProductGiven,
    TreatmentEpisode,
    TriageAssessment,
)
from db.search import find_patient
from tests.bundles import resource_type
from tests.conftest import TEST_NOW
from tests.factories import add_patient, add_staff, add_triaged_patient
from tui.exporting import (
    UnknownPatient,
    render_patient_export,
    save_export,
    save_incidents_csv,
    write_patient_export,
)

FEVER = {"day": 2, "temperature_c": 38.6, "symptoms": ["chills"], "country": "JP"}
EXOSOME_MFDS, EXOSOME_LOT = "MFDS-2024-98765", "LOT-EXO-4417"
GLUTATHIONE_MFDS, GLUTATHIONE_LOT = "MFDS-2020-31337", "GTH-0042"


@dataclass(frozen=True)
class ExportedPatient:
    """Ids and names a test checks the export against."""

    patient_id: int
    code: str
    incident_id: int
    nurse: str
    physician: str


def add_exported_patient(
    engine: Engine, clock: FixedClock, code: str = "AC-000123"
) -> ExportedPatient:
    """A triaged patient with an incident, products and lots (see the module docstring)."""
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.email, doctor.license_ref = "dr.lee@example.com", "KR-MD-777"
        saved = add_triaged_patient(
            session,
            code,
            now=now,
            actor=Actor(nurse.id, nurse.username, nurse.display_name),
            findings=FEVER,
            treating_id=doctor.id,
        )
        assert saved.incident_id is not None
        patient_id = session.scalars(select(Patient.id).where(Patient.code == code)).one()
        episode_id = session.scalars(
            select(TreatmentEpisode.id).where(TreatmentEpisode.patient_id == patient_id)
        ).one()
        exosome = ProductGiven(
            episode_id=episode_id,
            name="ExoRene IV exosome concentrate",
            mfds_reference=EXOSOME_MFDS,
            manufacturer="Seorin Biolabs",
            lot_number=EXOSOME_LOT,
            expiry_date=date(2027, 12, 1),
            dose="5 mL IV",
        )
        glutathione = ProductGiven(
            episode_id=episode_id,
            name="Glutathione injection",
            mfds_reference=GLUTATHIONE_MFDS,
            lot_number=GLUTATHIONE_LOT,
            dose="600 mg IV",
        )
        session.add_all([exosome, glutathione])
        session.flush()
        incident = session.get(Incident, saved.incident_id)
        assert incident is not None
        incident.suspect_product_id = exosome.id
        incident.severity_grade = 2
        session.add(
            IncidentEntry(
                incident_id=incident.id,
                at=now + timedelta(minutes=20),
                staff_id=nurse.id,
                kind="home_physician_contact",
                text="Called Dr Sato in Osaka.",
            )
        )
        return ExportedPatient(
            patient_id, code, incident.id, nurse.display_name, doctor.display_name
        )


@pytest.fixture
def treated(engine: Engine, clock: FixedClock) -> ExportedPatient:
    return add_exported_patient(engine, clock)


@pytest.fixture
def database(engine: Engine) -> Database:
    return Database(engine, make_session_factory(engine))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder for exports (the SQLite file lives in tmp_path itself)."""
    path = tmp_path / "exports"
    path.mkdir()
    return path


SETTINGS = Settings(clinic_name="Gangnam Skin", clinic_contact="+82 2 555 0100")


def _audit_events(engine: Engine) -> list[AuditEvent]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_find_patient_by_code_then_by_id(
    engine: Engine, clock: FixedClock, treated: ExportedPatient
) -> None:
    with transaction(make_session_factory(engine)) as session:
        # A patient whose code looks like the first patient's id: the code wins.
        clash = add_patient(
            session, str(treated.patient_id), procedure_at=clock.now(), created_at=clock.now()
        )
        assert find_patient(session, treated.code) == treated.patient_id
        assert find_patient(session, f"  {treated.code} ") == treated.patient_id
        assert find_patient(session, str(clash.id)) == clash.id
        assert find_patient(session, str(treated.patient_id)) == clash.id
        assert find_patient(session, "AC-999999") is None
        assert find_patient(session, "999999") is None
        assert find_patient(session, "١٢") is None  # Arabic-Indic digits are no id


def test_load_reads_incident_product_touchpoints_and_physician(
    engine: Engine, clock: FixedClock, treated: ExportedPatient
) -> None:
    with make_session_factory(engine)() as session:
        export = load_patient_export(session, treated.patient_id, clock.now())
        assert load_patient_export(session, 999_999, clock.now()) is None
    assert export is not None
    (incident,) = export.incidents
    assert incident.incident_id == treated.incident_id
    assert incident.suspect_product is not None
    assert (incident.suspect_product.mfds_reference, incident.suspect_product.lot_number) == (
        EXOSOME_MFDS,
        EXOSOME_LOT,
    )
    assert incident.severity_grade == 2
    assert [n.kind for n in incident.notes] == ["opened", "home_physician_contact"]
    (episode,) = export.episodes
    assert [p.lot_number for p in episode.products] == [EXOSOME_LOT, GLUTATHIONE_LOT]
    touchpoints = export.episode_touchpoints[episode.episode_id]
    assert [tp.day for tp in touchpoints] == [1, 3, 7, 21]  # the standard template
    physician = export.physicians[episode.episode_id]
    assert (physician.name, physician.email) == (treated.physician, "dr.lee@example.com")


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


@pytest.mark.parametrize("kind", ["summary", "pdf", "fhir"])
def test_write_patient_export_writes_the_file_and_audits_it(
    engine: Engine,
    database: Database,
    clock: FixedClock,
    treated: ExportedPatient,
    folder: Path,
    kind: ExportKind,
) -> None:
    before = len(_audit_events(engine))
    path = write_patient_export(
        database,
        treated.patient_id,
        kind,
        folder,
        actor="rn.kim",
        settings=SETTINGS,
        now=clock.now() + timedelta(hours=1),
    )
    assert path.parent == folder and path.name.startswith(treated.code)
    assert sorted(p.name for p in folder.iterdir()) == [path.name]  # no temporary left
    assert os.stat(path).st_mode & 0o077 == 0
    content = path.read_bytes()
    if kind == "fhir":
        with make_session_factory(engine)() as session:
            incident = session.get(Incident, treated.incident_id)
            assert incident is not None
            seriousness = incident.seriousness
            labs = session.scalars(
                select(TriageAssessment.labs).where(
                    TriageAssessment.patient_id == treated.patient_id
                )
            ).one()
        bundle = Bundle.model_validate_json(content)
        kinds = Counter(resource_type(e) for e in bundle.entry or [])
        # The reaction (a Condition over the triage's findings) comes once the export
        # records carry the triage that opened the incident.
        assert kinds.pop("Condition", 1) == 1
        assert kinds == {
            "Patient": 1,
            "Medication": 2,  # the exosome and the glutathione, each once
            "Procedure": 1,
            "CarePlan": 1,
            "Observation": 3,  # the triage, its chills and its temperature
            "AdverseEvent": 1,
            **({"ServiceRequest": len(labs)} if labs else {}),
        }
        (adverse,) = [
            e.resource for e in bundle.entry or [] if isinstance(e.resource, AdverseEvent)
        ]
        assert adverse.contained is None and adverse.seriousness is not None
        assert adverse.suspectEntity and adverse.suspectEntity[0].instance is not None
        suspect = {e.fullUrl: e.resource for e in bundle.entry or []}[
            adverse.suspectEntity[0].instance.reference
        ]
        assert isinstance(suspect, Medication) and suspect.batch is not None
        assert suspect.batch.lotNumber == EXOSOME_LOT
        assert adverse.seriousness.text == SERIOUSNESS_LABELS[seriousness]
    else:
        text = _pdf_text(content) if kind == "pdf" else content.decode("utf-8")
        for needle in (
            EXOSOME_MFDS,
            EXOSOME_LOT,
            GLUTATHIONE_LOT,
            f"Triage day 2 by {treated.nurse}: emergency",
            f"Incident #{treated.incident_id} opened",
            "Called Dr Sato in Osaka.",
            "How to reach the clinic: +82 2 555 0100",
            f"Treating physician: {treated.physician}",
        ):
            assert needle in text, needle
    events = _audit_events(engine)
    assert len(events) == before + 1
    event = events[-1]
    assert (event.actor, event.entity, event.entity_id) == (
        "rn.kim",
        "patient",
        str(treated.patient_id),
    )
    assert event.action == ("export.fhir" if kind == "fhir" else "export.summary")
    assert event.after == {
        "format": {"summary": "markdown", "pdf": "pdf", "fhir": "fhir-r4-json"}[kind]
    }
    with make_session_factory(engine)() as session:
        assert verify_chain(session).ok


LAB_TEXT = (
    "Systemic symptoms during recovery (chills; temperature 38.6 °C): the home physician "
    "may request a CBC and basic metabolic panel at week 2"
)
NOT_NON_SERIOUS = ("non-serious", "Non-serious", "non_serious", "not_assessed")


def _triage_and_incident_as_stored(
    engine: Engine, treated: ExportedPatient, *, labs: list[dict[str, str]]
) -> None:
    """The exported patient's triage with `labs` as stored, and its incident not yet
    assessed, as a triage opens it until a physician classifies it."""
    with transaction(make_session_factory(engine)) as session:
        triage = session.scalars(
            select(TriageAssessment).where(TriageAssessment.patient_id == treated.patient_id)
        ).one()
        triage.labs = labs
        incident = session.get(Incident, treated.incident_id)
        assert incident is not None
        incident.seriousness = Seriousness.NOT_ASSESSED


def _rendered_text(database: Database, treated: ExportedPatient, kind: ExportKind) -> str:
    content = render_patient_export(
        database, treated.patient_id, kind, settings=SETTINGS, now=TEST_NOW
    ).content
    return _pdf_text(content) if kind == "pdf" else content.decode("utf-8")


@pytest.mark.parametrize("kind", ["summary", "pdf", "fhir"])
def test_an_unassessed_incident_and_stored_labs_reach_the_patient_exports(
    engine: Engine, database: Database, treated: ExportedPatient, kind: ExportKind
) -> None:
    _triage_and_incident_as_stored(
        engine, treated, labs=[{"lab": "cbc_bmp_week_2", "text": LAB_TEXT}]
    )
    text = _rendered_text(database, treated, kind)
    assert "not yet assessed" in text
    for wrong in NOT_NON_SERIOUS:
        assert wrong not in text, wrong
    assert "cbc_bmp_week_2" not in text  # words only, never the lab row's id
    if kind == "fhir":
        bundle = Bundle.model_validate_json(text)
        (event,) = [e.resource for e in bundle.entry or [] if isinstance(e.resource, AdverseEvent)]
        assert event.seriousness is not None
        assert event.seriousness.coding is None
        (proposal,) = [
            e.resource for e in bundle.entry or [] if isinstance(e.resource, ServiceRequest)
        ]
        assert proposal.code is not None
        assert (proposal.intent, proposal.code.text) == ("proposal", LAB_TEXT)
    else:
        assert f"Lab suggestions for the home physician (not orders): {LAB_TEXT}." in text
        assert "Triage outcomes and who decides" in text


@pytest.mark.parametrize("kind", ["summary", "pdf", "fhir"])
def test_a_triage_stored_before_labs_were_kept_still_exports(
    engine: Engine, database: Database, treated: ExportedPatient, kind: ExportKind
) -> None:
    _triage_and_incident_as_stored(engine, treated, labs=[])
    text = _rendered_text(database, treated, kind)
    assert "Lab suggestions" not in text
    if kind != "fhir":
        assert f"Triage day 2 by {treated.nurse}" in text
    else:
        bundle = Bundle.model_validate_json(text)
        kinds = Counter(resource_type(e) for e in bundle.entry or [])
        # The triage, its chills and its temperature; no lab suggestion.
        assert (kinds["Observation"], kinds["ServiceRequest"]) == (3, 0)


def test_the_incidents_csv_says_not_yet_assessed(
    engine: Engine, database: Database, treated: ExportedPatient, folder: Path
) -> None:
    _triage_and_incident_as_stored(engine, treated, labs=[])
    path = folder / "incidents.csv"
    wanted = IncidentFilter(status=StatusFilter.ALL)
    assert save_incidents_csv(database, wanted, path, actor="rn.kim", now=TEST_NOW) == 1
    text = path.read_text(encoding="utf-8")
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["seriousness"] == "not yet assessed"
    for wrong in NOT_NON_SERIOUS:
        assert wrong not in text, wrong


def test_unknown_patient_writes_and_audits_nothing(
    engine: Engine, database: Database, clock: FixedClock, treated: ExportedPatient, folder: Path
) -> None:
    before = len(_audit_events(engine))
    with pytest.raises(UnknownPatient, match="no patient with id 999999"):
        write_patient_export(
            database, 999_999, "pdf", folder, actor="rn.kim", settings=SETTINGS, now=clock.now()
        )
    assert list(folder.iterdir()) == []
    assert len(_audit_events(engine)) == before


def test_a_missing_folder_is_made_owner_only(
    database: Database, clock: FixedClock, treated: ExportedPatient, folder: Path
) -> None:
    target = folder / "nested" / "exports"
    path = write_patient_export(
        database,
        treated.patient_id,
        "fhir",
        target,
        actor="rn.kim",
        settings=SETTINGS,
        now=clock.now(),
    )
    assert path == target / f"{treated.code}-fhir.json" and path.is_file()
    assert os.stat(target).st_mode & 0o077 == 0


def test_a_file_that_cannot_be_written_leaves_no_audit_event(
    engine: Engine, database: Database, clock: FixedClock, treated: ExportedPatient, folder: Path
) -> None:
    before = len(_audit_events(engine))
    # A folder whose name is taken by a file: no directory can be made or written there.
    blocked = folder / "taken"
    blocked.write_text("not a folder")
    with pytest.raises(OSError):
        write_patient_export(
            database,
            treated.patient_id,
            "summary",
            blocked / "exports",
            actor="rn.kim",
            settings=SETTINGS,
            now=clock.now(),
        )
    with pytest.raises(OSError):
        # Past the folder check: the file itself fails inside the audit transaction.
        save_export(
            database,
            render_patient_export(
                database, treated.patient_id, "summary", settings=SETTINGS, now=clock.now()
            ),
            blocked / "summary.md",
            actor="rn.kim",
            now=clock.now(),
        )
    assert len(_audit_events(engine)) == before
    assert sorted(p.name for p in folder.iterdir()) == ["taken"]
