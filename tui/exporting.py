"""Writing a patient export to a file (or handing its bytes out), with its audit event.

Shared by `aftercare export` and the TUI. An export discloses a patient's
record, so it is never written without an audit event: the file is written
to a temporary name inside the transaction that appends the event, and only
renamed into place once that transaction has committed. A failed write rolls
the event back; a failed commit leaves no file behind.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.config import Settings
from core.exports.formats import ExportKind, export_file_name, render_export
from core.exports.records import ClinicContact
from core.incident_log import IncidentFilter, incidents_csv
from core.incidents import clinic_today
from db import audit
from db.database import Database
from db.engine import transaction
from db.exports import load_patient_export, record_export
from db.followup import mark_changed
from db.incidents import export_incidents


class UnknownPatient(LookupError):
    """No patient has that id; `str()` says so in one sentence."""


@dataclass(frozen=True)
class RenderedExport:
    """One export's contents, read and rendered but not yet disclosed."""

    patient_id: int
    patient_code: str
    kind: ExportKind
    content: bytes

    @property
    def file_name(self) -> str:
        """The default file name, e.g. 'AC-000123-summary.pdf'."""
        return export_file_name(self.kind, self.patient_code)


def render_patient_export(
    database: Database, patient_id: int, kind: ExportKind, *, settings: Settings, now: datetime
) -> RenderedExport:
    """Read the patient and render the export; nothing is written or audited yet.

    Raises UnknownPatient when there is no patient `patient_id`.
    """
    with database.sessions() as session:
        export = load_patient_export(session, patient_id, now)
    if export is None:
        raise UnknownPatient(f"no patient with id {patient_id}")
    content = render_export(kind, export, ClinicContact.from_settings(settings))
    return RenderedExport(patient_id, export.identity.code, kind, content)


def audit_disclosure(
    database: Database, rendered: RenderedExport, *, actor: str, now: datetime
) -> None:
    """Record the export in the audit trail; call before handing the bytes out."""
    with transaction(database.sessions) as session:
        record_export(
            session, patient_id=rendered.patient_id, kind=rendered.kind, actor=actor, now=now
        )


def save_export(
    database: Database, rendered: RenderedExport, path: Path, *, actor: str, now: datetime
) -> Path:
    """Write `rendered` to `path` (replacing any file there) and audit it; returns `path`.

    Raises OSError when the file cannot be written; no audit event is kept then.
    """
    temporary: Path | None = None
    try:
        with transaction(database.sessions) as session:
            record_export(
                session, patient_id=rendered.patient_id, kind=rendered.kind, actor=actor, now=now
            )
            temporary = _write_private(path, rendered.content)
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    return path


def write_patient_export(
    database: Database,
    patient_id: int,
    kind: ExportKind,
    directory: Path,
    *,
    actor: str,
    settings: Settings,
    now: datetime,
) -> Path:
    """Export one patient into `directory` under the default file name; returns the path.

    `kind` is "summary" (Markdown), "pdf" or "fhir" (FHIR R4 JSON). `directory`
    (e.g. `settings.export_folder()`) is created if missing. `actor` is the
    login the audit trail records (the staff member's username, or the
    operating-system login of someone not on staff). Raises UnknownPatient,
    OSError for a directory that cannot be made or written, and SQLAlchemy
    errors from the database.
    """
    rendered = render_patient_export(database, patient_id, kind, settings=settings, now=now)
    # Owner-only, like the files in it: exports hold patients' records.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return save_export(database, rendered, directory / rendered.file_name, actor=actor, now=now)


def _write_private(path: Path, content: bytes) -> Path:
    """Write `content` to a new temporary file beside `path`; returns its path.

    mkstemp makes the file readable by its owner only (patient data) and gives
    each export its own name, so two exports of one patient never collide.
    """
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def save_incidents_csv(
    database: Database,
    wanted: IncidentFilter,
    path: Path,
    *,
    actor: str,
    now: datetime,
    destination: str | None = None,
) -> int:
    """Write the incident log (`wanted` selects which) as CSV to `path`, audited;
    returns how many incidents it holds. Same guarantees as `save_export`.
    `destination` names where the data went in the audit event (default `path`)."""
    today = clinic_today(now)
    temporary: Path | None = None
    try:
        with transaction(database.sessions) as session:
            records = export_incidents(session, wanted, today)
            mark_changed(session, now)
            audit.record(
                session,
                at=now,
                actor=actor,
                action="export.incidents_csv",
                entity="incident",
                entity_id=None,
                after={
                    "filter": wanted.describe(),
                    "rows": len(records),
                    "file": destination or str(path),
                },
            )
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = _write_private(path, incidents_csv(records, today).encode("utf-8"))
        os.replace(temporary, path)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    return len(records)
