"""What one domain of the HTTP API contributes to the app, the same way for every domain.

Each domain (streams, fleet, vods, chat, web, ops) has a `providers` module whose
`domain(services)` returns a `Domain`: its route handlers, the dependencies those
handlers ask for by name (exactly what they use, not the whole `Services`), and any
app plugins they rely on. `control_plane.app.assemble` mounts each domain on a
router of its own, so one domain's dependencies are invisible to the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from litestar.di import Provide
from litestar.plugins import PluginProtocol
from litestar.types import ControllerRouterHandler


@dataclass(frozen=True, slots=True)
class Domain:
    route_handlers: Sequence[ControllerRouterHandler]
    # By parameter name, for this domain's handlers only.
    dependencies: Mapping[str, Provide] = field(default_factory=dict)
    # Registered on the app in this order (chat's channels plugin before its room pumps).
    plugins: Sequence[PluginProtocol] = ()


def provide(value: object) -> Provide:
    """A dependency that is always `value`: the services are built once per app, not
    per request."""
    return Provide(lambda: value, sync_to_thread=False, use_cache=True)
