"""The FHIR Bundle: valid against fhir.resources, the resource types, coded
seriousness and outcome, lots on the products, references that resolve.

(tests/core/test_fhir_truthful.py reads a bundle with an assessed and an unassessed
incident the way a receiving system would: codes against their value sets, times,
names, the messenger handle.)"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.servicerequest import ServiceRequest

from core.domain import Disposition, IncidentOutcome, Seriousness
from core.exports.fhir import (
    OUTCOME_SYSTEM,
    SERIOUSNESS_CODES,
    SERIOUSNESS_SYSTEM,
    build_bundle,
)
from core.exports.formats import render_export
from core.exports.labels import DISPOSITION_EXPLANATIONS
from core.exports.records import PatientExport
from tests.bundles import resource_type
from tests.core.test_exports_summary import CLINIC, LAB_TEXT, sample_export


def _parsed(export: PatientExport) -> Bundle:
    return Bundle.model_validate_json(render_export("fhir", export, CLINIC))


def _resources(bundle: Bundle, kind: type[Any]) -> list[Any]:
    return [e.resource for e in bundle.entry or [] if isinstance(e.resource, kind)]


def _name_reference_and_lot(
    medication: Medication,
) -> tuple[str | None, tuple[str | None, str | None]]:
    assert medication.code is not None and medication.identifier
    assert medication.batch is not None
    return medication.code.text, (medication.identifier[0].value, medication.batch.lotNumber)


def test_bundle_reparses_with_every_resource_type() -> None:
    bundle = _parsed(sample_export())
    assert bundle.type == "collection"
    kinds = Counter(resource_type(e) for e in bundle.entry or [])
    assert kinds == {
        "Patient": 1,
        "Medication": 2,  # the two products given, each once
        "Procedure": 1,
        "CarePlan": 1,
        "Observation": 3,  # the triage, its one symptom and its temperature
        "ServiceRequest": 1,  # its lab suggestion
        "AdverseEvent": 1,
    }


def test_counts_follow_episodes_and_incidents() -> None:
    export = sample_export()
    second_episode = replace(export.episodes[0], episode_id=4)
    second_incident = replace(export.incidents[0], incident_id=10)
    bigger = replace(
        export,
        dossier=replace(export.dossier, episodes=(second_episode, *export.episodes)),
        incidents=(*export.incidents, second_incident),
    )
    kinds = Counter(resource_type(e) for e in _parsed(bigger).entry or [])
    assert kinds == {
        "Patient": 1,
        "Medication": 4,
        "Procedure": 2,
        "CarePlan": 2,
        "Observation": 3,
        "ServiceRequest": 1,
        "AdverseEvent": 2,
    }


def test_procedure_carries_products_with_mfds_reference_and_lot() -> None:
    bundle = _parsed(sample_export())
    (procedure,) = _resources(bundle, Procedure)
    assert procedure.status == "completed"
    assert procedure.code.text == "Exosome IV"
    assert procedure.contained is None  # products are Bundle entries, not copies
    medications = {f"urn:uuid:{m.id}": m for m in _resources(bundle, Medication)}
    assert [r.reference for r in procedure.usedReference] == list(medications)
    lots = dict(_name_reference_and_lot(m) for m in medications.values())
    assert lots == {
        "ExoRene IV exosome concentrate": ("MFDS-2024-98765", "LOT-EXO-4417"),
        "Glutathione injection": ("MFDS-2020-31337", "GTH-0042"),
    }


def test_adverse_event_has_coded_seriousness_outcome_and_suspect_lot() -> None:
    bundle = _parsed(sample_export())
    (event,) = _resources(bundle, AdverseEvent)
    assert event.actuality == "actual"
    assert event.event.text == "Systemic symptoms"
    (seriousness,) = event.seriousness.coding
    # "Other medically important" is plain Serious, with the criterion in the text;
    # not "requires intervention to prevent permanent impairment".
    assert (seriousness.system, seriousness.code) == (SERIOUSNESS_SYSTEM, "Serious")
    assert event.seriousness.text == "Serious: other medically important event"
    (outcome,) = event.outcome.coding
    assert (outcome.system, outcome.code) == (OUTCOME_SYSTEM, "recovering")
    assert event.severity.coding[0].code == "moderate"  # CTCAE grade 2
    (suspect,) = event.suspectEntity
    assert event.contained is None  # the suspect is the product given, not a second copy
    (medication,) = [
        m
        for m in _resources(bundle, Medication)
        if f"urn:uuid:{m.id}" == suspect.instance.reference
    ]
    assert medication.batch.lotNumber == "LOT-EXO-4417"
    (causality,) = suspect.causality
    assert (causality.assessment.coding[0].code, causality.assessment.text) == (
        "Possible",
        "possible",
    )
    assert "Called Dr Sato in Osaka." in event.text.div


@pytest.mark.parametrize(
    "seriousness", [s for s in Seriousness if s is not Seriousness.NOT_ASSESSED]
)
def test_every_assessed_seriousness_has_an_hl7_code(seriousness: Seriousness) -> None:
    (event,) = _resources(_parsed(sample_export(seriousness=seriousness)), AdverseEvent)
    assert event.seriousness.coding[0].code == SERIOUSNESS_CODES[seriousness][0]


def test_unassessed_seriousness_is_text_only_and_never_non_serious() -> None:
    content = render_export("fhir", sample_export(seriousness=Seriousness.NOT_ASSESSED), CLINIC)
    (event,) = _resources(Bundle.model_validate_json(content), AdverseEvent)
    # No HL7 code means "not yet assessed", so none is sent (and none made up).
    assert event.seriousness.coding is None
    assert "not yet assessed" in event.seriousness.text
    text = content.decode("utf-8")
    for wrong in ("non-serious", "Non-serious", "non_serious", "not_assessed"):
        assert wrong not in text, wrong


def _triage(bundle: Bundle) -> Any:
    """The triage's Observation (its findings' Observations carry no clinic number)."""
    (triage,) = [o for o in _resources(bundle, Observation) if o.identifier]
    return triage


def test_triage_is_an_observation_with_findings_outcome_and_who_decides() -> None:
    bundle = _parsed(sample_export(needs=("trend not recorded",)))
    observation = _triage(bundle)
    assert observation.status == "final"
    assert observation.valueCodeableConcept.text == DISPOSITION_EXPLANATIONS[Disposition.EMERGENCY]
    assert "Local emergency services decide" in observation.valueCodeableConcept.text
    notes = [n.text for n in observation.note]
    assert "Day 2 after the procedure. Findings: chills." in notes
    assert any("trend not recorded" in n for n in notes)
    assert any("the treating physician decides" in n for n in notes)
    # The findings it was derived from are Observations of their own.
    findings = {f"urn:uuid:{o.id}": o for o in _resources(bundle, Observation)}
    derived = [findings[r.reference] for r in observation.derivedFrom]
    (temperature,) = [o for o in derived if o.valueQuantity is not None]
    assert (temperature.code.coding[0].system, temperature.code.coding[0].code) == (
        "http://loinc.org",
        "8310-5",
    )
    assert (temperature.valueQuantity.value, temperature.valueQuantity.code) == (
        Decimal("38.6"),
        "Cel",
    )
    assert '"value": 38.6,' in render_export("fhir", sample_export(), CLINIC).decode()


def test_lab_suggestions_are_proposals_for_the_home_physician_not_orders() -> None:
    second = "Infection signs at a treated site (warmth): the home physician may request CRP"
    bundle = _parsed(sample_export(labs=(LAB_TEXT, second)))
    observation = _triage(bundle)
    requests = _resources(bundle, ServiceRequest)
    assert [r.code.text for r in requests] == [LAB_TEXT, second]
    for request in requests:
        assert (request.intent, request.status) == ("proposal", "active")
        assert request.reasonReference[0].reference == f"urn:uuid:{observation.id}"
        assert "not an order" in request.note[0].text
    # Only words: the lab rows' ids never reach the file.
    text = render_export("fhir", sample_export(labs=(LAB_TEXT, second)), CLINIC).decode()
    assert "cbc_bmp" not in text and "crp_esr" not in text


def test_a_triage_recorded_before_labs_were_kept_still_exports() -> None:
    bundle = _parsed(sample_export(labs=()))
    assert _triage(bundle).status == "final"
    assert _resources(bundle, ServiceRequest) == []


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (IncidentOutcome.RECOVERING, "recovering"),
        (IncidentOutcome.RESOLVED, "resolved"),
        (IncidentOutcome.RESOLVED_WITH_SEQUELAE, "resolvedWithSequelae"),
        (IncidentOutcome.NOT_RESOLVED, "ongoing"),
        (IncidentOutcome.FATAL, "fatal"),
        (IncidentOutcome.UNKNOWN, "unknown"),
    ],
)
def test_outcomes_map_to_hl7_codes(outcome: IncidentOutcome, code: str) -> None:
    (event,) = _resources(_parsed(sample_export(outcome=outcome)), AdverseEvent)
    assert event.outcome.coding[0].code == code


def test_care_plan_activities_are_the_touchpoints_with_their_states() -> None:
    (plan,) = _resources(_parsed(sample_export()), CarePlan)
    assert (plan.status, plan.intent) == ("active", "plan")
    activities = [(a.detail.code.text, a.detail.status) for a in plan.activity]
    assert activities == [
        ("Day 1 check-in (standard)", "completed"),
        ("Day 3 check-in (standard)", "not-started"),
        ("Day 7 check-in (standard)", "scheduled"),
    ]
    assert plan.activity[0].progress[0].text == "Replied with photos."


def test_every_reference_resolves_inside_the_bundle() -> None:
    bundle = _parsed(sample_export())
    urls = {e.fullUrl for e in bundle.entry or []}
    document = json.loads(render_export("fhir", sample_export(), CLINIC))
    references = list(_references(document))
    assert references
    for reference in references:
        assert reference in urls, reference  # nothing contained, nothing outside
    # The procedure an incident followed is linked from the AdverseEvent.
    (event,) = _resources(bundle, AdverseEvent)
    (procedure,) = _resources(bundle, Procedure)
    assert event.subjectMedicalHistory[0].reference == f"urn:uuid:{procedure.id}"


def _references(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def test_ids_are_stable_across_exports_and_clinics_differ() -> None:
    first = build_bundle(sample_export(), CLINIC)
    again = build_bundle(sample_export(), CLINIC)
    other = build_bundle(sample_export(), replace(CLINIC, name="Another Clinic"))
    ids = [e.fullUrl for e in first.entry or []]
    assert ids == [e.fullUrl for e in again.entry or []]
    assert not set(ids) & {e.fullUrl for e in other.entry or []}


def test_no_meddra_codes_and_non_latin_names_survive() -> None:
    export = sample_export(family_name="田中", given_name="ゆき")
    text = render_export("fhir", export, CLINIC).decode("utf-8")
    assert "meddra" not in text.lower()
    patient = next(e.resource for e in Bundle.model_validate_json(text).entry or [])
    assert isinstance(patient, Patient) and patient.name
    assert patient.name[0].family == "田中"
