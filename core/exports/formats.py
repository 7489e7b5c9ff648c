"""One entry point per kind of patient export: its bytes, its file name, its audit words."""

from __future__ import annotations

import re
from typing import Literal, get_args

from core.exports.document import to_markdown
from core.exports.fhir import build_bundle, bundle_json
from core.exports.pdf import render_pdf
from core.exports.records import ClinicContact, PatientExport
from core.exports.summary import build_summary

ExportKind = Literal["summary", "pdf", "fhir"]
"""The Markdown summary, the same summary as PDF, or the FHIR R4 Bundle as JSON."""

EXPORT_KINDS: tuple[ExportKind, ...] = get_args(ExportKind)

_SUFFIX: dict[ExportKind, str] = {
    "summary": "-summary.md",
    "pdf": "-summary.pdf",
    "fhir": "-fhir.json",
}

# What the audit trail records: which disclosure, in which format.
AUDIT_ACTION: dict[ExportKind, str] = {
    "summary": "export.summary",
    "pdf": "export.summary",
    "fhir": "export.fhir",
}
AUDIT_FORMAT: dict[ExportKind, str] = {
    "summary": "markdown",
    "pdf": "pdf",
    "fhir": "fhir-r4-json",
}


def render_export(kind: ExportKind, export: PatientExport, clinic: ClinicContact) -> bytes:
    """The file contents of one export; text formats are UTF-8."""
    if kind == "fhir":
        return (bundle_json(build_bundle(export, clinic)) + "\n").encode("utf-8")
    document = build_summary(export, clinic)
    if kind == "pdf":
        return render_pdf(
            document,
            footer=f"{export.identity.code} - {clinic.name}",
            created_at=export.read_at,
        )
    return to_markdown(document).encode("utf-8")


def export_file_name(kind: ExportKind, patient_code: str) -> str:
    """'AC-000123-summary.pdf': the patient code, made safe for any file system."""
    # Codes are clinic-assigned, but a slash or a leading dot must never
    # turn a file name into a path.
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", patient_code).strip("_") or "patient"
    return safe + _SUFFIX[kind]
