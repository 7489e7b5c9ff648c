"""Small helpers shared by the screens' tables and panes."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.text import Text
from textual.geometry import Size
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from core.countries import country_name, reporting_route


class RecordTable(DataTable[Text]):
    """A table of records, one per row: `Home` and `End` go to the first and the last
    row, as ctrl+Home and ctrl+End do (a plain DataTable's Home and End only scroll
    sideways, which a coordinator looking for the most urgent patient never wants)."""

    def action_scroll_home(self) -> None:
        """Home: the first row, its first column in view."""
        self.scroll_x = 0
        self.action_scroll_top()

    def action_scroll_end(self) -> None:
        """End: the last row."""
        self.action_scroll_bottom()

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        rows = list(new_rows)
        if not self._widen_for_text(rows):
            super()._update_dimensions(rows)
        # Textual widens the columns for new rows after a row may already have been
        # drawn and cached at the old widths: the cursor's row, the first of the queue,
        # then showed its cells cut ("D-00015 ... ove"). Drawn again at the new widths.
        self._clear_caches()

    def _widen_for_text(self, rows: list[RowKey]) -> bool:
        """Widen the columns for `rows` when every cell is one-line-high text, by the
        text's own width; False (nothing done) for anything else.

        Textual measures each cell through a Rich console (0.5 ms a row): 2,000 open
        incidents took 1.1 s of the log's first opening. A row of plain text is as
        wide as its characters, which `cell_len` counts from a cache.
        """
        columns = self.ordered_columns
        widths = [column.content_width for column in columns]
        for key in rows:
            row, cells = self.rows.get(key), self._data.get(key)
            if row is None or cells is None:
                continue  # removed before the table was idle
            if row.label is not None or row.auto_height:
                return False
            for index, column in enumerate(columns):
                cell = cells.get(column.key)
                if not isinstance(cell, Text):
                    return False
                widths[index] = max(
                    widths[index], *(cell_len(line) for line in cell.plain.split("\n"))
                )
        for column, width in zip(columns, widths, strict=True):
            column.content_width = width
        self.virtual_size = Size(
            sum(column.get_render_width(self) for column in columns) + self._row_label_column_width,
            self._total_row_height + (self.header_height if self.show_header else 0),
        )
        return True


def cursor_key(table: DataTable[Text]) -> str | None:
    """The key of the row under the cursor, or None on an empty table."""
    if table.row_count == 0:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def show_rows(
    table: DataTable[Text],
    columns: tuple[tuple[str, str], ...],
    rows: list[tuple[str, tuple[Text, ...]]],
) -> None:
    """Show `rows` (key, cells), keeping the cursor on the row it was on.

    The same rows in the same order are updated cell by cell (no flicker, no
    jump); anything else rewrites the table.
    """
    kept = cursor_key(table)
    wanted = [key for key, _ in rows]
    if [row.key.value for row in table.ordered_rows] == wanted:
        for key, cells in rows:
            for (column, _), cell in zip(columns, cells, strict=True):
                if table.get_cell(key, column) != cell:
                    table.update_cell(key, column, cell)
        return
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if kept is not None and kept in wanted:
        table.move_cursor(row=wanted.index(kept), animate=False)


def reporting_routes(current_country: str, home_country: str) -> Group:
    """Where an adverse event is reported: the country the patient is in, and home if different."""
    countries = [current_country]
    if home_country.strip().upper() != current_country.strip().upper():
        countries.append(home_country)
    lines: list[RenderableType] = []
    for country in countries:
        route = reporting_route(country)
        if route is None:
            lines.append(
                Text(
                    f"Adverse-event reporting ({country_name(country)}): no route on file",
                    style="dim",
                )
            )
            continue
        phone = f", phone {route.phone}" if route.phone else ""
        lines.append(
            Text.assemble(
                ("Adverse-event reporting", "bold"),
                f" ({route.country_name}): {route.authority} — {route.route}{phone}",
            )
        )
    return Group(*lines)
