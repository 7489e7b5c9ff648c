"""`aftercare web`: the page a physician's alert links to (aiohttp).

One path only: `/a/<token>`. GET shows the alert and changes nothing (mail
scanners and link previews fetch links too); POST, with the form value bound
to the link, acknowledges or resolves. Everything else is a plain 404.
The link's signature is checked here, with the secret only this service and
the alert service can read; the clinic's services do the rest (db.services).

It listens on 127.0.0.1 behind the clinic's TLS reverse proxy
(docs/deployment.md), so the client address recorded is the one the proxy
puts in X-Forwarded-For when the request comes from this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from core.alert_links import LinkAction, LinkClient, LinkKeys, LinkProblem, LinkRefused
from core.refusals import NotFound, Refused, Unavailable
from db.services import Clinic
from web import pages

MAX_TOKEN: Final = 400
"""Longer than any link the dispatcher writes; anything longer is not ours."""

CLINIC: Final = web.AppKey("clinic", Clinic)
KEYS: Final = web.AppKey("keys", LinkKeys)

_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{pages.STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_REFUSAL_STATUS: Final = {
    LinkProblem.WRONG: 404,
    LinkProblem.TAMPERED: 403,
    LinkProblem.UNKNOWN: 404,
    LinkProblem.EXPIRED: 410,
    LinkProblem.REPLAYED: 409,
}
_REFUSAL_TITLE: Final = {
    LinkProblem.WRONG: "Not a valid link",
    LinkProblem.TAMPERED: "This link was changed",
    LinkProblem.UNKNOWN: "No such alert",
    LinkProblem.EXPIRED: "This alert is closed",
    LinkProblem.REPLAYED: "This link was already used",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _plain(title: str, sentence: str, status: int) -> web.Response:
    return _html(pages.plain_page(title, sentence), status)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer, and a plain page for every path that is not a
    link (aiohttp's own error pages say nothing a physician can use)."""
    try:
        response = await handler(request)
    except web.HTTPMethodNotAllowed:
        response = _plain("Not here", "This address only opens alert links.", 405)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _plain(
            "Page not found", "There is no page here. Open the link from your alert.", 404
        )
    response.headers.update(_HEADERS)
    return response


def _client(request: web.Request) -> LinkClient:
    """Where the tap came from: the proxy's X-Forwarded-For when it runs on this machine."""
    address = request.remote
    forwarded = request.headers.get("X-Forwarded-For", "")
    try:
        local = address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        local = False
    if local and forwarded.strip():
        # The last entry is the one our own proxy added; earlier ones are the client's say.
        address = forwarded.split(",")[-1].strip()
    return LinkClient(address, request.headers.get("User-Agent"))


def _refused(exc: Refused) -> web.Response:
    if isinstance(exc, LinkRefused):
        return _plain(_REFUSAL_TITLE[exc.problem], str(exc), _REFUSAL_STATUS[exc.problem])
    if isinstance(exc, Unavailable):
        return _plain(
            "Try again in a moment",
            f"The clinic's database could not be reached: {exc}. Nothing was changed.",
            503,
        )
    status = 404 if isinstance(exc, NotFound) else 409
    return _plain("Not done", str(exc), status)


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    if len(token) > MAX_TOKEN:
        raise LinkRefused(LinkProblem.WRONG, "This is not a link from the clinic's alerts.")
    return token


async def show(request: web.Request) -> web.Response:
    """GET /a/<token>: the alert, as the link's physician may act on it. Reads only."""
    clinic, keys = request.app[CLINIC], request.app[KEYS]
    try:
        token = _token(request)
        claim = keys.verify(token)
        alert = await asyncio.to_thread(clinic.alert_for_link, claim)
    except Refused as exc:
        return _refused(exc)
    return _html(pages.alert_page(alert, keys.form_token(token), clinic.settings.clinic_name))


async def act(request: web.Request) -> web.Response:
    """POST /a/<token>: acknowledge or resolve, as the form says, once per link."""
    clinic, keys = request.app[CLINIC], request.app[KEYS]
    try:
        token = _token(request)
        claim = keys.verify(token)
    except Refused as exc:
        return _refused(exc)
    form = await request.post()
    given = form.get("form")
    if not isinstance(given, str) or not keys.form_token_matches(token, given):
        return _plain(
            "Not done",
            "This request did not come from the alert's own page. Open the link from your "
            "alert and press the button there. Nothing was changed.",
            403,
        )
    try:
        action = LinkAction(str(form.get("action", "")))
    except ValueError:
        return _plain("Not done", "Press Acknowledge or Resolve. Nothing was changed.", 400)
    chosen = form.get("physician")
    try:
        acted = await asyncio.to_thread(
            clinic.act_through_link,
            claim,
            action,
            acting_login=chosen if isinstance(chosen, str) else None,
            client=_client(request),
        )
    except Refused as exc:
        return _refused(exc)
    # A relative address: back to this same link, wherever the proxy mounts the service.
    return _html(pages.done_page(acted.words(), token))


def make_app(clinic: Clinic, keys: LinkKeys) -> web.Application:
    """The web application for `clinic`, checking links with `keys`."""
    app = web.Application(middlewares=[_guard], client_max_size=16 * 1024)
    app[CLINIC] = clinic
    app[KEYS] = keys
    app.router.add_get("/a/{token}", show)
    app.router.add_post("/a/{token}", act)
    return app
