"""Pull-through from the upstream tier with request collapsing and failover.

Concurrent misses for one object share one upstream request (a `Fill` every waiter
tails). Playlist answers are collapsed the same way and kept for a moment so that a
crowd of blocking reloads for `_HLS_msn=N&_HLS_part=M` costs one upstream request.
The upstream for a stream is an ordered list (shield, then origin); a base that fails
is skipped for `RETRY_AFTER` seconds, after which it is tried again, so traffic returns
to a recovered shield by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import httpx
import trio

from edge_node.deliver.cache import CacheFill, SegmentCache
from edge_node.deliver.fill import Fill
from edge_node.deliver.nodeauth import NodeSigner

log = logging.getLogger(__name__)

RETRY_AFTER = 2.0
PLAYLIST_TTL = 0.25
BLOCKING_PLAYLIST_TTL = 1.0
# A 404 for a stream is news for a while (no upstream storm for unknown ids); for a
# file it may stop being true at the next part, so it is kept only a moment.
NEGATIVE_TTL = 1.0
NEGATIVE_FILE_TTL = 0.25
TIMEOUT = httpx.Timeout(connect=1.0, read=10.0, write=5.0, pool=5.0)

# (base URL, status or error name, seconds to the response head)
Observer = Callable[[str, str, float], None]


class UpstreamEntry(Protocol):
    """The fields used from `fleet_pb2.Upstream`."""

    stream_id: str
    origin_http_url: str
    shield_http_url: str


class UpstreamTable:
    """Per stream, the ordered upstream base URLs (set from the control plane)."""

    def __init__(self) -> None:
        self._bases: dict[str, tuple[str, ...]] = {}
        # False until the control plane has said what this node carries: until then an
        # unknown stream is "not ready" (503), not "absent" (404).
        self.received = False

    def set(self, stream_id: str, bases: Iterable[str]) -> None:
        self._bases[stream_id] = tuple(b.rstrip("/") for b in bases if b)
        self.received = True

    def replace(self, entries: Iterable[UpstreamEntry]) -> None:
        """Apply an `UpstreamUpdate`: the full set, shield first when there is one."""
        self.received = True
        self._bases = {
            e.stream_id: tuple(u.rstrip("/") for u in (e.shield_http_url, e.origin_http_url) if u)
            for e in entries
        }

    def bases(self, stream_id: str) -> tuple[str, ...]:
        """Empty when this node is the stream's origin or does not carry it."""
        return self._bases.get(stream_id, ())


class _Retry(Exception):
    """This base failed; try the next one. `status` is its 5xx answer, if it gave one."""

    def __init__(self, status: int = 0) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class _Remembered:
    fill: Fill
    expires: float


class Upstream:
    """The pooled client and the in-flight fills; run `run` in the node's nursery."""

    def __init__(
        self,
        table: UpstreamTable,
        cache: SegmentCache | None,
        *,
        signer: NodeSigner | None = None,
        observe: Observer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self.table = table
        self._retry_after = retry_after
        self._cache = cache
        self._signer = signer
        # Replaced by the app with its metrics hook when none is given.
        self.observe: Observer | None = observe
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._nursery: trio.Nursery | None = None
        self._inflight: dict[str, Fill] = {}
        self._recent: dict[str, _Remembered] = {}
        self._down_until: dict[str, float] = {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
        async with httpx.AsyncClient(
            timeout=TIMEOUT, limits=limits, transport=self._transport
        ) as client:
            try:
                async with trio.open_nursery() as nursery:
                    self._client, self._nursery = client, nursery
                    task_status.started()
                    await trio.sleep_forever()
            finally:
                self._client = self._nursery = None

    def fetch(self, stream_id: str, path: str, *, cache_key: str | None, ttl: float = 0) -> Fill:
        """The fill for `path` (with its query): joined if in flight, else started.

        `cache_key` stores a 200 answer in the segment cache; `ttl` keeps the answer
        in memory for that long for later callers (playlists).
        """
        now = trio.current_time()
        remembered = self._recent.get(path)
        if remembered is not None:
            if remembered.expires > now:
                return remembered.fill
            del self._recent[path]
        fill = self._inflight.get(path)
        if fill is not None:
            return fill
        fill = Fill(path)
        bases = self.table.bases(stream_id)
        if self._nursery is None or not bases:
            fill.fail("no upstream")
            return fill
        self._inflight[path] = fill
        self._nursery.start_soon(self._fill, fill, bases, path, cache_key, ttl)
        return fill

    def _ordered(self, bases: tuple[str, ...]) -> list[str]:
        now = trio.current_time()
        up = [b for b in bases if self._down_until.get(b, 0) <= now]
        # When every base is marked down, try them anyway rather than fail outright.
        return up or list(bases)

    async def _fill(
        self, fill: Fill, bases: tuple[str, ...], path: str, cache_key: str | None, ttl: float
    ) -> None:
        writer: list[CacheFill] = []
        try:
            await self._try_bases(fill, bases, path, cache_key, ttl, writer)
        except Exception:
            # A fill is one object: whatever breaks it must not take the node down.
            log.exception("upstream fill for %s failed", path)
        finally:
            for w in writer:
                w.abort()
            fill.fail("upstream fill ended without an answer")
            del self._inflight[path]

    async def _try_bases(
        self,
        fill: Fill,
        bases: tuple[str, ...],
        path: str,
        cache_key: str | None,
        ttl: float,
        writer: list[CacheFill],
    ) -> None:
        last_5xx = 0
        for base in self._ordered(bases):
            try:
                await self._pull(fill, base, path, cache_key, writer)
            except _Retry as retry:
                self._down_until[base] = trio.current_time() + self._retry_after
                last_5xx = retry.status or last_5xx
                continue
            self._down_until.pop(base, None)
            for w in writer:
                w.commit()
            fill.finish()
            negative = fill.status == 404
            if ttl or negative:
                self._prune()
                keep = ttl
                if negative:
                    keep = NEGATIVE_FILE_TTL if cache_key else NEGATIVE_TTL
                self._recent[path] = _Remembered(fill, trio.current_time() + keep)
            return
        if last_5xx and not fill.headed:
            # Every tier said so (an origin's 503 "not ready yet"): pass that on, not 502.
            fill.start(last_5xx, b"text/plain", 0)
            fill.finish()
            return
        fill.fail("every upstream failed")

    async def _pull(
        self,
        fill: Fill,
        base: str,
        path: str,
        cache_key: str | None,
        writer: list[CacheFill],
    ) -> None:
        assert self._client is not None
        headers = {"accept-encoding": "identity"}
        if self._signer is not None:
            name, value = self._signer.header()
            headers[name] = value
        started = trio.current_time()
        try:
            async with self._client.stream("GET", base + path, headers=headers) as response:
                status = response.status_code
                self._observed(base, str(status), started)
                if status >= 500 or (fill.headed and status != fill.status):
                    raise _Retry(status if status >= 500 else 0)
                if not fill.headed:
                    length = response.headers.get("content-length", "")
                    ctype = response.headers.get("content-type", "application/octet-stream")
                    fill.start(status, ctype.encode(), int(length) if length.isdigit() else None)
                    if status == 200 and cache_key and self._cache is not None:
                        cache_fill = self._cache.begin_fill(cache_key, fill.length)
                        if cache_fill is not None:
                            writer.append(cache_fill)
                # After a failover mid-body the first `fill.size` bytes are already out.
                skip = fill.size
                async for chunk in response.aiter_raw():
                    if skip:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk, skip = chunk[skip:], 0
                    fill.append(chunk)
                    for w in writer:
                        w.write(chunk)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            self._observed(base, type(exc).__name__, started)
            log.info("upstream %s failed for %s: %r", base, path, exc)
            raise _Retry from exc

    def _observed(self, base: str, result: str, started: float) -> None:
        if self.observe is not None:
            self.observe(base, result, trio.current_time() - started)

    def _prune(self) -> None:
        if len(self._recent) < 4096:
            return
        now = trio.current_time()
        for key in [k for k, r in self._recent.items() if r.expires <= now]:
            del self._recent[key]
