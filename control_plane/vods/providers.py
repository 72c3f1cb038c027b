"""VODs, retention and clips as a domain of the app."""

from __future__ import annotations

from control_plane import clients
from control_plane.domain import Domain, provide
from control_plane.services import Services
from control_plane.vods.play import VodEdges
from control_plane.vods.routes import ClipController, RetentionController, VodController


def domain(services: Services) -> Domain:
    fleet = services.fleet
    edges = VodEdges(
        services.catalog.routing,
        lambda: fleet.loads,
        services.config.routing.spill_threshold,
    )
    return Domain(
        route_handlers=[VodController, RetentionController, ClipController],
        dependencies={
            "recording": provide(services.recording),
            "edges": provide(edges),
            "proxies": provide(clients.TrustedProxies.parse(services.config.http.trusted_proxies)),
        },
    )
