"""`aftercare web` as a real process: the secret made once, owner-only; the service
answering a link on a real port and stopping on SIGTERM; `--help` not paying for aiohttp."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.clock import FixedClock
from db.engine import make_engine
from tests.notifiers.receivers import free_port, wait_for
from tests.web.conftest import KEYS, make_ward

AFTERCARE = str(Path(sys.executable).with_name("aftercare"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No user config, no stray settings; a SQLite file and a secret path of this test."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    home = tmp_path / "home"
    home.mkdir()
    clean.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        AFTERCARE_DATABASE_URL=f"sqlite:///{tmp_path / 'aftercare.db'}",
        AFTERCARE_WEB_SECRET_FILE=str(tmp_path / "web-secret"),
        AFTERCARE_WEB_BASE_URL="http://127.0.0.1:8340",
    )
    return clean


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AFTERCARE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_init_secret_once_owner_only(env: dict[str, str]) -> None:
    secret = Path(env["AFTERCARE_WEB_SECRET_FILE"])
    made = _run(env, "web", "--init-secret")
    assert made.returncode == 0, made.stderr
    assert f"link secret written to {secret} (mode 0600)" in made.stdout
    assert secret.stat().st_mode & 0o777 == 0o600
    kept = secret.read_text()
    again = _run(env, "web", "--init-secret")
    assert again.returncode == 1
    assert again.stderr.startswith(f"aftercare: {secret} already exists")
    assert secret.read_text() == kept


def test_no_secret_is_one_clear_line(env: dict[str, str]) -> None:
    result = _run(env, "web")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"aftercare: the link secret file {env['AFTERCARE_WEB_SECRET_FILE']} does not exist: "
        "create it with `aftercare web --init-secret` as the service user"
    ]


def test_the_service_answers_a_link_and_stops_on_sigterm(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert _run(env, "init").returncode == 0
    Path(env["AFTERCARE_WEB_SECRET_FILE"]).write_text(KEYS.secret.hex() + "\n")
    Path(env["AFTERCARE_WEB_SECRET_FILE"]).chmod(0o600)
    engine = make_engine(env["AFTERCARE_DATABASE_URL"])
    try:
        from tests.conftest import TEST_NOW

        ward = make_ward(engine, FixedClock(TEST_NOW))
        link = ward.link("dr-lee")
    finally:
        engine.dispose()
    port = free_port()
    service = subprocess.Popen(
        [AFTERCARE, "web", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            except urllib.error.HTTPError:
                return True  # a 404 page: it is listening
            except OSError:
                return False
            return True

        wait_for(answers, timeout=20)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/a/{link}", timeout=5) as page:
            text = page.read().decode()
            assert page.status == 200 and "P-7" in text
            assert page.headers["Cache-Control"] == "no-store"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/admin", timeout=5)
        assert missing.value.code == 404
    finally:
        service.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, err = service.communicate(timeout=15)
    assert service.returncode == 0, err
    assert time.monotonic() - started < 10
    assert f"aftercare web listening on http://127.0.0.1:{port}" in out
    assert link not in out + err  # a link is a credential: never logged


def test_help_does_not_load_the_web_service(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", AFTERCARE, "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert "Serve the page physicians' alert links open" in result.stdout
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert not {m.split(".")[0] for m in modules} & {"aiohttp", "web", "selenium"}
