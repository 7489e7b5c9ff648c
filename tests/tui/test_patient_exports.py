"""Exports from the patient screen (`e` summary, `f` FHIR), driven by Pilot."""

from __future__ import annotations

from pathlib import Path

from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader
from sqlalchemy import Engine, select

from core.clock import FixedClock
from db.database import Database
from db.engine import make_session_factory
from db.followup import find_actor
from db.models import AuditEvent
from tests.bundles import resource_type
from tests.db.test_exports import EXOSOME_LOT, add_exported_patient
from tests.tui.pilot import settle, workstation
from tui.app import AftercareApp


def _app(engine: Engine, clock: FixedClock, folder: Path, *, read_only: bool) -> AftercareApp:
    database = Database(engine, make_session_factory(engine))
    with database.sessions() as session:
        actor = None if read_only else find_actor(session, "rn.kim")
    return workstation(
        engine,
        clock,
        actor,
        login="guest" if read_only else "rn.kim",
        run_dispatcher=False,
        export_dir=str(folder),
    )


async def test_e_and_f_write_the_summary_pdf_and_fhir_and_audit_each(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    patient = add_exported_patient(engine, clock)
    folder = tmp_path / "exports"
    app = _app(engine, clock, folder, read_only=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_patient(patient.patient_id)
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
    names = sorted(path.name for path in folder.iterdir())
    assert names == [
        f"{patient.code}-fhir.json",
        f"{patient.code}-summary.md",
        f"{patient.code}-summary.pdf",
    ], names
    markdown = (folder / f"{patient.code}-summary.md").read_text(encoding="utf-8")
    assert EXOSOME_LOT in markdown
    pdf_text = "".join(
        page.extract_text() for page in PdfReader(folder / f"{patient.code}-summary.pdf").pages
    )
    assert EXOSOME_LOT in pdf_text
    bundle = Bundle.model_validate_json((folder / f"{patient.code}-fhir.json").read_bytes())
    kinds = sorted({resource_type(entry) for entry in bundle.entry or []})
    # The triage is an Observation; lab suggestions, if any, are ServiceRequests.
    assert [k for k in kinds if k not in {"ServiceRequest", "Condition"}] == [
        "AdverseEvent",
        "CarePlan",
        "Medication",
        "Observation",
        "Patient",
        "Procedure",
    ]
    assert any(str(folder) in note for note in notes)
    with make_session_factory(engine)() as session:
        audited = session.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.after)
            .where(AuditEvent.action.like("export.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [(actor, action, after["format"]) for actor, action, after in audited] == [
        ("rn.kim", "export.summary", "markdown"),
        ("rn.kim", "export.summary", "pdf"),
        ("rn.kim", "export.fhir", "fhir-r4-json"),
    ]


async def test_a_read_only_login_cannot_export(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    patient = add_exported_patient(engine, clock)
    folder = tmp_path / "exports"
    app = _app(engine, clock, folder, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_patient(patient.patient_id)
        await settle(pilot)
        await pilot.press("e", "f")
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
    assert not folder.exists()
    assert any("cannot export" in note for note in notes)
