"""Live streams: what is on, where it comes from, how healthy, how watched."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input

from tui import format as fmt
from tui.format import Cell, cell
from tui.model import Changes, FleetModel
from tui.records import Stream
from tui.widgets.banner import ConnectionBanner
from tui.widgets.record_table import Column, RecordTable

if TYPE_CHECKING:
    from tui.app import GlasscastApp

SPARK_WIDTH = 8
# Uptimes of the rows on screen move on this often, whether or not anything changed.
UPTIME_REFRESH = 10.0

# The row fills 120 columns exactly (the smallest terminal the layout is pinned at):
# Channel and Title gave up two each to make room for the protocol.
COLUMNS = (
    Column("channel", "Channel", 10),
    Column("title", "Title", 12),
    Column("category", "Category", 9),
    Column("origin", "Origin", 11),
    Column("renditions", "Rends", 5),
    Column("protocol", "Proto", 5),
    Column("ingest", "Ingest", 10),
    Column("lag", "Lag", 5),
    Column("viewers", "Viewers", 9),
    Column("trend", "Trend", SPARK_WIDTH),
    Column("uptime", "Uptime", 6),
    Column("status", "Status", 6),
)


def ingest_label(stream: Stream) -> str:
    if stream.ingest_bitrate is None and stream.ingest_fps is None:
        return fmt.MISSING
    fps = fmt.MISSING if stream.ingest_fps is None else f"{stream.ingest_fps:.0f}"
    return f"{fmt.si(stream.ingest_bitrate)} {fps}fps"


def protocol_label(stream: Stream) -> str:
    """The broadcaster's ingest protocol as its name is written (RTMP, SRT, WHIP)."""
    return stream.ingest_protocol.upper() if stream.ingest_protocol else fmt.MISSING


def stream_row(stream: Stream, viewers: list[float], now: float) -> tuple[Cell, ...]:
    style = fmt.status_style(stream.status)
    uptime = None if stream.started_at is None else now - stream.started_at
    status = "recon" if stream.status == "reconnecting" else fmt.text(stream.status)
    lag = None if stream.transcode_lag is None else f"{stream.transcode_lag:.1f}s"
    return (
        cell(stream.channel),
        cell(fmt.text(stream.title)),
        cell(fmt.text(stream.category)),
        cell(fmt.text(stream.origin_node)),
        cell(str(len(stream.renditions)) if stream.renditions else fmt.MISSING),
        cell(protocol_label(stream)),
        cell(ingest_label(stream), stream.ingest_bitrate),
        cell(lag or fmt.MISSING, stream.transcode_lag),
        cell(fmt.count(stream.viewer_count), stream.viewer_count),
        cell(fmt.spark(viewers, SPARK_WIDTH) if viewers else fmt.MISSING, len(viewers)),
        cell(fmt.duration(uptime), uptime),
        cell(status, style=style),
    )


class StreamRows:
    """Every stream's row, kept current as changes arrive.

    The app keeps this from the first snapshot on, so opening the streams screen on
    a 10,000-stream fleet costs an insert of ready rows, not 110,000 formatted cells
    inside one key press.
    """

    def __init__(self, model: FleetModel, clock: Callable[[], float]) -> None:
        self._model = model
        self._clock = clock
        self.rows: dict[str, tuple[Cell, ...]] = {}

    def apply(self, changes: Changes) -> None:
        for stream_id in changes.removed_streams:
            self.rows.pop(stream_id, None)
        self.rebuild(changes.streams)

    def rebuild(self, stream_ids: Iterable[str]) -> None:
        now = self._clock()
        model = self._model
        for stream_id in stream_ids:
            stream = model.streams.get(stream_id)
            if stream is None:
                continue
            history = model.stream_viewers.get(stream_id)
            self.rows[stream_id] = stream_row(stream, history.values() if history else [], now)


class StreamsScreen(Screen[None]):
    TITLE = "Streams"
    DEFAULT_CSS = """
    StreamsScreen RecordTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("x", "end_stream", "End stream"),
        Binding("k", "rotate_key", "Rotate key"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    _uptime_timer: Timer | None = None

    @property
    def glasscast(self) -> GlasscastApp:
        from tui.app import GlasscastApp

        assert isinstance(self.app, GlasscastApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header()
        yield ConnectionBanner()
        yield Input(placeholder="filter streams (/)", id="filter", compact=True)
        yield RecordTable(COLUMNS, sort_column="viewers", sort_reverse=True, id="streams")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(RecordTable)
        table.upsert(self.glasscast.stream_rows.rows)
        table.focus()
        self.glasscast.model_changed.subscribe(self, self.apply_changes)
        self._uptime_timer = self.set_interval(UPTIME_REFRESH, self._refresh_uptimes)

    def on_screen_suspend(self) -> None:
        if self._uptime_timer is not None:
            self._uptime_timer.pause()

    def on_screen_resume(self) -> None:
        if self._uptime_timer is not None:
            self._uptime_timer.resume()

    def _refresh_uptimes(self) -> None:
        """Redraw the rows on screen only: an uptime off screen can wait to be seen."""
        table = self.query_one(RecordTable)
        shown = table.window_keys()
        stream_rows = self.glasscast.stream_rows
        stream_rows.rebuild(shown)
        table.upsert({sid: stream_rows.rows[sid] for sid in shown if sid in stream_rows.rows})

    def apply_changes(self, changes: Changes) -> None:
        table = self.query_one(RecordTable)
        table.discard(changes.removed_streams)
        rows = self.glasscast.stream_rows.rows
        table.upsert({sid: rows[sid] for sid in changes.streams if sid in rows})

    @property
    def selected_stream(self) -> Stream | None:
        key = self.query_one(RecordTable).selected_key
        return None if key is None else self.glasscast.model.streams.get(key)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_one(RecordTable).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(RecordTable).focus()

    def action_end_stream(self) -> None:
        stream = self.selected_stream
        if stream is None:
            self.notify("No stream selected", severity="warning")
            return
        self.glasscast.end_stream(stream.stream_id)

    def action_rotate_key(self) -> None:
        stream = self.selected_stream
        self.glasscast.action_rotate_key(stream.channel if stream else None)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one(RecordTable).focus()
