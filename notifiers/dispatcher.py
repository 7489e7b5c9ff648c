"""The outbox dispatcher: the one process that sends physician alerts.

Each round: hold the dispatcher lease (only one dispatcher sends at a time),
move escalations whose wait ran out to their next step, claim due outbox rows
with a per-row lease, deliver them outside any transaction, and record the
outcome. A crash anywhere loses nothing: unrecorded rows are claimed again
when their lease runs out (at-least-once delivery; duplicates only after a
crash, never while a lease holds).

One message per person per step: the rows of one escalation step are sent in
turn, and a row whose destinations an earlier row of the step already reached
(the on-call physician who is also the treating one, a role tag and a
physician's own tag on the same address) is recorded as delivered, saying so,
without a second message. When sending is slow, different escalations go out
side by side (a few at a time), so twenty alerts due at once do not queue behind
each other.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any, Protocol, runtime_checkable

from core.alert_links import LinkClaim, LinkKeys, SecretFileError, link_url, new_nonce, read_secret
from core.clock import Clock
from core.config import Settings
from core.domain import Disposition
from core.escalation import RETRY_CAP_SECONDS, EscalationPolicy
from core.oncall import ONCALL, OnCallPhysician, PageRoute, fall_back, route_page
from db.database import Database
from db.engine import transaction
from db.escalations import (
    ClaimedDelivery,
    SentPage,
    SentWith,
    Undeliverable,
    acquire_dispatcher,
    advance_escalations,
    claim_due,
    finish_delivery,
    probe_one,
    release_claims,
    release_dispatcher,
    retry_now,
    sent_in_steps,
    undeliverable_since,
)
from db.followup import mark_changed
from db.oncall import on_call_physician
from notifiers.audit_anchor import DailyAnchor
from notifiers.clinic_config import SendingConfiguration, not_the_clinics

log = logging.getLogger("aftercare.dispatch")

SLOW_SEND = 0.1
"""Seconds one send may take before the rest of the round goes out side by side: a
remote relay (0.2-1 s a message: a new connection, TLS and login each time) one at a
time would keep the twentieth of twenty alerts waiting 20 s."""


PROBE_EVERY = timedelta(seconds=30)
"""How often one page waiting out its backoff is tried early: a recovered service is
found within this, and its other waiting pages go in the next round."""


@dataclass(frozen=True)
class DeliveryReport:
    """What one send achieved, with each service's result (secrets already masked)."""

    delivered: bool
    services: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    matched: bool = True
    """False when no configured service carries the tag (nothing was sent)."""


Deliver = Callable[[str, str, str], DeliveryReport]
"""deliver(tag, title, body) -> DeliveryReport; must never raise for a failed send.
It may be called from several threads at once (escalations go out side by side)."""


@runtime_checkable
class KnowsReach(Protocol):
    """A `deliver` that can say which destinations a tag reaches (notifiers.delivery)."""

    def reach(self, tag: str) -> frozenset[str]:
        """The destinations a send to `tag` reaches; empty when none."""
        ...


@runtime_checkable
class DeliversRest(Protocol):
    """A `deliver` that can leave out services that already have a row's message
    (notifiers.delivery), so a retry pages only the services that failed."""

    def deliver_rest(
        self, tag: str, title: str, body: str, delivered: frozenset[str]
    ) -> DeliveryReport:
        """Send to `tag`'s services other than those in `delivered` (their digests)."""
        ...


@runtime_checkable
class KnowsConfiguration(Protocol):
    """A `deliver` loaded from an Apprise file (notifiers.delivery): which file."""

    @property
    def configuration(self) -> SendingConfiguration:
        """The file's path, owner, mode and content hash."""
        ...


def delivered_services(results: Sequence[Any]) -> frozenset[str]:
    """The services (digests) that already delivered a row's message, from its history."""
    done = set()
    for entry in results:
        if isinstance(entry, dict) and "attempt" in entry and not entry.get("same_as"):
            for service in entry.get("services") or []:
                if isinstance(service, dict) and service.get("ok") and service.get("destination"):
                    done.add(str(service["destination"]))
    return frozenset(done)


def outage_line(outage: Undeliverable, now: datetime) -> str:
    """The line a page sent after failed tries carries: how long delivery was impossible."""
    minutes = max(1, round((now - outage.since).total_seconds() / 60))
    why = f" ({outage.error[:120]})" if outage.error else ""
    return f"Delivery was impossible for {minutes} min{why}; this page is its retry."


def tag_itself(tag: str) -> frozenset[str]:
    """What a tag reaches when the delivery cannot say: the tag itself, so two rows sent
    to the same tag (the on-call physician who is also the treating one) still count as
    one person."""
    return frozenset((tag,))


@dataclass
class DispatchRound:
    """What one round did, for logs and tests."""

    held_lease: bool = False
    advanced: list[int] = field(default_factory=list)
    sent: int = 0
    """Rows recorded as delivered (those in `same_person` included)."""
    retried: int = 0
    lost: int = 0
    same_person: int = 0
    """Rows recorded as delivered without a message of their own: another row of the
    same step had already reached the same person."""
    handed_back: int = 0
    """Rows claimed but not tried because the dispatcher was stopping."""


@dataclass(frozen=True)
class _Reached:
    """A message of a step already delivered: for which row, to which destinations."""

    target_tag: str
    destinations: frozenset[str]
    services: list[dict[str, Any]]


@dataclass
class _Step:
    """The claimed rows of one escalation step (and cycle), sent in turn."""

    pages: list[tuple[ClaimedDelivery, PageRoute]] = field(default_factory=list)
    reached: list[_Reached] = field(default_factory=list)
    """Messages of the step delivered in earlier rounds."""


@dataclass(frozen=True)
class _Outcome:
    """One row's attempt, to record: what the send achieved and where it went; `same_as`
    names the rows whose message already reached this row's person (nothing sent)."""

    claim: ClaimedDelivery
    report: DeliveryReport
    route: PageRoute
    same_as: tuple[str, ...] = ()


class _LaneOver:
    """A worker's word that its lane is done."""


_Lane = list[_Step]
"""One escalation's claimed steps, earliest first, sent in turn by one worker: a
physician never gets step 2 before step 1."""

_Done = _Outcome | ClaimedDelivery | None
"""What sending yields, row by row: an outcome to record, a claimed row left unsent
(stopping), or None (nothing yet: a moment to renew the lease)."""


@dataclass(frozen=True)
class AlertLinks:
    """Signs the one-tap link each alert carries (core.alert_links), at sending time.

    Only the alert service reads the secret, so links are made here, never when a
    coordinator's triage queues the step.
    """

    keys: LinkKeys
    base_url: str

    def message(self, claim: ClaimedDelivery, tag: str) -> str:
        """The alert's text with a link signed for its escalation, step, cycle and the tag
        it is sent to, as the second line (right under the headline, where a phone
        shows it first). A fresh nonce each time: each link acts once per action."""
        signed = LinkClaim(claim.escalation_id, claim.step, claim.cycle, tag, new_nonce())
        url = link_url(self.base_url, self.keys.sign(signed))
        headline, newline, rest = claim.body.partition("\n")
        return f"{headline}\nAcknowledge or resolve from your phone: {url}{newline}{rest}"


def alert_links(settings: Settings) -> tuple[AlertLinks | None, list[str]]:
    """The link signer the settings ask for, and what the admin should hear.

    None without `web_base_url`. A secret that cannot be read does not stop the
    alerts: they go out without the link (the server command still works), and
    the warning says what to fix.
    """
    if not settings.web_base_url:
        return None, []
    try:
        keys, warnings = read_secret(Path(settings.web_secret_file))
    except SecretFileError as exc:
        return None, [f"{exc}; alerts are sent without the acknowledgement link"]
    return AlertLinks(keys, settings.web_base_url), warnings


def default_owner() -> str:
    """host:pid:random, unique per dispatcher process and run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Dispatcher:
    """Sends due outbox rows through `deliver`; safe to run several at once."""

    def __init__(
        self,
        database: Database,
        deliver: Deliver,
        clock: Clock,
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        row_lease: timedelta = timedelta(seconds=120),
        policies: Mapping[Disposition, EscalationPolicy] | None = None,
        include_patient_name: bool = False,
        batch: int = 50,
        record_every: int = 5,
        links: AlertLinks | None = None,
        workers: int = 4,
        retry_cap_seconds: int = RETRY_CAP_SECONDS,
        probe_every: timedelta | None = PROBE_EVERY,
        configuration: SendingConfiguration | None = None,
        anchors: DailyAnchor | None = None,
    ) -> None:
        self.database = database
        self.deliver = deliver
        self.reach = deliver.reach if isinstance(deliver, KnowsReach) else tag_itself
        self.clock = clock
        self.owner = owner or default_owner()
        self.lease = lease
        self.row_lease = row_lease
        self.policies = policies
        self.include_patient_name = include_patient_name
        self.batch = batch
        self.record_every = record_every
        self.links = links
        """When set, every message carries a signed one-tap link (see AlertLinks)."""
        self.workers = workers
        """Escalations sent side by side when sending is slow (see `SLOW_SEND`): four
        keep twenty alerts to a relay taking 1 s a message near 5 s, well under the
        connections a relay allows one client."""
        self.retry_cap_seconds = retry_cap_seconds
        """The longest wait between two tries of an undelivered page (core.escalation)."""
        self._stop = threading.Event()
        """Set by `run_forever`'s caller; checked before each delivery."""
        self.probe_every = probe_every
        """How often a page waiting out its backoff is tried early (`probe_one`); None:
        never (a test of the backoff itself)."""
        self._probed_at: datetime | None = None
        self._outages: dict[int, Undeliverable] = {}
        """The round's claimed rows that failed before: since when (see `outage_line`)."""
        self._recovered: set[str] = set()
        """Services that delivered this round (their waiting pages are brought forward)."""
        if configuration is None and isinstance(deliver, KnowsConfiguration):
            configuration = deliver.configuration
        self.configuration = configuration
        self.anchors = anchors
        """The daily audit anchor (notifiers.audit_anchor), taken by whoever holds the lease."""
        """The Apprise file `deliver` sends with (by default the one it was loaded from);
        the lease and every page name it."""
        self.refusal = None if configuration is None else not_the_clinics(configuration)
        """Why this dispatcher may not send (its Apprise file is not the clinic's,
        notifiers.clinic_config): it then never takes the lease, so never sends."""
        self.sent_with = (
            None
            if configuration is None
            else SentWith(configuration.path, configuration.owner, configuration.sha256)
        )

    def run_once(self) -> DispatchRound:
        """One round; returns at once with held_lease False when another dispatcher runs."""
        result = DispatchRound()
        if self.refusal is not None:
            return result
        sessions = self.database.sessions
        with transaction(sessions) as session:
            result.held_lease = acquire_dispatcher(
                session,
                owner=self.owner,
                now=self.clock.now(),
                ttl=self.lease,
                sent_with=self.sent_with,
            )
        if not result.held_lease:
            return result
        with transaction(sessions) as session:
            result.advanced = advance_escalations(
                session,
                now=self.clock.now(),
                policies=self.policies,
                include_patient_name=self.include_patient_name,
            )
        with transaction(sessions) as session:
            now = self.clock.now()
            if self.probe_every is not None and (
                self._probed_at is None or now - self._probed_at >= self.probe_every
            ):
                probe_one(session, now=now)
                self._probed_at = now
            claimed = claim_due(
                session,
                owner=self.owner,
                now=self.clock.now(),
                lease=self.row_lease,
                limit=self.batch,
            )
            # `oncall` means whoever is on call now, at sending, not when the alert was raised.
            on_call: OnCallPhysician | None = None
            if any(claim.target_tag == ONCALL for claim in claimed):
                on_call = on_call_physician(session, self.clock.now())
            earlier = sent_in_steps(session, claimed) if claimed else []
            self._outages = undeliverable_since(session, claimed)
        self._recovered = set()
        renewed_at = self.clock.now()
        pending: list[_Outcome] = []
        unsent: list[ClaimedDelivery] = []
        for done in self._send_lanes(self._lanes(claimed, on_call, earlier)):
            if isinstance(done, _Outcome):
                pending.append(done)
            elif done is not None:
                unsent.append(done)
            if len(pending) >= self.record_every:
                self._record(pending, result)
                pending.clear()
            if self.clock.now() - renewed_at > self.lease / 3:
                # A long batch keeps the dispatcher lease alive while it works.
                with transaction(sessions) as session:
                    acquire_dispatcher(
                        session,
                        owner=self.owner,
                        now=self.clock.now(),
                        ttl=self.lease,
                        sent_with=self.sent_with,
                    )
                renewed_at = self.clock.now()
        self._record(pending, result)
        if unsent:
            # Stopping: what was not tried is due again at once for the next dispatcher.
            with transaction(sessions) as session:
                release_claims(session, owner=self.owner, outbox_ids=[c.outbox_id for c in unsent])
            result.handed_back = len(unsent)
        if claimed:
            # One change-marker bump per round, so open screens show the delivery states.
            with transaction(sessions) as session:
                mark_changed(session, self.clock.now())
                # A service that delivered again ends its outage: its pages waiting out
                # a backoff of up to `retry_cap_seconds` go in the next round.
                retry_now(session, recovered=sorted(self._recovered), now=self.clock.now())
        if self.anchors is not None:
            # Once a day, after the alerts: the audit chain's head, kept outside the database.
            self.anchors.run_if_due(self.database, self.clock.now())
        return result

    def _lanes(
        self,
        claimed: Sequence[ClaimedDelivery],
        on_call: OnCallPhysician | None,
        earlier: Sequence[SentPage],
    ) -> list[_Lane]:
        """The claimed rows by escalation and step, each with where it goes and what of
        its step was delivered before. Within a step the row reaching the most
        destinations goes first (a role tag before a physician's own tag it includes),
        so the others are covered by it rather than it repeating them."""
        steps: dict[tuple[int, int, int], _Step] = {}
        for claim in claimed:
            step = steps.setdefault((claim.escalation_id, claim.cycle, claim.step), _Step())
            step.pages.append((claim, route_page(claim.target_tag, on_call)))
        for page in earlier:
            known = steps.get((page.escalation_id, page.cycle, page.step))
            if known is not None:
                reached = _Reached(page.target_tag, self.reach(page.sent_to), page.services)
                known.reached.append(reached)
        lanes: dict[int, _Lane] = {}
        for (escalation_id, _, _), step in sorted(steps.items(), key=lambda item: item[0]):
            step.pages.sort(key=lambda page: -len(self.reach(page[1].tag)))
            lanes.setdefault(escalation_id, []).append(step)
        return list(lanes.values())

    def _send_lanes(self, lanes: list[_Lane]) -> Iterator[_Done]:
        """Every row's outcome as soon as it is known (so a crash re-sends only the few
        not yet recorded), and now and then None while sends are slow, so the caller
        can renew the lease.

        One lane at a time while sending is quick: a near relay takes a message in a few
        milliseconds, and Python threads would only contend for the interpreter (the
        benchmark's throughput fell by a third with four). Once a send takes longer
        than `SLOW_SEND`, the lanes left go out `workers` at a time.
        """
        waiting = deque(lanes)
        slow = False
        while waiting and not (slow and self.workers > 1):
            for done, took in self._send_lane(waiting.popleft()):
                slow = slow or took > SLOW_SEND
                yield done
        if waiting:
            yield from self._side_by_side(waiting)

    def _side_by_side(self, lanes: deque[_Lane]) -> Iterator[_Done]:
        """Send `lanes` on `workers` threads, handing on each row's outcome as it comes."""
        finished: SimpleQueue[_Done | BaseException | _LaneOver] = SimpleQueue()
        given_up = threading.Event()

        def work(lane: _Lane) -> None:
            try:
                for done, _ in self._send_lane(lane, given_up):
                    finished.put(done)
            except BaseException as exc:  # raised on the caller's thread below
                finished.put(exc)
            finally:
                finished.put(_LaneOver())

        workers = min(self.workers, len(lanes))
        with ThreadPoolExecutor(workers, thread_name_prefix="aftercare-send") as pool:
            for lane in lanes:
                pool.submit(work, lane)
            left = len(lanes)
            try:
                while left:
                    try:
                        item = finished.get(timeout=self.lease.total_seconds() / 3)
                    except Empty:
                        yield None
                        continue
                    if isinstance(item, _LaneOver):
                        left -= 1
                    elif isinstance(item, BaseException):
                        raise item
                    else:
                        yield item
            finally:
                # Nobody records what is sent from here on (the round failed): send
                # nothing more; the rows left are claimed again when their lease runs out.
                given_up.set()

    def _send_lane(
        self, lane: _Lane, given_up: threading.Event | None = None
    ) -> Iterator[tuple[_Done, float]]:
        """Send one escalation's rows in turn, one message per person per step; each
        row's outcome (or the row, left unsent when stopping) with the seconds its send
        took. No database work: that stays with the caller."""
        for step in lane:
            reached = list(step.reached)
            for claim, route in step.pages:
                if self._stop.is_set() or (given_up is not None and given_up.is_set()):
                    yield claim, 0.0
                    continue
                wanted = self.reach(route.tag)
                covering = [r for r in reached if r.destinations & wanted]
                if wanted and wanted <= frozenset().union(*(r.destinations for r in covering)):
                    # Everything this row reaches had the step's message already.
                    shared = [s for r in covering for s in r.services if s.get("ok", True)]
                    tags = tuple(dict.fromkeys(r.target_tag for r in covering))
                    yield _Outcome(claim, DeliveryReport(True, shared), route, tags), 0.0
                    continue
                started = time.monotonic()
                report, route = self._send(claim, route)
                took = time.monotonic() - started
                if report.delivered:
                    reached.append(
                        _Reached(claim.target_tag, self.reach(route.tag), report.services)
                    )
                yield _Outcome(claim, report, route), took

    def _send(self, claim: ClaimedDelivery, route: PageRoute) -> tuple[DeliveryReport, PageRoute]:
        """Deliver one row, outside any transaction (a slow SMTP server must not hold
        locks); an on-call physician's own tag that fails falls back to the static tag."""
        done = delivered_services(claim.results)
        if done and isinstance(self.deliver, DeliversRest):
            # Only the services that have not delivered this row's message are paged.
            text = self._text(claim, route.tag)
            report = self.deliver.deliver_rest(route.tag, claim.title, text, done)
        else:
            report = self.deliver(route.tag, claim.title, self._text(claim, route.tag))
        backup = (
            None
            if report.delivered
            else fall_back(route, matched=report.matched, error=report.error)
        )
        if backup is None:
            return report, route
        # The on-call physician's own tag did not deliver: the clinic's static `oncall`
        # group gets the page in this same attempt; both are recorded.
        second = self.deliver(backup.tag, claim.title, self._text(claim, backup.tag))
        joined = DeliveryReport(second.delivered, report.services + second.services, second.error)
        return joined, backup

    def _text(self, claim: ClaimedDelivery, tag: str) -> str:
        """What is sent to `tag`: the queued text, with its own signed link when links are
        on, and after failed tries a line saying how long delivery was impossible."""
        outage = self._outages.get(claim.outbox_id)
        if outage is not None:
            headline, newline, rest = claim.body.partition("\n")
            line = outage_line(outage, self.clock.now())
            claim = replace(claim, body=f"{headline}\n{line}{newline}{rest}")
        return claim.body if self.links is None else self.links.message(claim, tag)

    def _record(self, delivered: list[_Outcome], result: DispatchRound) -> None:
        """Record a few outcomes in one transaction.

        Grouping bounds the cost per alert; the price is that a crash between a
        send and its record re-sends the few alerts not yet recorded (fewer than
        `record_every`, plus one per worker in flight) once the lease runs out
        (at-least-once delivery: a page twice, never a page lost).
        """
        if not delivered:
            return
        now = self.clock.now()
        with transaction(self.database.sessions) as session:
            for outcome in delivered:
                claim, report = outcome.claim, outcome.report
                recorded = finish_delivery(
                    session,
                    claim=claim,
                    owner=self.owner,
                    delivered=report.delivered,
                    results=report.services,
                    error=report.error,
                    now=now,
                    routing=outcome.route.record() if claim.target_tag == ONCALL else None,
                    same_as=outcome.same_as,
                    retry_cap_seconds=self.retry_cap_seconds,
                    sent_with=self.sent_with,
                )
                if not outcome.same_as:
                    self._recovered.update(
                        str(s["destination"])
                        for s in report.services
                        if s.get("ok") and s.get("destination")
                    )
                if not recorded:
                    result.lost += 1
                elif report.delivered:
                    result.sent += 1
                    result.same_person += bool(outcome.same_as)
                else:
                    result.retried += 1

    def run_forever(self, stop: threading.Event, interval: float = 2.0) -> None:
        """Rounds until `stop` is set; a database gone for a moment is retried, not fatal.
        A round in progress stops before its next delivery and hands back the rest."""
        self._stop = stop
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                except Exception:  # keep paging through a transient outage, but say so
                    log.exception("dispatch round failed; retrying in %.0f s", interval)
                stop.wait(interval)
        finally:
            self.release()

    def release(self) -> None:
        """Hand the lease back so another dispatcher can start at once."""
        try:
            with transaction(self.database.sessions) as session:
                release_dispatcher(session, owner=self.owner, now=self.clock.now())
        except Exception:  # the lease simply expires instead
            log.warning("could not release the dispatcher lease; it will expire", exc_info=True)
