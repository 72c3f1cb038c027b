"""The recording services of one control plane, shared by its HTTP routes and its
fleet servicer.

`Services` is built elsewhere and fixed; until it carries these, `attach` makes them
once per `Services` (keyed by its fleet service, which both sides hold) and
`attached` finds them again from the servicer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from control_plane.fleet.service import FleetService
from control_plane.vods.clips import ClipService
from control_plane.vods.service import VodService

if TYPE_CHECKING:  # services.py imports the servicer, which imports this module
    from control_plane.services import Services


@dataclass(frozen=True, slots=True)
class Recording:
    vods: VodService
    clips: ClipService


_BY_FLEET: dict[int, tuple[FleetService, Recording]] = {}


def attach(services: Services) -> Recording:
    """This control plane's recording services, made on first use."""
    found = _BY_FLEET.get(id(services.fleet))
    if found is not None and found[0] is services.fleet:
        return found[1]
    recording = Recording(
        VodService(services.db, services.fleet), ClipService(services.db, services.fleet)
    )
    _BY_FLEET[id(services.fleet)] = (services.fleet, recording)
    return recording


def attached(fleet: FleetService) -> Recording | None:
    found = _BY_FLEET.get(id(fleet))
    return found[1] if found is not None and found[0] is fleet else None
