"""Apprise as the dispatcher's delivery: one outbox row -> one notify call to its tag."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

from notifiers.apprise_setup import (
    LoadedApprise,
    deliver,
    lift_default_spacing,
    load_apprise,
    services_reached,
)
from notifiers.clinic_config import SendingConfiguration
from notifiers.dispatcher import DeliveryReport


class AppriseDelivery:
    """The dispatcher's `deliver` through a loaded Apprise configuration, and its `reach`:
    which destinations a tag reaches, so one person gets one message per step however
    many of a step's tags lead to them.

    The dispatcher sends several rows at once (notifiers.dispatcher). Apprise's generic
    5.5 s between two sends through one service is lifted (`lift_default_spacing`
    says why); a service that declares a wait of its own is used by one send at a
    time, so sending in parallel cannot go faster than the service allows.
    """

    def __init__(self, loaded: LoadedApprise) -> None:
        self.loaded = loaded
        spaced = lift_default_spacing(loaded)
        order = {id(service): number for number, service in enumerate(loaded.apprise)}
        # One lock per spaced service, taken in file order, so two sends needing the
        # same two services cannot each hold one and wait for the other.
        self._turns = {id(service): (order[id(service)], threading.Lock()) for service in spaced}
        self._reach: dict[str, frozenset[str]] = {}

    @property
    def configuration(self) -> SendingConfiguration:
        """The Apprise file this delivers through: path, owner, mode, content hash."""
        return self.loaded.configuration

    def __call__(self, tag: str, title: str, body: str) -> DeliveryReport:
        return self.deliver_rest(tag, title, body, frozenset())

    def deliver_rest(
        self, tag: str, title: str, body: str, delivered: frozenset[str]
    ) -> DeliveryReport:
        """Send to the services behind `tag` except those in `delivered` (their digests:
        they already have this message), so a retry pages only the ones that failed."""
        with ExitStack() as waiting:
            for _, lock in sorted(self._turns_for(tag), key=lambda turn: turn[0]):
                waiting.enter_context(lock)
            outcome = deliver(self.loaded, tag, title, body, skip=delivered)
        # Flat dataclasses of plain values: a copy of each one's fields is its dict
        # (dataclasses.asdict deep-copies field by field, a tenth of a send's own cost).
        services = [dict(vars(result)) for result in outcome.results]
        if not outcome.matched:
            # No service carries this tag: a configuration gap, retried so that a
            # fixed config file still gets the alert out, and shown as a failure.
            return DeliveryReport(
                False, services, f"no Apprise service is tagged {tag!r}", matched=False
            )
        error = outcome.error or next((r.error for r in outcome.results if not r.ok), None)
        return DeliveryReport(outcome.ok_all, services, None if outcome.ok_all else error)

    def reach(self, tag: str) -> frozenset[str]:
        """The destinations a send to `tag` reaches (empty: none); the file does not
        change while it is loaded, so each tag is worked out once."""
        known = self._reach.get(tag)
        if known is None:
            known = self._reach[tag] = services_reached(self.loaded, tag)
        return known

    def _turns_for(self, tag: str) -> list[tuple[int, threading.Lock]]:
        if not self._turns:
            return []
        return [
            self._turns[id(service)]
            for service in self.loaded.apprise.find(tag)
            if id(service) in self._turns
        ]


def apprise_deliverer(path: Path) -> AppriseDelivery:
    """Load the Apprise YAML once and deliver through its valid services.

    Broken entries are left out (see `load_apprise(strict=False)`); raises
    NotifyConfigError only when nothing usable is left.
    """
    return deliverer_for(load_apprise(path, strict=False))


def deliverer_for(loaded: LoadedApprise) -> AppriseDelivery:
    """Deliver through an already loaded Apprise configuration."""
    return AppriseDelivery(loaded)


def tag_reaches_service(loaded: LoadedApprise, tag: str) -> bool:
    """True when a send to `tag` would reach at least one service (Apprise's own matching,
    as `deliver` uses it), so a staff tag can be checked against the file before a page."""
    return next(iter(loaded.apprise.find(tag)), None) is not None
