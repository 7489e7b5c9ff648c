"""The home physician's summary: what it says, and its Markdown.

`sample_export` builds one realistic patient from plain values; the PDF and
FHIR tests import it so all three formats describe the same record.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from core.config import Settings
from core.domain import (
    Channel,
    Disposition,
    IncidentCategory,
    IncidentOutcome,
    IncidentStatus,
    Protocol,
    Seriousness,
    TouchpointResolution,
)
from core.dossier import (
    DECISION_NOTE,
    AddOn,
    EpisodeRecord,
    IncidentNote,
    IncidentRecord,
    PatientDossier,
    PatientIdentity,
    ProductRecord,
    TouchpointRecord,
    TriageRecord,
    build_timeline,
)
from core.exports.document import Bullet, BulletList, Document, Heading, Paragraph, Table
from core.exports.document import to_markdown as document_markdown
from core.exports.formats import ExportKind, export_file_name, render_export
from core.exports.records import (
    CONTACT_NOT_CONFIGURED,
    ClinicContact,
    IncidentDetail,
    PatientExport,
    PhysicianContact,
)
from core.exports.summary import build_summary
from tests.conftest import TEST_NOW

NOW = TEST_NOW
PROCEDURE_AT = NOW - timedelta(days=2, hours=3)
CLINIC = ClinicContact(name="Example Regenerative Clinic", contact="+82 2 0000 0000")

EXOSOME = ProductRecord(
    name="ExoRene IV exosome concentrate",
    mfds_reference="MFDS-2024-98765",
    manufacturer="Seorin Biolabs",
    lot_number="LOT-EXO-4417",
    expiry_date=date(2027, 12, 1),
    dose="5 mL IV",
)
GLUTATHIONE = ProductRecord(
    name="Glutathione injection",
    mfds_reference="MFDS-2020-31337",
    manufacturer=None,
    lot_number="GTH-0042",
    expiry_date=None,
    dose="600 mg IV",
)


def _touchpoint(tid: int, day: int, resolution: TouchpointResolution | None) -> TouchpointRecord:
    opens = PROCEDURE_AT + timedelta(days=day - 1)
    return TouchpointRecord(
        touchpoint_id=tid,
        template="standard",
        day=day,
        due_date=(PROCEDURE_AT + timedelta(days=day)).date(),
        opens_at=opens,
        closes_at=opens + timedelta(days=2),
        ask=f"Day {day} question?",
        resolution=resolution,
        resolved_at=opens + timedelta(hours=5) if resolution else None,
        resolved_by="Kim RN" if resolution else None,
        note="Replied with photos." if resolution else None,
    )


LAB_TEXT = (
    "Systemic symptoms during recovery (chills; temperature 38.6 °C): the home physician "
    "may request a CBC and basic metabolic panel at week 2"
)
"""A lab suggestion as the triage rules word it (stored beside its id, 'cbc_bmp_week_2')."""


def sample_export(
    *,
    family_name: str = "Tanaka",
    given_name: str = "Yuki",
    seriousness: Seriousness = Seriousness.MEDICALLY_IMPORTANT,
    outcome: IncidentOutcome = IncidentOutcome.RECOVERING,
    now: datetime = NOW,
    labs: tuple[str, ...] = (LAB_TEXT,),
    needs: tuple[str, ...] = (),
) -> PatientExport:
    """One exosome patient: two products, three check-ins, an emergency triage with its
    lab suggestion, and its incident."""
    identity = PatientIdentity(
        patient_id=7,
        code="AC-000777",
        given_name=given_name,
        family_name=family_name,
        birth_date=date(1981, 5, 1),
        home_country="JP",
        current_country="JP",
        language="ja",
        timezone="Asia/Tokyo",
        channel=Channel.LINE,
        channel_handle="line:tanaka",
        phone="+81 90 1234 5678",
        email=None,
        assigned_coordinator="Kim RN",
        latest_disposition=Disposition.EMERGENCY,
        next_touchpoint_id=12,
    )
    episode = EpisodeRecord(
        episode_id=3,
        procedure_at=PROCEDURE_AT,
        protocol=Protocol.EXOSOME_IV,
        treating_physician="Dr Lee",
        nurse_name="Park RN",
        nurse_license_ref="KR-RN-1234",
        addons=(AddOn("glutathione", "Glutathione", "600 mg"),),
        schedule_templates=("standard",),
        departure_date=PROCEDURE_AT.date() + timedelta(days=1),
        travel_insurer=None,
        travel_policy_number=None,
        khidi_cover_ref=None,
        allergies="penicillin",
        vasovagal_history=False,
        sensitive_skin=True,
        products=(EXOSOME, GLUTATHIONE),
        documentation=(),
    )
    touchpoints = (
        _touchpoint(11, 1, TouchpointResolution.DONE),
        _touchpoint(12, 3, None),
        _touchpoint(13, 7, None),
    )
    triage = TriageRecord(
        triage_id=5,
        assessed_at=NOW - timedelta(hours=2),
        day=2,
        temperature_c=38.6,
        trend=None,
        symptoms=("chills",),
        computed=Disposition.EMERGENCY,
        chosen=Disposition.EMERGENCY,
        override_reason=None,
        reasons=("temperature above 38.5 °C",),
        note=None,
        staff="Kim RN",
        labs=labs,
        needs=needs,
    )
    notes = (
        IncidentNote(41, NOW - timedelta(hours=2), "opened", "Opened from triage #5.", "Kim RN"),
        IncidentNote(
            42, NOW - timedelta(hours=1), "home_physician_contact", "Called Dr Sato in Osaka.", None
        ),
    )
    incident = IncidentDetail(
        incident_id=9,
        episode_id=3,
        opened_at=NOW - timedelta(hours=2),
        category=IncidentCategory.SYSTEMIC,
        onset_date=(NOW - timedelta(hours=2)).date(),
        onset_day=2,
        learned_on=NOW.date(),
        seriousness=seriousness,
        severity_grade=2,
        outcome=outcome,
        status=IncidentStatus.OPEN,
        suspect_product=EXOSOME,
        causality="possible",
        actions_taken="Advised to attend local emergency services.",
        report_due_on=NOW.date() + timedelta(days=15),
        reported_on=None,
        report_reference=None,
        khidi_escalated_on=None,
        khidi_reference=None,
        notes=notes,
    )
    opened = IncidentRecord(
        incident_id=9,
        opened_at=incident.opened_at,
        category=incident.category,
        seriousness=incident.seriousness,
        severity_grade=2,
        outcome=outcome,
        status=IncidentStatus.OPEN,
        report_due_on=incident.report_due_on,
        reported_on=None,
        suspect_product="ExoRene IV exosome concentrate (MFDS MFDS-2024-98765, lot LOT-EXO-4417)",
        notes=notes,
        triage_id=5,
    )
    timeline = build_timeline(now, touchpoints=touchpoints, triages=[triage], incidents=[opened])
    return PatientExport(
        dossier=PatientDossier(
            identity, (episode,), timeline, now, triages=(triage,), incidents=(opened,)
        ),
        incidents=(incident,),
        episode_touchpoints={3: touchpoints},
        physicians={3: PhysicianContact("Dr Lee", "dr.lee@example.com", None, "KR-MD-777")},
    )


def _markdown(export: PatientExport, clinic: ClinicContact = CLINIC) -> str:
    return render_export("summary", export, clinic).decode("utf-8")


def _section(markdown: str, title: str) -> str:
    """The text of one '## title' section, up to the next level-2 heading."""
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def test_products_are_listed_with_mfds_reference_lot_and_expiry() -> None:
    procedure = _section(_markdown(sample_export()), "Procedure")
    assert (
        "| ExoRene IV exosome concentrate | MFDS-2024-98765 | LOT-EXO-4417 | 01 Dec 2027 "
        "| Seorin Biolabs | 5 mL IV |"
    ) in procedure
    assert "| Glutathione injection | MFDS-2020-31337 | GTH-0042 | not recorded |" in procedure
    assert "Treating physician: Dr Lee" in procedure
    assert "Nurse: Park RN (licence KR-RN-1234)" in procedure
    assert "Add-on infusions: Glutathione 600 mg" in procedure
    assert "Known allergies: penicillin" in procedure


def test_timeline_has_touchpoints_triage_and_incident_in_both_clocks() -> None:
    timeline = _section(_markdown(sample_export()), "Timeline")
    triage_at = NOW - timedelta(hours=2)  # 13:00 in Seoul and in Tokyo
    assert (
        f"- {triage_at:%d %b %Y} 13:00 Asia/Seoul, UTC+9 (patient: {triage_at:%d %b} 13:00 "
        "Asia/Tokyo, UTC+9): Triage day 2 by Kim RN: emergency"
    ) in timeline
    assert "Findings: chills, 38.6 °C" in timeline
    assert "Incident #9 opened: chills (found at the day 2 triage)" in timeline
    assert "Day 1 check-in (standard)" in timeline and ": done" in timeline
    assert "Day 7 check-in (standard)" in timeline and ": not yet due" in timeline
    for code in ("KST", "JST", "[done]", "[scheduled]"):
        assert code not in timeline, code
    # Said once at the top, not repeated under each triage.
    assert DECISION_NOTE not in timeline


def test_incident_section_has_seriousness_product_lot_and_entries() -> None:
    incidents = _section(_markdown(sample_export()), "Incidents (adverse events)")
    # Named by what was found, the category given as a category.
    assert "### Incident #9: chills (found at the day 2 triage)" in incidents
    assert "Found at the day 2 triage: chills, 38.6 °C" in incidents
    assert "Category for reporting: Systemic symptoms" in incidents
    assert "Seriousness (ICH E2A): Serious: other medically important event" in incidents
    assert "Severity grade (CTCAE-style): 2" in incidents
    assert (
        "Suspect product: ExoRene IV exosome concentrate (MFDS ref MFDS-2024-98765, "
        "lot LOT-EXO-4417, expires 01 Dec 2027)"
    ) in incidents
    assert "Called Dr Sato in Osaka." in incidents
    assert "Contact with home physician" in incidents
    assert "Pharmaceuticals and Medical Devices Agency (PMDA)" in incidents


def test_current_status_counts_check_ins_and_names_the_next() -> None:
    status = _section(_markdown(sample_export()), "Current status")
    triage_at = NOW - timedelta(hours=2)
    assert (
        f"Latest triage: emergency on day 2, {triage_at:%d %b %Y} 13:00 (Asia/Seoul, UTC+9); "
        "its incident #9 is open"
    ) in status
    assert "Open incidents: #9, chills (found at the day 2 triage)" in status
    assert "1 not yet due, 1 due now, 1 done" in status
    assert "Next check-in: day 3 (standard)" in status


def test_clinic_contact_comes_from_settings_or_says_it_is_missing() -> None:
    configured = ClinicContact.from_settings(
        Settings(clinic_name="Gangnam Skin", clinic_contact=" +82 2 555 0100 ")
    )
    contact = _section(_markdown(sample_export(), configured), "Clinic contact")
    assert "Clinic: Gangnam Skin, Seoul, South Korea" in contact
    assert "How to reach the clinic: +82 2 555 0100" in contact
    assert "Treating physician: Dr Lee (licence KR-MD-777; dr.lee@example.com)" in contact
    bare = ClinicContact.from_settings(Settings(clinic_name="Gangnam Skin"))
    assert CONTACT_NOT_CONFIGURED in _markdown(sample_export(), bare)
    assert CONTACT_NOT_CONFIGURED not in contact


def test_a_patient_without_incidents_says_so() -> None:
    export = replace(sample_export(), incidents=())
    incidents = _section(_markdown(export), "Incidents (adverse events)")
    assert "No adverse event has been recorded." in incidents
    assert "PMDA" not in incidents


def test_summary_sections_come_in_the_order_a_physician_reads_them() -> None:
    headings = [
        b.text
        for b in build_summary(sample_export(), CLINIC).blocks
        if isinstance(b, Heading) and b.level == 2
    ]
    assert headings == [
        "Patient",
        "Procedure",
        "Timeline",
        "Triage outcomes and who decides",
        "Incidents (adverse events)",
        "Current status",
        "Clinic contact",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# not a heading", "\\# not a heading"),
        ("- not a list", "\\- not a list"),
        ("12. not numbered", "12\\. not numbered"),
        ("12.5 mg", "12.5 mg"),
        ("*very* sore", "\\*very\\* sore"),
        ("two\nlines", "two lines"),
        ("lot LOT_A-1", "lot LOT_A-1"),
    ],
)
def test_stored_text_stays_literal_in_markdown(text: str, expected: str) -> None:
    markdown = document_markdown(Document("T", (Paragraph(text),)))
    assert markdown == f"# T\n\n{expected}\n"


def test_markdown_lists_and_tables_escape_their_separators() -> None:
    document = Document(
        "T",
        (
            BulletList((Bullet("item", ("detail one", "detail two")),)),
            Table(("a", "b"), (("x | y", ""),)),
        ),
    )
    assert document_markdown(document) == (
        "# T\n\n- item\n  - detail one\n  - detail two\n\n| a | b |\n|---|---|\n| x \\| y |   |\n"
    )


@pytest.mark.parametrize(
    ("code", "kind", "name"),
    [
        ("AC-000123", "summary", "AC-000123-summary.md"),
        ("AC-000123", "pdf", "AC-000123-summary.pdf"),
        ("AC-000123", "fhir", "AC-000123-fhir.json"),
        ("../etc/x", "pdf", "etc_x-summary.pdf"),
        ("田中", "fhir", "patient-fhir.json"),
    ],
)
def test_export_file_names_never_become_paths(code: str, kind: ExportKind, name: str) -> None:
    assert export_file_name(kind, code) == name


def test_lab_suggestions_are_under_their_triage_as_suggestions_not_orders() -> None:
    timeline = _section(_markdown(sample_export()), "Timeline")
    triage_at = timeline.index("Triage day 2 by Kim RN: emergency")
    labs_at = timeline.index(
        f"  - Lab suggestions for the home physician (not orders): {LAB_TEXT}."
    )
    # Under the triage, before the next timeline item.
    assert triage_at < labs_at < timeline.index("Incident #9 opened: chills")
    assert "cbc_bmp" not in _markdown(sample_export())


def test_several_lab_suggestions_read_as_separate_sentences() -> None:
    second = "High-dose glutathione add-on: the home physician may request a liver panel at week 4"
    timeline = _section(_markdown(sample_export(labs=(LAB_TEXT, second))), "Timeline")
    assert f"Lab suggestions for the home physician (not orders): {LAB_TEXT}. {second}." in timeline


def test_a_triage_recorded_before_labs_were_kept_still_exports() -> None:
    markdown = _markdown(sample_export(labs=()))
    assert "Triage day 2 by Kim RN: emergency" in markdown
    assert "Lab suggestions" not in markdown


def test_a_missing_trend_is_said_in_words_under_the_triage() -> None:
    timeline = _section(_markdown(sample_export(needs=("trend not recorded",))), "Timeline")
    assert "Missing when assessed (could have raised the outcome): trend not recorded" in timeline


def test_each_outcome_word_is_explained_once_with_who_decides() -> None:
    markdown = _markdown(sample_export())
    outcomes = _section(markdown, "Triage outcomes and who decides")
    assert "the treating physician decides, or local emergency services" in outcomes
    assert "- emergency: possible systemic illness or anaphylaxis" in outcomes
    assert "Local emergency services decide" in outcomes
    assert markdown.count("emergency: possible systemic illness") == 1
    # Only the words this record uses.
    assert "- review:" not in outcomes


def test_an_overridden_triage_explains_both_words() -> None:
    export = sample_export()
    triage = replace(
        export.dossier.triages[0], chosen=Disposition.URGENT, override_reason="Seen by GP"
    )
    export = replace(export, dossier=replace(export.dossier, triages=(triage,)))
    outcomes = _section(_markdown(export), "Triage outcomes and who decides")
    assert "- urgent: an adverse event needing a physician today" in outcomes
    assert "- emergency:" in outcomes
    assert outcomes.index("- urgent:") < outcomes.index("- emergency:")


def test_a_record_without_triage_still_says_who_decides() -> None:
    export = sample_export()
    export = replace(
        export,
        dossier=replace(
            export.dossier,
            triages=(),
            identity=replace(export.identity, latest_disposition=None),
        ),
    )
    outcomes = _section(_markdown(export), "Triage outcomes and who decides")
    assert "No triage has been recorded." in outcomes
    assert "the treating physician decides" in outcomes


def test_an_unassessed_incident_is_not_yet_assessed_never_non_serious() -> None:
    markdown = _markdown(sample_export(seriousness=Seriousness.NOT_ASSESSED))
    incidents = _section(markdown, "Incidents (adverse events)")
    assert (
        "Seriousness (ICH E2A): not yet assessed by a physician; until then the report "
        "deadline follows the triage"
    ) in incidents
    assert "Physician assessment: not yet assessed by a physician" in incidents
    assert "Category for reporting: Systemic symptoms (suggested from the findings" in incidents
    for wrong in ("non-serious", "Non-serious", "non_serious", "not_assessed", "not assessed,"):
        assert wrong not in markdown, wrong
