"""LISTEN/NOTIFY: a commit anywhere wakes a listener at once on PostgreSQL;
on SQLite the listener does nothing (screens poll)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from core.clock import FixedClock
from db.engine import make_session_factory, transaction
from db.followup import mark_changed
from db.listen import ChangeListener, ListenerState

WAKE_LIMIT = 1.0
"""Seconds from commit to callback the issue allows."""


class Wakes:
    """Counts callbacks and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._event = threading.Event()
        self.states: list[ListenerState] = []

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    def on_state(self, state: ListenerState, _reason: str) -> None:
        self.states.append(state)

    def wait(self, timeout: float) -> bool:
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke


def test_a_commit_wakes_the_listener_within_a_second(
    db_url: str, engine: Engine, clock: FixedClock
) -> None:
    sessions = make_session_factory(engine)
    wakes = Wakes()
    listener = ChangeListener(db_url, wakes, on_state=wakes.on_state)
    listener.start()
    try:
        if engine.dialect.name == "sqlite":
            # Nothing to listen to: no thread, no connection, no callback; screens poll.
            assert not listener.active
            assert listener.state is ListenerState.OFF
            assert not listener.wait_listening(0.2)
            with transaction(sessions) as session:
                mark_changed(session, clock.now())
            assert not wakes.wait(0.3)
            assert wakes.states == []
            return
        assert listener.wait_listening(5), wakes.states
        assert listener.state is ListenerState.LISTENING
        pid = listener.backend_pid

        # Not before commit: NOTIFY is queued with the transaction.
        with transaction(sessions) as session:
            mark_changed(session, clock.now())
            assert not wakes.wait(0.3), "woken before the writer committed"
            committing = time.monotonic()
        assert wakes.wait(WAKE_LIMIT * 2)
        elapsed = time.monotonic() - committing
        assert elapsed < WAKE_LIMIT, f"woken {elapsed:.3f} s after commit"

        # Never for a write that was rolled back.
        time.sleep(listener.min_interval)
        wakes.wait(0)
        with sessions() as session:
            session.begin()
            mark_changed(session, clock.now() + timedelta(seconds=1))
            session.rollback()
        assert not wakes.wait(0.5), "woken by a rolled-back write"
    finally:
        listener.stop()
    # Read afresh, typed wide: the checker would keep the LISTENING of the assert above.
    state: ListenerState = listener.state
    assert state is ListenerState.STOPPED
    # Stopping closed the dedicated connection: its server process goes away.
    deadline = time.monotonic() + 2
    while _server_process_alive(engine, pid):
        assert time.monotonic() < deadline, "the listening connection was left open"
        time.sleep(0.05)


def _server_process_alive(engine: Engine, pid: int | None) -> bool:
    with engine.connect() as connection:
        found = connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
    return bool(found)


def test_listener_comes_back_after_the_server_drops_it(
    db_url: str, engine: Engine, clock: FixedClock
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has no server connection to lose")
    sessions = make_session_factory(engine)
    wakes = Wakes()
    listener = ChangeListener(db_url, wakes, on_state=wakes.on_state)
    listener.start()
    try:
        assert listener.wait_listening(5)
        first_pid = listener.backend_pid
        with engine.connect() as connection:
            # What a server restart or an admin's kill does to the listening session.
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        # Back within the first backoff, and told once: changes made meanwhile were missed.
        assert wakes.wait(5), wakes.states
        assert ListenerState.RECONNECTING in wakes.states
        assert wakes.states[-1] is ListenerState.LISTENING
        assert listener.backend_pid not in (None, first_pid)
        time.sleep(listener.min_interval)
        wakes.wait(0)
        with transaction(sessions) as session:
            mark_changed(session, clock.now())
        assert wakes.wait(WAKE_LIMIT)
    finally:
        listener.stop()


def test_unreachable_server_is_reported_and_stop_is_prompt() -> None:
    wakes = Wakes()
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    listener = ChangeListener(
        "postgresql+psycopg://nobody@127.0.0.1:9/x", wakes, on_state=wakes.on_state
    )
    listener.start()
    deadline = time.monotonic() + 5
    while ListenerState.RECONNECTING not in wakes.states:
        assert time.monotonic() < deadline, wakes.states
        time.sleep(0.05)
    started = time.monotonic()
    listener.stop()
    assert time.monotonic() - started < 1.0
    assert listener.state is ListenerState.STOPPED
    assert wakes.count == 0
