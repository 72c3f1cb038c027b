"""Where a VOD this node does not hold lives: asked of the control plane, remembered.

The delivery app pulls a VOD it lacks through its own `Upstream` (same collapsing
and segment cache as live objects) from the bases named here: the shield's replica
first, then the origin. Answers are kept `TTL` seconds (an empty one `NEGATIVE_TTL`),
and concurrent lookups of one id share one call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from edge_node.deliver.upstream import UpstreamTable

log = logging.getLogger(__name__)

TTL = 60.0
NEGATIVE_TTL = 2.0

Locate = Callable[[str], Awaitable[tuple[str, ...]]]


@dataclass
class _Known:
    bases: tuple[str, ...]
    until: float


class VodLocator:
    def __init__(self, locate: Locate, own_url: Callable[[], str]) -> None:
        self._locate = locate
        self._own_url = own_url
        self.table = UpstreamTable()
        self._known: dict[str, _Known] = {}
        self._asking: dict[str, trio.Event] = {}

    async def bases(self, vod_id: str) -> tuple[str, ...]:
        """Upstream base URLs for `vod_id` (also set in `table`); empty: nowhere."""
        while True:
            known = self._known.get(vod_id)
            if known is not None and known.until > trio.current_time():
                return known.bases
            asking = self._asking.get(vod_id)
            if asking is None:
                break
            await asking.wait()
        self._asking[vod_id] = event = trio.Event()
        try:
            bases = await self._ask(vod_id)
            ttl = TTL if bases else NEGATIVE_TTL
            if len(self._known) > 4096:
                self._known.clear()  # a cache of the control plane's answers only
            self._known[vod_id] = _Known(bases, trio.current_time() + ttl)
            self.table.set(vod_id, bases)
            return bases
        finally:
            del self._asking[vod_id]
            event.set()

    async def _ask(self, vod_id: str) -> tuple[str, ...]:
        own = self._own_url().rstrip("/")
        try:
            urls = await self._locate(vod_id)
        except Exception as exc:  # control plane away: this request finds nothing
            log.info("VOD %s not located: %s", vod_id, exc)
            return ()
        return tuple(u.rstrip("/") for u in urls if u and u.rstrip("/") != own)
