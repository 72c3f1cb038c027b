"""The operator's terminal UI: `glasscast tui`.

The app owns the model, the client and the one task that keeps them in step
(`LiveSync`); screens read the model and subscribe to `model_changed`, which
carries the ids of the rows that changed since the last batch. Operator actions
live here, so the key bindings, the screens and the command palette share them.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Callable

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.signal import Signal
from textual.timer import Timer

from tui.client import ControlPlaneClient, ControlPlaneError
from tui.commands import GlasscastCommands
from tui.format import plural
from tui.model import Changes, FleetModel
from tui.screens.dialogs import (
    ChannelForm,
    ChannelPrompt,
    ConfirmDialog,
    SecretDialog,
    TokenForm,
)
from tui.screens.enrollment import EnrollmentScreen
from tui.screens.fleet import FleetScreen
from tui.screens.help import HelpScreen
from tui.screens.node import NodeScreen
from tui.screens.streams import StreamRows, StreamsScreen
from tui.sync import LinkState, LiveSync
from tui.target import TargetError, resolve_target

# Events arriving within this window are drawn together.
FLUSH_DELAY = 0.25
# A batch this large (a snapshot of a big fleet) is followed by a gc.freeze().
FREEZE_AFTER = 1000
# After an unexpected failure of the sync task, wait this long before restarting it.
SYNC_RESTART_DELAY = 2.0

CONFIRMATIONS = {
    "drain": (
        "Drain node {name}?",
        "New viewers and broadcasts stop going to {name}; current viewers stay.",
    ),
    "revoke": (
        "Revoke node {name}?",
        "{name}'s certificate is refused from now on; it must enroll again to come back.",
    ),
}


class GlasscastApp(App[int]):
    TITLE = "Glasscast"
    COMMANDS = App.COMMANDS | {GlasscastCommands}
    MODES = {"fleet": FleetScreen, "streams": StreamsScreen, "enrollment": EnrollmentScreen}
    DEFAULT_MODE = "fleet"
    BINDINGS = [
        Binding("f", "switch_mode('fleet')", "Fleet"),
        Binding("t", "switch_mode('streams')", "Streams"),
        Binding("e", "switch_mode('enrollment')", "Enrollment"),
        Binding("c", "create_channel", "New channel", show=False),
        Binding("k", "rotate_key", "Rotate key", show=False),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    connection_problem: reactive[str] = reactive("")
    live_feed_down: reactive[bool] = reactive(False)

    def __init__(
        self,
        client: ControlPlaneClient,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 5.0,
        retry_interval: float = 2.0,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.model = FleetModel()
        self.model_changed: Signal[Changes] = Signal(self, "model-changed")
        self._sync = LiveSync(
            client,
            self.model,
            on_changes=self._schedule_flush,
            on_state=self._link_changed,
            poll_interval=poll_interval,
            retry_interval=retry_interval,
            clock=clock,
        )
        self._flush_timer: Timer | None = None
        self.stream_rows = StreamRows(self.model, clock)

    def on_mount(self) -> None:
        self.run_worker(self._keep_in_sync(), name="live-sync", group="sync", exit_on_error=False)

    async def on_unmount(self) -> None:
        await self.client.aclose()

    async def _keep_in_sync(self) -> None:
        while True:
            try:
                await self._sync.run()
            except Exception as exc:
                # A bug must cost a banner and a retry, never the operator's session.
                self.log.error("live sync failed", exc)
                self._link_changed(LinkState(problem=f"internal error: {exc!r}"))
                await asyncio.sleep(SYNC_RESTART_DELAY)

    # --------------------------------------------------------------- updates

    def _schedule_flush(self) -> None:
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FLUSH_DELAY, self._flush_changes)

    def _flush_changes(self) -> None:
        self._flush_timer = None
        changes = self.model.take_changes()
        if changes:
            self.stream_rows.apply(changes)
            self.model_changed.publish(changes)
            if len(changes.nodes) + len(changes.streams) >= FREEZE_AFTER:
                # A big fleet is hundreds of thousands of long-lived, acyclic objects;
                # left in the collector's care, every full collection walks them all
                # (>100 ms pauses between key presses). Refcounting still frees them.
                gc.freeze()
            self.sub_title = (
                f"{plural(len(self.model.nodes), 'node')}, "
                f"{plural(len(self.model.streams), 'live stream')}"
            )

    def flush_now(self) -> None:
        """Draw pending changes without waiting for the batch window (tests, actions)."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
        self._flush_changes()

    def _link_changed(self, state: LinkState) -> None:
        self.connection_problem = state.problem
        self.live_feed_down = state.feed_down

    # ------------------------------------------------------------- navigation

    def open_node(self, name: str) -> None:
        self.push_screen(NodeScreen(name))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # ---------------------------------------------------------------- actions

    @work(group="actions")
    async def node_action(self, name: str, action: str) -> None:
        """Approve, drain, undrain or revoke a node, asking first where it hurts."""
        if action in CONFIRMATIONS:
            title, message = CONFIRMATIONS[action]
            confirmed = await self.push_screen_wait(
                ConfirmDialog(title.format(name=name), message.format(name=name), action.title())
            )
            if not confirmed:
                return
        try:
            node = await self.client.node_action(name, action)
        except ControlPlaneError as exc:
            self.notify(f"{action.title()} {name} failed: {exc}", severity="error", timeout=8)
            return
        self.model.note_node_event(name, f"{action} by operator", self.clock())
        if node is not None:
            self.model.upsert_node(node, self.clock())
        self.flush_now()
        self.notify(f"{action.title()} {name}: done")

    @work(group="actions")
    async def end_stream(self, stream_id: str) -> None:
        stream = self.model.streams.get(stream_id)
        label = stream.channel if stream else stream_id
        confirmed = await self.push_screen_wait(
            ConfirmDialog(
                f"End the stream on {label}?",
                "The broadcaster is disconnected and viewers see the stream end.",
                "End stream",
            )
        )
        if not confirmed:
            return
        try:
            await self.client.end_stream(stream_id)
        except ControlPlaneError as exc:
            self.notify(f"Ending {label} failed: {exc}", severity="error", timeout=8)
            return
        self.model.remove_stream(stream_id)
        self.flush_now()
        self.notify(f"Stream on {label} ended")

    @work(group="actions")
    async def action_create_channel(self) -> None:
        request = await self.push_screen_wait(ChannelForm())
        if request is None:
            return
        try:
            channel = await self.client.create_channel(
                request.name, request.title, request.category
            )
        except ControlPlaneError as exc:
            self.notify(f"Creating {request.name} failed: {exc}", severity="error", timeout=8)
            return
        if channel.stream_key is None:
            self.notify(f"Channel {channel.name} created (no stream key in the answer)")
            return
        await self.push_screen_wait(
            SecretDialog(
                f"Channel {channel.name} created",
                channel.stream_key,
                "The broadcaster's stream key (OBS: the key field):",
            )
        )

    @work(group="actions")
    async def action_rotate_key(self, channel: str | None = None) -> None:
        if channel is None:
            channel = await self.push_screen_wait(
                ChannelPrompt("Rotate the stream key of which channel?", self._likely_channel())
            )
            if channel is None:
                return
        confirmed = await self.push_screen_wait(
            ConfirmDialog(
                f"Rotate the stream key of {channel}?",
                "The old key stops working at once: the broadcaster needs the new one.",
                "Rotate",
            )
        )
        if not confirmed:
            return
        try:
            key = await self.client.rotate_stream_key(channel)
        except ControlPlaneError as exc:
            self.notify(f"Rotating {channel}'s key failed: {exc}", severity="error", timeout=8)
            return
        await self.push_screen_wait(
            SecretDialog(f"New stream key for {channel}", key, "Give this to the broadcaster:")
        )

    @work(group="actions")
    async def action_create_token(self) -> None:
        request = await self.push_screen_wait(TokenForm())
        if request is None:
            return
        try:
            token = await self.client.create_enrollment_token(
                request.node_name, request.ttl_seconds, request.manual_approval
            )
        except ControlPlaneError as exc:
            self.notify(f"Creating a token failed: {exc}", severity="error", timeout=8)
            return
        if isinstance(self.screen, EnrollmentScreen):
            self.screen.reload_tokens()
        if token.token is None:
            self.notify(f"Token {token.id} created (no secret in the answer)", severity="warning")
            return
        expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(token.expires_at or 0))
        await self.push_screen_wait(
            SecretDialog(
                "Enrollment token created",
                token.token,
                f"On the new node: glasscast edge enroll --control-plane "
                f"{self.client.base_url} --token <this token>"
                + (f"\nValid until {expires}." if token.expires_at else ""),
            )
        )

    def _likely_channel(self) -> str:
        screen = self.screen
        if isinstance(screen, StreamsScreen) and (stream := screen.selected_stream) is not None:
            return stream.channel
        return ""


def run(control_plane: str | None, token: str | None) -> int:
    """`glasscast tui`: returns the process exit status."""
    try:
        target = resolve_target(control_plane, token)
    except TargetError as exc:
        print(f"glasscast tui: {exc}", file=sys.stderr)
        return 2
    app = GlasscastApp(ControlPlaneClient(target.url, target.token))
    result = app.run()
    return result if isinstance(result, int) else 0
