"""The record of care by hand: new patients, new episodes, corrections."""

from __future__ import annotations

from core.records import EpisodeRecord, NewPatient, PatientRecord, RecordSaved
from db import records as store
from db.followup import Actor
from db.services.base import ServiceBase


class RecordServices(ServiceBase):
    """Recording a patient and their treatment by hand, and correcting it later."""

    def physicians(self) -> list[tuple[str, str]]:
        """Active physicians a form offers as treating physician: (login, name)."""
        return self._read(store.physicians)

    def template_names(self) -> list[str]:
        """The schedule templates a form offers, by name."""
        return sorted(self.templates)

    def episode_record(self, episode_id: int) -> EpisodeRecord | None:
        """The episode as a form opens it (None: no such episode)."""
        return self._read(store.episode_record, episode_id)

    def patient_record(self, patient_id: int) -> PatientRecord | None:
        """The patient as a form opens them (None: no such patient)."""
        return self._read(store.patient_record, patient_id)

    def record_patient(self, actor: Actor, new: NewPatient) -> RecordSaved:
        """A patient recorded by hand with their first episode and its touchpoints."""
        return self._apply(
            store.create_patient,
            actor,
            new,
            templates=self.templates,
            high_dose_glutathione_mg=self.settings.high_dose_glutathione_mg,
        )

    def record_episode(self, actor: Actor, patient_id: int, record: EpisodeRecord) -> RecordSaved:
        """A returning patient's new treatment episode."""
        return self._apply(
            store.add_episode,
            actor,
            patient_id,
            record,
            templates=self.templates,
            high_dose_glutathione_mg=self.settings.high_dose_glutathione_mg,
        )

    def correct_episode(
        self, actor: Actor, episode_id: int, record: EpisodeRecord, *, expected: EpisodeRecord
    ) -> RecordSaved:
        """Correct an episode; `expected` is the record as the form was opened."""
        return self._apply(
            store.edit_episode,
            actor,
            episode_id,
            record,
            expected=expected,
            templates=self.templates,
            high_dose_glutathione_mg=self.settings.high_dose_glutathione_mg,
        )

    def correct_patient(
        self, actor: Actor, patient_id: int, record: PatientRecord, *, expected: PatientRecord
    ) -> RecordSaved:
        """Correct who the patient is (names, birth date, language, channel)."""
        return self._apply(store.edit_patient, actor, patient_id, record, expected=expected)
