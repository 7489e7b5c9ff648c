"""`aftercare dispatch` under systemd's watchdog (Type=notify, WatchdogSec=): a real
process on a real notify socket says READY, pings WATCHDOG while it holds a fresh
lease, and says STOPPING on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.notifiers.test_dispatch_process import _env

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))


def _messages(sock: socket.socket, until: float) -> list[str]:
    got: list[str] = []
    while time.monotonic() < until:
        try:
            got.append(sock.recv(256).decode())
        except TimeoutError:
            continue
        if "WATCHDOG=1" in got and got.count("WATCHDOG=1") >= 2:
            break
    return got


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True, ids=["db=sqlite"])
def test_the_dispatcher_says_ready_pings_the_watchdog_and_says_stopping(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(0.2)
        apprise_file = tmp_path / "apprise.yml"
        apprise_file.write_text("urls:\n  - json://127.0.0.1:9/:\n      tag: oncall\n")
        env = _env(db_url, apprise_file, tmp_path)
        # 0.9 s: a ping every 0.3 s.
        env.update(NOTIFY_SOCKET=address, WATCHDOG_USEC="900000")
        process = subprocess.Popen(
            [AFTERCARE, "dispatch", "--interval", "0.2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            got = _messages(sock, time.monotonic() + 20)
            assert got[:1] == ["READY=1"], got
            assert got.count("WATCHDOG=1") >= 2, got
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
            tail = _messages(sock, time.monotonic() + 2)
            assert "STOPPING=1" in tail, tail
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
