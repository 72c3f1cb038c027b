"""The command palette (ctrl+p): every operator action by name.

Node actions and ending a stream are offered for the row in view (selected row or
detail screen) and, when the query names one ("drain edge-west", "end stream
demo"), for the matching ones, so nothing needs a key binding to be reachable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import GlasscastApp

NODE_ACTIONS = (
    ("approve", "Approve node", "let a pending node join the fleet"),
    ("drain", "Drain node", "stop sending new viewers and broadcasts to it"),
    ("undrain", "Undrain node", "put a drained node back in service"),
    ("revoke", "Revoke node", "refuse its certificate from now on"),
)
# Matching every node (stream) for every query costs a fuzzy match per row per
# keystroke; past this many the palette offers only the one in view.
MAX_NAMED = 2000

Command = tuple[str, str, Callable[[], object]]


class GlasscastCommands(Provider):
    @property
    def glasscast(self) -> GlasscastApp:
        from tui.app import GlasscastApp

        assert isinstance(self.app, GlasscastApp)
        return self.app

    def _global_commands(self) -> Iterator[Command]:
        app = self.glasscast
        yield ("Show fleet", "every node", partial(app.switch_mode, "fleet"))
        yield ("Show streams", "live streams", partial(app.switch_mode, "streams"))
        yield ("Show enrollment", "pending nodes, tokens", partial(app.switch_mode, "enrollment"))
        yield ("Create channel", "its stream key is shown once", app.action_create_channel)
        yield ("Rotate stream key", "for a channel; shown once", app.action_rotate_key)
        yield ("Create enrollment token", "shown once", app.action_create_token)
        yield ("Help", "keys and legend", app.action_help)
        current = self._node_in_view()
        if current is not None:
            for action, label, help_text in NODE_ACTIONS:
                yield (f"{label} {current}", help_text, partial(app.node_action, current, action))
        stream_id = self._stream_in_view()
        if stream_id is not None:
            stream = app.model.streams.get(stream_id)
            name = stream.channel if stream else stream_id
            yield (f"End stream {name}", "asks first", partial(app.end_stream, stream_id))

    def _node_in_view(self) -> str | None:
        from tui.screens.fleet import FleetScreen
        from tui.screens.node import NodeScreen

        screen = self.screen
        if isinstance(screen, NodeScreen):
            return screen.node_name
        if isinstance(screen, FleetScreen):
            return screen.selected_node
        return None

    def _stream_in_view(self) -> str | None:
        from tui.screens.streams import StreamsScreen

        screen = self.screen
        if isinstance(screen, StreamsScreen) and (stream := screen.selected_stream):
            return stream.stream_id
        return None

    async def discover(self) -> Hits:
        for name, help_text, callback in self._global_commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._global_commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
        app = self.glasscast
        # The rows in view were offered above already.
        node_in_view, stream_in_view = self._node_in_view(), self._stream_in_view()
        if len(app.model.nodes) <= MAX_NAMED:
            for node_name in app.model.nodes:
                if node_name == node_in_view:
                    continue
                for action, label, help_text in NODE_ACTIONS:
                    text = f"{label} {node_name}"
                    score = matcher.match(text)
                    if score > 0:
                        callback = partial(app.node_action, node_name, action)
                        yield Hit(score, matcher.highlight(text), callback, help=help_text)
        if len(app.model.streams) <= MAX_NAMED:
            for stream in app.model.streams.values():
                if stream.stream_id == stream_in_view:
                    continue
                text = f"End stream {stream.channel}"
                score = matcher.match(text)
                if score > 0:
                    callback = partial(app.end_stream, stream.stream_id)
                    yield Hit(score, matcher.highlight(text), callback, help="asks first")
