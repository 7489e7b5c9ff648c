"""The summary read as a home physician abroad reads it (issue 15): both names, every
lot, zones no one can mistake, words instead of codes, contacts and alerts, each
incident once and named by what was found, and a current status true today."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.domain import (
    Channel,
    ContactOutcome,
    Disposition,
    EscalationStatus,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    NotificationStatus,
    Seriousness,
    TouchpointState,
)
from core.dossier import AlertPage, AlertRecord, AttemptRecord, IncidentNote, TouchpointRecord
from core.exports.records import PatientExport
from core.incident_log import EntryKind
from core.labels import (
    CHECK_IN_STATE_WORDS,
    CONTACT_OUTCOME_WORDS,
    OUTCOME_LABELS,
    SERIOUSNESS_LABELS,
    category_words,
    entry_words,
    finding_words,
    utc_offset_words,
    zone_words,
)
from tests.core.test_exports_summary import NOW, PROCEDURE_AT, _markdown, _section, sample_export

INTERNAL_CODES = (
    "shortness_of_breath",
    "khidi_escalated",
    "home_physician_contact",
    "no_answer",
    "call_later",
    "medically_important",
    "non_serious",
    "not_assessed",
    "allergic_anaphylaxis",
    "iv_infiltration_phlebitis",
    "return-cycle",
    "CST",
    "KST",
    "JST",
)
"""Stored codes and ambiguous zone letters a home physician must never read."""


def _handover(now: datetime = NOW) -> PatientExport:
    """The sample patient, now in Taipei, with a Chinese own-script name, a contact
    attempt of each kind, a paged and acknowledged alert, a KHIDI entry, and a
    return-trip reminder that must stay out."""
    export = sample_export(now=now)
    dossier = export.dossier
    identity = replace(
        dossier.identity, timezone="Asia/Taipei", current_country="TW", native_name="陳 美玲"
    )
    triage = replace(dossier.triages[0], symptoms=("chills", "shortness_of_breath"))
    attempts = (
        AttemptRecord(
            1, NOW - timedelta(hours=5), Channel.LINE, ContactOutcome.NO_ANSWER, None, "Kim RN"
        ),
        AttemptRecord(
            2,
            NOW - timedelta(hours=3),
            Channel.LINE,
            ContactOutcome.REACHED,
            "Short of breath climbing stairs since last night; rash fading.",
            "Kim RN",
        ),
    )
    paged_at = NOW - timedelta(hours=2) + timedelta(minutes=1)
    alert = AlertRecord(
        escalation_id=4,
        created_at=NOW - timedelta(hours=2),
        disposition=Disposition.EMERGENCY,
        status=EscalationStatus.ACKNOWLEDGED,
        current_step=1,
        cycle=1,
        acknowledged_at=NOW - timedelta(hours=1, minutes=50),
        acknowledged_by="Dr Lee",
        notifications={NotificationStatus.SENT: 1},
        last_error=None,
        pages=(
            AlertPage(1, 1, "the on-call physician, Dr Lee", NotificationStatus.SENT, paged_at),
        ),
        incident_id=9,
    )
    incident = export.incidents[0]
    khidi = IncidentNote(43, NOW - timedelta(minutes=30), "khidi_escalated", "Escalated.", "Kim RN")
    incident = replace(incident, notes=(*incident.notes, khidi))
    episode = replace(export.episodes[0], schedule_templates=("standard", "return-cycle"))
    reminder = TouchpointRecord(
        99,
        "return-cycle",
        365,
        (PROCEDURE_AT + timedelta(days=365)).date(),
        PROCEDURE_AT - timedelta(days=1),  # open already, so it would be listed
        PROCEDURE_AT + timedelta(days=500),
        "Reminder: plan the next treatment trip (12-18 months after this one).",
        None,
        None,
        None,
        None,
    )
    return replace(
        export,
        dossier=replace(
            dossier,
            identity=identity,
            episodes=(episode,),
            triages=(triage,),
            attempts=attempts,
            alerts=(alert,),
        ),
        incidents=(incident,),
        episode_touchpoints={3: (*export.episode_touchpoints[3], reminder)},
    )


def test_both_names_each_lot_the_zones_and_no_internal_code() -> None:
    markdown = _markdown(_handover())
    for needle in (
        "Name (family, given): Tanaka, Yuki (as in the passport)",
        "Name in own script: 陳 美玲",
        "LOT-EXO-4417",
        "GTH-0042",
        "Asia/Seoul, UTC+9",
        "Asia/Taipei, UTC+8",
        "shortness of breath (dyspnoea)",
        "KHIDI escalation by Kim RN",
        "Contact with home physician",
        ": no answer",
    ):
        assert needle in markdown, needle
    for code in INTERNAL_CODES:
        assert code not in markdown, code


def test_each_time_in_the_timeline_names_both_zones() -> None:
    timeline = _section(_markdown(_handover()), "Timeline")
    triage_at = (NOW - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Seoul"))
    local = triage_at.astimezone(ZoneInfo("Asia/Taipei"))
    assert (
        f"{triage_at:%d %b %Y %H:%M} Asia/Seoul, UTC+9 (patient: {local:%d %b %H:%M} "
        "Asia/Taipei, UTC+8): Triage day 2 by Kim RN: emergency"
    ) in timeline


def test_contacts_with_their_notes_and_alerts_with_who_acknowledged() -> None:
    timeline = _section(_markdown(_handover()), "Timeline")
    assert "Contact attempt via LINE by Kim RN: reached" in timeline
    assert "Note: Short of breath climbing stairs since last night; rash fading." in timeline
    assert "Contact attempt via LINE by Kim RN: no answer" in timeline
    assert "Physician alert (emergency) on incident #9" in timeline
    assert "Paged the on-call physician, Dr Lee: sent, " in timeline
    acknowledged = (NOW - timedelta(hours=1, minutes=50)).astimezone(ZoneInfo("Asia/Seoul"))
    assert f"Acknowledged by Dr Lee, {acknowledged:%d %b %Y %H:%M} (Asia/Seoul, UTC+9)" in timeline


def test_each_incident_appears_once_with_its_entries_under_it() -> None:
    markdown = _markdown(_handover())
    assert markdown.count("Incident #9 opened") == 1
    assert markdown.count("### Incident #9") == 1
    timeline = _section(markdown, "Timeline")
    assert "Incident #9: Opened" not in timeline and "Opened by Kim RN" not in timeline
    incidents = _section(markdown, "Incidents (adverse events)")
    assert "Opened by Kim RN" in incidents and "Called Dr Sato in Osaka." in incidents


def test_plain_hives_are_named_as_found_never_as_anaphylaxis() -> None:
    export = _handover()
    triage = replace(export.dossier.triages[0], symptoms=("hives",), temperature_c=None)
    incident = replace(
        export.incidents[0],
        category=IncidentCategory.ALLERGIC,
        seriousness=Seriousness.NOT_ASSESSED,
    )
    export = replace(
        export, dossier=replace(export.dossier, triages=(triage,)), incidents=(incident,)
    )
    markdown = _markdown(export)
    incidents = _section(markdown, "Incidents (adverse events)")
    heading = next(line for line in incidents.splitlines() if line.startswith("### Incident #9"))
    assert heading == "### Incident #9: hives (urticaria) (found at the day 2 triage)"
    opened = next(line for line in markdown.splitlines() if "Incident #9 opened" in line)
    assert "anaphylaxis" not in opened and "hives (urticaria)" in opened
    assert (
        "Category for reporting: Allergic reaction or anaphylaxis (suggested from the "
        "findings, not yet assessed by a physician)"
    ) in incidents
    assert "Physician assessment: not yet assessed by a physician" in incidents


def test_a_closed_incident_is_not_current() -> None:
    export = _handover()
    closed_at = NOW - timedelta(minutes=10)
    closing = IncidentNote(44, closed_at, "closed", "Resolved; GP review done.", "Dr Lee")
    incident = replace(
        export.incidents[0],
        status=IncidentStatus.CLOSED,
        outcome=IncidentOutcome.RESOLVED,
        notes=(*export.incidents[0].notes, closing),
    )
    status = _section(_markdown(replace(export, incidents=(incident,))), "Current status")
    seoul = closed_at.astimezone(ZoneInfo("Asia/Seoul"))
    assert "Open incidents: none (closed, so not current: #9)" in status
    assert f"its incident #9 is closed {seoul:%d %b %Y %H:%M} (Asia/Seoul, UTC+9)" in status
    assert "Latest triage: emergency on day 2" in status
    assert "Open incidents: #9" not in status


def test_an_overdue_check_in_says_overdue_since_when() -> None:
    later = NOW + timedelta(days=60)
    status = _section(_markdown(_handover(now=later)), "Current status")
    due = (PROCEDURE_AT + timedelta(days=3)).date()
    days = (later.astimezone(ZoneInfo("Asia/Taipei")).date() - due).days
    assert f"Next check-in: day 3 (standard), due {due:%d %b %Y}: overdue since " in status
    assert f"overdue since {due:%d %b %Y} ({days} days)" in status
    assert "2 overdue" in status
    # On time, the same check-in is not called overdue.
    assert "overdue" not in _section(_markdown(_handover()), "Current status")


def test_return_trip_planning_stays_out_of_the_handover() -> None:
    markdown = _markdown(_handover())
    assert "plan the next treatment trip" not in markdown
    assert "Flew home" not in markdown
    assert "Follow-up schedules: standard\n" in markdown


@pytest.mark.parametrize(
    ("zone", "instant", "said"),
    [
        ("Asia/Taipei", datetime(2026, 1, 5, 3, 0, tzinfo=ZoneInfo("UTC")), "Asia/Taipei, UTC+8"),
        ("America/Chicago", datetime(2026, 1, 5, tzinfo=ZoneInfo("UTC")), "America/Chicago, UTC-6"),
        ("America/Chicago", datetime(2026, 7, 5, tzinfo=ZoneInfo("UTC")), "America/Chicago, UTC-5"),
        ("Asia/Kolkata", datetime(2026, 7, 5, tzinfo=ZoneInfo("UTC")), "Asia/Kolkata, UTC+5:30"),
        ("Europe/London", datetime(2026, 1, 5, tzinfo=ZoneInfo("UTC")), "Europe/London, UTC+0"),
    ],
)
def test_a_zone_is_its_name_and_its_offset_then(zone: str, instant: datetime, said: str) -> None:
    assert zone_words(instant.astimezone(ZoneInfo(zone)), zone) == said


def test_utc_offset_words_west_of_greenwich_with_minutes() -> None:
    assert utc_offset_words(-timedelta(hours=3, minutes=30)) == "UTC-3:30"


def _codes_said_as_words(table: Mapping[Any, str]) -> None:
    for code, words in table.items():
        assert words and "_" not in words, (code, words)


def test_every_code_has_words_in_the_one_label_table() -> None:
    tables: tuple[Mapping[Any, str], ...] = (
        SERIOUSNESS_LABELS,
        OUTCOME_LABELS,
        CONTACT_OUTCOME_WORDS,
        CHECK_IN_STATE_WORDS,
    )
    for table in tables:
        _codes_said_as_words(table)
    assert set(CHECK_IN_STATE_WORDS) == set(TouchpointState)
    assert set(CONTACT_OUTCOME_WORDS) == set(ContactOutcome)
    assert category_words(IncidentCategory.IV_SITE) == "IV infiltration or phlebitis"
    for category in IncidentCategory:
        assert "_" not in category_words(category)
    for kind in EntryKind:
        assert "_" not in entry_words(kind.value), kind
    assert finding_words(["shortness_of_breath"]) == "shortness of breath (dyspnoea)"
