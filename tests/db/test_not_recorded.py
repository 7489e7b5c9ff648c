""" "Not recorded" is not "no": an imported patient's history, products and add-ons
read as not recorded in the dossier, the summary, the PDF and the FHIR bundle,
while answers that were given (and every demo patient) read as before.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.procedure import Procedure
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.domain import Role
from core.dossier import EpisodeRecord, allergy_words, nothing_given_words, recorded_words
from core.exports.formats import ExportKind
from core.patient_import import COLUMNS, check_patient_csv
from core.schedules import CLINIC_TZ, load_templates
from db.demo import load_demo
from db.dossier import load_dossier
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import Patient, TreatmentEpisode
from db.patient_import import import_patients
from tests.exported import export_text, patient_csv_line
from tests.factories import add_staff

NOT_RECORDED_LINES = (
    "Known allergies: not recorded",
    "Vasovagal history: not recorded",
    "Sensitive skin: not recorded",
    "Add-on infusions: not recorded",
    "Products given: not recorded",
)


def import_one_patient(engine: Engine, clock: FixedClock, code: str = "IMP-0001") -> int:
    """One patient through the real CSV check and import: the file says no history."""
    procedure = (clock.now() - timedelta(days=7)).astimezone(CLINIC_TZ)
    line = patient_csv_line(code, procedure_at=procedure.strftime("%Y-%m-%d 10:30"))
    text = ",".join(COLUMNS) + "\n" + line + "\n"
    templates = load_templates()
    checked = check_patient_csv(
        text, "patients.csv", now=clock.now(), clinic_tz=ZoneInfo("Asia/Seoul"), templates=templates
    )
    assert checked.problems == []
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "admin.cho", Role.ADMIN, clock.now())
        actor = Actor(admin.id, admin.username, admin.display_name, Role.ADMIN)
        import_patients(
            session,
            clock.now(),
            actor,
            list(checked.rows.values()),
            templates=templates,
            source="patients.csv",
            sha256="0" * 64,
        )
        return session.scalars(select(Patient.id).where(Patient.code == code)).one()


def _episode(engine: Engine, clock: FixedClock, patient_id: int) -> EpisodeRecord:
    with make_session_factory(engine)() as session:
        dossier = load_dossier(session, patient_id, clock.now())
    assert dossier is not None
    (episode,) = dossier.episodes
    return episode


def _rendered(engine: Engine, clock: FixedClock, patient_id: int, kind: ExportKind) -> str:
    return export_text(engine, clock.now(), patient_id, kind)


def _procedure_notes(bundle_json: str) -> list[str]:
    bundle = Bundle.model_validate_json(bundle_json)
    (procedure,) = [e.resource for e in bundle.entry or [] if isinstance(e.resource, Procedure)]
    return [str(note.text) for note in procedure.note or []]


# --- the words, one helper for every surface ---------------------------------------


def test_the_words_keep_not_recorded_apart_from_no() -> None:
    assert [recorded_words(v) for v in (True, False, None)] == ["yes", "no", "not recorded"]
    assert allergy_words(None, None) == "not recorded"
    assert allergy_words(False, None) == "none known"
    assert allergy_words(True, "Penicillin (rash)") == "Penicillin (rash)"
    assert allergy_words(None, "latex") == "latex"  # text from before the flag existed
    assert allergy_words(True, None) == "yes, details not recorded"
    assert allergy_words(None, "  ") == "not recorded"
    assert nothing_given_words(True) == "none given"
    assert nothing_given_words(None) == "not recorded"


# --- an imported patient ------------------------------------------------------------


def test_an_imported_episode_records_no_history(engine: Engine, clock: FixedClock) -> None:
    patient_id = import_one_patient(engine, clock)
    with make_session_factory(engine)() as session:
        stored = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient_id)
        ).one()
        assert (
            stored.vasovagal_history,
            stored.sensitive_skin,
            stored.has_allergies,
            stored.products_recorded,
            stored.addons_recorded,
        ) == (None, None, None, None, None)
    episode = _episode(engine, clock, patient_id)
    assert episode.vasovagal_history is None and episode.sensitive_skin is None
    assert episode.allergies_words == "not recorded"
    assert (episode.no_products_words, episode.no_addons_words) == ("not recorded",) * 2


@pytest.mark.parametrize("kind", ["summary", "pdf"])
def test_the_summary_and_pdf_say_not_recorded_never_no(
    engine: Engine, clock: FixedClock, kind: ExportKind
) -> None:
    text = _rendered(engine, clock, import_one_patient(engine, clock), kind)
    # "no" as a whole word: "Vasovagal history: not recorded" starts with it.
    assert not re.search(r"Vasovagal history: no\b", text)
    assert not re.search(r"Sensitive skin: no\b", text)
    assert "none known" not in text and "none recorded" not in text
    for line in NOT_RECORDED_LINES:
        assert line in text, line


def test_the_fhir_bundle_says_not_recorded_in_notes(engine: Engine, clock: FixedClock) -> None:
    notes = _procedure_notes(_rendered(engine, clock, import_one_patient(engine, clock), "fhir"))
    for line in NOT_RECORDED_LINES:
        assert line in notes, (line, notes)


# --- answers that were given ----------------------------------------------------------


def test_recorded_answers_read_as_answers_on_every_export(
    engine: Engine, clock: FixedClock
) -> None:
    patient_id = import_one_patient(engine, clock)
    with transaction(make_session_factory(engine)) as session:
        episode = session.scalars(
            select(TreatmentEpisode).where(TreatmentEpisode.patient_id == patient_id)
        ).one()
        episode.vasovagal_history = True
        episode.sensitive_skin = False
        episode.has_allergies = False
        episode.products_recorded = True
        episode.addons_recorded = True
    answered = (
        "Known allergies: none known",
        "Vasovagal history: yes",
        "Sensitive skin: no",
        "Add-on infusions: none given",
        "Products given: none given",
    )
    for kind in ("summary", "pdf"):
        text = _rendered(engine, clock, patient_id, kind)
        for line in answered:
            assert line in text, (kind, line)
        for line in NOT_RECORDED_LINES:
            assert line not in text, (kind, line)
    notes = _procedure_notes(_rendered(engine, clock, patient_id, "fhir"))
    for line in answered:
        assert line in notes, (line, notes)


# --- the demo -------------------------------------------------------------------------


def test_demo_episodes_stay_recorded(engine: Engine, clock: FixedClock) -> None:
    load_demo(engine, patients=30, seed=7, now=clock.now())
    with make_session_factory(engine)() as session:
        episodes = session.scalars(select(TreatmentEpisode)).all()
        patient_ids = sorted({e.patient_id for e in episodes})
        assert episodes
        for episode in episodes:
            assert isinstance(episode.vasovagal_history, bool)
            assert isinstance(episode.sensitive_skin, bool)
            assert episode.has_allergies is (episode.allergies is not None)
            assert episode.products_recorded is True and episode.addons_recorded is True
        dossiers = [load_dossier(session, pid, clock.now()) for pid in patient_ids]
    words = {recorded_words(e.vasovagal_history) for d in dossiers if d for e in d.episodes} | {
        e.allergies_words for d in dossiers if d for e in d.episodes
    }
    assert "not recorded" not in words and {"no", "none known"} <= words
