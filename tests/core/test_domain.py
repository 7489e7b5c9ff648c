"""Domain enums, the clock and the queue's wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import FixedClock, SystemClock
from core.domain import ContactOutcome, Disposition, Protocol
from core.queue import humanise


def test_dispositions_are_ordered_by_severity() -> None:
    ordered = ["expected", "monitor", "review", "urgent", "emergency"]
    assert sorted(Disposition, key=lambda d: d.severity) == [Disposition(v) for v in ordered]
    assert [d.opens_incident for d in Disposition] == [False, False, True, True, True]
    assert [d.pages_physician for d in Disposition] == [False, False, False, True, True]


@given(st.lists(st.sampled_from(list(Disposition))))
def test_highest_is_the_most_severe(dispositions: list[Disposition]) -> None:
    highest = Disposition.highest(dispositions)
    assert all(highest.severity >= d.severity for d in dispositions)
    assert highest in dispositions or (not dispositions and highest is Disposition.EXPECTED)


def test_exosome_protocols_and_patient_replies() -> None:
    assert {p for p in Protocol if p.involves_exosomes} == {
        Protocol.EXOSOME_IV,
        Protocol.EXOSOME_IV_MICRONEEDLING,
    }
    assert {o for o in ContactOutcome if o.heard_from_patient} == {
        ContactOutcome.REACHED,
        ContactOutcome.PHOTO_RECEIVED,
        ContactOutcome.CALL_LATER,
    }


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2026, 11, 22, 15, 0, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2026, 11, 22, 15, 5, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 11, 22, 15, 0))


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(minutes=12, seconds=59), "12m"),
        (timedelta(hours=5), "5h"),
        (timedelta(hours=5, minutes=10), "5h 10m"),
        (timedelta(days=1, hours=4, minutes=30), "1d 4h"),
        (timedelta(days=1), "1d"),
        (timedelta(days=3, hours=4), "3d"),
        (-timedelta(hours=2), "2h"),
    ],
)
def test_humanise(delta: timedelta, text: str) -> None:
    assert humanise(delta) == text
