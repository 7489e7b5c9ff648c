"""The queue's pure rules: bands and the quiet-channel flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain import Channel, Disposition
from core.queue import QueueCategory, QueueRow, due_phrase

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def _row(**changes: Any) -> QueueRow:
    base = QueueRow(
        patient_id=1,
        patient_code="P-1",
        patient_name="Sato Yui",
        country="JP",
        language="ja",
        timezone="Asia/Tokyo",
        channel=Channel.LINE,
        assigned_to_id=None,
        assigned_to=None,
        latest_disposition=None,
        last_contact_at=None,
        last_heard_at=None,
        next_touchpoint_id=5,
        next_template="standard",
        next_day=7,
        next_opens_at=NOW - timedelta(days=1),
        next_closes_at=NOW + timedelta(days=2),
        procedure_at=NOW - timedelta(days=8),
    )
    return base._replace(**changes)


def test_bands() -> None:
    assert _row().category(NOW) is QueueCategory.DUE
    assert _row(next_closes_at=NOW).category(NOW) is QueueCategory.OVERDUE
    assert _row(next_opens_at=NOW + timedelta(seconds=1)).category(NOW) is QueueCategory.UPCOMING
    alert = _row(alert_disposition=Disposition.URGENT, alert_since=NOW - timedelta(minutes=3))
    assert alert.category(NOW) is QueueCategory.ALERT
    assert due_phrase(alert, NOW) == "alert 3m"
    assert _row(next_opens_at=None, next_closes_at=None).category(NOW) is None


def test_quiet_channel_needs_an_open_window_and_n_silent_days() -> None:
    heard = NOW - timedelta(days=7)
    assert _row(last_heard_at=heard).quiet_since(NOW, 7) == timedelta(days=7)
    assert _row(last_heard_at=heard + timedelta(seconds=1)).quiet_since(NOW, 7) is None
    # No window open: silence is expected, not a flag.
    upcoming = _row(last_heard_at=heard, next_opens_at=NOW + timedelta(days=1))
    assert upcoming.quiet_since(NOW, 7) is None
    # Never heard back: counted from the procedure.
    assert _row().quiet_since(NOW, 7) == timedelta(days=8)
