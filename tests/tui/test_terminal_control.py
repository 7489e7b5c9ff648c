"""A database holding terminal control in patient text (written before the way in
refused it, or by hand) is still shown as data: the workstation's screen and each
export printed by the CLI carry no ESC and no bidi override, and the Markdown
summary keeps "[click](...)" literal.

The way in (imports, forms, settings) is tested in tests/core/test_plain_text.py.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine, update

from core.clock import FixedClock
from core.domain import Role
from db.engine import make_session_factory, transaction
from db.models import IncidentEntry, Patient
from tests.db.test_exports import ExportedPatient, add_exported_patient
from tests.factories import add_staff
from tests.tui.pilot import open_patient, settle, workstation
from tests.tui.test_export_cli import _aftercare

OSC_52 = "\x1b]52;c;Y3VybA==\x07"
OSC_0 = "\x1b]0;pwned\x07"
CSI_2J = "\x1b[2J"
RLO = "\u202e"
LINK = "[click](http://evil.example/x)"


@pytest.fixture
def poisoned(engine: Engine, clock: FixedClock) -> ExportedPatient:
    """A treated patient whose name, handle and incident entry hold terminal control."""
    treated = add_exported_patient(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        session.execute(
            update(Patient)
            .where(Patient.id == treated.patient_id)
            .values(
                given_name=f"Yuki{OSC_0}{RLO}",
                family_name=f"Tanaka {LINK}",
                channel_handle=f"line:{OSC_52}",
            )
        )
        session.execute(
            update(IncidentEntry)
            .where(IncidentEntry.incident_id == treated.incident_id)
            .values(text=f"Called Dr Sato{CSI_2J}{OSC_52}")
        )
    return treated


def _clean(text: str, where: str) -> None:
    assert "\x1b" not in text, where
    assert RLO not in text, where
    assert "\x9b" not in text and "\x9d" not in text, where


async def test_the_patient_and_queue_screens_show_control_characters_visibly(
    engine: Engine, clock: FixedClock, poisoned: ExportedPatient
) -> None:
    app = workstation(engine, clock, None, run_dispatcher=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        _clean(app.export_screenshot(), "queue")
        await open_patient(pilot, poisoned.patient_id)
        screen = app.export_screenshot()
        _clean(screen, "patient screen")
        # Shown, not dropped: the coordinator sees that the record holds them.
        assert "␛]52;c;Y3VybA==" in screen.replace("&#160;", " ")


def test_each_cli_export_prints_no_terminal_control(
    engine: Engine,
    db_url: str,
    cli_env: dict[str, str],
    poisoned: ExportedPatient,
    clock: FixedClock,
    os_login: str,
) -> None:
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, os_login, Role.COORDINATOR, clock.now())
    cli_env.update(AFTERCARE_DATABASE_URL=db_url, LOGNAME=os_login, USER=os_login)

    summary = _aftercare("export", "summary", poisoned.code, env=cli_env)
    assert summary.returncode == 0, summary.stderr
    _clean(summary.stdout, "summary")
    # The link's syntax is escaped: it reads as typed, and nothing is clickable.
    assert r"Tanaka [click\]\(http://evil.example/x)" in summary.stdout
    assert "Called Dr Sato␛[2J" in summary.stdout

    incidents = _aftercare("export", "incidents", "--csv", env=cli_env)
    assert incidents.returncode == 0, incidents.stderr
    _clean(incidents.stdout, "incidents --csv")
    [row] = csv.DictReader(io.StringIO(incidents.stdout))
    assert row["incident"] == str(poisoned.incident_id)


def test_the_patient_file_holds_no_terminal_control() -> None:
    from datetime import UTC, datetime

    from core.domain import Channel, Protocol
    from core.patient_export import patients_csv
    from core.records import EpisodeRecord, PatientRecord
    from core.schedules import CLINIC_TZ

    patient = PatientRecord(
        "AC-1", f"Tanaka{OSC_0}", f"Yuki{RLO}", "JP", "ja", "Asia/Tokyo", Channel.LINE, OSC_52
    )
    episode = EpisodeRecord(datetime(2026, 11, 10, 5, 30, tzinfo=UTC), Protocol.PRP, ("standard",))
    _clean(patients_csv([(patient, episode)], CLINIC_TZ), "patient file")
