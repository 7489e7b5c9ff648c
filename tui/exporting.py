"""Writing a patient export to a file (or handing its bytes out), with its audit event.

The work is `db.services.ExportServices` (one transaction per disclosure; the
file is renamed into place only once its audit event has committed). These
functions keep the older call shape, a `Database` and an instant, for callers
that do not hold a `Clinic` yet: each builds one for the call. New code calls
`clinic.render_patient_export`, `clinic.save_export` and the rest directly.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core.clock import FixedClock
from core.config import Settings
from core.incident_log import IncidentFilter
from db.database import Database
from db.services import Clinic
from db.services.exports import RenderedExport, UnknownPatient

if TYPE_CHECKING:
    from core.exports.formats import ExportKind

__all__ = [
    "RenderedExport",
    "UnknownPatient",
    "audit_disclosure",
    "render_patient_export",
    "save_export",
    "save_incidents_csv",
    "write_patient_export",
]


def _clinic(database: Database, now: datetime, settings: Settings | None = None) -> Clinic:
    # Disclosing needs no setting beyond the database the caller already chose.
    chosen = settings or Settings(database_url=database.engine.url.render_as_string(False))
    return Clinic(database, chosen, FixedClock(now))


def render_patient_export(
    database: Database, patient_id: int, kind: ExportKind, *, settings: Settings, now: datetime
) -> RenderedExport:
    """Read the patient and render the export; nothing is written or audited yet.

    Raises UnknownPatient when there is no patient `patient_id`.
    """
    return _clinic(database, now, settings).render_patient_export(patient_id, kind)


def audit_disclosure(
    database: Database, rendered: RenderedExport, *, actor: str, now: datetime
) -> None:
    """Record the export in the audit trail; call before handing the bytes out."""
    _clinic(database, now).audit_disclosure(actor, rendered)


def save_export(
    database: Database, rendered: RenderedExport, path: Path, *, actor: str, now: datetime
) -> Path:
    """Write `rendered` to `path` (replacing any file there) and audit it; returns `path`.

    Raises OSError when the file cannot be written; no audit event is kept then.
    """
    return _clinic(database, now).save_export(actor, rendered, path)


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

    `actor` is the login the audit trail records (the staff member's username,
    or the operating-system login of someone not on staff). Raises
    UnknownPatient, OSError for a directory that cannot be made or written,
    and `core.refusals.Refused` from the database.
    """
    clinic = _clinic(database, now, settings)
    return clinic.write_patient_export(actor, patient_id, kind, directory)


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
    clinic = _clinic(database, now)
    return clinic.save_incidents_csv(actor, wanted, path, destination=destination)
