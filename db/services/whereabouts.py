"""Where the patient is now and how to reach them: the move and the contact edit."""

from __future__ import annotations

from core.commands import ContactDetails, PatientMove, Whereabouts
from db import whereabouts as store
from db.followup import Actor
from db.services.base import ServiceBase
from db.whereabouts import WhereaboutsSaved


class WhereaboutsServices(ServiceBase):
    """Moving a patient to another country and zone; editing phone, handle and e-mail."""

    def whereabouts(self, patient_id: int) -> Whereabouts | None:
        """Where the patient is and how to reach them, as stored (None: no such patient)."""
        return self._read(store.whereabouts_of, patient_id)

    def move_patient(
        self,
        actor: Actor,
        patient_id: int,
        move: PatientMove,
        *,
        expected: PatientMove | None = None,
    ) -> WhereaboutsSaved:
        """The patient is now in another country: its zone too, and the windows not yet open."""
        return self._apply(store.move_patient, actor, patient_id, move, expected=expected)

    def edit_contacts(
        self,
        actor: Actor,
        patient_id: int,
        contacts: ContactDetails,
        *,
        expected: ContactDetails | None = None,
    ) -> WhereaboutsSaved:
        """New phone, messenger handle or e-mail, checked as the import checks them."""
        return self._apply(store.edit_contacts, actor, patient_id, contacts, expected=expected)

    def save_whereabouts(
        self, actor: Actor, patient_id: int, wanted: Whereabouts, *, expected: Whereabouts
    ) -> WhereaboutsSaved:
        """The "Where is the patient now" form: move and contacts in one transaction."""
        return self._apply(store.save_whereabouts, actor, patient_id, wanted, expected=expected)
