"""Apprise setup against real receivers on 127.0.0.1: an SMTP server and an HTTP endpoint.

What matters to the clinic: an alert for a tag reaches exactly the services with that
tag, a service that is down is reported (not hidden), a broken config is refused with a
line the admin can act on, and no password ever appears in anything we print.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from notifiers.apprise_setup import (
    TEST_TITLE,
    NotifyConfigError,
    deliver,
    describe_services,
    load_apprise,
    send_test,
    tags_to_services,
)
from tests.notifiers.receivers import HttpReceiver, SmtpReceiver

SMTP_PASSWORD = "smtp-pw-9f8e7d"
HEADER_TOKEN = "hdr-token-5a4b3c"


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


def mail_url(smtp: SmtpReceiver, to: str = "dr.lee@example.org") -> str:
    """Apprise mailto:// to a plain (no TLS) SMTP server on loopback, with a login."""
    return (
        f"mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:{smtp.port}"
        f"?smtp=127.0.0.1&mode=insecure&from=alerts@example.org&to={to}"
    )


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "apprise.yml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def clinic_config(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver, mode: int = 0o600
) -> Path:
    return write_config(
        tmp_path,
        f"""version: 1
urls:
  - {http.url("/alerts")}?+X-Token={HEADER_TOKEN}:
      tag: oncall, dr-lee, physicians
  - {mail_url(smtp)}:
      tag: senior, physicians
""",
        mode,
    )


def test_physicians_tag_reaches_mail_and_json_with_title_and_body(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    loaded = load_apprise(clinic_config(tmp_path, http, smtp))
    assert loaded.warnings == ()

    outcome = deliver(loaded, "physicians", "[E-7 step 1] URGENT", "Patient P-0042, day 3.")

    assert outcome.matched and outcome.ok_all
    assert sorted(r.service for r in outcome.results) == ["E-Mail", "JSON"]
    for result in outcome.results:
        assert result.ok and result.status == "success" and result.error is None
        assert result.attempts == 1 and result.elapsed_seconds >= 0
        assert SMTP_PASSWORD not in result.masked_url and HEADER_TOKEN not in result.masked_url

    [post] = http.wait_for_posts(1)
    assert post.path.startswith("/alerts")
    assert post.body["title"] == "[E-7 step 1] URGENT"
    assert post.body["message"] == "Patient P-0042, day 3."
    [mail] = smtp.wait_for_messages(1)
    assert mail.subject == "[E-7 step 1] URGENT"
    assert "Patient P-0042, day 3." in mail.text
    assert mail.rcpt_tos == ("dr.lee@example.org",)
    assert mail.mail_from == "alerts@example.org"
    assert mail.login == "alerts"


def test_a_tag_reaches_only_its_services(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    loaded = load_apprise(clinic_config(tmp_path, http, smtp))

    results = send_test(loaded, "dr-lee", TEST_TITLE, "only the JSON hook")

    assert [(r.service, r.ok) for r in results] == [("JSON", True)]
    assert http.wait_for_posts(1)[0].body["title"] == TEST_TITLE
    assert smtp.messages == []


def test_several_tags_reach_the_union(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    loaded = load_apprise(clinic_config(tmp_path, http, smtp))

    outcome = deliver(loaded, ("dr-lee", "senior"), "t", "b")

    assert outcome.ok_all
    assert sorted(r.service for r in outcome.results) == ["E-Mail", "JSON"]


def test_unknown_tag_matches_nothing_and_sends_nothing(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    loaded = load_apprise(clinic_config(tmp_path, http, smtp))

    outcome = deliver(loaded, "dr-nobody", "t", "b")

    assert outcome.matched is False and outcome.ok_all is False and outcome.results == []
    assert send_test(loaded, "dr-nobody", "t", "b") == []
    assert http.posts == [] and smtp.messages == []


def test_http_receiver_down_is_a_failed_result_then_recovers(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    loaded = load_apprise(clinic_config(tmp_path, http, smtp))
    http.stop()

    down = deliver(loaded, "oncall", "t", "while down")

    assert down.matched and not down.ok_all
    [result] = down.results
    assert not result.ok and result.status == "failure" and result.attempts == 1
    assert result.error and "127.0.0.1" in result.error
    assert HEADER_TOKEN not in result.error

    http.start()  # same port, so the same config works again
    up = deliver(loaded, "oncall", "t", "back up")
    assert up.ok_all
    assert http.wait_for_posts(1)[0].body["message"] == "back up"


def test_smtp_server_down_is_a_failed_result_then_recovers(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    loaded = load_apprise(clinic_config(tmp_path, http, smtp))
    smtp.stop()

    down = deliver(loaded, "physicians", "t", "mail down")

    assert down.matched and not down.ok_all
    by_service = {r.service: r for r in down.results}
    assert by_service["JSON"].ok
    assert not by_service["E-Mail"].ok and by_service["E-Mail"].error
    assert SMTP_PASSWORD not in str(down)

    smtp.start()
    # A fresh load: Apprise spaces sends to one service object 5.5 s apart, which would only
    # slow the test; the HTTP test shows the same object recovering.
    assert deliver(load_apprise(loaded.path), "senior", "t", "mail back").ok_all
    assert "mail back" in smtp.wait_for_messages(1)[0].text


def test_http_error_status_is_a_failed_result(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    http.status = 500
    loaded = load_apprise(clinic_config(tmp_path, http, smtp))

    [result] = deliver(loaded, "oncall", "t", "b").results

    assert not result.ok and result.error
    assert len(http.wait_for_posts(1)) == 1


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("nonsense://x", "nonsense://"),
        ("json://", "json://"),
        (
            f"mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:99999?smtp=127.0.0.1&to=a@example.org",
            "port 99999",
        ),
        (
            f"mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:25x?smtp=127.0.0.1&to=a@example.org",
            "not a number",
        ),
    ],
)
def test_a_url_apprise_cannot_use_refuses_the_file_naming_it(
    tmp_path: Path, http: HttpReceiver, url: str, needle: str
) -> None:
    path = write_config(
        tmp_path,
        f"""version: 1
urls:
  - {http.url()}:
      tag: oncall
  - "{url}":
      tag: senior
""",
    )

    with pytest.raises(NotifyConfigError) as caught:
        load_apprise(path)

    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message and "line 5, entry #2" in message and needle in message
    assert SMTP_PASSWORD not in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("version: 1\nurls:\n  - json://127.0.0.1:9/x\n  bad: [\n", "not valid YAML at line"),
        ("- just\n- a list\n", "expected a mapping"),
        ("version: 2\nurls:\n  - json://127.0.0.1:9/x\n", "version 2"),
        ("version: 1\n", "no services configured"),
        ("version: 1\nurls: []\n", "no services configured"),
        ("", "expected a mapping"),
    ],
)
def test_yaml_apprise_cannot_use_is_one_line_naming_the_file(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = write_config(tmp_path, text)

    with pytest.raises(NotifyConfigError) as caught:
        load_apprise(path)

    assert str(path) in str(caught.value) and needle in str(caught.value)
    assert "\n" not in str(caught.value)


def test_yaml_error_does_not_quote_the_line_with_the_password(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        f'version: 1\nurls:\n  - "mailto://u:{SMTP_PASSWORD}@127.0.0.1:25?to=a@example.org\n',
    )

    with pytest.raises(NotifyConfigError) as caught:
        load_apprise(path)

    assert "not valid YAML" in str(caught.value)
    assert SMTP_PASSWORD not in str(caught.value)


def test_missing_and_unreadable_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(NotifyConfigError, match="does not exist") as caught:
        load_apprise(missing)
    assert str(missing) in str(caught.value)

    # A directory cannot be read as a file even by root, unlike a chmod 000 file.
    with pytest.raises(NotifyConfigError, match="cannot read") as caught:
        load_apprise(tmp_path)
    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize(("mode", "who"), [(0o644, "group and others"), (0o640, "group")])
def test_a_file_others_can_read_is_a_warning_not_an_error(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver, mode: int, who: str
) -> None:
    path = clinic_config(tmp_path, http, smtp, mode=mode)

    loaded = load_apprise(path)

    [warning] = loaded.warnings
    assert f"chmod 600 {path}" in warning and who in warning and "read" in warning
    assert deliver(loaded, "oncall", "t", "b").ok_all


def test_describe_and_tag_map_mask_every_secret(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    bot_token = "123456789:AAHsecretTOKENabcdefghijklmnopqrstu"
    path = write_config(
        tmp_path,
        f"""version: 1
urls:
  - {http.url("/alerts")}?+X-Token={HEADER_TOKEN}:
      tag: oncall, dr-lee, physicians
  - {mail_url(smtp)}:
      tag: senior, physicians
  - tgram://{bot_token}/12345:
      tag: dr-kim
""",
    )
    loaded = load_apprise(path)

    lines = describe_services(loaded)
    reach = tags_to_services(loaded)

    assert [(line.service, line.tags, line.valid) for line in lines] == [
        ("JSON", ("dr-lee", "oncall", "physicians"), True),
        ("E-Mail", ("physicians", "senior"), True),
        ("Telegram", ("dr-kim",), True),
    ]
    assert lines[1].masked_url.startswith(f"mailto://alerts:***@127.0.0.1:{smtp.port}/")
    # Apprise's privacy mode leaves custom header values in clear; we mask them.
    assert "X-Token=***" in lines[0].masked_url
    assert list(reach) == ["dr-kim", "dr-lee", "oncall", "physicians", "senior"]
    assert reach["physicians"] == [lines[0].masked_url, lines[1].masked_url]
    shown = repr((lines, reach, loaded.warnings))
    for secret in (SMTP_PASSWORD, HEADER_TOKEN, "AAHsecretTOKEN"):
        assert secret not in shown


def test_loading_keeps_the_apprise_logger_out_of_debug(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    logger = logging.getLogger("apprise")
    before = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        load_apprise(clinic_config(tmp_path, http, smtp))
        assert logger.getEffectiveLevel() >= logging.INFO
    finally:
        logger.setLevel(before)
