"""The recording services of one control plane, shared by its HTTP routes and its
fleet servicer (nodes report finished VODs and clips over the fleet protocol)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from control_plane.fleet.service import FleetService
from control_plane.vods.clips import ClipService
from control_plane.vods.service import VodService


@dataclass(frozen=True, slots=True)
class Recording:
    vods: VodService
    clips: ClipService

    @classmethod
    def build(cls, db: sqlite_utils.Database, fleet: FleetService) -> Recording:
        return cls(VodService(db, fleet), ClipService(db, fleet))
