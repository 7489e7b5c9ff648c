"""Follow-up keys shared by the queue and the patient screen.

`c` contact attempt, `d` done, `s` skip, `a` claim/release, `y` copy the
aftercare message. Each asks the screen for its target (the highlighted
patient and their next touchpoint), collects input in a modal, then writes in
a thread worker through `db.followup`, one transaction per action. Conflicts
come back as a notification that says what happened; nothing is half-written.

Copying a message is not a failed contact attempt: only an unanswered call,
or a message still without reply after `reply_window_hours`, counts toward
`unreachable` (`db.followup.count_failed_attempts`). When an attempt closes a
touchpoint as unreachable the toast says so, with the failures that did it.
A patient whose language has no message catalogue gets English, and `y` asks
before copying.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from core.domain import Channel, ContactOutcome, TouchpointResolution
from core.messages import language_name
from db.engine import transaction
from db.errors import StorageError
from db.followup import (
    Actor,
    ContactLogged,
    FollowUpConflict,
    aftercare_message,
    claim_patient,
    record_contact_attempt,
    release_patient,
    resolve_touchpoint,
)
from tui.modals import ContactAttemptForm, ContactAttemptModal, TextPromptModal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tui.app import AftercareApp

FOLLOW_UP_BINDINGS = [
    Binding("c", "contact", "Contact", tooltip="Log a contact attempt", id="followup.contact"),
    Binding("d", "done", "Done", tooltip="Mark the next touchpoint done", id="followup.done"),
    Binding(
        "s", "skip", "Skip", tooltip="Skip the next touchpoint, with a reason", id="followup.skip"
    ),
    Binding("a", "claim", "Claim", tooltip="Claim or release the patient", id="followup.claim"),
    Binding(
        "y",
        "copy_message",
        "Copy msg",
        tooltip="Copy the aftercare message and log it as sent",
        id="followup.copy",
    ),
]


@dataclass(frozen=True)
class FollowUpTarget:
    """The patient (and their next touchpoint) a key acts on."""

    patient_id: int
    patient_label: str
    touchpoint_id: int | None
    touchpoint_label: str
    channel: Channel
    assigned_to_id: int | None


# What each outcome is called on screen; the stored codes never reach a person.
OUTCOME_WORDS = {
    ContactOutcome.REACHED: "reached the patient",
    ContactOutcome.NO_ANSWER: "no answer",
    ContactOutcome.MESSAGE_SENT: "message sent",
    ContactOutcome.PHOTO_RECEIVED: "photo received",
    ContactOutcome.CALL_LATER: "patient asked to call later",
}


class FollowUpWritten(Message):
    """A follow-up write committed; `summary` is shown to the coordinator."""

    def __init__(
        self, summary: str, clipboard: str | None = None, *, severity: str = "information"
    ) -> None:
        self.summary = summary
        self.clipboard = clipboard
        self.severity = severity
        super().__init__()


class AftercareMessageChecked(Message):
    """The message was read; `notice` is set when the patient's language has no
    catalogue and the coordinator must agree to English before it is copied."""

    def __init__(self, notice: str | None, actor: Actor, target: FollowUpTarget) -> None:
        self.notice = notice
        self.actor = actor
        self.target = target
        super().__init__()


class FollowUpRefused(Message):
    """A follow-up write was refused or failed; nothing was saved."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__()


class FollowUpActions:
    """Mixin for screens; they list FOLLOW_UP_BINDINGS and implement the hooks."""

    @property
    def aftercare(self) -> AftercareApp:
        """The running app, typed."""
        return cast("AftercareApp", self.app)  # type: ignore[attr-defined]

    def follow_up_target(self) -> FollowUpTarget | None:
        """The highlighted patient, or None."""
        raise NotImplementedError

    def after_follow_up(self) -> None:
        """Re-read what the screen shows."""
        raise NotImplementedError

    # Methods of Screen, typed here for mypy.
    post_message: Callable[[Message], bool]
    notify: Callable[..., None]
    run_worker: Callable[..., Any]

    def _ready(self, needs_touchpoint: bool = True) -> tuple[Actor, FollowUpTarget] | None:
        actor = self.aftercare.actor
        if actor is None:
            self.notify(
                f"Read-only: login {self.aftercare.login!r} is not an active staff member.",
                severity="error",
            )
            return None
        target = self.follow_up_target()
        if target is None:
            self.notify("No patient selected.", severity="warning")
            return None
        if needs_touchpoint and target.touchpoint_id is None:
            self.notify("This patient has no open touchpoint.", severity="warning")
            return None
        return actor, target

    def _write(
        self,
        describe: str,
        work: Callable[[Session, Actor], str | FollowUpWritten | None],
        actor: Actor,
    ) -> None:
        """Run `work` in one transaction off the event loop.

        `work` returns text to copy to the clipboard, or its own FollowUpWritten
        when the summary depends on what was saved.
        """
        database = self.aftercare.database

        def run() -> None:
            try:
                with transaction(database.sessions) as session:
                    result = work(session, actor)
            except FollowUpConflict as exc:
                self.post_message(FollowUpRefused(str(exc)))
            except StorageError as exc:
                self.post_message(FollowUpRefused(f"{exc}; nothing was saved"))
            except Exception as exc:  # the database went away mid-write
                self.post_message(FollowUpRefused(f"could not save ({exc}); nothing was saved"))
            else:
                self.post_message(
                    result
                    if isinstance(result, FollowUpWritten)
                    else FollowUpWritten(describe, result)
                )

        self.run_worker(run, thread=True, group="follow-up-write", exit_on_error=False)

    def action_contact(self) -> None:
        """Log a contact attempt on the next touchpoint."""
        ready = self._ready()
        if ready is None:
            return
        actor, target = ready
        settings = self.aftercare.settings

        def save(form: ContactAttemptForm | None) -> None:
            if form is None:
                return

            def work(session: Session, who: Actor) -> FollowUpWritten:
                logged = record_contact_attempt(
                    session,
                    touchpoint_id=target.touchpoint_id or 0,
                    channel=form.channel,
                    outcome=form.outcome,
                    note=form.note,
                    actor=who,
                    now=self.aftercare.clock.now(),
                    unreachable_after=settings.unreachable_after_attempts,
                    reply_window=timedelta(hours=settings.reply_window_hours),
                )
                return _attempt_written(
                    f"Contact attempt logged: {OUTCOME_WORDS[form.outcome]}.", logged
                )

            self._write("Contact attempt logged.", work, actor)

        self.aftercare.push_screen(
            ContactAttemptModal(target.patient_label, target.touchpoint_label, target.channel),
            save,
        )

    def _resolve(self, resolution: TouchpointResolution, title: str, required: bool) -> None:
        ready = self._ready()
        if ready is None:
            return
        actor, target = ready

        def save(note: str | None) -> None:
            if note is None:
                return
            self._write(
                f"{target.touchpoint_label} marked {resolution.value}.",
                lambda session, who: _none(
                    resolve_touchpoint(
                        session,
                        touchpoint_id=target.touchpoint_id or 0,
                        resolution=resolution,
                        note=note,
                        actor=who,
                        now=self.aftercare.clock.now(),
                    )
                ),
                actor,
            )

        self.aftercare.push_screen(
            TextPromptModal(
                f"{title}: {target.patient_label}, {target.touchpoint_label}",
                "reason" if required else "note (optional)",
                required=required,
            ),
            save,
        )

    def action_done(self) -> None:
        """Mark the next touchpoint done, with an optional note."""
        self._resolve(TouchpointResolution.DONE, "Mark done", required=False)

    def action_skip(self) -> None:
        """Skip the next touchpoint; a reason is required."""
        self._resolve(TouchpointResolution.SKIPPED, "Skip", required=True)

    def action_claim(self) -> None:
        """Claim the patient, or release them if already yours."""
        ready = self._ready(needs_touchpoint=False)
        if ready is None:
            return
        actor, target = ready
        now = self.aftercare.clock.now()
        if target.assigned_to_id == actor.staff_id:

            def release(session: Session, who: Actor) -> None:
                release_patient(session, patient_id=target.patient_id, actor=who, now=now)

            self._write(f"Released {target.patient_label}.", release, actor)
        else:

            def claim(session: Session, who: Actor) -> None:
                claim_patient(session, patient_id=target.patient_id, actor=who, now=now)

            self._write(f"Claimed {target.patient_label}.", claim, actor)

    def action_copy_message(self) -> None:
        """Copy the aftercare message for the next touchpoint and log it as sent.

        When the patient's language has no catalogue the message is English: a
        confirmation naming the language comes first, and nothing is copied or
        logged unless the coordinator says yes.
        """
        ready = self._ready()
        if ready is None:
            return
        actor, target = ready
        database = self.aftercare.database
        settings = self.aftercare.settings
        now = self.aftercare.clock.now()

        def check() -> None:
            # A read, not a write: nothing is logged until the coordinator agrees.
            try:
                with database.sessions() as session:
                    message = aftercare_message(
                        session,
                        touchpoint_id=target.touchpoint_id or 0,
                        actor=actor,
                        clinic_name=settings.clinic_name,
                        now=now,
                    )
            except FollowUpConflict as exc:
                self.post_message(FollowUpRefused(str(exc)))
            except Exception as exc:  # the database went away mid-read
                self.post_message(FollowUpRefused(f"could not read ({exc}); nothing was copied"))
            else:
                self.post_message(AftercareMessageChecked(message.fallback_notice, actor, target))

        self.run_worker(check, thread=True, group="follow-up-write", exit_on_error=False)

    def on_aftercare_message_checked(self, message: AftercareMessageChecked) -> None:
        """Copy, or first ask when English goes to a patient who reads another language."""
        from tui.screens.alerts import ConfirmModal  # the alerts screen imports this module

        if message.notice is None:
            self._copy_message(message.actor, message.target)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._copy_message(message.actor, message.target)
            else:
                self.notify("Nothing copied or logged.", markup=False)

        self.aftercare.push_screen(ConfirmModal(Text(f"{message.notice} Copy anyway?")), answered)

    def _copy_message(self, actor: Actor, target: FollowUpTarget) -> None:
        """Write the attempt and hand the message text to the clipboard."""
        settings = self.aftercare.settings
        now = self.aftercare.clock.now()
        window = timedelta(hours=settings.reply_window_hours)

        def work(session: Session, who: Actor) -> FollowUpWritten:
            message = aftercare_message(
                session,
                touchpoint_id=target.touchpoint_id or 0,
                actor=who,
                clinic_name=settings.clinic_name,
                now=now,
            )
            language = language_name(message.language)
            logged = record_contact_attempt(
                session,
                touchpoint_id=target.touchpoint_id or 0,
                channel=target.channel,
                outcome=ContactOutcome.MESSAGE_SENT,
                note=f"aftercare message in {language}",
                actor=who,
                now=now,
                unreachable_after=settings.unreachable_after_attempts,
                reply_window=window,
            )
            written = _attempt_written(
                f"Aftercare message in {language} copied to the clipboard and logged as sent; "
                f"it counts as a failed attempt only if the patient has not replied "
                f"within {settings.reply_window_hours} h.",
                logged,
            )
            written.clipboard = message.text
            return written

        self._write("Aftercare message copied.", work, actor)

    def on_follow_up_written(self, message: FollowUpWritten) -> None:
        """Tell the coordinator, copy if asked, and refresh."""
        if message.clipboard is not None:
            self.aftercare.copy_to_clipboard(message.clipboard)
        self.notify(Text(message.summary).plain, markup=False, severity=message.severity)
        self.after_follow_up()

    def on_follow_up_refused(self, message: FollowUpRefused) -> None:
        """Say why nothing was saved, then show the current state."""
        self.notify(message.reason, title="Not saved", severity="error", markup=False)
        self.after_follow_up()


def _none(_: object) -> None:
    return None


def _attempt_written(summary: str, logged: ContactLogged) -> FollowUpWritten:
    """The toast after an attempt: what was logged, and, when it closed the
    touchpoint, that it is now unreachable and why, in words."""
    if logged.became_unreachable is not None:
        return FollowUpWritten(f"{summary} {logged.became_unreachable}", severity="warning")
    if logged.failed.total:
        summary += (
            f" So far {logged.failed.words()} of {logged.unreachable_after} "
            "before this check-in counts as unreachable."
        )
    return FollowUpWritten(summary)
