"""The documentation checklist form (`k` on the patient screen): one checkbox per
document, ticked as stored; saving returns only the items changed, so an item
left alone keeps who ticked it and when."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.widgets import Button, Checkbox

from core.dossier import ChecklistItem, ChecklistTicks
from tui.modals import FormModal


class ChecklistModal(FormModal[ChecklistTicks]):
    """Tick the documents the patient left with."""

    ERROR_LINE = False

    def __init__(self, patient: str, items: tuple[ChecklistItem, ...]) -> None:
        super().__init__(f"Documentation checklist: {patient}")
        self._items = items

    def fields(self) -> ComposeResult:
        for index, item in enumerate(self._items):
            # Ids by position: a stored key may hold characters an id cannot.
            yield Checkbox(item.label, value=item.given, id=f"item-{index}")

    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        changed = tuple(
            (item.key, ticked)
            for index, item in enumerate(self._items)
            if (ticked := self.query_one(f"#item-{index}", Checkbox).value) != item.given
        )
        self.dismiss(ChecklistTicks(changed))
