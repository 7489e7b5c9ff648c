"""`aftercare run` in a real pseudo-terminal that goes away under it, as when SSH drops.

Each test starts the real console script on a demo database, waits for the
queue's first paint, then takes the terminal away and expects the process
to end by itself within seconds, with status 129 (128 + SIGHUP), having
released what it held.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from db.database import initialise_database
from db.demo import load_demo
from db.engine import make_engine
from tests.tui.test_cli import run_cli

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))
PAINTED = re.compile(rb"Overdue.{0,80}Due.{0,80}Upcoming")
EXIT_WITHIN = 5.0
MOUSE_ON = b"\x1b[?1000h"
LEAVE_ALT_SCREEN = b"\x1b[?1049l"


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose database holds 20 demo patients and the demo staff."""
    folder = tmp_path_factory.mktemp("hangup")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        HOME=str(folder),
        XDG_CONFIG_HOME=str(folder / ".config"),
        XDG_DATA_HOME=str(folder / ".local/share"),
        AFTERCARE_DATABASE_URL=f"sqlite:///{folder / 'aftercare.db'}",
        TERM="xterm-256color",
    )
    env.pop("COLORTERM", None)
    # What `aftercare init` and `aftercare demo --patients 20` do, without two interpreters.
    initialise_database(env["AFTERCARE_DATABASE_URL"])
    engine = make_engine(env["AFTERCARE_DATABASE_URL"])
    try:
        load_demo(engine, patients=20, seed=1, now=datetime.now(UTC))
    finally:
        engine.dispose()
    return env


@dataclass
class Session:
    """The app in a pseudo-terminal; `master` is the SSH server's end of it."""

    process: subprocess.Popen[bytes]
    master: int
    """The pty's master descriptor; -1 once closed (never closed twice: the number is reused)."""
    output: bytes = b""

    def close_master(self) -> None:
        """What sshd does when the client is gone."""
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.master >= 0 and time.monotonic() < deadline:
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    return

    def wait_for_paint(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read(0.1)
            plain = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", self.output)
            if PAINTED.search(plain):
                return
        pytest.fail(f"the queue did not paint; output tail: {self.output[-400:]!r}")

    def exit_status_within(self, seconds: float, *, drain: bool = True) -> int | None:
        """The exit status if the process ends within `seconds`, else None."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.process.poll()
            if status is not None:
                return status
            if drain:
                self.read(0.05)
            else:
                time.sleep(0.05)
        return None


def start(env: dict[str, str], *args: str, controlling_terminal: bool = False) -> Session:
    """`aftercare run --as demo-rn-park ARGS` in a new 80x24 pseudo-terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def make_controlling() -> None:
        # What sshd does for a login shell: the pty becomes the session's terminal,
        # so closing the master makes the kernel send SIGHUP.
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    setup: Callable[[], None] | None = make_controlling if controlling_terminal else None
    process = subprocess.Popen(
        [AFTERCARE, "run", "--as", "demo-rn-park", *args],
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=setup,
    )
    os.close(slave)
    return Session(process, master)


@pytest.fixture
def sessions() -> Iterator[list[Session]]:
    """Sessions a test started; any still running at the end is killed."""
    started: list[Session] = []
    yield started
    for session in started:
        if session.process.poll() is None:
            session.process.kill()
            session.process.wait()
        session.close_master()


def _lease(env: dict[str, str]) -> tuple[str, datetime] | None:
    path = env["AFTERCARE_DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            "SELECT owner, expires_at FROM dispatcher_lease WHERE name = 'outbox'"
        ).fetchone()
    if row is None:
        return None
    return row[0], datetime.fromisoformat(row[1]).replace(tzinfo=UTC)


def test_closed_terminal_ends_the_app_and_hands_back_the_dispatcher_lease(
    demo_env: dict[str, str], sessions: list[Session], tmp_path: Path
) -> None:
    # An Apprise file makes the app run the dispatcher, which takes the lease.
    apprise = tmp_path / "apprise.yml"
    apprise.write_text("version: 1\nurls:\n  - json://127.0.0.1:9/alerts:\n      tag: oncall\n")
    apprise.chmod(0o600)
    env = dict(demo_env, AFTERCARE_APPRISE_CONFIG=str(apprise))
    session = start(env)
    sessions.append(session)
    session.wait_for_paint()
    deadline = time.monotonic() + 10
    while (lease := _lease(env)) is None or f":{session.process.pid}:" not in lease[0]:
        assert time.monotonic() < deadline, "the in-app dispatcher never took the lease"
        session.read(0.2)
    assert MOUSE_ON in session.output  # the mouse is on unless --no-mouse

    # No controlling terminal here, so no SIGHUP: only end-of-file and failed writes.
    session.close_master()
    status = session.exit_status_within(EXIT_WITHIN, drain=False)
    assert status == 128 + signal.SIGHUP, f"still running {EXIT_WITHIN} s after the hang-up"
    # Released, not left to run out its 60 s.
    lease = _lease(env)
    assert lease is not None and lease[1] <= datetime.now(UTC)


def test_sighup_exits_cleanly_and_restores_the_terminal(
    demo_env: dict[str, str], sessions: list[Session]
) -> None:
    session = start(demo_env, "--no-mouse")
    sessions.append(session)
    session.wait_for_paint()
    assert MOUSE_ON not in session.output
    painted = len(session.output)
    session.process.send_signal(signal.SIGHUP)
    status = session.exit_status_within(EXIT_WITHIN)
    # Killed by the signal would be -1: the handler ran and the app shut down.
    assert status == 128 + signal.SIGHUP
    session.read(0.2)
    # The terminal was still there, so the app put it back as it found it.
    assert LEAVE_ALT_SCREEN in session.output[painted:]


def test_ssh_drop_with_a_controlling_terminal(
    demo_env: dict[str, str], sessions: list[Session]
) -> None:
    session = start(demo_env, controlling_terminal=True)
    sessions.append(session)
    session.wait_for_paint()
    # The kernel hangs the terminal up and sends SIGHUP, as when sshd loses the client.
    session.close_master()
    status = session.exit_status_within(EXIT_WITHIN, drain=False)
    assert status == 128 + signal.SIGHUP, f"still running {EXIT_WITHIN} s after the hang-up"


def test_run_without_a_terminal_is_refused(demo_env: dict[str, str]) -> None:
    result = run_cli("run", "--as", "demo-rn-park", env=demo_env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "aftercare: `aftercare run` needs a terminal, and standard input is not one "
        "(over SSH with a command, use `ssh -t`)"
    ]
