"""Delivery metrics in a registry of their own (so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class DeliveryMetrics:
    def __init__(
        self,
        cache_bytes: Callable[[], float],
        sessions: Callable[[], dict[str, set[int]]],
    ) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "glasscast_http_requests",
            "HTTP requests answered",
            ["kind", "status", "cache"],
            registry=self.registry,
        )
        self.bytes_sent = Counter(
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
        Gauge(
            "glasscast_cache_bytes", "Bytes in the segment cache", registry=self.registry
        ).set_function(cache_bytes)
        self._viewers = Gauge(
            "glasscast_active_viewer_sessions",
            "Distinct viewer sessions seen in the last 15 s",
            ["stream_id"],
            registry=self.registry,
        )
        self._sessions = sessions
        self._children: dict[tuple[str, int, str], Counter] = {}

    def request(self, kind: str, status: int, cache: str, body_bytes: int) -> None:
        key = (kind, status, cache)
        child = self._children.get(key)
        if child is None:
            child = self._requests.labels(kind, f"{status // 100}xx", cache)
            self._children[key] = child
        child.inc()
        if body_bytes:
            self.bytes_sent.inc(body_bytes)

    def upstream(self, base: str, result: str, seconds: float) -> None:
        self._upstream.labels(result).inc()
        self._upstream_latency.observe(seconds)

    def render(self) -> bytes:
        self._viewers.clear()
        for stream_id, sessions in self._sessions().items():
            self._viewers.labels(stream_id).set(len(sessions))
        return generate_latest(self.registry)
