"""A DataTable of records keyed by id that touches only the rows that changed.

It holds every record (also those the filter hides) so that filtering and sorting
are local operations, and it never rebuilds the table for an update: a changed
row costs one `update_cell` per changed cell, a sort is one reorder of row indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

from tui.format import Cell


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int


class RecordTable(DataTable[Cell]):
    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort_column: str | None = None,
        sort_reverse: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._column_defs = tuple(columns)
        self._records: dict[str, tuple[Cell, ...]] = {}
        self._filter = ""
        self.sort_column = sort_column
        self.sort_reverse = sort_reverse

    def on_mount(self) -> None:
        for column in self._column_defs:
            self.add_column(column.label, width=column.width, key=column.key)
        self._reorder()

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return row_key.value

    def record_count(self) -> int:
        return len(self._records)

    def record_keys(self) -> list[str]:
        return list(self._records)

    def upsert(self, rows: Mapping[str, tuple[Cell, ...]]) -> None:
        reorder = False
        for key, cells in rows.items():
            old = self._records.get(key)
            self._records[key] = cells
            shown = RowKey(key) in self.rows
            if not self._matches(cells):
                if shown:
                    self.remove_row(key)
                continue
            if not shown:
                self.add_row(*cells, key=key)
                reorder = True
                continue
            for column, before, after in zip(self._column_defs, old or (), cells, strict=False):
                if before != after or before.label != after.label or before.style != after.style:
                    self.update_cell(key, column.key, after)
                    reorder = reorder or column.key == self.sort_column
        if reorder:
            self._reorder()

    def discard(self, keys: Iterable[str]) -> None:
        for key in keys:
            if self._records.pop(key, None) is not None and RowKey(key) in self.rows:
                self.remove_row(key)

    def set_filter(self, text: str) -> None:
        """Show only rows whose text contains `text` (case-insensitive)."""
        self._filter = text.strip().casefold()
        keep = self.selected_key
        self.clear()
        for key, cells in self._records.items():
            if self._matches(cells):
                self.add_row(*cells, key=key)
        self._reorder()
        self._restore_cursor(keep)

    def sort_by(self, column: str) -> None:
        """Sort by `column`; choosing the same column again flips the order."""
        if self.sort_column == column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        keep = self.selected_key
        self._reorder()
        self._restore_cursor(keep)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))

    def _matches(self, cells: tuple[Cell, ...]) -> bool:
        return not self._filter or any(self._filter in c.label.casefold() for c in cells)

    def _reorder(self) -> None:
        if self.sort_column is None:
            return
        arrow = " ▼" if self.sort_reverse else " ▲"
        for definition in self._column_defs:
            column = self.columns.get(ColumnKey(definition.key))
            if column is not None:
                suffix = arrow if definition.key == self.sort_column else ""
                column.label = Text(definition.label + suffix)
        # `sort` redraws, header included.
        self.sort(self.sort_column, reverse=self.sort_reverse)

    def _restore_cursor(self, key: str | None) -> None:
        if key is not None and RowKey(key) in self.rows:
            self.move_cursor(row=self.get_row_index(key), animate=False)
