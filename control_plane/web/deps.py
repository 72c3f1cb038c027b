"""What the pages need from the rest of the control plane."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebDeps:
    channel_exists: Callable[[str], bool]
