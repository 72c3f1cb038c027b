"""The operator's endpoints as a domain of the app."""

from __future__ import annotations

from control_plane.domain import Domain, provide
from control_plane.ops.routes import events, healthz, metrics
from control_plane.services import Services


def domain(services: Services) -> Domain:
    return Domain(
        route_handlers=[healthz, metrics, events],
        dependencies={
            "db": provide(services.db),
            "fleet": provide(services.fleet),
            "registry": provide(services.metrics.registry),
            "bus": provide(services.events),
        },
    )
