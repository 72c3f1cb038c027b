"""Keeping the model in step with the control plane.

One long-running task: open the event feed, read a snapshot, then apply events as
they come. If the feed is refused (an older control plane, a proxy that buffers) it
polls a snapshot every few seconds instead, trying the feed again each time; if the
control plane is unreachable it says so and retries on its own. Nothing here knows
about widgets: it reports through two callbacks, so it can be driven from tests.

Viewer counts are not in the feed: they move when nodes report different viewer
sessions, so such a report asks for the stream list again, at most once per
`stream_refresh` seconds. A quiet fleet therefore costs no requests at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from tui.client import ApiError, ControlPlaneClient, ControlPlaneError, EventFeed, Unreachable
from tui.model import FleetModel
from tui.updates import (
    Ignored,
    NodeChanged,
    NodeNeedsFetch,
    NodeRemoved,
    NodeReported,
    Resync,
    StreamChanged,
    StreamEnded,
    StreamNeedsFetch,
    Update,
    decode_update,
)

POLL_INTERVAL = 5.0
RETRY_INTERVAL = 2.0
STREAM_REFRESH = 3.0
# At most this many streams re-read per second when viewer counts move.
STREAMS_PER_SECOND = 1000
# A burst of events the TUI cannot place must not turn into a burst of full fetches.
MIN_RESYNC_INTERVAL = 5.0


@dataclass(frozen=True, slots=True)
class LinkState:
    problem: str = ""  # non-empty while the control plane cannot be reached
    feed_down: bool = False  # true while polling instead of following the event feed


class LiveSync:
    def __init__(
        self,
        client: ControlPlaneClient,
        model: FleetModel,
        *,
        on_changes: Callable[[], None],
        on_state: Callable[[LinkState], None],
        poll_interval: float = POLL_INTERVAL,
        retry_interval: float = RETRY_INTERVAL,
        stream_refresh: float = STREAM_REFRESH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._model = model
        self._on_changes = on_changes
        self._on_state = on_state
        self._poll_interval = poll_interval
        self._retry_interval = retry_interval
        self._stream_refresh = stream_refresh
        self._clock = clock
        self._last_snapshot = float("-inf")
        self._state = LinkState()
        self._streams_stale = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled."""
        while True:
            try:
                await self._follow_feed()
                # The feed closed cleanly (a restart, a slow reader dropped): reopen it.
            except Unreachable as exc:
                self._set_state(LinkState(problem=str(exc)))
                await asyncio.sleep(self._retry_interval)
            except ApiError as exc:
                await self._poll_once(exc)

    async def _follow_feed(self) -> None:
        async with self._client.event_feed() as feed:
            await self._snapshot()
            self._set_state(LinkState())
            refresher = asyncio.create_task(self._refresh_streams_when_stale())
            try:
                await self._apply_feed(feed)
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher

    async def _poll_once(self, feed_error: ApiError) -> None:
        """The feed was refused: take a snapshot instead and wait a poll interval."""
        if feed_error.status_code in (401, 403):
            self._set_state(LinkState(problem=f"refused: {feed_error.detail}"))
            await asyncio.sleep(self._poll_interval)
            return
        try:
            await self._snapshot()
        except Unreachable as exc:
            self._set_state(LinkState(problem=str(exc)))
            await asyncio.sleep(self._retry_interval)
            return
        except ApiError as exc:
            self._set_state(LinkState(problem=f"{exc.status_code}: {exc.detail}"))
        else:
            self._set_state(LinkState(feed_down=True))
        await asyncio.sleep(self._poll_interval)

    async def _apply_feed(self, feed: EventFeed) -> None:
        async for event in feed:
            await self._apply(decode_update(event))
            if self._model.has_changes:
                self._on_changes()

    async def _apply(self, update: Update) -> None:
        now = self._clock()
        model = self._model
        if isinstance(update, NodeReported):
            old = model.nodes.get(update.name)
            if not model.patch_node(update.name, update.status, update.load, now):
                await self._fetch_node(update.name)
            elif old is not None and (
                old.load.viewer_sessions != update.load.viewer_sessions
                or old.load.streams_originated != update.load.streams_originated
            ):
                self._streams_stale.set()
        elif isinstance(update, NodeChanged):
            model.upsert_node(update.node, now)
        elif isinstance(update, NodeRemoved):
            model.remove_node(update.name, now)
        elif isinstance(update, NodeNeedsFetch):
            await self._fetch_node(update.name)
        elif isinstance(update, StreamChanged):
            model.upsert_stream(update.stream)
        elif isinstance(update, StreamNeedsFetch):
            await self._fetch_stream(update.channel, update.stream_id)
        elif isinstance(update, StreamEnded):
            model.remove_stream(update.stream_id)
        elif isinstance(update, Resync):
            await self._snapshot(throttled=True)
        else:
            assert isinstance(update, Ignored)

    async def _fetch_node(self, name: str) -> None:
        try:
            node = await self._client.node(name)
        except ApiError as exc:
            if exc.status_code == 404:
                self._model.remove_node(name, self._clock())
            return
        self._model.upsert_node(node, self._clock())

    async def _fetch_stream(self, channel: str, stream_id: str) -> None:
        try:
            stream = await self._client.live_stream(channel)
        except ApiError as exc:
            if exc.status_code == 404:
                self._model.remove_stream(stream_id)
            return
        if stream.stream_id != stream_id:
            self._model.remove_stream(stream_id)
        self._model.upsert_stream(stream)

    async def _refresh_streams_when_stale(self) -> None:
        while True:
            await self._streams_stale.wait()
            self._streams_stale.clear()
            try:
                streams = await self._client.streams()
            except ControlPlaneError:
                # The feed notices a lost control plane on its own; the next report retries.
                await asyncio.sleep(self._stream_refresh)
                continue
            self._model.replace_streams(streams)
            if self._model.has_changes:
                self._on_changes()
            # The list costs a page per hundred streams: a big fleet is asked less often.
            await asyncio.sleep(max(self._stream_refresh, len(streams) / STREAMS_PER_SECOND))

    async def _snapshot(self, *, throttled: bool = False) -> None:
        if throttled:
            wait = self._last_snapshot + MIN_RESYNC_INTERVAL - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_snapshot = time.monotonic()
        nodes = await self._client.nodes()
        try:
            streams = await self._client.streams()
        except ApiError as exc:
            # A control plane without the streams API still has a fleet to show.
            if exc.status_code not in (404, 405):
                raise
            streams = []
        self._model.replace_nodes(nodes, self._clock())
        self._model.replace_streams(streams)
        if self._model.has_changes:
            self._on_changes()

    def _set_state(self, state: LinkState) -> None:
        if state != self._state:
            self._state = state
            self._on_state(state)
