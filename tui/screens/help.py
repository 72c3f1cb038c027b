"""The help screen: every key, and where the rest lives (the command palette)."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Anywhere",
        (
            ("f / t / e", "Fleet, Streams, Enrollment screens"),
            ("ctrl+p", "palette: every action by name ('drain edge-west', 'end stream demo')"),
            ("c", "create a channel (its stream key is shown once)"),
            ("k", "rotate a channel's stream key (shown once)"),
            ("? / f1", "this help"),
            ("q", "quit"),
        ),
    ),
    (
        "Fleet, node",
        (
            ("enter", "open the selected node"),
            ("a / u", "approve / undrain the node"),
            ("d / r", "drain / revoke the node (asks first)"),
            ("/  esc", "filter rows by any column / clear the filter"),
            ("s / S", "sort by the next column / reverse (or click a header)"),
            ("esc", "back from node detail"),
        ),
    ),
    (
        "Streams",
        (
            ("x", "end the selected stream (asks first)"),
            ("k", "rotate the selected stream's channel key"),
        ),
    ),
    (
        "Enrollment",
        (
            ("a", "approve the selected waiting node"),
            ("n", "create an enrollment token (shown once)"),
            ("g", "reload the token list"),
        ),
    ),
)

LEGEND = (
    "Roles: ing = ingest, tc = transcode, shd = shield, edge = edge.  "
    "Rows are coloured by status: green healthy, magenta degraded (serving, e.g. "
    "uncached), yellow pending, red unhealthy, orange draining, grey revoked.  "
    "'-' means the control plane did not report it."
)


def keys_table() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", width=12)
    grid.add_column()
    for section, keys in KEYS:
        grid.add_row(f"[b]{section}[/b]", "")
        for key, what in keys:
            grid.add_row(key, what)
        grid.add_row("", "")
    return grid


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; height: 90%; border: thick $primary; background: $surface; padding: 1 2;
    }
    HelpScreen .title { text-style: bold; margin-bottom: 1; }
    """
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("Glasscast operator console: keys", classes="title")
            yield Static(keys_table())
            yield Static(LEGEND)
