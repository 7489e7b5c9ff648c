"""Reading an exported FHIR Bundle back in a test."""

from __future__ import annotations

from fhir.resources.R4B.bundle import BundleEntry


def resource_type(entry: BundleEntry) -> str:
    """The entry's resource type; every entry we export carries a resource."""
    assert entry.resource is not None, f"a Bundle entry without a resource: {entry.fullUrl}"
    return entry.resource.get_resource_type()
