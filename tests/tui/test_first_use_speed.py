"""What keeps first uses quick (issue 16, bench/keys.py measures the times): an export
says at once that it started, and the modules loaded ahead of use exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import Engine

from core.clock import FixedClock
from tests.db.test_exports import add_exported_patient
from tests.tui.pilot import settle
from tests.tui.test_patient_exports import _app
from tui.warmup import MODULES


async def test_an_export_says_it_started_before_it_says_where_it_wrote(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    patient = add_exported_patient(engine, clock)
    app = _app(engine, clock, tmp_path / "exports", read_only=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_patient(patient.patient_id)
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        notes = [str(n.message) for n in app._notifications]
    # The first toast comes from the key itself, before the worker loads anything.
    started = [i for i, note in enumerate(notes) if note == "Writing the FHIR bundle…"]
    written = [i for i, note in enumerate(notes) if note.startswith("Written: ")]
    assert started and written and started[0] < written[0], notes


def test_every_module_loaded_ahead_of_use_exists() -> None:
    # A renamed module would make the warm-up log a warning and load nothing.
    assert [name for name in MODULES if importlib.util.find_spec(name) is None] == []
