"""The one-tap alert page over real HTTP (aiohttp's test server on 127.0.0.1), on both
databases: what it shows, acknowledging and resolving as the right physician, and every
refusal (wrong, tampered, unknown, expired, replayed, forged form, no choice made), each
changing nothing."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.domain import EscalationStatus, NotificationStatus
from db.models import AlertLinkUse, AuditEvent, Escalation, OutboxNotification, Staff
from tests.web.conftest import KEYS, NOTE, Ward, make_ward
from web.app import make_app

UA = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"


@pytest.fixture
async def client(ward: Ward) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(ward.clinic, KEYS))) as running:
        yield running


async def _text(response: ClientResponse) -> str:
    """The words of the page, as a person reads them (tags gone, spaces collapsed)."""
    words = html.unescape(re.sub(r"<[^>]+>", " ", await response.text()))
    return re.sub(r"\s+([.,:)])", r"\1", " ".join(words.split()))


def _secure(response: ClientResponse) -> None:
    headers = response.headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Content-Type"].startswith("text/html")


async def _post(
    client: TestClient[Any, Any], token: str, action: str, **fields: str
) -> ClientResponse:
    data = {"form": KEYS.form_token(token), "action": action, **fields}
    return await client.post(
        f"/a/{token}",
        data=data,
        headers={"User-Agent": UA, "X-Forwarded-For": "203.0.113.9"},
    )


async def test_the_page_shows_what_a_physician_needs_and_get_changes_nothing(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    before = ward.state()
    token = ward.link("dr-lee")
    response = await client.get(f"/a/{token}")
    assert response.status == 200
    _secure(response)
    page = await response.text()
    text = await _text(response)
    assert f"EMERGENCY E-{ward.escalation_id}" in text and "P-7" in text
    for reason in ("Throat tightness on day 2", "Hives (urticaria) and dizziness", "Dizziness"):
        assert reason in text
    assert "day 2" in text
    assert "Japan" in text
    assert "Sun 22 Nov 15:00 (Asia/Tokyo)" in text  # 06:00 UTC, the patient's own clock
    assert "119" in text and "(Japan)" in text  # the number the coordinator gave
    assert NOTE in text and "with her &amp; calling" in page and "&lt;speaks" in page
    assert "Who was paged" in text and "Dr Lee Ji-ho (dr-lee)" in text and "oncall" in text
    assert "You act as Dr Lee Ji-ho" in text
    assert 'id="acknowledge"' in page and 'id="resolve"' in page
    assert "Sato" not in text  # no name unless the clinic allows it
    assert "<script" not in page
    # Reading twice, as a mail scanner would, changes nothing.
    assert (await client.get(f"/a/{token}")).status == 200
    assert ward.state() == before


async def test_the_name_only_when_configured(engine: Engine, clock: FixedClock) -> None:
    ward = make_ward(engine, clock, alert_include_patient_name=True)
    async with TestClient(TestServer(make_app(ward.clinic, KEYS))) as client:
        response = await client.get(f"/a/{ward.link()}")
        assert "P-7 (Sato Yui)" in await _text(response)


async def test_acknowledge_acts_as_the_physician_once_and_is_audited(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    token = ward.link("dr-lee")
    response = await _post(client, token, "acknowledge")
    assert response.status == 200
    _secure(response)
    assert "acknowledged by Dr Lee Ji-ho" in await _text(response)
    with ward.database.sessions() as session:
        escalation = session.get_one(Escalation, ward.escalation_id)
        assert escalation.status is EscalationStatus.ACKNOWLEDGED
        assert escalation.acknowledged_by_id == ward.lee.staff_id
        assert escalation.acknowledged_at == ward.clock.now()
        statuses = session.scalars(select(OutboxNotification.status)).all()
        assert NotificationStatus.PENDING not in statuses  # every further page stopped
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == str(ward.escalation_id))
        ).all()
        by_action = {e.action: e for e in events}
        assert by_action["escalation.acknowledge"].actor == "dr.lee"
        used = by_action["escalation.link_used"]
        assert used.actor == "dr.lee" and used.after is not None
        assert used.after["client_address"] == "203.0.113.9"  # from the proxy on 127.0.0.1
        assert used.after["user_agent"] == UA
        assert (used.after["step"], used.after["target_tag"]) == (1, "dr-lee")
        [use] = session.scalars(select(AlertLinkUse)).all()
        assert (use.action, use.staff_id, use.user_agent) == ("acknowledge", ward.lee.staff_id, UA)

    # Replayed: the same link, the same action, refused; nothing changed.
    before = ward.state()
    again = await _post(client, token, "acknowledge")
    assert again.status == 409
    _secure(again)
    said = await _text(again)
    assert "already used to acknowledge" in said and "Dr Lee Ji-ho" in said
    assert "Nothing was changed" in said
    assert ward.state() == before

    # The page now says so, and offers only Resolve.
    page = await (await client.get(f"/a/{token}")).text()
    assert "Acknowledged by Dr Lee Ji-ho" in page and 'id="acknowledge"' not in page
    assert "This link was used to acknowledge it" in page and 'id="resolve"' in page


async def test_resolve_through_the_link_then_every_link_has_expired(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    token, other = ward.link("dr-lee"), ward.link("dr-kim")
    response = await _post(client, token, "resolve")
    assert response.status == 200
    assert "resolved by Dr Lee Ji-ho" in await _text(response)
    with ward.database.sessions() as session:
        escalation = session.get_one(Escalation, ward.escalation_id)
        assert escalation.status is EscalationStatus.RESOLVED
    before = ward.state()
    for link in (token, other):
        shown = await client.get(f"/a/{link}")
        assert shown.status == 410
        _secure(shown)
        said = await _text(shown)
        assert "is closed (resolved by Dr Lee Ji-ho" in said and "P-7" not in said
        for action in ("acknowledge", "resolve"):
            assert (await _post(client, link, action)).status == 410
    assert ward.state() == before


async def test_tampered_wrong_and_unknown_links_change_nothing(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    token = ward.link("dr-lee")
    position = len(token) // 3
    flipped = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
    unknown = ward.link("dr-lee", escalation_id=ward.escalation_id + 100)
    from core.alert_links import LinkClaim, LinkKeys

    foreign = LinkKeys(b"\x01" * 32).sign(LinkClaim(ward.escalation_id, 1, 1, "dr-lee", "n"))
    before = ward.state()
    cases = [
        (flipped, 403, "does not match what the clinic signed"),
        (foreign, 403, "does not match what the clinic signed"),
        (token[:-3], 404, "not a link from the clinic"),
        ("x" * 500, 404, "not a link from the clinic"),
        (unknown, 404, f"no alert E-{ward.escalation_id + 100}"),
    ]
    for link, status, words in cases:
        shown = await client.get(f"/a/{link}")
        assert shown.status == status, link
        assert words in await _text(shown)
        _secure(shown)
        posted = await _post(client, link, "acknowledge")
        assert posted.status == status
        assert "P-7" not in await _text(posted)
    assert ward.state() == before


async def test_a_form_not_from_the_page_is_refused(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    token, other = ward.link("dr-lee"), ward.link("dr-lee")
    before = ward.state()
    for form in ({}, {"form": ""}, {"form": KEYS.form_token(other)}):
        response = await client.post(f"/a/{token}", data={"action": "acknowledge", **form})
        assert response.status == 403
        assert "did not come from the alert's own page" in await _text(response)
    bad_action = await client.post(
        f"/a/{token}", data={"action": "delete", "form": KEYS.form_token(token)}
    )
    assert bad_action.status == 400
    assert ward.state() == before


async def test_a_role_tag_asks_which_physician_is_acting(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    token = ward.link("oncall")
    page = await (await client.get(f"/a/{token}")).text()
    assert "went to several physicians (oncall)" in page
    assert 'value="dr.lee"' in page and 'value="dr.kim"' in page
    assert 'value="dr.gone"' not in page and 'value="rn.kim"' not in page
    before = ward.state()
    for chosen in ({}, {"physician": "rn.kim"}, {"physician": "dr.gone"}, {"physician": "x"}):
        response = await _post(client, token, "acknowledge", **chosen)
        assert response.status == 409
        assert "Choose which physician you are" in await _text(response)
    assert ward.state() == before
    done = await _post(client, token, "acknowledge", physician="dr.kim")
    assert done.status == 200 and "acknowledged by Dr Kim Min-jun" in await _text(done)
    with ward.database.sessions() as session:
        escalation = session.get_one(Escalation, ward.escalation_id)
        assert escalation.acknowledged_by_id == ward.kim.staff_id


async def test_a_physicians_own_tag_ignores_a_chosen_name(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    token = ward.link("dr-lee")
    assert (await _post(client, token, "acknowledge", physician="dr.kim")).status == 200
    with ward.database.sessions() as session:
        escalation = session.get_one(Escalation, ward.escalation_id)
        assert escalation.acknowledged_by_id == ward.lee.staff_id


async def test_a_disabled_physicians_tag_acts_for_nobody(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    token = ward.link("dr-gone")
    page = await _text(await client.get(f"/a/{token}"))
    assert "account is disabled" in page and "Acknowledge: I am dealing" not in page
    before = ward.state()
    response = await _post(client, token, "acknowledge", physician="dr.lee")
    assert response.status == 409 and "account is disabled" in await _text(response)
    assert ward.state() == before


async def test_acknowledged_elsewhere_first_is_said_and_changes_nothing(
    ward: Ward, client: TestClient[Any, Any]
) -> None:
    ward.clinic.acknowledge_alert(ward.kim, ward.escalation_id)
    token = ward.link("dr-lee")
    page = await (await client.get(f"/a/{token}")).text()
    assert "Acknowledged by Dr Kim Min-jun" in page and 'id="acknowledge"' not in page
    before = ward.state()
    response = await _post(client, token, "acknowledge")
    assert response.status == 409
    assert "already acknowledged by Dr Kim Min-jun" in await _text(response)
    assert ward.state() == before
    with ward.database.sessions() as session:
        assert session.scalar(select(Staff.username).where(Staff.id == ward.kim.staff_id))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/a/"),
        ("GET", "/a/x/y"),
        ("GET", "/robots.txt"),
        ("GET", "/static/app.js"),
        ("POST", "/"),
        ("PUT", "/a/TOKEN"),
        ("DELETE", "/a/TOKEN"),
    ],
)
async def test_every_other_path_is_a_plain_refusal(
    ward: Ward, client: TestClient[Any, Any], method: str, path: str
) -> None:
    before = ward.state()
    response = await client.request(method, path.replace("TOKEN", ward.link()))
    assert response.status in (404, 405)
    _secure(response)
    text = await _text(response)
    assert "P-7" not in text and ("no page here" in text or "only opens alert links" in text)
    assert ward.state() == before
