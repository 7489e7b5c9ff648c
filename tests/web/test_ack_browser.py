"""The acceptance test of the one-tap acknowledgement, end to end with real parts.

An emergency triage saved through the clinic; the real dispatcher sends it through
Apprise to a real SMTP server (aiosmtpd) on 127.0.0.1, signing a link into each
message; the link is read from the caught e-mail and opened in headless Chromium
(Debian's); Acknowledge is pressed. Then: the escalation is acknowledged in the
database as the physician the e-mail went to, a coordinator's Pilot queue drops the
ALERT row within 2 seconds, and the next step is never sent. Then the same link
again, the link with one character changed, and the link once the alert is closed:
each refused on a plain page, nothing changed. Both databases.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import Engine, func, select
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from bench.support import serving
from core.alert_links import create_secret, read_secret
from core.clock import FixedClock
from core.domain import EscalationStatus, NotificationStatus
from db.models import AuditEvent, Escalation, OutboxNotification
from notifiers.delivery import apprise_deliverer
from notifiers.dispatcher import Dispatcher, alert_links
from tests.notifiers.receivers import ReceivedMail, SmtpReceiver, free_port
from tests.tui.pilot import settle, workstation
from tests.web.browser import chromium
from tests.web.conftest import Ward, make_ward
from tui.app import AftercareApp
from web.app import make_app

QUEUE_WITHIN_SECONDS = 2.0


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as running:
        yield running


def _mail_url(smtp: SmtpReceiver, to: str) -> str:
    return (
        f"mailto://alerts:pw@127.0.0.1:{smtp.port}?smtp=127.0.0.1&mode=insecure"
        f"&from=alerts@example.org&to={to}"
    )


def _parts(mail: ReceivedMail) -> dict[str, str]:
    return {
        part.get_content_type(): str(part.get_content())
        for part in mail.message.walk()
        if part.get_content_maintype() == "text"
    }


def _priority(app: AftercareApp, code: str) -> str | None:
    """The queue's Priority cell of the patient's row; None when the row is not shown."""
    table = app.screen.query_one("#queue-table", DataTable)
    patient = table.get_column_index("patient")
    for row in range(table.row_count):
        if table.get_cell_at(Coordinate(row, patient)).plain.startswith(code + " "):
            cell = table.get_cell_at(Coordinate(row, table.get_column_index("priority")))
            return str(cell.plain)
    return None


def _sent(ward: Ward) -> list[tuple[int, int, str, NotificationStatus]]:
    with ward.database.sessions() as session:
        return [
            (row.step, row.cycle, row.target_tag, row.status)
            for row in session.scalars(select(OutboxNotification).order_by(OutboxNotification.id))
        ]


def _navigating(driver: WebDriver, act: Callable[[], object]) -> None:
    """Do `act` (a click or a form submitted) and wait until the next page replaced
    this one: a click returns before the browser has posted and loaded."""
    old = driver.find_element(By.TAG_NAME, "html")
    act()
    WebDriverWait(driver, 20).until(lambda _: _gone(old))


def _gone(element: WebElement) -> bool:
    """Whether `element` left the page. Chromium may say so, mid-navigation, as "does
    not belong to the document" rather than as a stale element (seen with 156)."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def _page_text(driver: WebDriver) -> str:
    return " ".join(driver.find_element(By.TAG_NAME, "body").text.split())


async def test_one_tap_in_chromium_acknowledges_and_every_other_use_is_refused(
    engine: Engine, clock: FixedClock, smtp: SmtpReceiver, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = tmp_path / "web-secret"
    create_secret(secret)
    ward = make_ward(engine, clock, web_base_url=base, web_secret_file=str(secret))
    apprise_file = tmp_path / "apprise.yml"
    apprise_file.write_text(
        "version: 1\nurls:\n"
        f"  - {_mail_url(smtp, 'dr.lee@example.org')}:\n      tag: dr-lee\n"
        f"  - {_mail_url(smtp, 'oncall@example.org')}:\n      tag: oncall, senior, physicians\n"
    )
    apprise_file.chmod(0o600)
    links, warnings = alert_links(ward.clinic.settings)
    assert links is not None and warnings == []
    dispatcher = Dispatcher(
        ward.database, apprise_deliverer(apprise_file), clock, owner="service", links=links
    )

    # The real dispatcher sends step 1: the on-call group and the treating physician.
    first = dispatcher.run_once()
    assert first.sent == 2
    mails = {m.rcpt_tos[0]: m for m in smtp.wait_for_messages(2)}
    mail = mails["dr.lee@example.org"]
    assert mail.subject == f"[E-{ward.escalation_id} step 1] EMERGENCY"
    parts = _parts(mail)
    plain, page = parts["text/plain"], parts["text/html"]
    found = re.search(rf"{re.escape(base)}/a/[A-Za-z0-9_.-]+", plain)
    assert found is not None, plain
    link = found.group(0)
    # Both parts readable: one fact per line, every reason, the link, the server command.
    lines = plain.splitlines()
    assert lines[0] == "EMERGENCY triage for patient P-7"
    assert lines[1] == f"Acknowledge or resolve from your phone: {link}"
    assert sum(line.startswith("Reason: ") for line in lines) == 4
    assert f"aftercare ack E-{ward.escalation_id} (or the alerts screen, key !)" in plain
    assert "--by" not in plain and "<your login>" not in plain
    assert f'<a href="{link}">' in page and page.count("<br/>") == len(lines) - 1
    # The on-call group's message carries a link of its own (a role tag: choose who acts).
    other = re.search(
        rf"{re.escape(base)}/a/\S+", _parts(mails["oncall@example.org"])["text/plain"]
    )
    assert other is not None and other.group(0) != link

    keys, _ = read_secret(secret)
    nurse_app = workstation(engine, clock, ward.nurse, login="rn.kim", run_dispatcher=False)
    with serving(make_app(ward.clinic, keys), port), chromium() as browser:
        async with nurse_app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            assert _priority(nurse_app, "P-7") == "ALERT emergency"

            def open_and_acknowledge() -> tuple[str, float]:
                browser.get(link)
                shown = _page_text(browser)
                _navigating(browser, browser.find_element(By.ID, "acknowledge").click)
                done = browser.find_element(By.ID, "done").text
                return shown + " || " + done, time.monotonic()

            shown, tapped_at = await asyncio.to_thread(open_and_acknowledge)
            assert "P-7" in shown and "Throat tightness on day 2" in shown
            assert "You act as Dr Lee Ji-ho" in shown and "Japan" in shown
            assert f"E-{ward.escalation_id} acknowledged by Dr Lee Ji-ho" in shown
            while _priority(nurse_app, "P-7") == "ALERT emergency":
                waited = time.monotonic() - tapped_at
                assert waited < QUEUE_WITHIN_SECONDS, "the queue did not show it in time"
                await pilot.pause(0.05)

        with ward.database.sessions() as session:
            escalation = session.get_one(Escalation, ward.escalation_id)
            assert escalation.status is EscalationStatus.ACKNOWLEDGED
            assert escalation.acknowledged_by_id == ward.lee.staff_id
            used = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "escalation.link_used")
            ).one()
            assert used.after is not None and used.after["client_address"] == "127.0.0.1"
            assert "HeadlessChrome" in str(used.after["user_agent"])

        # The next step's wait runs out: the dispatcher sends nothing more, ever.
        sent_before, mails_before = _sent(ward), len(smtp.messages)
        clock.advance(timedelta(minutes=5, seconds=1))
        later = dispatcher.run_once()
        assert (later.sent, later.advanced) == (0, [])
        clock.advance(timedelta(hours=2))
        assert dispatcher.run_once().sent == 0
        assert _sent(ward) == sent_before and len(smtp.messages) == mails_before
        assert not any(status is NotificationStatus.PENDING for *_, status in sent_before)

        before = ward.state()

        def refusals() -> dict[str, str]:
            said = {}
            browser.get(link)  # the same link again: it says so, and offers no Acknowledge
            said["again"] = _page_text(browser)
            assert not browser.find_elements(By.ID, "acknowledge")
            form = browser.find_element(By.NAME, "form").get_attribute("value")
            # Replayed: the acknowledgement posted again with its own form value.
            _navigating(
                browser,
                lambda: browser.execute_script(
                    "const f = document.createElement('form'); f.method = 'post'; f.action = '';"
                    "for (const [k, v] of [['form', arguments[0]], ['action', 'acknowledge']]) {"
                    "  const i = document.createElement('input'); i.type = 'hidden';"
                    "  i.name = k; i.value = v; f.appendChild(i); }"
                    "document.body.appendChild(f); f.submit();",
                    form,
                ),
            )
            said["replayed"] = _page_text(browser)
            at = len(link) - 20
            changed = link[:at] + ("x" if link[at] != "x" else "y") + link[at + 1 :]
            browser.get(changed)
            said["changed"] = _page_text(browser)
            return said

        said = await asyncio.to_thread(refusals)
        assert "Acknowledged by Dr Lee Ji-ho" in said["again"]
        assert "This link was used to acknowledge it, by Dr Lee Ji-ho" in said["again"]
        assert "This link was already used" in said["replayed"]
        assert "Nothing was changed" in said["replayed"]
        assert "This link was changed" in said["changed"] and "P-7" not in said["changed"]
        assert ward.state() == before

        # Closed: the alert is resolved on the server; its link has expired.
        ward.clinic.resolve_alert(ward.kim, ward.escalation_id)
        closed = ward.state()

        def expired() -> str:
            browser.get(link)
            return _page_text(browser)

        text = await asyncio.to_thread(expired)
        assert "This alert is closed" in text and "resolved by Dr Kim Min-jun" in text
        assert "P-7" not in text
        assert ward.state() == closed

    with ward.database.sessions() as session:
        uses = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "escalation.link_used")
        )
        assert uses == 1  # one tap, one action: everything after it was refused
