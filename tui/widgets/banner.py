"""The strip that says the control plane is out of reach, shown on every screen."""

from __future__ import annotations

from textual.widgets import Static


class ConnectionBanner(Static):
    DEFAULT_CSS = """
    ConnectionBanner {
        height: 1;
        width: 100%;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
        display: none;
    }
    ConnectionBanner.-degraded {
        background: $warning;
        color: $background;
    }
    """

    def on_mount(self) -> None:
        # Bound to the app so a screen pushed while disconnected shows it at once.
        self.watch(self.app, "connection_problem", self._show, init=True)
        self.watch(self.app, "live_feed_down", self._show_degraded, init=True)

    def _show(self, problem: str) -> None:
        self._render_state()

    def _show_degraded(self, down: bool) -> None:
        self._render_state()

    def _render_state(self) -> None:
        problem: str = getattr(self.app, "connection_problem", "")
        feed_down: bool = getattr(self.app, "live_feed_down", False)
        if problem:
            self.update(f"Control plane unreachable: {problem} (reconnecting...)")
            self.remove_class("-degraded")
            self.display = True
        elif feed_down:
            self.update("Live updates unavailable: polling every few seconds")
            self.add_class("-degraded")
            self.display = True
        else:
            self.display = False
