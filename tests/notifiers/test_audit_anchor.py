"""The daily anchor: written to the anchor file and sent through the clinic's real Apprise
file to the `audit` tag, received by a real HTTP server on 127.0.0.1; once a day, not
every round; and said plainly when no service carries the tag."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.audit_anchor import parse_anchor_line, read_anchors
from core.clock import FixedClock
from db.audit import record
from db.audit_anchor import check_anchors
from db.database import open_database
from db.engine import make_session_factory, transaction
from notifiers.audit_anchor import DailyAnchor, daily_anchor
from notifiers.delivery import apprise_deliverer
from tests.notifiers.receivers import HttpReceiver


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


def _apprise(tmp_path: Path, receiver: HttpReceiver, tag: str) -> Path:
    path = tmp_path / f"apprise-{tag}.yml"
    path.write_text(
        f"version: 1\nurls:\n  - {receiver.url('/audit')}:\n      tag: {tag}\n"
        f"  - {receiver.url('/pages')}:\n      tag: oncall\n"
    )
    path.chmod(0o600)
    return path


def _event(engine: Engine, clock: FixedClock, n: int) -> None:
    with transaction(make_session_factory(engine)) as session:
        record(
            session,
            at=clock.now(),
            actor="rn.kim",
            action="touchpoint.resolve",
            entity="touchpoint",
            entity_id=n,
            after={"resolution": "reached"},
        )


def test_the_daily_anchor_reaches_the_audit_tag_once_a_day(
    engine: Engine, db_url: str, clock: FixedClock, receiver: HttpReceiver, tmp_path: Path
) -> None:
    _event(engine, clock, 1)
    file = tmp_path / "anchors" / "anchors.jsonl"
    file.parent.mkdir(mode=0o750)
    daily = daily_anchor(str(file), apprise_deliverer(_apprise(tmp_path, receiver, "audit")))
    database = open_database(db_url)
    try:
        taken = daily.run_if_due(database, clock.now())
        assert taken is not None and taken.ok and taken.sending.delivered
        (post,) = receiver.wait_for_posts(1)
        assert post.path == "/audit"
        # The message carries the very line the file keeps, so a copy of it can be checked.
        line = post.body["message"].splitlines()[-1]
        assert parse_anchor_line(line) == taken.anchor == replace(read_anchors(file)[0], line=0)
        assert taken.anchor.head.events == 1
        # Every round asks; within the day nothing more is written or sent.
        clock.advance(timedelta(hours=23))
        _event(engine, clock, 2)
        assert daily.run_if_due(database, clock.now()) is None
        # A dispatcher started later reads when the last anchor was taken from the file.
        restarted = DailyAnchor(file, daily.deliver)
        assert restarted.run_if_due(database, clock.now()) is None
        clock.advance(timedelta(hours=1))
        again = restarted.run_if_due(database, clock.now())
        assert again is not None and again.ok and again.anchor.head.events == 2
        receiver.wait_for_posts(2)
        assert [p.path for p in receiver.posts] == ["/audit", "/audit"]
        with database.sessions() as session:
            assert check_anchors(session, read_anchors(file)).checked == 2
    finally:
        database.close()


def test_without_an_audit_tag_the_anchor_is_kept_in_the_file_and_says_so(
    engine: Engine, db_url: str, clock: FixedClock, receiver: HttpReceiver, tmp_path: Path
) -> None:
    file = tmp_path / "anchors.jsonl"
    daily = daily_anchor(str(file), apprise_deliverer(_apprise(tmp_path, receiver, "senior")))
    database = open_database(db_url)
    try:
        taken = daily.run_if_due(database, clock.now())
    finally:
        database.close()
    assert taken is not None and taken.ok and not taken.sending.delivered
    assert taken.sending.words == (
        "not sent: no Apprise service is tagged 'audit' (the anchor is only in the anchor file)"
    )
    assert len(read_anchors(file)) == 1 and receiver.posts == []


def test_an_audit_service_that_fails_is_a_failure_and_the_file_keeps_the_anchor(
    engine: Engine, db_url: str, clock: FixedClock, receiver: HttpReceiver, tmp_path: Path
) -> None:
    receiver.status = 500
    file = tmp_path / "anchors.jsonl"
    daily = daily_anchor(str(file), apprise_deliverer(_apprise(tmp_path, receiver, "audit")))
    database = open_database(db_url)
    try:
        taken = daily.run_if_due(database, clock.now())
    finally:
        database.close()
    assert taken is not None and not taken.ok and taken.sending.failed
    assert taken.sending.words.startswith("NOT sent to the 'audit' tag")
    assert len(read_anchors(file)) == 1
