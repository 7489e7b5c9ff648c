"""Taking an anchor of the audit chain: appended to the anchor file, sent to the `audit` tag.

One call for each place that anchors: `take_anchor` (the command line, each
backup) and `DailyAnchor.run_if_due` (the dispatcher, once a day). The file
copy is what `aftercare audit verify --anchors FILE` reads; the message is a
second copy held by whoever the clinic's Apprise file sends `audit` to (an
inbox outside the server), so even someone who could replace the file cannot
make both agree with a rewritten chain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from core.audit_anchor import Anchor, AnchorFileError, ChainHead, anchor_line, append_anchor
from core.audit_anchor import newest_anchor_time as newest_in_file
from db.audit_anchor import chain_head
from db.database import Database

if TYPE_CHECKING:
    # Types only: the dispatcher holds a DailyAnchor, so it must not be imported from here.
    from notifiers.dispatcher import Deliver

log = logging.getLogger("aftercare.audit")

AUDIT_TAG = "audit"
"""The Apprise tag anchors are sent to (an admin's inbox, a log service)."""

ANCHOR_EVERY = timedelta(hours=24)
"""The daily anchor: taken when the file's newest anchor is this old."""

RETRY_AFTER = timedelta(hours=1)
"""A daily anchor that could not be written is tried again this much later, not every round."""


@dataclass(frozen=True)
class Sending:
    """How the `audit` message fared, in words for the person or log that reads it."""

    delivered: bool
    failed: bool
    """True only when a service carries the `audit` tag and the message did not get
    through; no tag or no Apprise file is not a failure (the words say so)."""
    words: str


@dataclass(frozen=True)
class AnchorTaken:
    """What became of one anchor: written to the file or why not, and its message."""

    anchor: Anchor
    written_to: Path | None
    file_problem: str | None
    sending: Sending

    @property
    def ok(self) -> bool:
        """Written, and delivered wherever the clinic's Apprise file sends `audit` (if anywhere)."""
        return self.file_problem is None and not self.sending.failed


def anchor_message(anchor: Anchor) -> tuple[str, str]:
    """Title and body of the `audit` message: the head in words, and the line to keep."""
    head = anchor.head
    return (
        "aftercare audit anchor",
        f"Audit trail anchor {anchor.words()}: {head.events} events, newest hash "
        f"{head.hash}.\n"
        "Keep this message. To check the audit trail against it, put the line below in "
        "a file and run `aftercare audit verify --anchors FILE`:\n"
        f"{anchor_line(anchor)}",
    )


def send_anchor(deliver: Deliver | None, anchor: Anchor, *, unset: str = "") -> Sending:
    """Send the anchor to the `audit` tag and say how it went.

    `deliver` None: nothing to send with, `unset` says why. Never raises.
    """
    if deliver is None:
        return Sending(False, False, f"not sent: {unset or 'no Apprise configuration'}")
    title, body = anchor_message(anchor)
    try:
        report = deliver(AUDIT_TAG, title, body)
    except Exception as exc:  # a delivery must never cost the anchor already written
        return Sending(False, True, f"NOT sent to the {AUDIT_TAG!r} tag: {exc}")
    if not report.matched:
        return Sending(
            False,
            False,
            f"not sent: no Apprise service is tagged {AUDIT_TAG!r} "
            f"(the anchor is only in the anchor file)",
        )
    count = len(report.services)
    if not report.delivered:
        reason = report.error or "delivery failed"
        return Sending(False, True, f"NOT sent to the {AUDIT_TAG!r} tag: {reason}")
    return Sending(
        True, False, f"sent to the {AUDIT_TAG!r} tag ({count} service{'s' * (count != 1)})"
    )


def take_anchor(
    head: ChainHead,
    *,
    now: datetime,
    why: str,
    file: Path,
    deliver: Deliver | None,
    unset: str = "",
) -> AnchorTaken:
    """Append the head to `file` as an anchor and send it to the `audit` tag.

    The message goes out even when the file refuses the line: one copy is better
    than none, and the refusal is reported. Never raises.
    """
    anchor = Anchor(head, now, why)
    written: Path | None = None
    problem: str | None = None
    try:
        written = append_anchor(file, anchor)
    except AnchorFileError as exc:
        problem = str(exc)
    return AnchorTaken(anchor, written, problem, send_anchor(deliver, anchor, unset=unset))


class DailyAnchor:
    """The dispatcher's daily anchor: `run_if_due` once a round, after the alerts.

    Due when the anchor file's newest anchor is a day old (or there is none). The
    file is read once at start; after that the next time is kept here, so a round
    costs a comparison. A failure is logged and tried again an hour later.
    """

    def __init__(self, file: Path, deliver: Deliver | None) -> None:
        self.file = file
        self.deliver = deliver
        self._next: datetime | None = None

    def due(self, now: datetime) -> bool:
        """Whether an anchor is due at `now`."""
        if self._next is None:
            newest = newest_in_file(self.file)
            self._next = now if newest is None else newest + ANCHOR_EVERY
        return now >= self._next

    def run_if_due(self, database: Database, now: datetime) -> AnchorTaken | None:
        """Anchor the chain if due; None when not due or the head could not be read.
        Never raises: alerts must keep going whatever happens here."""
        if not self.due(now):
            return None
        self._next = now + RETRY_AFTER
        try:
            with database.sessions() as session:
                head = chain_head(session)
        except Exception:
            log.warning(
                "daily audit anchor not taken: the database could not be read", exc_info=True
            )
            return None
        taken = take_anchor(head, now=now, why="daily", file=self.file, deliver=self.deliver)
        if taken.file_problem is None:
            self._next = now + ANCHOR_EVERY
            log.info("daily audit anchor written to %s; %s", taken.written_to, taken.sending.words)
        else:
            log.warning("daily audit anchor: %s; %s", taken.file_problem, taken.sending.words)
        return taken


def daily_anchor(file: str, deliver: Deliver) -> DailyAnchor:
    """The dispatcher's daily anchor to `file` (the `audit_anchor_file` setting),
    sent through the dispatcher's own delivery."""
    return DailyAnchor(Path(file).expanduser(), deliver)


def audit_deliverer(apprise_config: str | None) -> tuple[Deliver | None, str]:
    """What a command sends its anchor with: the Apprise file the settings name, and
    why there is none (no file set). A file that cannot be loaded gives a `deliver`
    that fails with the reason, so the command reports it as a failed send."""
    from notifiers.apprise_setup import NotifyConfigError, load_apprise
    from notifiers.delivery import deliverer_for
    from notifiers.dispatcher import DeliveryReport

    if not apprise_config:
        return None, "apprise_config is not set, so there is no `audit` tag to send to"
    from notifiers.clinic_config import not_the_clinics

    try:
        loaded = load_apprise(Path(apprise_config).expanduser(), strict=False)
        # An anchor sent where a coordinator chose would be no anchor at all.
        foreign = not_the_clinics(loaded.configuration)
    except NotifyConfigError as exc:
        foreign = f"alert config error: {exc}"
    if foreign is not None:
        reason = foreign

        def cannot_send(tag: str, title: str, body: str) -> DeliveryReport:
            return DeliveryReport(False, [], reason)

        return cannot_send, ""
    return deliverer_for(loaded), ""
