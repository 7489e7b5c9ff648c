"""Follow-up keys shared by the queue and the patient screen.

`c` contact attempt, `d` done, `s` skip, `a` claim/release, `y` copy the
aftercare message. Each asks the screen for its target (the highlighted
patient and their next touchpoint), collects input in a modal, then calls the
app's `Clinic` (db.services) in a thread worker, one transaction per action.
Refusals (`core.refusals.Refused`) come back as a notification in their own
words; nothing is half-written. Other screens write the same way, through
`FollowUpActions._write`.

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
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rich.text import Text
from textual.message import Message

from core.domain import Channel, ContactOutcome, TouchpointResolution
from core.refusals import Refused
from db.followup import Actor, ContactLogged
from tui.keys import bind
from tui.modals import (
    ConfirmModal,
    ContactAttemptForm,
    ContactAttemptModal,
    FormModal,
    TextPromptModal,
)

if TYPE_CHECKING:
    from tui.app import AftercareApp

Answer = TypeVar("Answer")
Chosen = TypeVar("Chosen")

FOLLOW_UP_BINDINGS = [
    bind("followup.contact", "c", "contact", "Contact", "Log a contact attempt"),
    bind("followup.mark-done", "d", "done", "Done", "Mark the next touchpoint done"),
    bind("followup.skip", "s", "skip", "Skip", "Skip the next touchpoint, with a reason"),
    bind("followup.claim", "a", "claim", "Claim", "Claim or release the patient"),
    bind(
        "followup.copy-message",
        "y",
        "copy_message",
        "Copy msg",
        "Copy the aftercare message and log it as sent",
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

    def acting(self, verb: str) -> Actor | None:
        """The staff member at the keyboard, or None after saying a read-only login
        cannot `verb` ("resolve alerts")."""
        actor = self.aftercare.actor
        if actor is None:
            self.notify(
                f"Read-only: login {self.aftercare.login!r} cannot {verb}.",
                severity="error",
                markup=False,
            )
        return actor

    def signed_in_as(self) -> str:
        """Who works at this screen, for its status line."""
        actor = self.aftercare.actor
        return actor.display_name if actor else f"{self.aftercare.login} (read-only)"

    def acting_on(
        self, verb: str, chosen: Chosen | None, missing: str
    ) -> tuple[Actor, Chosen] | None:
        """Who acts and on what (the patient, alert, incident under the cursor), or
        None after saying which is missing: the login cannot `verb`, or `missing`."""
        actor = self.acting(verb)
        if actor is None:
            return None
        if chosen is None:
            self.notify(missing, severity="warning", markup=False)
            return None
        return actor, chosen

    def _ready(self, needs_touchpoint: bool = True) -> tuple[Actor, FollowUpTarget] | None:
        ready = self.acting_on(
            "change a patient's follow-up", self.follow_up_target(), "No patient selected."
        )
        if ready is None:
            return None
        actor, target = ready
        if needs_touchpoint and target.touchpoint_id is None:
            self.notify("This patient has no open touchpoint.", severity="warning")
            return None
        return actor, target

    def _write(self, describe: str, call: Callable[[Actor], object], actor: Actor) -> None:
        """Run one Clinic use case, `call(actor)`, off the event loop.

        The toast says `describe`, unless `call` returns its own FollowUpWritten
        (when the summary depends on what was saved, or there is text to copy).
        A refusal is shown in its own words; nothing was saved then.
        """

        def run() -> None:
            try:
                result = call(actor)
            except Refused as exc:  # the Clinic's sentence: conflict, permission, unavailable
                self.post_message(FollowUpRefused(str(exc)))
            except Exception as exc:  # anything else must not kill the screen
                self.post_message(FollowUpRefused(f"could not save ({exc}); nothing was saved"))
            else:
                self.post_message(
                    result if isinstance(result, FollowUpWritten) else FollowUpWritten(describe)
                )

        self.run_worker(run, thread=True, group="follow-up-write", exit_on_error=False)

    def _write_answer(
        self,
        form: FormModal[Answer],
        describe: str | Callable[[Answer], str],
        call: Callable[[Actor, Answer], object],
        actor: Actor,
    ) -> None:
        """Open `form`; once it is saved, write the answer with `call(actor, answer)`.

        Every change asked for in a form takes this one road, so cancelling
        writes nothing anywhere and a saved form is always one Clinic use case
        run by `_write`. `describe` is the toast, or makes it from the answer
        when the words depend on what was entered.
        """

        def saved(answer: Answer | None) -> None:
            if answer is None:  # cancelled: nothing to write
                return
            said = describe(answer) if callable(describe) else describe
            self._write(said, lambda who: call(who, answer), actor)

        self.aftercare.push_screen(form, saved)

    def _write_if_confirmed(
        self, question: Text, describe: str, call: Callable[[Actor], object], actor: Actor
    ) -> None:
        """Ask `question` (yes/no); only a yes writes, with `call(actor)` through `_write`."""

        def answered(yes: bool | None) -> None:
            if yes:
                self._write(describe, call, actor)

        self.aftercare.push_screen(ConfirmModal(question), answered)

    def action_contact(self) -> None:
        """Log a contact attempt on the next touchpoint."""
        ready = self._ready()
        if ready is None:
            return
        actor, target = ready
        clinic = self.aftercare.clinic

        def log(who: Actor, form: ContactAttemptForm) -> FollowUpWritten:
            logged = clinic.log_contact_attempt(
                who,
                target.touchpoint_id or 0,
                channel=form.channel,
                outcome=form.outcome,
                note=form.note,
            )
            return _attempt_written(
                f"Contact attempt logged: {OUTCOME_WORDS[form.outcome]}.", logged
            )

        self._write_answer(
            ContactAttemptModal(target.patient_label, target.touchpoint_label, target.channel),
            "Contact attempt logged.",
            log,
            actor,
        )

    def _resolve(self, resolution: TouchpointResolution, title: str, required: bool) -> None:
        ready = self._ready()
        if ready is None:
            return
        actor, target = ready
        clinic = self.aftercare.clinic

        self._write_answer(
            TextPromptModal(
                f"{title}: {target.patient_label}, {target.touchpoint_label}",
                "reason" if required else "note (optional)",
                required=required,
            ),
            f"{target.touchpoint_label} marked {resolution.value}.",
            lambda who, note: clinic.resolve_touchpoint(
                who, target.touchpoint_id or 0, resolution, note
            ),
            actor,
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
        clinic = self.aftercare.clinic
        if target.assigned_to_id == actor.staff_id:
            self._write(
                f"Released {target.patient_label}.",
                lambda who: clinic.release_patient(who, target.patient_id),
                actor,
            )
        else:
            self._write(
                f"Claimed {target.patient_label}.",
                lambda who: clinic.claim_patient(who, target.patient_id),
                actor,
            )

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
        clinic = self.aftercare.clinic

        def check() -> None:
            # A read, not a write: nothing is logged until the coordinator agrees.
            try:
                message = clinic.aftercare_message(actor, target.touchpoint_id or 0)
            except Refused as exc:
                self.post_message(FollowUpRefused(str(exc)))
            except Exception as exc:  # anything else must not kill the screen
                self.post_message(FollowUpRefused(f"could not read ({exc}); nothing was copied"))
            else:
                self.post_message(AftercareMessageChecked(message.fallback_notice, actor, target))

        self.run_worker(check, thread=True, group="follow-up-write", exit_on_error=False)

    def on_aftercare_message_checked(self, message: AftercareMessageChecked) -> None:
        """Copy, or first ask when English goes to a patient who reads another language."""
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
        """Log the message as sent and hand its text to the clipboard."""
        clinic = self.aftercare.clinic
        window_hours = self.aftercare.settings.reply_window_hours

        def send(who: Actor) -> FollowUpWritten:
            sent = clinic.send_aftercare_message(who, target.touchpoint_id or 0, target.channel)
            written = _attempt_written(
                f"Aftercare message in {sent.language_words} copied to the clipboard and "
                f"logged as sent; it counts as a failed attempt only if the patient has not "
                f"replied within {window_hours} h.",
                sent.logged,
            )
            written.clipboard = sent.message.text
            return written

        self._write("Aftercare message copied.", send, actor)

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
