"""Reading one patient's dossier: every part, one timeline, a bounded number of queries.

The pure builders of `core.dossier` are tested here too, at the top, beside
the database reads that feed them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, select

from core.clock import FixedClock
from core.domain import (
    Channel,
    ContactOutcome,
    Disposition,
    NotificationStatus,
    Protocol,
    TouchpointResolution,
    TouchpointState,
)
from core.dossier import (
    DECISION_NOTE,
    AttemptRecord,
    TimelineKind,
    TouchpointRecord,
    build_timeline,
    documentation_checklist,
    local_times,
    parse_addons,
)
from db.dossier import load_dossier
from db.engine import make_session_factory, transaction
from db.models import ContactAttempt, TriageAssessment
from tests.conftest import TEST_NOW
from tests.factories import add_patient
from tests.tui.snapshot_apps.patient_data import add_followed_patient

NOW = TEST_NOW  # 15:00 on a Sunday in Seoul and Tokyo


# --- pure parts (core.dossier) -----------------------------------------------


def _touchpoint(
    tid: int, opens: datetime, closes: datetime, resolution: TouchpointResolution | None = None
) -> TouchpointRecord:
    return TouchpointRecord(
        touchpoint_id=tid,
        template="standard",
        day=tid,
        due_date=opens.date(),
        opens_at=opens,
        closes_at=closes,
        ask="How is it?",
        resolution=resolution,
        resolved_at=opens + timedelta(hours=3) if resolution else None,
        resolved_by=None,
        note=None,
    )


def test_timeline_merges_parts_oldest_first_with_the_shared_touchpoint_state() -> None:
    day = timedelta(days=1)
    attempt = AttemptRecord(
        attempt_id=5,
        at=NOW - 2 * day,
        channel=Channel.LINE,
        outcome=ContactOutcome.NO_ANSWER,
        note=None,
        staff="Park",
    )
    timeline = build_timeline(
        NOW,
        touchpoints=[
            _touchpoint(3, NOW + day, NOW + 3 * day),
            _touchpoint(2, NOW - 3 * day, NOW - day),
            _touchpoint(1, NOW - 5 * day, NOW - 4 * day, TouchpointResolution.SKIPPED),
            _touchpoint(4, NOW - day, NOW + day),
        ],
        attempts=[attempt],
    )
    assert [e.at for e in timeline] == sorted(e.at for e in timeline)
    states = {e.key: e.state for e in timeline}
    assert states == {
        "touchpoint-1": TouchpointState.SKIPPED.value,
        "touchpoint-2": TouchpointState.OVERDUE.value,
        "touchpoint-3": TouchpointState.SCHEDULED.value,
        "touchpoint-4": TouchpointState.DUE.value,
        "attempt-5": ContactOutcome.NO_ANSWER.value,
    }
    assert timeline[-1].key == "touchpoint-3"  # the future comes last
    assert build_timeline(NOW) == ()


def test_local_times_are_both_labelled() -> None:
    times = local_times(NOW, "Europe/Berlin")
    assert times.clinic_label == "Clinic (KST): Sun 22 Nov 15:00"
    assert times.patient_label == "Patient local (Europe/Berlin, UTC+1): Sun 22 Nov 07:00"
    tashkent = local_times(NOW, "Asia/Tashkent").patient_label
    assert tashkent == "Patient local (Asia/Tashkent, UTC+5): Sun 22 Nov 11:00"
    # Never letters: "CST" is China to the clinic and US Central to a reader abroad.
    taipei = local_times(NOW, "Asia/Taipei").patient_label
    assert taipei == "Patient local (Asia/Taipei, UTC+8): Sun 22 Nov 14:00"


def test_local_times_say_when_the_zone_is_unknown() -> None:
    times = local_times(NOW, "Mars/Olympus")
    assert not times.patient_zone_known
    assert "unknown time zone 'Mars/Olympus'" in times.patient_label
    assert times.clinic_label.startswith("Clinic (KST)")


def test_checklist_counts_unrecorded_items_as_missing() -> None:
    checklist = documentation_checklist({"itemised_receipt": True, "photo_consent": False})
    given = {item.key: item.given for item in checklist}
    assert given["itemised_receipt"] is True
    assert given["nurse_licensure"] is False  # never recorded
    assert given["photo_consent"] is False  # the clinic's own extra item is kept
    assert len(checklist) == 7


def test_addons_read_codes_and_objects() -> None:
    addons = parse_addons(["b_complex", {"name": "glutathione", "dose": "1200 mg"}])
    assert [(a.code, a.label, a.dose) for a in addons] == [
        ("b_complex", "B-complex", None),
        ("glutathione", "Glutathione", "1200 mg"),
    ]


# --- load_dossier on both databases ------------------------------------------


@contextmanager
def _counting_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def _count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def test_unknown_patient_is_none(engine: Engine, clock: FixedClock) -> None:
    with make_session_factory(engine)() as session:
        assert load_dossier(session, 999_999, clock.now()) is None


def test_dossier_holds_identity_episode_and_one_timeline(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        story = add_followed_patient(session, now)
        # Someone else's rows must not leak in.
        add_followed_patient(session, now, code="P-0043", staff_suffix="-2")

    with factory() as session:
        dossier = load_dossier(session, story.patient_id, now)
    assert dossier is not None
    assert dossier.read_at == now

    who = dossier.identity
    assert (who.code, who.display_name, who.current_country) == ("P-0042", "Tanaka Yuki", "JP")
    assert who.assigned_coordinator == "Park Jiwon"
    assert who.channel is Channel.LINE and who.channel_handle == "line:p-0042"
    assert who.latest_disposition is Disposition.URGENT

    (episode,) = dossier.episodes
    assert episode.protocol is Protocol.EXOSOME_IV_MICRONEEDLING
    assert episode.treating_physician == "Dr Lee Seojun"
    assert episode.nurse_license_ref == "RN-2019-044812"
    assert [a.code for a in episode.addons] == ["b_complex", "glutathione_high_dose"]
    assert [(p.mfds_reference, p.lot_number) for p in episode.products] == [
        ("MFDS-2024-01873", "ERV2609123"),
        ("MFDS-2019-00412", "GLT2605077"),
    ]
    assert [i.key for i in episode.missing_documents] == ["lot_and_expiry", "nurse_licensure"]
    assert episode.vasovagal_history and not episode.sensitive_skin

    timeline = dossier.timeline
    assert [e.at for e in timeline] == sorted(e.at for e in timeline)
    kinds = [e.kind for e in timeline]
    assert kinds.count(TimelineKind.TOUCHPOINT) == 4
    assert kinds.count(TimelineKind.ATTEMPT) == 3
    assert kinds.count(TimelineKind.TRIAGE) == 1
    assert kinds.count(TimelineKind.INCIDENT) == 3  # opened + two notes
    assert kinds.count(TimelineKind.ALERT) == 1
    # Titles read "Day N check-in (...)".
    states = {e.title.split()[1]: e.state for e in timeline if e.kind is TimelineKind.TOUCHPOINT}
    assert states == {"1": "done", "3": "overdue", "7": "due", "21": "scheduled"}

    triage = next(e for e in timeline if e.kind is TimelineKind.TRIAGE)
    assert triage.state == "urgent"
    # Symptoms in words, never their codes.
    assert "redness (erythema), warmth, 37.4 °C, trend worsening" in triage.detail
    assert "infection possible" in triage.detail
    assert DECISION_NOTE in triage.detail

    opened = next(e for e in timeline if e.key == f"incident-{story.incident_id}")
    assert "infection" in opened.title and "grade 2" in opened.title
    assert "MFDS MFDS-2024-01873, lot ERV2609123" in opened.detail

    alert = next(e for e in timeline if e.kind is TimelineKind.ALERT)
    assert alert.state == "acknowledged"
    assert f"2 {NotificationStatus.SENT.value}" in alert.detail
    assert f"1 {NotificationStatus.FAILED.value}" in alert.detail
    assert "by Dr Lee Seojun" in alert.detail
    assert "SMS gateway answered 503" in alert.detail


CRP_ESR = (
    "Infection signs at a treated site (warmth): the home physician may request an "
    "inflammatory panel (CRP and ESR)"
)


def test_lab_suggestions_and_missing_inputs_kept_with_a_triage_are_read_in_words(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        story = add_followed_patient(session, now)
        triage = session.scalars(
            select(TriageAssessment).where(TriageAssessment.patient_id == story.patient_id)
        ).one()
        triage.labs = [{"lab": "crp_esr", "text": CRP_ESR}]
        triage.needs = ["trend"]
        triage_id = triage.id

    with factory() as session:
        dossier = load_dossier(session, story.patient_id, now)
    assert dossier is not None
    (record,) = dossier.triages
    assert record.triage_id == triage_id
    assert record.labs == (CRP_ESR,)
    assert record.needs == ("trend not recorded",)
    entry = next(e for e in dossier.timeline if e.key == f"triage-{triage_id}")
    assert f"Lab suggestions for the home physician (not orders): {CRP_ESR}." in entry.detail
    assert "Missing when assessed (could have raised the outcome): trend not recorded" in (
        entry.detail
    )
    assert "crp_esr" not in entry.detail  # the lab row's id never reaches a reader


def test_a_triage_recorded_before_labs_were_kept_reads_with_none(
    engine: Engine, clock: FixedClock
) -> None:
    now = clock.now()
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        # The fixture's triage is written like an old row: labs and needs left empty.
        story = add_followed_patient(session, now)

    with factory() as session:
        dossier = load_dossier(session, story.patient_id, now)
    assert dossier is not None
    (record,) = dossier.triages
    assert (record.labs, record.needs) == ((), ())
    entry = next(e for e in dossier.timeline if e.kind is TimelineKind.TRIAGE)
    assert "Lab suggestions" not in entry.detail
    assert "Missing when assessed" not in entry.detail


def test_reading_takes_a_fixed_number_of_queries(engine: Engine, clock: FixedClock) -> None:
    now = clock.now()
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        story = add_followed_patient(session, now)
        plain = add_patient(session, "P-0100", procedure_at=now, created_at=now)
        plain_id = plain.id

    def queries_for(patient_id: int) -> int:
        with factory() as session, _counting_statements(engine) as statements:
            assert load_dossier(session, patient_id, now) is not None
        return len(statements)

    before = queries_for(story.patient_id)
    assert before <= 12
    with transaction(factory) as session:
        for minutes in range(40):
            session.add(
                ContactAttempt(
                    patient_id=story.patient_id,
                    at=now - timedelta(minutes=minutes),
                    channel=Channel.LINE,
                    outcome=ContactOutcome.MESSAGE_SENT,
                )
            )
        add_followed_patient(session, now, code="P-0044", staff_suffix="-3")
    assert queries_for(story.patient_id) == before
    # A patient with no incidents or alerts needs fewer, never more.
    assert queries_for(plain_id) <= before
