"""`aftercare export summary --pdf` on a machine without Noto Sans CJK: one line
naming the package, exit 1, no file and no audit event; never a PDF with '?'."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from core.exports.pdf_font import MISSING_FONT
from db.engine import make_session_factory, transaction
from db.models import AuditEvent
from tests.db.test_exports import ExportedPatient
from tests.tui.test_cli import assert_one_clear_line
from tests.tui.test_export_cli import _aftercare, env, treated

__all__ = ["env", "treated"]  # the fixtures, shared with the export command's tests


def test_without_the_font_the_pdf_is_refused_naming_the_package(
    engine: Engine, env: dict[str, str], treated: ExportedPatient, tmp_path: Path
) -> None:
    nowhere = tmp_path / "no-fonts"
    nowhere.mkdir()
    # HOME and XDG_DATA_HOME are already a fresh folder (cli_env): no system folders either.
    env = {**env, "XDG_DATA_DIRS": str(nowhere)}
    result = _aftercare("export", "summary", "--pdf", treated.code, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert_one_clear_line(result, MISSING_FONT, "apt-get install fonts-noto-cjk")
    assert not list(tmp_path.glob("*.pdf"))
    with transaction(make_session_factory(engine)) as session:
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("export%"))
        ).all()
