"""`oncall` pages go to whoever is on call at the moment of sending, delivered for real
through Apprise to an HTTP receiver on 127.0.0.1 (one path per tag, so the path says
who was paged); with nobody on call, or when the physician's own tag reaches no service
or fails, they go to the clinic's static `oncall` tag (in the same attempt)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.commands import NewShift
from core.domain import Disposition, NotificationStatus, Role
from core.escalation import EscalationPolicy, EscalationStep
from core.oncall import OnCallPhysician, PageRoute, fall_back, route_page, unreachable_tags
from db.database import Database
from db.engine import make_session_factory, transaction
from db.escalations import BACKOFF_SECONDS
from db.followup import Actor
from db.models import OutboxNotification
from db.oncall import set_shift
from notifiers.delivery import apprise_deliverer
from notifiers.dispatcher import Dispatcher
from tests.factories import add_staff, add_triaged_patient
from tests.notifiers.receivers import HttpReceiver

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
# The on-call first (with the treating physician), then the on-call again: two steps
# five minutes apart, so a schedule change in between shows in who gets step 2.
TWICE = {
    Disposition.EMERGENCY: EscalationPolicy(
        (EscalationStep(("oncall", "treating"), 5), EscalationStep(("oncall",), 5)), repeat=1
    )
}
H = timedelta(hours=1)
PHYSICIANS = ("dr.lee", "dr.kim", "dr.choi")


@dataclass
class Clinic:
    engine: Engine
    clock: FixedClock
    admin: Actor
    nurse: Actor
    receiver: HttpReceiver
    failing: HttpReceiver
    """Answers HTTP 500: dr.park's own service."""
    dispatcher: Dispatcher
    treating_id: int

    def on_call(self, login: str, start: timedelta, end: timedelta, replace: bool = False) -> None:
        with transaction(make_session_factory(self.engine)) as session:
            now = self.clock.now()
            wanted = NewShift(login, now + start, now + end, replace=replace)
            set_shift(session, now, self.admin, wanted)

    def raise_emergency(self) -> int:
        with transaction(make_session_factory(self.engine)) as session:
            saved = add_triaged_patient(
                session,
                "P-1",
                now=self.clock.now(),
                actor=self.nurse,
                findings=EMERGENCY,
                treating_id=self.treating_id,
                policies=TWICE,
            )
        assert saved.escalation_id is not None
        return saved.escalation_id

    def paths(self, count: int) -> list[str]:
        return [post.path for post in self.receiver.wait_for_posts(count)]

    def oncall_rows(self) -> list[OutboxNotification]:
        with make_session_factory(self.engine)() as session:
            return list(
                session.scalars(
                    select(OutboxNotification)
                    .where(OutboxNotification.target_tag == "oncall")
                    .order_by(OutboxNotification.id)
                )
            )


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


@pytest.fixture
def failing() -> Iterator[HttpReceiver]:
    with HttpReceiver(status=500) as running:
        yield running


@pytest.fixture
def clinic(
    engine: Engine,
    clock: FixedClock,
    receiver: HttpReceiver,
    failing: HttpReceiver,
    tmp_path: Path,
) -> Clinic:
    config = tmp_path / "apprise.yml"
    # One URL per tag: the receiving path names who was paged. dr.park's service fails;
    # dr.gone's tag is in no entry at all.
    config.write_text(
        "version: 1\nurls:\n"
        + "".join(
            f"  - {receiver.url('/' + tag)}:\n      tag: {tag}\n"
            for tag in ("oncall", "dr-lee", "dr-kim", "dr-choi")
        )
        + f"  - {failing.url('/dr-park')}:\n      tag: dr-park\n"
    )
    config.chmod(0o600)
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "it.admin", Role.ADMIN, now)
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctors = [add_staff(session, login, Role.PHYSICIAN, now) for login in PHYSICIANS]
        for doctor in doctors:
            doctor.notify_tag = doctor.username.replace(".", "-")
        treating_id = doctors[0].id  # dr.lee
        add_staff(session, "dr.notag", Role.PHYSICIAN, now)
        add_staff(session, "dr.park", Role.PHYSICIAN, now).notify_tag = "dr-park"
        add_staff(session, "dr.gone", Role.PHYSICIAN, now).notify_tag = "dr-gone"
        actors = [Actor(s.id, s.username, s.display_name) for s in (admin, nurse)]
    dispatcher = Dispatcher(
        Database(engine, make_session_factory(engine)),
        apprise_deliverer(config),
        clock,
        policies=TWICE,
    )
    return Clinic(engine, clock, actors[0], actors[1], receiver, failing, dispatcher, treating_id)


def test_route_page_is_pure_and_never_drops_a_page() -> None:
    lee = OnCallPhysician("dr.lee", "dr-lee")
    assert route_page("senior", lee) == PageRoute("senior")
    assert route_page("oncall", lee) == PageRoute("dr-lee", "dr.lee")
    empty = route_page("oncall", None)
    assert (empty.tag, empty.on_call) == ("oncall", None)
    assert empty.note is not None and "nobody on call" in empty.note
    untagged = route_page("oncall", OnCallPhysician("dr.notag", None))
    assert (untagged.tag, untagged.on_call) == ("oncall", "dr.notag")
    assert untagged.note is not None and "dr.notag has no notify tag" in untagged.note


def test_the_next_page_goes_to_whoever_is_on_call_when_it_is_sent(clinic: Clinic) -> None:
    clinic.on_call("dr.kim", -1 * H, 3 * H)
    clinic.raise_emergency()
    assert clinic.dispatcher.run_once().sent == 2
    assert sorted(clinic.paths(2)) == ["/dr-kim", "/dr-lee"]  # on call, and treating

    # The admin hands the on-call over to dr.choi before step 2 is due.
    clinic.on_call("dr.choi", 0 * H, 8 * H, replace=True)
    clinic.clock.advance(timedelta(minutes=5))
    done = clinic.dispatcher.run_once()
    assert done.sent == 1
    assert clinic.paths(3)[2] == "/dr-choi"

    first, second = clinic.oncall_rows()
    assert (first.step, second.step) == (1, 2)
    assert first.results[-1]["oncall"] == {"physician": "dr.kim", "tag": "dr-kim", "note": None}
    assert second.results[-1]["oncall"] == {
        "physician": "dr.choi",
        "tag": "dr-choi",
        "note": None,
    }
    assert all(
        r.status is NotificationStatus.SENT and r.last_error is None for r in (first, second)
    )


def test_a_page_queued_under_one_shift_and_sent_in_the_next_goes_to_the_next(
    clinic: Clinic,
) -> None:
    clinic.on_call("dr.kim", -1 * H, 1 * H)
    clinic.on_call("dr.choi", 1 * H, 9 * H)
    clinic.raise_emergency()  # queued at dr.kim's time
    clinic.clock.advance(1 * H)  # nothing sent until dr.choi's shift has begun
    clinic.dispatcher.run_once()
    assert sorted(clinic.paths(2)) == ["/dr-choi", "/dr-lee"]


def test_nobody_on_call_falls_back_to_the_static_tag_and_says_so(clinic: Clinic) -> None:
    clinic.on_call("dr.kim", 2 * H, 8 * H)  # later today: nobody is on call now
    clinic.raise_emergency()
    assert clinic.dispatcher.run_once().sent == 2
    assert sorted(clinic.paths(2)) == ["/dr-lee", "/oncall"]
    (row,) = clinic.oncall_rows()
    assert row.status is NotificationStatus.SENT
    routed = row.results[-1]["oncall"]
    assert (routed["physician"], routed["tag"]) == (None, "oncall")
    assert "nobody on call" in routed["note"]
    assert row.last_error is not None and "nobody on call" in row.last_error


def test_an_on_call_physician_without_a_tag_falls_back_to_the_static_tag(
    clinic: Clinic,
) -> None:
    clinic.on_call("dr.notag", 0 * H, 8 * H)
    clinic.raise_emergency()
    clinic.dispatcher.run_once()
    assert sorted(clinic.paths(2)) == ["/dr-lee", "/oncall"]
    (row,) = clinic.oncall_rows()
    assert row.results[-1]["oncall"]["physician"] == "dr.notag"
    assert row.last_error is not None and "dr.notag has no notify tag" in row.last_error


def test_a_failed_attempt_keeps_the_error_and_the_fallback_note(clinic: Clinic) -> None:
    clinic.raise_emergency()
    clinic.receiver.stop()
    assert clinic.dispatcher.run_once().retried == 2
    (row,) = clinic.oncall_rows()
    assert row.status is NotificationStatus.PENDING
    assert row.last_error is not None and "nobody on call" in row.last_error
    assert row.last_error != row.results[-1]["oncall"]["note"]  # the error itself is kept too
    # Retried once someone is on call: the retry goes to them.
    clinic.receiver.start()
    clinic.on_call("dr.kim", 0 * H, 8 * H)
    clinic.clock.advance(timedelta(seconds=30))
    clinic.dispatcher.run_once()
    assert "/dr-kim" in clinic.paths(2)
    (row,) = clinic.oncall_rows()
    assert row.status is NotificationStatus.SENT and row.last_error is None
    assert [a["oncall"]["physician"] for a in row.results] == [None, "dr.kim"]


def test_fall_back_is_pure_and_only_for_a_physicians_own_tag() -> None:
    lee = route_page("oncall", OnCallPhysician("dr.lee", "dr-lee"))
    missing = fall_back(lee, matched=False, error="no Apprise service is tagged 'dr-lee'")
    assert missing is not None
    assert (missing.tag, missing.on_call, missing.first_tag) == ("oncall", "dr.lee", "dr-lee")
    assert missing.note is not None and "'dr-lee' reached no service" in missing.note
    failed = fall_back(lee, matched=True, error="HTTP 500")
    assert failed is not None and failed.note is not None
    assert "'dr-lee' failed (HTTP 500): sent to the static 'oncall' tag" in failed.note
    assert failed.record()["first_error"] == "HTTP 500"
    # Nothing to fall back to from the static tag itself, or for other targets.
    assert fall_back(route_page("oncall", None), matched=False, error="x") is None
    assert fall_back(route_page("senior", None), matched=False, error="x") is None
    assert unreachable_tags(
        [("dr.lee", "dr-lee"), ("dr.gone", "dr-gone"), ("dr.notag", None)],
        lambda tag: tag == "dr-lee",
    ) == [
        "physician dr.gone's notify tag 'dr-gone' matches no service in the Apprise config: "
        "pages to them cannot be delivered (oncall pages fall back to the static 'oncall' tag)"
    ]


def test_a_tag_no_service_carries_sends_to_the_static_tag_in_the_same_attempt(
    clinic: Clinic,
) -> None:
    clinic.on_call("dr.gone", 0 * H, 8 * H)
    clinic.raise_emergency()
    assert clinic.dispatcher.run_once().sent == 2
    assert sorted(clinic.paths(2)) == ["/dr-lee", "/oncall"]
    (row,) = clinic.oncall_rows()
    assert row.status is NotificationStatus.SENT and row.attempts == 1
    (attempt,) = row.results
    assert attempt["delivered"] is True and attempt["error"] is None
    routed = attempt["oncall"]
    assert (routed["physician"], routed["tag"], routed["first_tag"]) == (
        "dr.gone",
        "oncall",
        "dr-gone",
    )
    assert routed["first_error"] == "no Apprise service is tagged 'dr-gone'"
    assert "'dr-gone' reached no service: sent to the static 'oncall' tag" in routed["note"]
    assert [s["masked_url"].split("?")[0] for s in attempt["services"]] == [
        clinic.receiver.url("/o...l")
    ]
    assert row.last_error == routed["note"]


def test_a_failing_own_service_sends_to_the_static_tag_in_the_same_attempt(
    clinic: Clinic,
) -> None:
    clinic.on_call("dr.park", 0 * H, 8 * H)
    clinic.raise_emergency()
    assert clinic.dispatcher.run_once().sent == 2
    assert [p.path for p in clinic.failing.wait_for_posts(1)] == ["/dr-park"]
    assert sorted(clinic.paths(2)) == ["/dr-lee", "/oncall"]
    (row,) = clinic.oncall_rows()
    assert row.status is NotificationStatus.SENT and row.attempts == 1
    (attempt,) = row.results
    # Both outcomes are kept: dr.park's failed service, then the static tag's.
    assert [(s["masked_url"].split("?")[0], s["ok"]) for s in attempt["services"]] == [
        (clinic.failing.url("/d...k"), False),
        (clinic.receiver.url("/o...l"), True),
    ]
    routed = attempt["oncall"]
    assert (routed["tag"], routed["first_tag"]) == ("oncall", "dr-park")
    assert routed["first_error"] and "500" in routed["first_error"]
    assert "'dr-park' failed (" in routed["note"]
    assert row.last_error is not None and "sent to the static 'oncall' tag" in row.last_error


def test_when_both_fail_the_row_is_retried_as_before_and_both_are_tried_again(
    clinic: Clinic,
) -> None:
    clinic.on_call("dr.park", 0 * H, 8 * H)
    clinic.raise_emergency()
    clinic.receiver.stop()  # the static tag (and dr.lee) unreachable too
    sent_at = clinic.clock.now()
    assert clinic.dispatcher.run_once().retried == 2
    (row,) = clinic.oncall_rows()
    assert row.status is NotificationStatus.PENDING and row.attempts == 1
    assert row.next_attempt_at == sent_at + timedelta(seconds=BACKOFF_SECONDS[0])
    (attempt,) = row.results
    assert attempt["delivered"] is False and attempt["error"]
    assert [s["ok"] for s in attempt["services"]] == [False, False]
    assert attempt["oncall"]["first_tag"] == "dr-park"
    assert row.last_error is not None and "'dr-park' failed" in row.last_error

    clinic.receiver.start()
    clinic.clock.advance(timedelta(seconds=BACKOFF_SECONDS[0]))
    clinic.dispatcher.run_once()
    assert len(clinic.failing.wait_for_posts(2)) == 2  # the own tag is tried first again
    assert "/oncall" in clinic.paths(2)
    (row,) = clinic.oncall_rows()
    assert row.status is NotificationStatus.SENT and row.attempts == 2
