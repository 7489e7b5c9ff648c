"""What the benchmarks need besides the product: staff and patients written through
the real models, and local receivers (SMTP and HTTP) for the dispatcher to deliver to.

Kept here rather than imported from `tests`, so a benchmark runs from an installed
checkout without the test suite (and tests can change without breaking benchmarks).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy.orm import Session as DbSession

from core.domain import Channel, Protocol, Role
from core.patient_import import PatientRow, check_patient_csv
from core.schedules import CLINIC_TZ, ScheduleTemplate, builtin_templates, touchpoint_window
from db.followup import refresh_next_touchpoint
from db.models import Patient, Staff, Touchpoint, TreatmentEpisode

HOST = "127.0.0.1"


# --- records ---------------------------------------------------------------------


def add_staff(
    session: DbSession, username: str, role: Role, at: datetime, *, notify_tag: str | None = None
) -> Staff:
    """A staff member (no audit event: set-up, not something a person did)."""
    staff = Staff(
        username=username,
        display_name=username.title(),
        role=role,
        created_at=at,
        notify_tag=notify_tag,
    )
    session.add(staff)
    session.flush()
    return staff


def add_patient(
    session: DbSession,
    code: str,
    *,
    procedure_at: datetime,
    created_at: datetime,
    treating_physician_id: int | None = None,
) -> Patient:
    """A patient in Japan with one episode and the standard schedule's touchpoints."""
    zone = "Asia/Tokyo"
    patient = Patient(
        code=code,
        given_name="Yuki",
        family_name="Tanaka",
        home_country="JP",
        current_country="JP",
        language="ja",
        timezone=zone,
        channel=Channel.LINE,
        channel_handle=f"line:{code.lower()}",
        latest_severity=0,
        created_at=created_at,
    )
    session.add(patient)
    session.flush()
    episode = TreatmentEpisode(
        patient_id=patient.id,
        procedure_at=procedure_at,
        protocol=Protocol.EXOSOME_IV,
        schedule_templates=["standard"],
        created_at=created_at,
        treating_physician_id=treating_physician_id,
    )
    session.add(episode)
    session.flush()
    for plan in builtin_templates()["standard"].touchpoints:
        window = touchpoint_window(procedure_at, plan, ZoneInfo(zone))
        session.add(
            Touchpoint(
                episode_id=episode.id,
                patient_id=patient.id,
                template="standard",
                day=plan.day,
                due_date=window.due_date,
                opens_at=window.opens_at,
                closes_at=window.closes_at,
                ask=plan.ask,
                photos_wanted=plan.photos,
            )
        )
    refresh_next_touchpoint(session, patient.id)
    session.flush()
    return patient


# --- receivers -------------------------------------------------------------------


def free_port() -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `predicate` until true; receivers record on their own threads."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing arrived within {timeout} s")
        time.sleep(0.02)


class _MailHandler:
    def __init__(self, sink: SmtpReceiver) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = BytesParser(policy=default_policy).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self._sink.lock:
            self._sink.messages.append(message)
        return "250 Message accepted for delivery"


def _accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    # Apprise logs in whenever the URL carries a user and password, so AUTH is offered.
    user = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
    return AuthResult(success=True, auth_data=user)


@dataclass
class SmtpReceiver:
    """A real aiosmtpd server on 127.0.0.1; `messages` fills as mail arrives."""

    port: int = field(default_factory=free_port)
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    def __enter__(self) -> Self:
        self._controller = Controller(
            _MailHandler(self),
            hostname=HOST,
            port=self.port,
            authenticator=_accept_any_login,
            auth_require_tls=False,  # loopback; the Apprise URL says mode=insecure
        )
        self._controller.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True


@dataclass
class HttpReceiver:
    """A real HTTP server on 127.0.0.1 that counts POSTs and answers 200."""

    port: int = field(default_factory=free_port)
    posts: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _QuietServer | None = None
    _thread: threading.Thread | None = None

    def url(self, path: str = "/alerts") -> str:
        """The Apprise `json://` URL for `path` on this receiver."""
        return f"json://{HOST}:{self.port}{path}"

    def __enter__(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.posts.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the benchmark prints its own lines

        self._server = _QuietServer((HOST, self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


@contextmanager
def serving(app: web.Application, port: int) -> Iterator[str]:
    """Run an aiohttp `app` on 127.0.0.1:port in a thread with its own event loop (as
    `aftercare web` serves it); yields its address."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, HOST, port).start())
        except BaseException as exc:  # raised on the caller's thread below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(10):
        raise TimeoutError("the web service did not start within 10 s")
    if failure:
        raise failure[0]
    try:
        yield f"http://{HOST}:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


PATIENT_FILE_HEADER = (
    "code,family_name,given_name,birth_date,home_country,current_country,language,"
    "timezone,channel,channel_handle,phone,email,procedure_at,protocol,schedule,"
    "treating_physician"
)


def patient_file_rows(
    now: datetime, templates: dict[str, ScheduleTemplate], count: int
) -> list[PatientRow]:
    """`count` checked rows of a patient file (IM-000000, ...; treated two days ago,
    treating physician dr.lee), as `aftercare import patients` has them."""
    procedure = (now - timedelta(days=2)).astimezone(CLINIC_TZ)
    at = procedure.strftime("%Y-%m-%d %H:%M")
    lines = [PATIENT_FILE_HEADER] + [
        f"IM-{n:06d},Tanaka,Yui{n},,JP,,ja,Asia/Tokyo,line,line:yui{n},,,{at},prp,standard,dr.lee"
        for n in range(count)
    ]
    checked = check_patient_csv(
        "\n".join(lines) + "\n",
        "patients.csv",
        now=now,
        clinic_tz=CLINIC_TZ,
        templates=templates,
        products=None,
    )
    if checked.problems:
        raise ValueError(f"the generated file does not check: {checked.problems[:3]}")
    return list(checked.rows.values())
