"""Prometheus metrics, on a registry of their own so several apps (tests) coexist."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.nodes = Gauge("glasscast_nodes", "Nodes by status", ["status"], registry=self.registry)
        self.live_streams = Gauge(
            "glasscast_live_streams", "Streams live or reconnecting", registry=self.registry
        )
        self.viewers = Gauge(
            "glasscast_viewers", "Viewers across all streams", registry=self.registry
        )
        self.api_requests = Counter(
            "glasscast_api_requests",
            "HTTP API requests",
            ["method", "status"],
            registry=self.registry,
        )
        self.fleet_reports = Counter(
            "glasscast_fleet_reports", "Node reports received", registry=self.registry
        )
