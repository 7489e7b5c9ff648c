"""`aftercare notify check` and `aftercare notify test` as an admin runs them.

Real `aftercare` processes, a real Apprise YAML file named by AFTERCARE_APPRISE_CONFIG,
and real receivers on 127.0.0.1. Errors must be one line on stderr with exit status 1;
no output may contain a service password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.domain import Role
from db.engine import make_session_factory, transaction
from tests.factories import add_staff
from tests.notifiers.receivers import HttpReceiver, SmtpReceiver
from tests.tui.test_cli import assert_one_clear_line, run_cli

SMTP_PASSWORD = "cli-smtp-pw-77aa"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No user config and no stray AFTERCARE_* settings (as tests/tui/test_cli.py)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    home = tmp_path / "home"
    home.mkdir()
    clean.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
    )
    return clean


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


def configure(
    env: dict[str, str], tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver, mode: int = 0o600
) -> Path:
    """Write the clinic's Apprise file and point aftercare at it."""
    path = tmp_path / "apprise.yml"
    path.write_text(
        f"""version: 1
urls:
  - {http.url("/alerts")}:
      tag: oncall, dr-lee, physicians
  - mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:{smtp.port}?smtp=127.0.0.1&mode=insecure&from=alerts@example.org&to=dr.lee@example.org:
      tag: senior, physicians
""",
        encoding="utf-8",
    )
    path.chmod(mode)
    env["AFTERCARE_APPRISE_CONFIG"] = str(path)
    return path


def test_check_lists_services_masked_and_which_tags_reach_them(
    env: dict[str, str], tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    path = configure(env, tmp_path, http, smtp)

    result = run_cli("notify", "check", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert str(path) in out
    assert f"json://127.0.0.1:{http.port}/a...s" in out
    assert f"mailto://alerts:***@127.0.0.1:{smtp.port}" in out
    assert "physicians -> 2 services" in out and "senior -> 1 service" in out
    assert "dr-lee -> 1 service" in out and "oncall -> 1 service" in out
    assert SMTP_PASSWORD not in out + result.stderr
    assert http.posts == [] and smtp.messages == []  # checking sends nothing


def test_check_warns_once_per_active_physician_whose_tag_reaches_no_service(
    engine: Engine,
    db_url: str,
    env: dict[str, str],
    tmp_path: Path,
    http: HttpReceiver,
    smtp: SmtpReceiver,
) -> None:
    now = datetime.now(UTC)
    with transaction(make_session_factory(engine)) as session:
        add_staff(session, "dr.lee", Role.PHYSICIAN, now).notify_tag = "dr-lee"
        add_staff(session, "dr.kim", Role.PHYSICIAN, now).notify_tag = "dr-kim"
        add_staff(session, "dr.yoon", Role.PHYSICIAN, now).notify_tag = "dr-yoon"
        retired = add_staff(session, "dr.old", Role.PHYSICIAN, now)
        retired.notify_tag, retired.active = "dr-old", False
        add_staff(session, "dr.notag", Role.PHYSICIAN, now)
        add_staff(session, "rn.kim", Role.COORDINATOR, now).notify_tag = "rn-kim"
    configure(env, tmp_path, http, smtp)
    env["AFTERCARE_DATABASE_URL"] = db_url

    result = run_cli("notify", "check", env=env)

    assert result.returncode == 0, result.stderr  # a warning, not a failure
    assert "physician tags: 3 active physician(s) with a notify tag, 2 reaching no service" in (
        result.stdout
    )
    assert result.stderr.splitlines() == [
        f"aftercare: warning: physician {login}'s notify tag '{tag}' matches no service in the "
        "Apprise config: pages to them cannot be delivered (oncall pages fall back to the "
        "static 'oncall' tag)"
        for login, tag in (("dr.kim", "dr-kim"), ("dr.yoon", "dr-yoon"))
    ]


def test_check_warns_about_a_world_readable_file_but_passes(
    env: dict[str, str], tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    path = configure(env, tmp_path, http, smtp, mode=0o644)

    result = run_cli("notify", "check", env=env)

    assert result.returncode == 0, result.stderr
    assert f"chmod 600 {path}" in result.stderr and "warning" in result.stderr


def test_check_without_apprise_config_says_how_to_set_it(env: dict[str, str]) -> None:
    result = run_cli("notify", "check", env=env)

    assert_one_clear_line(result, "apprise_config is not set", "AFTERCARE_APPRISE_CONFIG")
    assert result.returncode == 1


def test_check_with_a_missing_file_names_it(env: dict[str, str], tmp_path: Path) -> None:
    env["AFTERCARE_APPRISE_CONFIG"] = str(tmp_path / "missing.yml")

    result = run_cli("notify", "check", env=env)

    assert_one_clear_line(result, str(tmp_path / "missing.yml"), "does not exist")
    assert result.returncode == 1


def test_check_with_a_broken_url_names_file_entry_and_masked_url(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text(
        "version: 1\nurls:\n  - json://127.0.0.1:9/ok\n"
        f"  - mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:99999?to=a@example.org\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    env["AFTERCARE_APPRISE_CONFIG"] = str(path)

    result = run_cli("notify", "check", env=env)

    assert_one_clear_line(result, str(path), "line 4, entry #2", "mailto://alerts:***@127.0.0.1")
    assert result.returncode == 1
    assert SMTP_PASSWORD not in result.stderr + result.stdout


def test_test_sends_to_the_tag_and_reports_each_service(
    env: dict[str, str], tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    configure(env, tmp_path, http, smtp)

    result = run_cli("notify", "test", "--tag", "physicians", env=env)

    assert result.returncode == 0, result.stderr
    assert http.wait_for_posts(1)[0].body["title"] == "aftercare test notification"
    assert smtp.wait_for_messages(1)[0].subject == "aftercare test notification"
    lines = [line for line in result.stdout.splitlines() if line.startswith("ok")]
    assert len(lines) == 2
    assert all("attempts 1" in line and " s)" in line for line in lines)
    assert "delivered to 2 service(s)" in result.stdout
    assert SMTP_PASSWORD not in result.stdout + result.stderr


def test_test_with_a_receiver_down_reports_it_and_fails(
    env: dict[str, str], tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    configure(env, tmp_path, http, smtp)
    smtp.stop()

    result = run_cli("notify", "test", "--tag", "physicians", env=env)

    assert_one_clear_line(result, "1 of 2 service(s) failed")
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1 and "mailto://alerts:***@" in failed[0]
    assert http.wait_for_posts(1)  # the other service still got it
    assert SMTP_PASSWORD not in result.stdout + result.stderr


def test_test_with_an_unknown_tag_says_nothing_matched(
    env: dict[str, str], tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    configure(env, tmp_path, http, smtp)

    result = run_cli("notify", "test", "--tag", "dr-nobody", env=env)

    assert_one_clear_line(result, "no service has tag 'dr-nobody'", "nothing was sent")
    assert result.returncode == 1
    assert http.posts == [] and smtp.messages == []
