"""The FHIR bundle read as a receiving system reads it (issue 15): a patient with an
assessed and an unassessed incident, re-parsed with the R4B models the export
uses; every reference resolving inside the bundle; every code from its declared
system's value set; times with offsets; both names; the messenger handle."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure

from core.domain import IncidentOutcome, Seriousness
from core.exports.fhir_terms import (
    CAUSALITY_CODES,
    EVENT_SNOMED,
    SYMPTOM_SNOMED,
    clinic_time_words,
    name_language_tag,
)
from core.exports.formats import render_export
from core.exports.records import PatientExport
from tests.core.test_exports_summary import CLINIC, sample_export

# The R4 (4.0.1) value sets of the HL7 code systems the export declares, whole.
HL7 = "http://terminology.hl7.org/CodeSystem/"
ALLOWED: dict[str, set[str]] = {
    HL7 + "adverse-event-seriousness": {
        "Non-serious",
        "Serious",
        "SeriousResultsInDeath",
        "SeriousIsLifeThreatening",
        "SeriousResultsInHospitalization",
        "SeriousResultsInDisability",
        "SeriousIsBirthDefect",
        "SeriousRequiresPreventImpairment",
    },
    HL7 + "adverse-event-outcome": {
        "resolved",
        "recovering",
        "ongoing",
        "resolvedWithSequelae",
        "fatal",
        "unknown",
    },
    HL7 + "adverse-event-severity": {"mild", "moderate", "severe"},
    HL7 + "adverse-event-causality-assess": {
        "Certain",
        "Probably-Likely",
        "Possible",
        "Unlikely",
        "Conditional-Classified",
        "Unassessable-Unclassifiable",
    },
    HL7 + "adverse-event-causality-method": {"ProbabilityScale", "Bayesian", "Checklist"},
    HL7 + "observation-category": {
        "social-history",
        "vital-signs",
        "imaging",
        "laboratory",
        "procedure",
        "survey",
        "exam",
        "therapy",
        "activity",
    },
    HL7 + "condition-clinical": {
        "active",
        "recurrence",
        "relapse",
        "inactive",
        "remission",
        "resolved",
    },
    HL7 + "condition-ver-status": {
        "unconfirmed",
        "provisional",
        "differential",
        "confirmed",
        "refuted",
        "entered-in-error",
    },
    "http://unitsofmeasure.org": {"Cel"},
}
SNOMED, LOINC, BCP47 = "http://snomed.info/sct", "http://loinc.org", "urn:ietf:bcp:47"
CONTACT_POINT_SYSTEMS = {"phone", "fax", "email", "pager", "url", "sms", "other"}
NAME_USES = {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}

OWN_SCRIPT = "田中 ゆき"


def _two_incidents() -> PatientExport:
    """The sample patient (triage 5: chills, 38.6 °C) with an incident a physician
    classified (other medically important, causality possible, the exosome
    suspected) and one the same triage opened that no physician has assessed."""
    export = sample_export()
    (assessed,) = export.incidents
    first = replace(assessed, triage_id=5)
    second = replace(
        first,
        incident_id=10,
        seriousness=Seriousness.NOT_ASSESSED,
        outcome=IncidentOutcome.UNKNOWN,
        severity_grade=None,
        suspect_product=None,
        causality=None,
        actions_taken=None,
    )
    identity = replace(export.identity, native_name=OWN_SCRIPT)
    return replace(
        export,
        dossier=replace(export.dossier, identity=identity),
        incidents=(first, second),
    )


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(render_export("fhir", _two_incidents(), CLINIC))
    return parsed


@pytest.fixture(scope="module")
def bundle(document: dict[str, Any]) -> Bundle:
    return Bundle.model_validate(document)


def _resources(bundle: Bundle, kind: type[Any]) -> list[Any]:
    return [e.resource for e in bundle.entry or [] if isinstance(e.resource, kind)]


def _by_url(bundle: Bundle) -> dict[str | None, Any]:
    return {e.fullUrl: e.resource for e in bundle.entry or []}


def _walk(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in the JSON, depth first."""
    if isinstance(node, dict):
        for k, value in node.items():
            yield k, value
            yield from _walk(value, k)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, key)


def _verhoeff_ok(number: str) -> bool:
    """SNOMED CT identifiers end in a Verhoeff check digit."""
    d = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ]
    p = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ]
    check = 0
    for i, digit in enumerate(reversed(number)):
        check = d[check][p[i % 8][int(digit)]]
    return check == 0


def _loinc_ok(code: str) -> bool:
    """A LOINC code is digits, a dash and its mod-10 check digit."""
    body, _, check = code.partition("-")
    total = 0
    for i, digit in enumerate(reversed(body)):
        doubled = int(digit) * (2 if i % 2 == 0 else 1)
        total += doubled // 10 + doubled % 10
    return check == str((10 - total % 10) % 10)


def test_the_bundle_reparses_with_a_reaction_per_incident_and_nothing_contained(
    bundle: Bundle, document: dict[str, Any]
) -> None:
    kinds = sorted(e.resource.get_resource_type() for e in bundle.entry or [] if e.resource)
    assert kinds.count("AdverseEvent") == 2 and kinds.count("Condition") == 2
    assert kinds.count("Medication") == 2  # two products given, each once
    assert not [v for k, v in _walk(document) if k == "contained"]


def test_every_reference_resolves_inside_the_bundle(
    bundle: Bundle, document: dict[str, Any]
) -> None:
    urls = set(_by_url(bundle))
    references = [v for k, v in _walk(document) if k == "reference"]
    assert len(references) > 20
    assert not [r for r in references if r not in urls]


def test_every_code_is_from_its_declared_system(document: dict[str, Any]) -> None:
    codings = [coding for key, value in _walk(document) if key == "coding" for coding in value] + [
        value for key, value in _walk(document) if key == "valueQuantity"
    ]
    systems = {c["system"] for c in codings}
    assert {SNOMED, LOINC, BCP47} <= systems
    for coding in codings:
        system, code = coding["system"], coding["code"]
        if system == SNOMED:
            # A core concept id: Verhoeff check digit, partition 00 (a concept).
            assert _verhoeff_ok(code) and code[-3:-1] == "00", code
        elif system == LOINC:
            assert _loinc_ok(code), code
        elif system == BCP47:
            assert re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", code), code
        else:
            assert code in ALLOWED[system], (system, code)


def test_the_code_tables_hold_only_well_formed_snomed_ids() -> None:
    for code, _ in [*SYMPTOM_SNOMED.values(), *EVENT_SNOMED.values()]:
        assert _verhoeff_ok(code) and code[-3:-1] == "00", code
    assert not _verhoeff_ok("43724003")  # the check can fail
    assert {c for c, _ in CAUSALITY_CODES.values()} == ALLOWED[
        HL7 + "adverse-event-causality-assess"
    ]


def test_seriousness_is_truthful_for_the_assessed_and_the_unassessed(bundle: Bundle) -> None:
    assessed, unassessed = _resources(bundle, AdverseEvent)
    (coding,) = assessed.seriousness.coding
    assert coding.code == "Serious"
    assert assessed.seriousness.text == "Serious: other medically important event"
    assert unassessed.seriousness.coding is None
    assert unassessed.seriousness.text == "not yet assessed by a physician"
    assert "SeriousRequiresPreventImpairment" not in bundle.model_dump_json()


def test_causality_is_coded_and_the_suspect_is_the_product_given(bundle: Bundle) -> None:
    assessed, unassessed = _resources(bundle, AdverseEvent)
    (suspect,) = assessed.suspectEntity
    (causality,) = suspect.causality
    (coding,) = causality.assessment.coding
    assert (coding.system, coding.code) == (HL7 + "adverse-event-causality-assess", "Possible")
    assert "WHO-UMC" in causality.method.text
    (procedure,) = _resources(bundle, Procedure)
    assert suspect.instance.reference == procedure.usedReference[0].reference
    medication = _by_url(bundle)[suspect.instance.reference]
    assert medication.get_resource_type() == "Medication"
    assert medication.batch.lotNumber == "LOT-EXO-4417"
    assert unassessed.suspectEntity is None  # no product suspected yet


def test_each_incident_references_its_findings_through_the_reaction(bundle: Bundle) -> None:
    by_url = _by_url(bundle)
    statuses = []
    for event in _resources(bundle, AdverseEvent):
        (reaction_ref,) = event.resultingCondition
        reaction = by_url[reaction_ref.reference]
        assert reaction.get_resource_type() == "Condition"
        assert reaction.code.text == event.event.text == "Systemic symptoms"
        statuses.append(reaction.verificationStatus.coding[0].code)
        (evidence,) = reaction.evidence
        findings = [by_url[r.reference] for r in evidence.detail]
        assert {f.get_resource_type() for f in findings} == {"Observation"}
        (chills,) = [f for f in findings if f.valueCodeableConcept is not None]
        assert (chills.valueCodeableConcept.coding[0].code, chills.valueCodeableConcept.text) == (
            "43724002",
            "chills",
        )
        (temperature,) = [f for f in findings if f.valueQuantity is not None]
        assert (str(temperature.valueQuantity.value), temperature.valueQuantity.code) == (
            "38.6",
            "Cel",
        )
        assert "Findings: chills; temperature 38.6 °C" in event.text.div
    assert statuses == ["provisional", "unconfirmed"]


def test_every_time_has_an_offset_and_the_narrative_names_the_zone(
    document: dict[str, Any], bundle: Bundle
) -> None:
    times = [
        v
        for _, v in _walk(document)
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+.*", v)
    ]
    assert len(times) > 10
    assert [t for t in times if not t.endswith("+09:00")] == []
    for event in _resources(bundle, AdverseEvent):
        assert "13:00 (Asia/Seoul, UTC+9)" in event.text.div
        assert "+00:00" not in event.text.div and "UTC " not in event.text.div


def test_the_patient_has_both_names_and_the_messenger_handle(bundle: Bundle) -> None:
    (patient,) = _resources(bundle, Patient)
    official, usual = patient.name
    assert (official.use, official.family, official.given) == ("official", "Tanaka", ["Yuki"])
    assert (usual.use, usual.text) == ("usual", OWN_SCRIPT)
    (language,) = usual.extension
    assert (language.url, language.valueCode) == (
        "http://hl7.org/fhir/StructureDefinition/language",
        "ja-Jpan",
    )
    assert {n.use for n in patient.name} <= NAME_USES
    handle, phone = patient.telecom
    assert (handle.system, handle.value, handle.rank) == ("other", "line:tanaka (LINE)", 1)
    assert (phone.system, phone.value) == ("phone", "+81 90 1234 5678")
    assert {t.system for t in patient.telecom} <= CONTACT_POINT_SYSTEMS


@pytest.mark.parametrize(
    ("name", "language", "tag"),
    [
        ("田中 ゆき", "ja", "ja-Jpan"),
        ("田中", "ja", "ja-Hani"),
        ("王秀英", "zh", "zh-Hani"),
        ("王秀英", "en", "und-Hani"),
        ("김민준", "ko", "ko-Kore"),
        ("Иванова Анна", "ru", "und-Cyrl"),
        ("123", "ja", None),
    ],
)
def test_the_own_script_name_is_tagged_with_its_script(
    name: str, language: str, tag: str | None
) -> None:
    assert name_language_tag(name, language) == tag


def test_clinic_time_words_name_the_zone_and_offset() -> None:
    at = datetime.fromisoformat("2026-11-22T04:00:00+00:00")
    assert clinic_time_words(at) == "22 Nov 2026 13:00 (Asia/Seoul, UTC+9)"
