"""A table of records keyed by id that draws only what is on screen.

Textual's DataTable measures every cell it is given and keeps per-row state, which
for 10,000 streams costs seconds at every (re)fill. This table holds each record
once, keeps the display order as a list of keys (re-sorted only when an order
decides it: a new row, a removed one, a changed value in the sort column), and
renders lines on demand through the Line API: a changed row off screen costs a
dict assignment, one on screen a repaint of ~35 lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.format import Cell

PAD = 1


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int


@lru_cache(maxsize=64)
def _style(spec: str) -> Style:
    return Style.parse(spec) if spec else Style()


def _fit(text: str, width: int) -> str:
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…"


class RecordTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"record-table--header", "record-table--cursor"}
    DEFAULT_CSS = """
    RecordTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        & > .record-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .record-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .record-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(False)", "First", show=False),
        Binding("end", "edge(True)", "Last", show=False),
        Binding("enter", "select", "Select", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)

    class RowHighlighted(Message):
        def __init__(self, table: RecordTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class RowSelected(Message):
        def __init__(self, table: RecordTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort_column: str | None = None,
        sort_reverse: bool = False,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._columns = tuple(columns)
        self._column_index = {c.key: i for i, c in enumerate(self._columns)}
        self._row_width = sum(c.width + 2 * PAD for c in self._columns)
        self._records: dict[str, tuple[Cell, ...]] = {}
        self._visible: list[str] = []
        self._position: dict[str, int] = {}
        self._filter = ""
        self.sort_column = sort_column
        self.sort_reverse = sort_reverse

    # ------------------------------------------------------------------ queries

    @property
    def row_count(self) -> int:
        """Rows shown (the filter may hide some records)."""
        return len(self._visible)

    def record_count(self) -> int:
        return len(self._records)

    def record_keys(self) -> list[str]:
        return list(self._records)

    def visible_keys(self) -> list[str]:
        return list(self._visible)

    def window_keys(self) -> list[str]:
        """The keys of the rows on screen now."""
        top = round(self.scroll_offset.y)
        return self._visible[top : top + self._page_rows()]

    def has_row(self, key: str) -> bool:
        return key in self._position

    def row_cells(self, key: str) -> tuple[Cell, ...]:
        return self._records[key]

    @property
    def selected_key(self) -> str | None:
        if 0 <= self.cursor_row < len(self._visible):
            return self._visible[self.cursor_row]
        return None

    # ------------------------------------------------------------------ changes

    def upsert(self, rows: Mapping[str, tuple[Cell, ...]]) -> None:
        if not rows:
            return
        reorder = False
        repaint = False
        sort_at = self._column_index.get(self.sort_column or "", -1)
        for key, cells in rows.items():
            old = self._records.get(key)
            self._records[key] = cells
            shown = key in self._position
            wanted = self._matches(cells)
            if shown != wanted or (
                shown and sort_at >= 0 and old and old[sort_at] != cells[sort_at]
            ):
                reorder = True
            elif shown:
                repaint = repaint or self._on_screen(self._position[key])
        if reorder:
            self._rebuild()
        elif repaint:
            self.refresh()

    def discard(self, keys: Iterable[str]) -> None:
        gone = [key for key in keys if self._records.pop(key, None) is not None]
        if any(key in self._position for key in gone):
            self._rebuild()

    def set_filter(self, text: str) -> None:
        """Show only rows with a cell containing `text` (case-insensitive)."""
        self._filter = text.strip().casefold()
        self._rebuild()

    def sort_by(self, column: str) -> None:
        """Sort by `column`; choosing the same column again flips the order."""
        if self.sort_column == column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        self._rebuild()

    def select(self, key: str) -> None:
        if key in self._position:
            self.cursor_row = self._position[key]

    def _matches(self, cells: tuple[Cell, ...]) -> bool:
        return not self._filter or any(self._filter in c.label.casefold() for c in cells)

    def _rebuild(self) -> None:
        """Recompute the shown rows and their order, keeping the cursor on its record."""
        keep = self.selected_key
        keys = [k for k, cells in self._records.items() if self._matches(cells)]
        at = self._column_index.get(self.sort_column or "")
        if at is not None:
            records = self._records
            # Timsort on a nearly sorted list is linear: cheap when few rows moved.
            keys.sort(key=lambda k: (records[k][at].key, k), reverse=self.sort_reverse)
        self._visible = keys
        self._position = {k: i for i, k in enumerate(keys)}
        self.virtual_size = Size(self.size.width, len(keys) + 1)
        if keep is not None and keep in self._position:
            self.cursor_row = self._position[keep]
        else:
            self.cursor_row = min(self.cursor_row, max(0, len(keys) - 1))
        self.refresh()

    # ------------------------------------------------------------------ cursor

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._scroll_into_view(new)
        self.refresh()
        self.post_message(self.RowHighlighted(self, self.selected_key))

    def _page_rows(self) -> int:
        return max(1, self.size.height - 1)

    def _on_screen(self, index: int) -> bool:
        top = round(self.scroll_offset.y)
        return top <= index < top + self._page_rows()

    def _scroll_into_view(self, index: int) -> None:
        top = round(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + self._page_rows():
            self.scroll_to(y=index - self._page_rows() + 1, animate=False)

    def _move(self, row: int) -> None:
        if self._visible:
            self.cursor_row = max(0, min(len(self._visible) - 1, row))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor_row + direction * self._page_rows())

    def action_edge(self, last: bool) -> None:
        self._move(len(self._visible) - 1 if last else 0)

    def action_select(self) -> None:
        if (key := self.selected_key) is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            column = self._column_at(event.x)
            if column is not None:
                self.sort_by(column)
            return
        index = round(self.scroll_offset.y) + event.y - 1
        if 0 <= index < len(self._visible):
            if index == self.cursor_row:
                self.action_select()
            self.cursor_row = index

    def _column_at(self, x: int) -> str | None:
        left = 0
        for column in self._columns:
            left += column.width + 2 * PAD
            if x < left:
                return column.key
        return None

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self._visible) + 1)

    # ---------------------------------------------------------------- rendering

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            return self._header(width)
        index = round(self.scroll_offset.y) + y - 1
        if index >= len(self._visible):
            return Strip.blank(width, base)
        cells = self._records[self._visible[index]]
        cursor = (
            self.get_component_rich_style("record-table--cursor")
            if index == self.cursor_row
            else None
        )
        line_style = base + cursor if cursor is not None else base
        pad = Segment(" " * PAD, line_style)
        segments = []
        for column, cell in zip(self._columns, cells, strict=False):
            style = line_style if cursor is not None else base + _style(cell.style)
            segments += [pad, Segment(_fit(cell.label, column.width), style), pad]
        strip = Strip(segments, self._row_width)
        return strip.extend_cell_length(width, line_style).crop(0, width)

    def _header(self, width: int) -> Strip:
        style = self.get_component_rich_style("record-table--header")
        arrow = " ▼" if self.sort_reverse else " ▲"
        segments = [
            Segment(
                " " * PAD
                + _fit(
                    column.label + (arrow if column.key == self.sort_column else ""), column.width
                )
                + " " * PAD,
                style,
            )
            for column in self._columns
        ]
        return Strip(segments, self._row_width).extend_cell_length(width, style).crop(0, width)
