"""The pages as a domain of the app.

`build(deps)` is the pages on their own, over any `WebDeps` (the browser tests
serve them with fakes); `domain(services)` answers from the control plane's channels.
"""

from __future__ import annotations

from control_plane.domain import Domain, provide
from control_plane.services import Services
from control_plane.web.deps import WebDeps
from control_plane.web.routes import PageController, static_files


def domain(services: Services) -> Domain:
    return build(WebDeps(channel_exists=services.channels.exists))


def build(deps: WebDeps) -> Domain:
    return Domain(
        route_handlers=[PageController, static_files()], dependencies={"web": provide(deps)}
    )
