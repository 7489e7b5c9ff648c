"""Exports started from the TUI: written to the export folder, the path shown.

The write happens in a thread worker (a large CSV must not freeze the
screen); a failure (folder not writable, database gone) is one error toast
and no half-written file, since the text is built before the file is opened.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from core.incident_log import IncidentFilter, incidents_csv
from core.incidents import clinic_today
from db import audit
from db.engine import transaction
from db.followup import mark_changed
from db.incidents import export_incidents

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.app import AftercareApp


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename: a reader
    never sees half a file, and a failure leaves no file at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_incidents_csv(screen: Screen[None], wanted: IncidentFilter) -> None:
    """Write the incidents `wanted` lists to `<export folder>/incidents-<time>.csv`."""
    app: AftercareApp = screen.app  # type: ignore[assignment]
    if app.actor is None:
        # An export discloses patients' records; only active staff may take one.
        app.notify(f"Read-only: login {app.login!r} cannot export.", severity="error")
        return
    database, clock, settings, login = app.database, app.clock, app.settings, app.actor.username

    def run() -> None:
        now = clock.now()
        today = clinic_today(now)
        stamp = f"{now.astimezone(app.clinic_tz):%Y%m%d-%H%M%S}"
        path = settings.export_folder() / f"incidents-{stamp}.csv"
        written = False
        try:
            with transaction(database.sessions) as session:
                records = export_incidents(session, wanted, today)
                mark_changed(session, now)
                audit.record(
                    session,
                    at=now,
                    actor=login,
                    action="export.incidents_csv",
                    entity="incident",
                    entity_id=None,
                    after={"filter": wanted.describe(), "rows": len(records), "file": str(path)},
                )
                write_atomically(path, incidents_csv(records, today).encode("utf-8"))
                written = True
        except Exception as exc:
            # The audit event and the file go together: a failed commit removes the file.
            if written:
                path.unlink(missing_ok=True)
            app.call_from_thread(
                app.notify, f"Export failed, nothing written: {exc}", severity="error", markup=False
            )
            return
        app.call_from_thread(
            app.notify, f"{len(records)} incidents written to {path}", markup=False, timeout=10
        )

    screen.run_worker(run, thread=True, group="export", exit_on_error=False)
