"""The record of care as typed: each field read and checked where it is typed,
every problem named with its field, warnings apart from refusals, and never
asked kept apart from "no"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.domain import Protocol
from core.records import (
    AddOn,
    EpisodeRecord,
    RecordRefused,
    RecordSaved,
    dose_in_mg,
    episode_from_text,
    episode_problems,
    expiry,
    field_words,
    yes_no,
)

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # 15:00 in Seoul
TEMPLATES = ("standard", "extended", "granuloma-watch")


def _typed(**values: str) -> dict[str, str]:
    return {
        "procedure_at": "2026-11-20 10:30",
        "protocol": "microneedling",
        "schedule": "standard",
    } | values


def _read(
    values: dict[str, str],
    products: list[dict[str, str]] | None = None,
    addons: list[dict[str, str]] | None = None,
) -> tuple[EpisodeRecord, Any]:
    return episode_from_text(
        values, products or [], addons or [], clinic_tz=SEOUL, now=NOW, templates=TEMPLATES
    )


def _problems(
    values: dict[str, str],
    products: list[dict[str, str]] | None = None,
    addons: list[dict[str, str]] | None = None,
) -> dict[str, str]:
    with pytest.raises(RecordRefused) as refused:
        _read(values, products, addons)
    assert "nothing was saved" in str(refused.value)
    return {p.field: p.problem for p in refused.value.problems}


def test_a_full_episode_is_read_in_clinic_time_with_its_products_and_add_ons() -> None:
    record, warnings = _read(
        _typed(
            treating_physician="dr.kim",
            nurse_name="Park Ji-yeon",
            nurse_license_ref="RN-12345",
            departure_date="2026-11-24",
            travel_insurer="Tokio Marine",
            has_allergies="yes",
            allergies="penicillin",
            vasovagal_history="no",
            sensitive_skin="",
        ),
        products=[
            {
                "name": "ASCE+",
                "mfds_reference": "MFDS-1",
                "lot_number": "A2611-07",
                "expiry_date": "2027-05",
                "exosome": "yes",
            },
            {"name": "", "lot_number": "", "expiry_date": "", "exosome": ""},  # an empty row
            {"name": "Lidocaine cream", "lot_number": "LC/88", "exosome": "no"},
        ],
        addons=[{"name": "glutathione", "dose_mg": "1,200 mg"}],
    )
    assert warnings == ()
    assert record.procedure_at == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)
    assert record.protocol is Protocol.MICRONEEDLING
    assert record.products is not None and len(record.products) == 2
    assert record.products[0].expiry_date == date(2027, 5, 31)  # a month is its last day
    assert [p.exosome for p in record.products] == [True, False]
    assert record.addons == (AddOn("glutathione", 1200.0),)
    assert record.addons[0].stored() == {"name": "glutathione", "dose": "1200 mg"}
    assert (record.has_allergies, record.vasovagal_history, record.sensitive_skin) == (
        True,
        False,
        None,
    )


def test_never_asked_is_not_no() -> None:
    record, _ = _read(_typed())
    assert record.products is None and record.addons is None
    assert record.has_allergies is None and record.vasovagal_history is None
    said_none, _ = _read(_typed(products="none", addons="NONE", has_allergies="no"))
    assert said_none.products == () and said_none.addons == ()
    assert said_none.has_allergies is False


def test_typing_what_the_allergy_is_answers_the_question() -> None:
    record, _ = _read(_typed(allergies="latex"))
    assert record.has_allergies is True


@pytest.mark.parametrize(
    ("values", "products", "addons", "field", "words"),
    [
        ({"procedure_at": "20/11/2026"}, [], [], "procedure_at", "YYYY-MM-DD HH:MM"),
        ({"procedure_at": "2026-11-23 09:00"}, [], [], "procedure_at", "in the future"),
        ({"procedure_at": "2025-11-01 09:00"}, [], [], "procedure_at", "more than 366 days"),
        ({"protocol": "botox"}, [], [], "protocol", "not a protocol"),
        ({"schedule": "standard;weekly"}, [], [], "schedule", "unknown template 'weekly'"),
        ({"schedule": ""}, [], [], "schedule", "no schedule template given"),
        ({"departure_date": "2026-11-01"}, [], [], "departure_date", "before the procedure"),
        ({"departure_date": "24 Nov"}, [], [], "departure_date", "YYYY-MM-DD"),
        ({"has_allergies": "maybe"}, [], [], "has_allergies", "not yes or no"),
        ({"has_allergies": "yes"}, [], [], "allergies", "allergic to"),
        ({"has_allergies": "no", "allergies": "latex"}, [], [], "allergies", "'no allergies'"),
        ({"nurse_license_ref": "RN-1"}, [], [], "nurse_name", "whose"),
        ({"nurse_name": "x" * 121}, [], [], "nurse_name", "longer than 120"),
        ({"travel_insurer": "Acme\x1b]52;c;Y3VybA==\x07"}, [], [], "travel_insurer", "control"),
        ({}, [{"name": "ASCE+", "lot_number": "A 26"}], [], "product-1-lot_number", "lot number"),
        ({}, [{"name": "ASCE+", "expiry_date": "2027-13"}], [], "product-1-expiry_date", "month"),
        ({}, [{"name": "ASCE+", "exosome": "perhaps"}], [], "product-1-exosome", "yes or no"),
        ({}, [{"lot_number": "A26"}], [], "product-1-name", "required"),
        ({}, [], [{"name": "glutathione", "dose_mg": "lots"}], "addon-1-dose_mg", "number of mg"),
        ({}, [], [{"name": "glutathione", "dose_mg": "0"}], "addon-1-dose_mg", "not a dose"),
        ({}, [], [{"dose_mg": "600"}], "addon-1-name", "required"),
        ({"products": "none"}, [{"name": "ASCE+"}], [], "products", "rows are filled in"),
        ({"addons": "some"}, [], [], "addons", "leave empty"),
    ],
)
def test_each_bad_field_is_named_with_its_problem(
    values: dict[str, str],
    products: list[dict[str, str]],
    addons: list[dict[str, str]],
    field: str,
    words: str,
) -> None:
    problems = _problems(_typed(**values), products, addons)
    assert field in problems, problems
    assert words in problems[field]
    assert len(problems) == 1, problems  # the others are fine and not blamed


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        _typed(procedure_at="soon", has_allergies="perhaps"),
        products=[{"name": "A", "lot_number": "no lot"}, {"name": "B", "expiry_date": "x"}],
        addons=[{"name": "B complex", "dose_mg": "-5"}],
    )
    assert set(problems) == {
        "procedure_at",
        "has_allergies",
        "product-1-lot_number",
        "product-2-expiry_date",
        "addon-1-dose_mg",
    }


def test_an_expiry_before_the_procedure_is_a_warning_not_a_refusal() -> None:
    record, warnings = _read(_typed(), products=[{"name": "ASCE+", "expiry_date": "2026-10"}])
    assert record.products is not None and record.products[0].expiry_date == date(2026, 10, 31)
    assert [w.field for w in warnings] == ["product-1-expiry_date"]
    assert warnings[0].warning and "expired 2026-10-31 before the procedure" in warnings[0].problem
    assert str(warnings[0]).startswith("Product 1 expiry: ")


def test_a_typed_record_is_checked_again_without_text() -> None:
    record = EpisodeRecord(
        procedure_at=NOW + timedelta(hours=1),
        protocol=Protocol.PRP,
        schedule=("standard",),
        addons=(AddOn("glutathione", -1.0),),
    )
    fields = {p.field for p in episode_problems(record, now=NOW, templates=TEMPLATES)}
    assert fields == {"procedure_at", "addon-1-dose_mg"}


def test_readers_of_single_values() -> None:
    assert yes_no(" Yes ") is True and yes_no("n") is False and yes_no("") is None
    assert expiry("2028-02") == date(2028, 2, 29)
    assert expiry("2027-12") == date(2027, 12, 31)
    assert dose_in_mg("2.5") == 2.5 and dose_in_mg("") is None
    with pytest.raises(ValueError, match="number of mg"):
        dose_in_mg("nan mg")
    assert field_words("addon-3-dose_mg") == "Add-on 3 dose (mg)"
    assert field_words("treating_physician") == "Treating physician"


def test_what_a_save_says() -> None:
    edited = RecordSaved(
        1, 2, changed=("Procedure time",), touchpoints_moved=3, incidents_noted=(7,)
    )
    assert (
        edited.words()
        == "Saved Procedure time; 3 check-ins moved; correction noted on incident #7."
    )
    created = RecordSaved(1, 2, touchpoints_added=8, created="patient JP-1 and their episode")
    assert created.words() == "Recorded patient JP-1 and their episode; 8 check-ins planned."
    assert RecordSaved(1, 2).words() == "Nothing to change: the form matched the record."
