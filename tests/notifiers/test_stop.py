"""Stopping the real `aftercare dispatch` process the way systemd does (SIGTERM) in the
middle of a batch of twenty alerts: it is gone within seconds, hands the lease and the
rows it did not try back at once, and a restart sends the rest: no page lost, none
sent twice."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.clock import SystemClock
from core.domain import NotificationStatus
from db.engine import make_session_factory
from db.models import DispatcherLease, OutboxNotification
from tests.notifiers.receivers import HttpReceiver, wait_for
from tests.notifiers.test_dispatch_process import AFTERCARE, _emergencies, _env, _statuses

ALERTS = 20


@pytest.fixture
def slow_receiver() -> Iterator[HttpReceiver]:
    # A relay taking 0.4 s a message: the batch of forty pages takes several seconds.
    with HttpReceiver(delay=0.4) as receiver:
        yield receiver


def test_sigterm_mid_batch_exits_within_5_s_and_a_restart_loses_and_repeats_nothing(
    db_url: str, engine: Engine, tmp_path: Path, slow_receiver: HttpReceiver
) -> None:
    _emergencies(engine, ALERTS, SystemClock())
    apprise_file = tmp_path / "apprise.yml"
    apprise_file.write_text(
        "version: 1\nurls:\n"
        f"  - {slow_receiver.url('/oncall')}:\n      tag: oncall\n"
        f"  - {slow_receiver.url('/dr-lee')}:\n      tag: dr-lee\n"
    )
    apprise_file.chmod(0o600)
    env = _env(db_url, apprise_file, tmp_path)
    process = subprocess.Popen(
        [AFTERCARE, "dispatch", "--interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(slow_receiver.posts) >= 6, timeout=60)
        process.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        process.wait(timeout=30)
        took = time.monotonic() - asked
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    assert took <= 5, f"SIGTERM took {took:.1f} s"
    statuses = _statuses(engine)
    assert len(statuses) == 2 * ALERTS
    # Everything tried is recorded; nothing is left claimed by the stopped dispatcher.
    assert NotificationStatus.SENDING not in statuses
    assert 0 < statuses.count(NotificationStatus.SENT) < 2 * ALERTS
    assert statuses.count(NotificationStatus.SENT) == len(slow_receiver.posts)
    with make_session_factory(engine)() as session:
        lease = session.get_one(DispatcherLease, "outbox")
        assert lease.expires_at <= SystemClock().now()  # handed over at once

    # A restart at once (no lease to wait out) sends the rest.
    deadline = time.monotonic() + 60
    while _statuses(engine).count(NotificationStatus.SENT) < 2 * ALERTS:
        assert time.monotonic() < deadline, _statuses(engine)
        done = subprocess.run(
            [AFTERCARE, "dispatch", "--once"], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert "another dispatcher holds the lease" not in done.stdout
    with make_session_factory(engine)() as session:
        rows = session.execute(select(OutboxNotification.title, OutboxNotification.target_tag))
        wanted = Counter((title, f"/{tag}") for title, tag in rows)
    received = Counter((p.body["title"], p.path) for p in slow_receiver.posts)
    assert received == wanted  # each page exactly once
