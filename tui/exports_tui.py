"""Exports started from the TUI: written to the export folder in a thread
worker (a large file must not freeze the screen), the path or the failure
shown in a toast. A toast says at once that the writing started, so the key
shows its result within a frame even when the export libraries are still
loading (tui.warmup loads them ahead). Only active staff whose role may export (core.permissions)
do: a file discloses patients' records, and the audit trail must name them.
The Clinic (`db.services.ExportServices`) checks the role and writes each file
with its audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.incident_log import IncidentFilter

if TYPE_CHECKING:
    from textual.screen import Screen

    from core.exports.formats import ExportKind
    from db.followup import Actor
    from tui.app import AftercareApp


def _run(screen: Screen[None], what: str, work: Callable[[AftercareApp, Actor], str]) -> None:
    app: AftercareApp = screen.app  # type: ignore[assignment]
    if app.actor is None:
        app.notify(f"Read-only: login {app.login!r} cannot export.", severity="error")
        return
    actor = app.actor
    app.notify(f"Writing {what}…", markup=False, timeout=3)

    def run() -> None:
        try:
            done = work(app, actor)
        except Exception as exc:  # refused, folder not writable, database gone
            # Each file is kept only with its audit event; the one that failed is not kept.
            app.call_from_thread(
                app.notify, f"Export failed: {exc}", severity="error", markup=False
            )
            return
        app.call_from_thread(app.notify, done, markup=False, timeout=10)

    screen.run_worker(run, thread=True, group="export", exit_on_error=False)


_KIND_WORDS: dict[str, str] = {
    "summary": "the summary",
    "pdf": "its PDF",
    "fhir": "the FHIR bundle",
}
"""An export kind as the toast names it."""


def export_incidents_csv(screen: Screen[None], wanted: IncidentFilter) -> None:
    """Write the incidents `wanted` lists to `<export folder>/incidents-<time>.csv`."""

    def work(app: AftercareApp, actor: Actor) -> str:
        written = app.clinic.export_incident_log(actor, wanted)
        return f"{written.count} incidents written to {written.path}"

    _run(screen, "the incident log (CSV)", work)


def export_patient(screen: Screen[None], patient_id: int, kinds: tuple[ExportKind, ...]) -> None:
    """Write one patient's exports (summary, pdf, fhir) into the export folder."""

    def work(app: AftercareApp, actor: Actor) -> str:
        paths = app.clinic.export_patient(actor, patient_id, kinds)
        return "Written: " + ", ".join(str(path) for path in paths)

    _run(screen, " and ".join(_KIND_WORDS.get(kind, kind) for kind in kinds), work)
