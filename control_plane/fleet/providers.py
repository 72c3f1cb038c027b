"""Enrollment and the operator's node actions as a domain of the app."""

from __future__ import annotations

from control_plane.domain import Domain, provide
from control_plane.fleet.routes import EnrollController, EnrollmentTokenController, NodeController
from control_plane.services import Services


def domain(services: Services) -> Domain:
    return Domain(
        route_handlers=[EnrollmentTokenController, EnrollController, NodeController],
        dependencies={
            "enrollment": provide(services.enrollment),
            "fleet": provide(services.fleet),
            # Revoking a node ends the streams it was the origin of.
            "publishing": provide(services.publishing),
        },
    )
