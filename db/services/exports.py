"""Documents for the home physician and the regulator: summary, FHIR bundle, incidents CSV.

An export discloses a patient's record, so it is never written without an
audit event: the file is written to a temporary name inside the transaction
that appends the event, and only renamed into place once that transaction
has committed. A failed write rolls the event back; a failed commit leaves no
file behind. A file that cannot be written raises `OSError` (the folder is the
person's to fix); the database's failures come out as `Refused`/`Unavailable`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.incident_log import IncidentFilter, incidents_csv
from core.incidents import clinic_today
from core.permissions import Action
from core.refusals import NotFound
from db import audit
from db.followup import Actor, mark_changed, require
from db.incidents import export_incidents
from db.services.base import ServiceBase

if TYPE_CHECKING:
    from core.exports.formats import ExportKind
    from db.patient_export import PatientsExported


class UnknownPatient(NotFound, LookupError):
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
        from core.exports.formats import export_file_name

        return export_file_name(self.kind, self.patient_code)


@dataclass(frozen=True)
class IncidentLogExported:
    """The incidents CSV written from the incident log: how many incidents, and where."""

    count: int
    path: Path


class ExportServices(ServiceBase):
    """Use cases of this area; each is one transaction (see `db.services`).

    `login` is the name the audit trail records: the staff member's username,
    or the operating-system login of someone not on staff (the command line).
    The methods taking an `Actor` first check that their role may export now.
    """

    def render_patient_export(self, patient_id: int, kind: ExportKind) -> RenderedExport:
        """Read the patient and render the export; nothing is written or audited yet.

        Raises UnknownPatient when there is no patient `patient_id`.
        """
        # Imported on first use: the FHIR models and the PDF library cost about
        # 30 MB and half a second, which a coordinator who never exports should
        # not pay at start-up (every face builds a Clinic).
        from core.exports.formats import render_export
        from core.exports.records import ClinicContact
        from db.exports import load_patient_export

        export = self._read(load_patient_export, patient_id, self.clock.now())
        if export is None:
            raise UnknownPatient(f"no patient with id {patient_id}")
        content = render_export(kind, export, ClinicContact.from_settings(self.settings))
        return RenderedExport(patient_id, export.identity.code, kind, content)

    def audit_disclosure(self, login: str, rendered: RenderedExport) -> None:
        """Record the export in the audit trail; call before handing the bytes out."""
        from db.exports import record_export  # first use: see render_patient_export

        self._apply(record_export, login, rendered.patient_id, kind=rendered.kind)

    def save_export(self, login: str, rendered: RenderedExport, path: Path) -> Path:
        """Write `rendered` to `path` (replacing any file there) and audit it; returns `path`.

        Raises OSError when the file cannot be written; no audit event is kept then.
        """
        from db.exports import record_export  # first use: see render_patient_export

        now = self.clock.now()
        made: list[Path] = []

        def disclose(session: Session) -> None:
            record_export(session, now, login, rendered.patient_id, kind=rendered.kind)
            made.append(_write_private(path, rendered.content))

        _commit_then_rename(lambda: self._write(disclose), made, path)
        return path

    def write_patient_export(
        self, login: str, patient_id: int, kind: ExportKind, directory: Path
    ) -> Path:
        """Export one patient into `directory` under the default file name; returns the path.

        `kind` is "summary" (Markdown), "pdf" or "fhir" (FHIR R4 JSON). `directory`
        is created (owner-only) if missing. Raises UnknownPatient, OSError for a
        directory that cannot be made or written, and `Refused` from the database.
        """
        rendered = self.render_patient_export(patient_id, kind)
        # Owner-only, like the files in it: exports hold patients' records.
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.save_export(login, rendered, directory / rendered.file_name)

    def export_patient(
        self, actor: Actor, patient_id: int, kinds: tuple[ExportKind, ...]
    ) -> list[Path]:
        """Write one patient's exports (`kinds`) into the clinic's export folder; the paths.

        Refused unless the actor's role may export now (not at sign-in). When a
        later kind fails the error names the files already written.
        """
        self._read(require, actor, Action.EXPORT)
        paths: list[Path] = []
        for kind in kinds:
            try:
                paths.append(
                    self.write_patient_export(
                        actor.username, patient_id, kind, self.settings.export_folder()
                    )
                )
            except Exception as exc:
                if not paths:
                    raise
                written = ", ".join(str(path) for path in paths)
                raise RuntimeError(f"{written} written; the {kind} export failed: {exc}") from exc
        return paths

    def save_incidents_csv(
        self, login: str, wanted: IncidentFilter, path: Path, *, destination: str | None = None
    ) -> int:
        """Write the incident log (`wanted` selects which) as CSV to `path`, audited;
        returns how many incidents it holds. Same guarantees as `save_export`.
        `destination` names where the data went in the audit event (default `path`)."""
        now = self.clock.now()
        today = clinic_today(now)
        made: list[Path] = []
        counted: list[int] = []

        def disclose(session: Session) -> None:
            records = export_incidents(session, wanted, today)
            mark_changed(session, now)
            # About many incidents, so about no one row.
            disclosed = {
                "filter": wanted.describe(),
                "rows": len(records),
                "file": destination or str(path),
            }
            audit.log(
                session, now, login, "export.incidents_csv", ("incident", None), after=disclosed
            )
            counted.append(len(records))
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            made.append(_write_private(path, incidents_csv(records, today).encode("utf-8")))

        _commit_then_rename(lambda: self._write(disclose), made, path)
        return counted[0]

    def export_incident_log(self, actor: Actor, wanted: IncidentFilter) -> IncidentLogExported:
        """Write the incidents `wanted` lists to `<export folder>/incidents-<clinic time>.csv`.

        Refused unless the actor's role may export now.
        """
        self._read(require, actor, Action.EXPORT)
        now = self.clock.now()
        stamp = f"{now.astimezone(ZoneInfo(self.settings.clinic_timezone)):%Y%m%d-%H%M%S}"
        path = self.settings.export_folder() / f"incidents-{stamp}.csv"
        count = self.save_incidents_csv(actor.username, wanted, path)
        return IncidentLogExported(count, path)

    def save_patients_csv(
        self, actor: Actor, path: Path, products_path: Path | None = None
    ) -> PatientsExported:
        """Write every patient (demo patients left out) with their latest episode as
        the patient CSV `aftercare import patients` reads, to `path`, and their
        products and add-ons as its products file, to `products_path`.

        Refused unless the actor's role may export now. One audit event names
        every patient code; as with `save_export`, the files appear only once
        it is committed. Raises OSError when a file cannot be written.
        """
        from core.patient_export import patients_csv, product_row_count, products_csv
        from core.refusals import Refused
        from db.patient_export import PatientsExported, disclose_patients

        targets = [path] if products_path is None else [path, products_path]
        if len({target.resolve() for target in targets}) < len(targets):
            raise Refused(f"the patient file and the products file are both {path}; name two files")
        now = self.clock.now()
        zone = ZoneInfo(self.settings.clinic_timezone)
        made: list[Path] = []
        counted: list[tuple[int, int]] = []

        def disclose(session: Session) -> None:
            exported = disclose_patients(session, now, actor, files=[str(t) for t in targets])
            contents = [patients_csv(exported, zone), products_csv(exported)]
            for target, content in zip(targets, contents, strict=False):
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                made.append(_write_private(target, content.encode("utf-8")))
            counted.append((len(exported), product_row_count(exported)))

        try:
            self._write(disclose)
            for temporary, target in zip(made, targets, strict=True):
                os.replace(temporary, target)
        except BaseException:
            for temporary in made:
                temporary.unlink(missing_ok=True)
            raise
        patients, product_rows = counted[0]
        return PatientsExported(patients, product_rows, path, products_path)


def _commit_then_rename(commit: Callable[[], None], made: list[Path], path: Path) -> None:
    """Run `commit` (one transaction that writes the temporary file into `made`),
    then rename that file to `path`.

    Whatever fails, the temporary file goes too: a failed commit leaves nothing behind.
    """
    try:
        commit()
        os.replace(made[0], path)
    except BaseException:
        for temporary in made:
            temporary.unlink(missing_ok=True)
        raise


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
