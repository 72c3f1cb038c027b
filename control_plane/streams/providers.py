"""Channels, streams and the viewer entry point as a domain of the app."""

from __future__ import annotations

from control_plane import clients
from control_plane.domain import Domain, provide
from control_plane.services import Services
from control_plane.streams.routes import (
    ChannelController,
    IngestController,
    PlayController,
    StreamController,
)


def domain(services: Services) -> Domain:
    config = services.config
    return Domain(
        route_handlers=[ChannelController, StreamController, IngestController, PlayController],
        dependencies={
            "channel_service": provide(services.channels),
            "listings": provide(services.catalog.listings),
            "placement": provide(services.catalog.placement),
            "publishing": provide(services.publishing),
            # Per app, not per class: each app (each test) counts its own play requests.
            "limiter": provide(clients.RateLimiter(config.routing.play_rate_per_minute, 60.0)),
            "proxies": provide(clients.TrustedProxies.parse(config.http.trusted_proxies)),
        },
    )
