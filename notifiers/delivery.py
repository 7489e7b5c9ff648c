"""Apprise as the dispatcher's delivery: one outbox row -> one notify call to its tag."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from notifiers.apprise_setup import LoadedApprise, deliver, load_apprise
from notifiers.dispatcher import Deliver, DeliveryReport


def apprise_deliverer(path: Path) -> Deliver:
    """Load the Apprise YAML once and deliver through its valid services.

    Broken entries are left out (see `load_apprise(strict=False)`); raises
    NotifyConfigError only when nothing usable is left.
    """
    return deliverer_for(load_apprise(path, strict=False))


def deliverer_for(loaded: LoadedApprise) -> Deliver:
    """Deliver through an already loaded Apprise configuration."""

    def send(tag: str, title: str, body: str) -> DeliveryReport:
        outcome = deliver(loaded, tag, title, body)
        services = [asdict(result) for result in outcome.results]
        if not outcome.matched:
            # No service carries this tag: a configuration gap, retried so that a
            # fixed config file still gets the alert out, and shown as a failure.
            return DeliveryReport(
                False, services, f"no Apprise service is tagged {tag!r}", matched=False
            )
        error = outcome.error or next((r.error for r in outcome.results if not r.ok), None)
        return DeliveryReport(outcome.ok_all, services, None if outcome.ok_all else error)

    return send


def tag_reaches_service(loaded: LoadedApprise, tag: str) -> bool:
    """True when a send to `tag` would reach at least one service (Apprise's own matching,
    as `deliver` uses it), so a staff tag can be checked against the file before a page."""
    return next(iter(loaded.apprise.find(tag)), None) is not None
