"""The dispatcher as the clinic runs it: a real `aftercare dispatch` process, killed with
SIGKILL mid-batch and restarted; a broken Apprise entry at start; real email."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock, SystemClock
from core.domain import NotificationStatus, Role
from db.database import Database
from db.engine import make_session_factory, transaction
from db.followup import Actor
from db.models import OutboxNotification
from notifiers.delivery import apprise_deliverer
from notifiers.dispatcher import Dispatcher
from tests.factories import add_staff, add_triaged_patient, at_the_keyboard
from tests.notifiers.receivers import HttpReceiver, SmtpReceiver, wait_for
from tests.notifiers.test_apprise_setup import mail_url

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))
FINDINGS = {"day": 1, "symptoms": ["wheezing"], "country": "US"}


def _emergencies(engine: Engine, count: int, now_clock: SystemClock | FixedClock) -> None:
    now = now_clock.now()
    with transaction(make_session_factory(engine)) as session:
        nurse = add_staff(session, "rn.kim", Role.COORDINATOR, now)
        doctor = add_staff(session, "dr.lee", Role.PHYSICIAN, now)
        doctor.notify_tag = "dr-lee"
        actor = Actor(nurse.id, nurse.username, nurse.display_name)
        for i in range(count):
            add_triaged_patient(
                session,
                f"K-{i}",
                now=now,
                actor=actor,
                findings=FINDINGS,
                treating_id=doctor.id,
                timezone="America/Chicago",
                country="US",
            )


def _env(db_url: str, apprise_file: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_DATABASE_URL=db_url,
        AFTERCARE_APPRISE_CONFIG=str(apprise_file),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    return env


def _statuses(engine: Engine) -> list[NotificationStatus]:
    with make_session_factory(engine)() as session:
        return list(session.scalars(select(OutboxNotification.status)))


@pytest.fixture
def slow_receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver(delay=0.4) as receiver:
        yield receiver


def test_sigkill_mid_batch_then_restart_delivers_everything(
    db_url: str, engine: Engine, tmp_path: Path, slow_receiver: HttpReceiver
) -> None:
    # Real time: the subprocess runs on the system clock.
    _emergencies(engine, 5, SystemClock())
    apprise_file = tmp_path / "apprise.yml"
    apprise_file.write_text(
        "version: 1\nurls:\n"
        f"  - {slow_receiver.url('/oncall')}:\n      tag: oncall\n"
        f"  - {slow_receiver.url('/dr-lee')}:\n      tag: dr-lee\n"
    )
    apprise_file.chmod(0o600)
    env = _env(db_url, apprise_file, tmp_path)
    process = subprocess.Popen(
        [AFTERCARE, "dispatch", "--lease-seconds", "5", "--interval", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        # Past the first recorded group, before the batch of ten is done. The first
        # escalation's two rows go one after the other (0.8 s); sends that slow make
        # the other four go out side by side (two rows each in turn: 0.8 s more), and
        # the first group of five is recorded halfway through them.
        wait_for(lambda: NotificationStatus.SENT in _statuses(engine), timeout=30)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    statuses = _statuses(engine)
    assert len(statuses) == 10
    assert NotificationStatus.SENT in statuses and statuses.count(NotificationStatus.SENT) < 10

    # Restart: once the dead dispatcher's leases run out, everything still goes out.
    deadline = time.monotonic() + 60
    while _statuses(engine).count(NotificationStatus.SENT) < 10:
        assert time.monotonic() < deadline, _statuses(engine)
        done = subprocess.run(
            [AFTERCARE, "dispatch", "--once", "--lease-seconds", "5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        time.sleep(0.5)
    with make_session_factory(engine)() as session:
        titles = {r.title for r in session.scalars(select(OutboxNotification))}
    received = {p.body["title"] for p in slow_receiver.posts}
    assert titles <= received
    # At least once: only alerts sent but not yet recorded at the kill (the dispatcher
    # records in groups of `record_every`, 5) may have gone out twice.
    assert 10 <= len(slow_receiver.posts) <= 10 + 5


def test_broken_entry_is_named_at_start_and_valid_services_still_get_alerts(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    _emergencies(engine, 1, SystemClock())
    with HttpReceiver() as receiver:
        apprise_file = tmp_path / "apprise.yml"
        apprise_file.write_text(
            "version: 1\nurls:\n"
            "  - nonsense://nowhere:\n      tag: oncall\n"
            f"  - {receiver.url('/oncall')}:\n      tag: oncall\n"
            f"  - {receiver.url('/dr-lee')}:\n      tag: dr-lee\n"
        )
        apprise_file.chmod(0o600)
        done = subprocess.run(
            [AFTERCARE, "dispatch", "--once"],
            env=_env(db_url, apprise_file, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert f"{apprise_file}: line 3" in done.stderr and "nonsense" in done.stderr
        assert "Traceback" not in done.stderr
        assert len(receiver.wait_for_posts(2)) == 2
    assert _statuses(engine) == [NotificationStatus.SENT] * 2


def test_real_email_to_the_local_smtp_server(
    engine: Engine, clock: FixedClock, tmp_path: Path
) -> None:
    _emergencies(engine, 1, clock)
    with SmtpReceiver() as smtp, HttpReceiver() as http:
        apprise_file = tmp_path / "apprise.yml"
        apprise_file.write_text(
            "version: 1\nurls:\n"
            f"  - '{mail_url(smtp)}':\n      tag: oncall\n"
            f"  - {http.url()}:\n      tag: dr-lee\n"
        )
        apprise_file.chmod(0o600)
        dispatcher = Dispatcher(
            Database(engine, make_session_factory(engine)), apprise_deliverer(apprise_file), clock
        )
        assert dispatcher.run_once().sent == 2
        (mail,) = smtp.wait_for_messages(1)
        assert mail.subject.startswith("[E-1 step 1] EMERGENCY")
        assert "K-0" in mail.text and "aftercare ack E-1" in mail.text
        assert http.wait_for_posts(1)[0].body["title"] == "[E-1 step 1] EMERGENCY"


def test_ack_and_resolve_on_the_command_line(
    db_url: str, engine: Engine, tmp_path: Path, clock: FixedClock
) -> None:
    _emergencies(engine, 1, clock)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_DATABASE_URL=db_url,
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AFTERCARE, *args], env=env, capture_output=True, text=True, timeout=60
        )

    # The physician's own login: the OS login the tests run as stands in for dr.lee.
    with at_the_keyboard(db_url, "dr.lee") as me:
        env.update(LOGNAME=me, USER=me)
        refused = cli("ack", "E-1", "--by", "nobody")
        assert refused.returncode == 1 and "not on the clinic's staff list" in refused.stderr
        done = cli("ack", "E-1", "--by", me)
        assert done.returncode == 0, done.stderr
        assert "E-1 acknowledged" in done.stdout
        again = cli("ack", "e-1", "--by", me)
        assert again.returncode == 1 and "already acknowledged" in again.stderr
        assert set(_statuses(engine)) == {NotificationStatus.CANCELLED}
        assert cli("resolve", "E-1", "--by", me).returncode == 0
        bad = cli("ack", "X-9", "--by", me)
        assert bad.returncode == 1 and "not an escalation id" in bad.stderr
