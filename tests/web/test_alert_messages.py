"""What a paged physician reads: every reason, one fact per line, a link signed at
sending time for the tag it went to, and the server command written correctly; plain
text to services that take text, HTML (with its plain-text part) to e-mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from core.alert_links import LinkKeys, create_secret
from core.clock import FixedClock
from core.config import Settings
from core.domain import Disposition
from db.escalations import alert_text
from db.models import OutboxNotification
from notifiers.apprise_setup import deliver, html_body, load_apprise
from notifiers.dispatcher import AlertLinks, DeliveryReport, Dispatcher, alert_links
from tests.notifiers.receivers import HttpReceiver, SmtpReceiver
from tests.web.conftest import KEYS, make_ward

BASE = "https://alerts.clinic.example"
LINK = re.compile(rf"{re.escape(BASE)}/a/(\S+)")


class Recorder:
    """A transport that records (tag, title, body) and says it was delivered."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def __call__(self, tag: str, title: str, body: str) -> DeliveryReport:
        self.sent.append((tag, title, body))
        return DeliveryReport(True)


def test_alert_text_has_every_reason_one_fact_per_line() -> None:
    text = alert_text(
        12,
        2,
        Disposition.URGENT,
        patient_code="P-9",
        patient_name=None,
        day=4,
        reasons=["Fever 38.2 °C on day 4", "Hives on day 4", " "],
        treating_note="treating physician dr.x has no notify tag: the on-call covers",
    )
    assert text.splitlines() == [
        "URGENT triage for patient P-9",
        "Day 4 after the procedure",
        "Reason: Fever 38.2 °C on day 4",
        "Reason: Hives on day 4",
        "Note: treating physician dr.x has no notify tag: the on-call covers.",
        "Escalation E-12, step 2",
        "On the clinic server, signed in as yourself: aftercare ack E-12 "
        "(or the alerts screen, key !)",
    ]
    named = alert_text(
        1,
        1,
        Disposition.EMERGENCY,
        patient_code="P-9",
        patient_name="Sato Yui",
        day=None,
        reasons=[],
    )
    assert named.splitlines()[0] == "EMERGENCY triage for patient P-9 (Sato Yui)"
    assert "Day" not in named


def test_each_send_carries_its_own_link_for_the_tag_it_went_to(
    engine: Engine, clock: FixedClock
) -> None:
    ward = make_ward(engine, clock)
    recorder = Recorder()
    dispatcher = Dispatcher(ward.database, recorder, clock, owner="t", links=AlertLinks(KEYS, BASE))
    assert dispatcher.run_once().sent == 2
    claims = {}
    for tag, _title, body in recorder.sent:
        lines = body.splitlines()
        found = LINK.search(lines[1])
        assert found is not None and lines[1].startswith("Acknowledge or resolve from your phone: ")
        claim = KEYS.verify(found.group(1))
        claims[tag] = claim
        assert (claim.escalation_id, claim.step, claim.cycle) == (ward.escalation_id, 1, 1)
        assert claim.target_tag == tag
        assert sum(line.startswith("Reason: ") for line in lines) == 4
        assert lines[0] == "EMERGENCY triage for patient P-7"
    assert set(claims) == {"oncall", "dr-lee"}
    assert claims["oncall"].nonce != claims["dr-lee"].nonce
    # The queued text itself has no link: coordinators' processes cannot sign.
    with ward.database.sessions() as session:
        assert all(BASE not in body for body in session.scalars(select(OutboxNotification.body)))


def test_without_links_the_text_goes_as_queued(engine: Engine, clock: FixedClock) -> None:
    ward = make_ward(engine, clock)
    recorder = Recorder()
    Dispatcher(ward.database, recorder, clock, owner="t").run_once()
    assert recorder.sent and all("/a/" not in body for _, _, body in recorder.sent)
    assert all(f"aftercare ack E-{ward.escalation_id}" in body for _, _, body in recorder.sent)


def test_links_from_the_settings(tmp_path: Path) -> None:
    secret = tmp_path / "web-secret"
    unset = Settings(database_url="sqlite:///x.db")
    assert alert_links(unset) == (None, [])
    missing = Settings(
        database_url="sqlite:///x.db", web_base_url=BASE, web_secret_file=str(secret)
    )
    links, warnings = alert_links(missing)
    assert links is None
    assert len(warnings) == 1 and str(secret) in warnings[0]
    assert "alerts are sent without the acknowledgement link" in warnings[0]
    create_secret(secret)
    links, warnings = alert_links(missing)
    assert links is not None and warnings == [] and links.base_url == BASE
    assert isinstance(links.keys, LinkKeys)


def test_web_base_url_must_be_https_but_loopback() -> None:
    assert Settings(web_base_url="https://a.example/").web_base_url == "https://a.example"
    assert Settings(web_base_url="http://127.0.0.1:8340").web_base_url == "http://127.0.0.1:8340"
    with pytest.raises(ValidationError, match="https://"):
        Settings(web_base_url="http://alerts.example")


def test_html_body_escapes_keeps_lines_and_links() -> None:
    text = "EMERGENCY triage for patient P-1\nOpen: https://x.example/a/t.k_-9\nWu <b> & co"
    assert html_body(text) == (
        "<strong>EMERGENCY triage for patient P-1</strong><br/>"
        'Open: <a href="https://x.example/a/t.k_-9">https://x.example/a/t.k_-9</a><br/>'
        "Wu &lt;b&gt; &amp; co"
    )


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as running:
        yield running


def test_text_services_get_text_and_mail_gets_both_parts_readable(
    tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text(
        "version: 1\nurls:\n"
        f"  - {http.url('/alerts')}:\n      tag: physicians\n"
        f"  - mailto://alerts:pw@127.0.0.1:{smtp.port}?smtp=127.0.0.1&mode=insecure"
        "&from=alerts@example.org&to=dr.lee@example.org:\n      tag: physicians\n"
    )
    path.chmod(0o600)
    body = (
        "URGENT triage for patient P-9\nAcknowledge or resolve from your phone: "
        f"{BASE}/a/abc.def\nReason: itch <worse> & red\n"
        "On the clinic server, signed in as yourself: aftercare ack E-3 "
        "(or the alerts screen, key !)"
    )
    outcome = deliver(load_apprise(path), "physicians", "[E-3 step 1] URGENT", body)
    assert outcome.ok_all and sorted(r.service for r in outcome.results) == ["E-Mail", "JSON"]
    [post] = http.wait_for_posts(1)
    assert post.body["message"] == body  # a JSON hook or SMS gateway: the text, untouched
    [mail] = smtp.wait_for_messages(1)
    parts = {
        p.get_content_type(): str(p.get_content())
        for p in mail.message.walk()
        if p.get_content_maintype() == "text"
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert parts["text/plain"].strip().splitlines() == body.splitlines()
    assert "itch &lt;worse&gt; &amp; red" in parts["text/html"]
    assert f'<a href="{BASE}/a/abc.def">' in parts["text/html"]
