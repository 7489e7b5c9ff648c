"""One message per person per step, however many of a step's tags lead to them: real
SMTP (aiosmtpd) and HTTP receivers on 127.0.0.1, the real dispatcher and Apprise, a fixed
clock, both databases.

The physician on call who is also the treating physician; `senior` and a physician's own
tag on the same address (one entry tagged twice, or two entries with the same URL); the
row of the step sent in an earlier round. The row not sent twice is recorded as
delivered and says why; nothing looks failed. A dedup never hides a failure: when the
on-call page had to fall back to the static group, the physician's own row still goes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.commands import NewShift
from core.domain import Disposition, NotificationStatus, Role
from core.escalation import EscalationPolicy, EscalationStep
from db.alerts import open_alerts
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import OutboxNotification
from db.oncall import set_shift
from notifiers.delivery import apprise_deliverer
from notifiers.dispatcher import Dispatcher
from tests.factories import add_staff, add_triaged_patient
from tests.notifiers.receivers import HttpReceiver, ReceivedMail, SmtpReceiver
from tests.notifiers.test_apprise_setup import mail_url

EMERGENCY = {"day": 2, "symptoms": ["throat_tightness"], "country": "JP"}
H = timedelta(hours=1)
STEP = timedelta(minutes=5)


def policy(*steps: tuple[str, ...]) -> dict[Disposition, EscalationPolicy]:
    """An emergency policy of these steps, five minutes apart, one cycle."""
    return {
        Disposition.EMERGENCY: EscalationPolicy(
            tuple(EscalationStep(targets, 5) for targets in steps), repeat=1
        )
    }


ON_CALL_AND_TREATING = policy(("oncall", "treating"), ("oncall", "treating"))


@dataclass
class Ward:
    engine: Engine
    clock: FixedClock
    admin: Actor
    nurse: Actor
    lee_id: int
    config: Path

    def dispatcher(
        self, policies: dict[Disposition, EscalationPolicy], **options: Any
    ) -> Dispatcher:
        database = Database(self.engine, make_session_factory(self.engine))
        return Dispatcher(
            database, apprise_deliverer(self.config), self.clock, policies=policies, **options
        )

    def on_call(self, login: str) -> None:
        with transaction(make_session_factory(self.engine)) as session:
            now = self.clock.now()
            set_shift(session, now, self.admin, NewShift(login, now - H, now + 8 * H))

    def emergency(self, policies: dict[Disposition, EscalationPolicy]) -> int:
        with transaction(make_session_factory(self.engine)) as session:
            saved = add_triaged_patient(
                session,
                "P-1",
                now=self.clock.now(),
                actor=self.nurse,
                findings=EMERGENCY,
                treating_id=self.lee_id,
                policies=policies,
            )
        assert saved.escalation_id is not None
        return saved.escalation_id

    def rows(self) -> list[OutboxNotification]:
        with make_session_factory(self.engine)() as session:
            return list(
                session.scalars(
                    select(OutboxNotification).order_by(
                        OutboxNotification.step, OutboxNotification.id
                    )
                )
            )


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as running:
        yield running


def make_ward(engine: Engine, clock: FixedClock, config: Path) -> Ward:
    now = clock.now()
    with transaction(make_session_factory(engine)) as session:
        admin = add_staff(session, "it.admin", Role.ADMIN, now)
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        lee = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        lee.notify_tag = "dr-lee"
        kim = add_staff(session, "dr.kim", Role.PHYSICIAN, now)
        kim.notify_tag = "dr-kim"
        actors = [Actor(s.id, s.username, s.display_name) for s in (admin, nurse)]
        lee_id = lee.id
    return Ward(engine, clock, actors[0], actors[1], lee_id, config)


def write_config(tmp_path: Path, entries: list[tuple[str, str]]) -> Path:
    """An Apprise file of (URL, tags) entries."""
    path = tmp_path / "apprise.yml"
    path.write_text(
        "version: 1\nurls:\n"
        + "".join(f"  - '{url}':\n      tag: {tags}\n" for url, tags in entries)
    )
    path.chmod(0o600)
    return path


def to(mails: list[ReceivedMail]) -> list[str]:
    return sorted(address for mail in mails for address in mail.rcpt_tos)


def settle(smtp: SmtpReceiver, count: int) -> list[ReceivedMail]:
    """The `count` messages expected, and proof that no further one comes (a second
    message would arrive within the same moment the first did)."""
    mails = smtp.wait_for_messages(count)
    with pytest.raises(AssertionError):
        smtp.wait_for_messages(count + 1, timeout=0.5)
    return mails


def test_the_on_call_physician_who_also_treats_gets_one_message_per_step(
    engine: Engine, clock: FixedClock, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        [
            (mail_url(smtp, "dr.lee@example.org"), "dr-lee"),
            (mail_url(smtp, "dr.kim@example.org"), "dr-kim"),
            (mail_url(smtp, "oncall-group@example.org"), "oncall"),
        ],
    )
    ward = make_ward(engine, clock, config)
    ward.on_call("dr.lee")
    escalation_id = ward.emergency(ON_CALL_AND_TREATING)
    dispatcher = ward.dispatcher(ON_CALL_AND_TREATING)

    first = dispatcher.run_once()
    assert (first.sent, first.same_person, first.retried) == (2, 1, 0)
    (mail,) = settle(smtp, 1)
    assert mail.rcpt_tos == ("dr.lee@example.org",)
    assert mail.subject == f"[E-{escalation_id} step 1] EMERGENCY"

    oncall, treating = ward.rows()
    assert (oncall.target_tag, treating.target_tag) == ("oncall", "dr-lee")
    assert oncall.status is NotificationStatus.SENT and oncall.last_error is None
    assert oncall.results[-1]["oncall"]["tag"] == "dr-lee"
    # The second row: delivered, saying why, nothing that looks like a failure.
    assert treating.status is NotificationStatus.SENT and treating.attempts == 1
    assert treating.last_error is None
    (attempt,) = treating.results
    assert attempt["delivered"] is True and attempt["error"] is None
    assert attempt["same_as"] == ["oncall"]
    assert attempt["note"] == "same person as oncall, not sent twice"
    # The alerts screen shows the address the message went through, and no failure.
    with make_session_factory(engine)() as session:
        (alert,) = open_alerts(session, clock.now())
    shown = {n.target_tag: n for n in alert.notifications}
    assert shown["dr-lee"].services and "127.0.0.1" in shown["dr-lee"].services[0]
    assert not any(n.failing for n in alert.notifications)

    # Step 2 pages the same two roles: one message again, not none.
    clock.advance(STEP)
    second = dispatcher.run_once()
    assert second.advanced == [escalation_id]
    assert (second.sent, second.same_person) == (2, 1)
    mails = settle(smtp, 2)
    assert to(mails) == ["dr.lee@example.org", "dr.lee@example.org"]
    assert mails[1].subject == f"[E-{escalation_id} step 2] EMERGENCY"
    step_two = [r for r in ward.rows() if r.step == 2]
    assert [r.results[-1].get("same_as") for r in step_two] == [None, ["oncall"]]


def test_someone_else_on_call_still_gets_their_own_message(
    engine: Engine, clock: FixedClock, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path,
        [
            (mail_url(smtp, "dr.lee@example.org"), "dr-lee"),
            (mail_url(smtp, "dr.kim@example.org"), "dr-kim"),
        ],
    )
    ward = make_ward(engine, clock, config)
    ward.on_call("dr.kim")
    ward.emergency(ON_CALL_AND_TREATING)
    done = ward.dispatcher(ON_CALL_AND_TREATING).run_once()
    assert (done.sent, done.same_person) == (2, 0)
    assert to(settle(smtp, 2)) == ["dr.kim@example.org", "dr.lee@example.org"]


@pytest.mark.parametrize("shape", ["one entry, two tags", "two entries, one URL"])
def test_senior_and_their_own_tag_on_the_same_address_get_one_message(
    engine: Engine, clock: FixedClock, smtp: SmtpReceiver, tmp_path: Path, shape: str
) -> None:
    lee = mail_url(smtp, "dr.lee@example.org")
    entries = (
        [(lee, "dr-lee, senior")]
        if shape.startswith("one")
        else [
            (lee, "dr-lee"),
            (lee, "senior"),
        ]
    )
    config = write_config(tmp_path, entries)
    ward = make_ward(engine, clock, config)
    senior_first = policy(("senior", "treating"), ("treating",))
    ward.emergency(senior_first)
    done = ward.dispatcher(senior_first).run_once()
    assert (done.sent, done.same_person) == (2, 1)
    (mail,) = settle(smtp, 1)
    assert mail.rcpt_tos == ("dr.lee@example.org",)
    senior, own = ward.rows()
    assert (senior.target_tag, own.target_tag) == ("senior", "dr-lee")
    assert own.results[-1]["note"] == "same person as senior, not sent twice"
    assert own.last_error is None and senior.results[-1].get("same_as") is None

    # The next step names only the physician: it reaches them, once.
    clock.advance(STEP)
    assert ward.dispatcher(senior_first).run_once().sent == 1
    assert to(settle(smtp, 2)) == ["dr.lee@example.org", "dr.lee@example.org"]


def test_a_role_reaching_more_people_goes_first_and_covers_the_physician_in_it(
    engine: Engine, clock: FixedClock, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    lee, kim = mail_url(smtp, "dr.lee@example.org"), mail_url(smtp, "dr.kim@example.org")
    config = write_config(tmp_path, [(lee, "dr-lee, senior"), (kim, "senior")])
    ward = make_ward(engine, clock, config)
    # The treating physician's row is queued first; the wider `senior` row still goes
    # first, so dr.lee is not paged by both.
    treating_first = policy(("treating", "senior"))
    ward.emergency(treating_first)
    done = ward.dispatcher(treating_first).run_once()
    assert (done.sent, done.same_person) == (2, 1)
    assert to(settle(smtp, 2)) == ["dr.kim@example.org", "dr.lee@example.org"]
    rows = {r.target_tag: r for r in ward.rows()}
    assert rows["dr-lee"].results[-1]["same_as"] == ["senior"]


def test_the_first_message_of_the_step_sent_in_an_earlier_round_counts(
    engine: Engine, clock: FixedClock, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    config = write_config(tmp_path, [(mail_url(smtp, "dr.lee@example.org"), "dr-lee")])
    ward = make_ward(engine, clock, config)
    ward.on_call("dr.lee")
    ward.emergency(ON_CALL_AND_TREATING)
    # One row a round: the on-call row in the first, the treating row in the second.
    dispatcher = ward.dispatcher(ON_CALL_AND_TREATING, batch=1)
    assert (dispatcher.run_once().sent, dispatcher.run_once().same_person) == (1, 1)
    settle(smtp, 1)
    oncall, treating = ward.rows()
    assert oncall.results[-1].get("same_as") is None
    assert treating.results[-1]["same_as"] == ["oncall"]
    assert treating.status is NotificationStatus.SENT and treating.last_error is None


def test_when_the_on_call_page_fell_back_the_physicians_own_row_still_goes(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    with HttpReceiver(status=500) as failing, HttpReceiver() as group:
        config = write_config(
            tmp_path, [(failing.url("/dr-lee"), "dr-lee"), (group.url("/oncall"), "oncall")]
        )
        ward = make_ward(engine, clock, config)
        ward.on_call("dr.lee")
        ward.emergency(ON_CALL_AND_TREATING)
        done = ward.dispatcher(ON_CALL_AND_TREATING).run_once()
        # The on-call row reached the static group, not dr.lee: dr.lee's own row is
        # tried (and fails, to be retried), never taken as delivered.
        assert (done.sent, done.retried, done.same_person) == (1, 1, 0)
        assert len(failing.wait_for_posts(2)) == 2
        assert [p.path for p in group.wait_for_posts(1)] == ["/oncall"]
    oncall, treating = ward.rows()
    assert oncall.status is NotificationStatus.SENT
    assert oncall.results[-1]["oncall"]["tag"] == "oncall"
    assert treating.status is NotificationStatus.PENDING
    assert treating.last_error is not None and "same person" not in treating.last_error
