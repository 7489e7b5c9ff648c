"""Text from outside is data, never terminal control: refused at every way in
(names, handles, notes, settings, CSV cells and headers, triage keys), shown
visibly at every way out."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.commands import ContactDetails
from core.config import ConfigError, load_config
from core.contacts import FieldRefused, checked_contacts
from core.csv_files import CsvFileError
from core.domain import Channel
from core.oncall import ShiftTimeError, check_shift_note
from core.patient_import import COLUMNS, OPTIONAL_COLUMNS, check_patient_csv
from core.plain_text import any_control, control_problem, is_control, refusal, shown
from core.product_import import PRODUCT_COLUMNS, read_products_csv
from core.records import RecordRefused, episode_from_text
from core.schedules import builtin_templates
from core.triage import TriageInputError, parse_triage_input
from tests.core.test_patient_import import GOOD as PATIENT_ROW

NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
SEOUL = ZoneInfo("Asia/Seoul")

OSC_52 = "\x1b]52;c;Y3VybA==\x07"
"""Writes "curl" into the terminal's clipboard."""
OSC_0 = "\x1b]0;pwned\x07"
"""Retitles the terminal window."""
CSI_2J = "\x1b[2J"
"""Clears the screen."""
RLO = "\u202e"
"""Shows the rest of the line backwards."""
HOSTILE = (OSC_52, OSC_0, CSI_2J, RLO)

# A row the import takes as it is (tests/core/test_patient_import.py), with two
# episode columns whose free text may span lines.
GOOD = PATIENT_ROW | {"nurse_name": "Park", "allergies": ""}


def _csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[r.get(c, "") for c in columns] for r in rows])
    return out.getvalue()


def test_the_problem_names_the_character_and_its_position() -> None:
    assert refusal("Given name", "Yuki\x1b]0;x\x07") == (
        "Given name contains a control character (ESC) at position 5: not accepted"
    )
    assert control_problem("ab" + RLO) == (
        "contains a control character (bidi override U+202E) at position 3: not accepted"
    )
    assert control_problem("\x9b2J") is not None  # C1: a one-byte CSI
    assert control_problem("a\u2069") is not None  # a bidi isolate
    # Names never hold a newline or a tab; notes may, and nothing else.
    assert control_problem("Yuki\nTanaka") is not None
    assert control_problem("two\nlines\tand a tab", notes=True) is None
    assert control_problem("line\r", notes=True) is not None
    # Any script is text, not control.
    assert control_problem("山本 さくら · Ёлка · ليلى") is None


def test_shown_makes_every_control_visible_and_keeps_plain_text_as_is() -> None:
    for hostile in HOSTILE:
        printed = shown(f"Yuki{hostile}")
        assert "\x1b" not in printed and RLO not in printed and "\x07" not in printed
    assert shown(OSC_0) == "␛]0;pwned␇"
    assert shown(RLO) == "<U+202E>"
    assert shown("a\nb") == "a␊b"
    assert shown("a\nb", notes=True) == "a\nb"
    plain = "Tanaka 山本"
    assert shown(plain) is plain


def test_the_import_refuses_each_hostile_name_and_handle_with_its_column() -> None:
    rows = []
    for n, hostile in enumerate(HOSTILE, start=1):
        rows.append(GOOD | {"code": f"N-{n}", "given_name": f"Yuki{hostile}"})
        rows.append(GOOD | {"code": f"H-{n}", "channel_handle": f"line:{hostile}"})
    rows.append(GOOD | {"code": "A-1", "nurse_name": f"Park{CSI_2J}"})
    rows.append(GOOD | {"code": "A-2", "allergies": f"latex{RLO}"})
    rows.append(GOOD | {"code": "OK-1", "allergies": "latex\nand iodine"})
    columns = (*COLUMNS, "nurse_name", "allergies")
    checked = check_patient_csv(
        _csv(rows, columns), "p.csv", now=NOW, clinic_tz=SEOUL, templates=builtin_templates()
    )
    said = {(p.line, p.column): p.problem for p in checked.problems}
    expected = [(2 * n, "given_name") for n in range(1, 5)]
    expected += [(2 * n + 1, "channel_handle") for n in range(1, 5)]
    expected += [(10, "nurse_name"), (11, "allergies")]
    for place in expected:
        assert "control character" in said[place], place
    assert len(checked.problems) == len(expected)
    assert [row.code for row in checked.rows.values()] == ["OK-1"]  # a note keeps its newline
    for problem in checked.problems:
        assert "\x1b" not in str(problem) and RLO not in str(problem)


def test_the_products_file_refuses_a_hostile_product_name() -> None:
    products = read_products_csv(
        _csv([{"code": "AC-1", "kind": "product", "name": f"Exo{OSC_52}"}], PRODUCT_COLUMNS),
        "products.csv",
    )
    checked = check_patient_csv(
        _csv([GOOD], COLUMNS),
        "p.csv",
        now=NOW,
        clinic_tz=SEOUL,
        templates=builtin_templates(),
        products=products,
    )
    [problem] = checked.problems
    assert (problem.source, problem.line, problem.column) == ("products.csv", 2, "name")
    assert "control character (ESC)" in problem.problem


def test_a_header_cell_is_echoed_without_its_control_characters() -> None:
    text = _csv([GOOD], (*COLUMNS, f"x{OSC_0}"))
    with pytest.raises(CsvFileError) as refused:
        check_patient_csv(text, "p.csv", now=NOW, clinic_tz=SEOUL, templates=builtin_templates())
    assert "unknown column x␛]0;pwned␇" in str(refused.value)
    assert "\x1b" not in str(refused.value)
    assert OPTIONAL_COLUMNS  # the optional columns are still known


def test_forms_contacts_and_notes_refuse_control_characters() -> None:
    values = {"procedure_at": "2026-11-10 14:30", "protocol": "prp", "schedule": "standard"}
    with pytest.raises(RecordRefused) as refused:
        episode_from_text(
            values | {"nurse_name": f"Park{OSC_0}", "travel_insurer": "AXA\nLine 2"},
            [{"name": f"Exo{RLO}"}],
            clinic_tz=SEOUL,
            now=NOW,
            templates=builtin_templates(),
        )
    fields = {p.field for p in refused.value.problems}
    assert fields == {"nurse_name", "travel_insurer", "product-1-name"}
    with pytest.raises(FieldRefused) as handle:
        checked_contacts(ContactDetails(f"yuki{OSC_52}"), Channel.LINE, "JP")
    assert handle.value.field == "channel_handle"
    assert str(handle.value).startswith("Messenger handle: contains a control character (ESC)")
    with pytest.raises(FieldRefused) as email:
        checked_contacts(ContactDetails("yuki", email=f"y{CSI_2J}@example.org"), Channel.LINE, "JP")
    assert email.value.field == "email"
    with pytest.raises(ShiftTimeError, match=r"The note contains a control character \(ESC\)"):
        check_shift_note(f"covering{OSC_0}")
    check_shift_note("covering for Dr Kim\nback Monday")
    check_shift_note(None)


def test_a_setting_with_a_control_character_is_refused_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('clinic_name = "Gangnam\\u001b]0;pwned\\u0007 Skin"\n')
    with pytest.raises(ConfigError) as refused:
        load_config(environ={}, path=config)
    said = str(refused.value)
    assert said.startswith("clinic_name = ")
    assert "control character (ESC) at position 8" in said
    assert "\x1b" not in said
    config.write_text('clinic_name = "Gangnam Skin"\n')
    with pytest.raises(ConfigError, match=r"clinic_contact .*bidi override U\+202E"):
        load_config(environ={"AFTERCARE_CLINIC_CONTACT": f"+82 2{RLO}"}, path=config)


def test_an_unknown_triage_key_is_echoed_visibly() -> None:
    with pytest.raises(TriageInputError) as refused:
        parse_triage_input('{"day": 3, "symptoms": [], "x\\u001b[2J": 1}')
    assert str(refused.value).startswith("x␛[2J: unknown field")
    assert "\x1b" not in str(refused.value)


def test_the_fast_scan_finds_exactly_the_characters_is_control_names() -> None:
    # Screens check every cell with one regular-expression scan (any_control); it must
    # agree with the per-character rule over the whole Basic Multilingual Plane.
    for code in range(0x10000):
        char = chr(code)
        assert any_control(char) == is_control(char), hex(code)
        assert any_control(char, notes=True) == (is_control(char) and char not in "\n\t")
    assert not any_control("Tanaka Yuki 田中 ゆき\n\tnote", notes=True)
    assert any_control("a\x1b]52;c;QUJD\x07b", notes=True)
