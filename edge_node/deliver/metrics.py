"""Delivery metrics in a registry of their own (so several apps can live in one process)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

from edge_node.deliver.cache import CacheStats


def _stat(stats: Callable[[], CacheStats | None], field: str) -> float:
    return float(getattr(stats(), field, 0))


class _CacheCounters:
    """Counters the cache keeps itself, read when scraped (a true counter type, so
    `rate()` applies; the cache counts without knowing about prometheus)."""

    def __init__(self, stats: Callable[[], CacheStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "glasscast_cache_space_refusals",
            "Objects the segment cache refused for lack of disk space (served uncached)",
            value=_stat(self._stats, "space_refusals"),
        )


class DeliveryMetrics:
    def __init__(
        self,
        cache_stats: Callable[[], CacheStats | None],
        sessions: Callable[[], dict[str, set[int]]],
    ) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "glasscast_http_requests",
            "HTTP requests answered",
            ["kind", "status", "cache"],
            registry=self.registry,
        )
        self._bytes_sent = Counter(
            "glasscast_http_sent_bytes", "Body bytes answered", registry=self.registry
        )
        self._upstream = Counter(
            "glasscast_upstream_requests",
            "Requests to the upstream tier",
            ["result"],
            registry=self.registry,
        )
        self._upstream_latency = Histogram(
            "glasscast_upstream_head_seconds",
            "Time to the upstream response head",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        for name, doc, field in (
            ("glasscast_cache_bytes", "Bytes in the segment cache", "bytes"),
            ("glasscast_cache_entries", "Objects in the segment cache", "entries"),
            ("glasscast_cache_hits", "Segment cache hits since start", "hits"),
            ("glasscast_cache_misses", "Segment cache misses since start", "misses"),
            ("glasscast_cache_evictions", "Segment cache evictions since start", "evictions"),
        ):
            Gauge(name, doc, registry=self.registry).set_function(
                functools.partial(_stat, cache_stats, field)
            )
        self.registry.register(_CacheCounters(cache_stats))
        self._viewers = Gauge(
            "glasscast_active_viewer_sessions",
            "Distinct viewer sessions seen in the last 15 s",
            ["stream_id"],
            registry=self.registry,
        )
        self._sessions = sessions
        # Plain counts on the hot path, moved into the prometheus counters when scraped:
        # two locked increments per request cost more than the rest of a cache hit.
        self._pending: dict[tuple[str, int, str], int] = {}
        self._pending_bytes = 0

    def request(self, kind: str, status: int, cache: str, body_bytes: int) -> None:
        key = (kind, status // 100, cache)
        self._pending[key] = self._pending.get(key, 0) + 1
        self._pending_bytes += body_bytes

    def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        for (kind, status_class, cache), n in pending.items():
            self._requests.labels(kind, f"{status_class}xx", cache).inc(n)
        if self._pending_bytes:
            self._bytes_sent.inc(self._pending_bytes)
            self._pending_bytes = 0

    @property
    def bytes_sent(self) -> Counter:
        """The body-bytes counter, brought up to date (the node's egress meter reads it)."""
        self._flush()
        return self._bytes_sent

    def upstream(self, base: str, result: str, seconds: float) -> None:
        self._upstream.labels(result).inc()
        self._upstream_latency.observe(seconds)

    def render(self) -> bytes:
        self._flush()
        self._viewers.clear()
        for stream_id, sessions in self._sessions().items():
            self._viewers.labels(stream_id).set(len(sessions))
        return generate_latest(self.registry)
