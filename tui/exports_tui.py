"""Exports started from the TUI: written to the export folder in a thread
worker (a large file must not freeze the screen), the path or the failure
shown in a toast. Only active staff whose role may export (core.permissions)
do: a file discloses patients' records, and the audit trail must name them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.incident_log import IncidentFilter
from core.permissions import Action
from db.followup import require

if TYPE_CHECKING:
    from textual.screen import Screen

    from core.exports.formats import ExportKind
    from tui.app import AftercareApp


def _run(screen: Screen[None], work: Callable[[AftercareApp, str], str]) -> None:
    app: AftercareApp = screen.app  # type: ignore[assignment]
    if app.actor is None:
        app.notify(f"Read-only: login {app.login!r} cannot export.", severity="error")
        return
    actor = app.actor
    login = actor.username

    def run() -> None:
        try:
            with app.database.sessions() as session:
                require(session, actor, Action.EXPORT)  # the role now, not at sign-in
            done = work(app, login)
        except Exception as exc:  # folder not writable, database gone
            # Each file is kept only with its audit event; the one that failed is not kept.
            app.call_from_thread(
                app.notify, f"Export failed: {exc}", severity="error", markup=False
            )
            return
        app.call_from_thread(app.notify, done, markup=False, timeout=10)

    screen.run_worker(run, thread=True, group="export", exit_on_error=False)


def export_incidents_csv(screen: Screen[None], wanted: IncidentFilter) -> None:
    """Write the incidents `wanted` lists to `<export folder>/incidents-<time>.csv`."""

    def work(app: AftercareApp, login: str) -> str:
        from tui.exporting import save_incidents_csv

        now = app.clock.now()
        stamp = f"{now.astimezone(app.clinic_tz):%Y%m%d-%H%M%S}"
        path = app.settings.export_folder() / f"incidents-{stamp}.csv"
        count = save_incidents_csv(app.database, wanted, path, actor=login, now=now)
        return f"{count} incidents written to {path}"

    _run(screen, work)


def export_patient(screen: Screen[None], patient_id: int, kinds: tuple[ExportKind, ...]) -> None:
    """Write one patient's exports (summary, pdf, fhir) into the export folder."""

    def work(app: AftercareApp, login: str) -> str:
        # Imported on first use: the FHIR models and the PDF library cost about
        # 30 MB and half a second, which a coordinator who never exports should
        # not pay at start-up.
        from tui.exporting import write_patient_export

        paths: list[Path] = []
        for kind in kinds:
            try:
                paths.append(
                    write_patient_export(
                        app.database,
                        patient_id,
                        kind,
                        app.settings.export_folder(),
                        actor=login,
                        settings=app.settings,
                        now=app.clock.now(),
                    )
                )
            except Exception as exc:
                if not paths:
                    raise
                written = ", ".join(str(path) for path in paths)
                raise RuntimeError(f"{written} written; the {kind} export failed: {exc}") from exc
        return "Written: " + ", ".join(str(path) for path in paths)

    _run(screen, work)
