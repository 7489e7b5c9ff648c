"""`Clinic`: every use case of every area, on one object the faces hold."""

from __future__ import annotations

from db.services.admin import AdminServices
from db.services.alerts import AlertServices
from db.services.checklist import ChecklistServices
from db.services.exports import ExportServices
from db.services.followup import FollowUpServices
from db.services.health import AlertHealthServices
from db.services.incidents import IncidentServices
from db.services.oncall import OnCallServices
from db.services.records import RecordServices
from db.services.search import SearchServices
from db.services.whereabouts import WhereaboutsServices


class Clinic(
    FollowUpServices,
    IncidentServices,
    AlertServices,
    OnCallServices,
    AdminServices,
    ExportServices,
    SearchServices,
    WhereaboutsServices,
    ChecklistServices,
    RecordServices,
    AlertHealthServices,
):
    """The one door to the clinic's data: `Clinic(database, settings, clock)`."""
