"""Real receivers for notification tests: an SMTP server and an HTTP endpoint on 127.0.0.1.

Both bind a free port on first start and keep it, so a test can stop a receiver (to see a
delivery fail the way it would when a relay is down) and start it again on the same port
(to see delivery recover) without rewriting the Apprise config that names the port.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a port that was free a moment ago (the OS picks it, so tests do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Poll *predicate* until true; receivers record messages on their own threads."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within timeout")
        time.sleep(0.02)


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server saw it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    login: str | None

    @property
    def subject(self) -> str:
        """The decoded Subject header."""
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        """All text parts joined, so a test need not care whether Apprise sent multipart."""
        parts = [
            part.get_content()
            for part in self.message.walk()
            if part.get_content_maintype() == "text"
        ]
        return "\n".join(str(p) for p in parts)


class _Handler:
    """aiosmtpd handler: records each message and accepts any login (records who)."""

    def __init__(self, sink: SmtpReceiver) -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data
        self._sink.record(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                message=message,
                login=login if isinstance(login, str) else None,
            )
        )
        return "250 Message accepted for delivery"


def _accept_any_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """Accept every login: the tests check delivery, not credentials, but Apprise logs in
    whenever the URL carries a user and password, so the server must offer AUTH."""
    user = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
    return AuthResult(success=True, auth_data=user)


@dataclass
class SmtpReceiver:
    """A real aiosmtpd server on 127.0.0.1; ``messages`` fills as mail arrives."""

    port: int = field(default_factory=free_port)
    messages: list[ReceivedMail] = field(default_factory=list)
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, mail: ReceivedMail) -> None:
        """Store *mail* (called on the server's thread)."""
        with self._lock:
            self.messages.append(mail)

    def start(self) -> Self:
        """Listen on :attr:`port` (the same port after a stop)."""
        if self._controller is None:
            self._controller = Controller(
                _Handler(self),
                hostname=HOST,
                port=self.port,
                authenticator=_accept_any_login,
                # Plain-text AUTH is fine on loopback; the Apprise URL uses mode=insecure.
                auth_require_tls=False,
            )
            self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening; connections to :attr:`port` are refused until :meth:`start`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """Return the first *count* messages once they have arrived."""
        wait_for(lambda: len(self.messages) >= count, timeout)
        return self.messages[:count]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class ReceivedPost:
    """One HTTP POST: its path and the JSON body."""

    path: str
    body: Any


class _ReusableServer(ThreadingHTTPServer):
    # Restarting on the same port right after a stop must not hit TIME_WAIT.
    allow_reuse_address = True
    daemon_threads = True


@dataclass
class HttpReceiver:
    """A real HTTP server on 127.0.0.1 that records JSON POST bodies and answers *status*."""

    port: int = field(default_factory=free_port)
    posts: list[ReceivedPost] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    """Seconds to wait before answering (a slow receiver, for mid-batch crash tests)."""
    _server: _ReusableServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/alerts") -> str:
        """The Apprise ``json://`` URL for *path* on this receiver."""
        return f"json://{HOST}:{self.port}{path}"

    def start(self) -> Self:
        """Listen on :attr:`port` (the same port after a stop)."""
        if self._server is not None:
            return self
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body: Any = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with receiver._lock:
                    receiver.posts.append(ReceivedPost(self.path, body))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                # Keep pytest output quiet; the posts list is what tests inspect.
                pass

        self._server = _ReusableServer((HOST, self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; connections to :attr:`port` are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait_for_posts(self, count: int, timeout: float = 5.0) -> list[ReceivedPost]:
        """Return the first *count* posts once they have arrived."""
        wait_for(lambda: len(self.posts) >= count, timeout)
        return self.posts[:count]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
