"""Request bodies of the VOD and clip routes (responses are plain dicts from the
services, shaped in one place there)."""

from __future__ import annotations

import msgspec


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Request bodies: unknown fields are refused, not ignored."""


class ClipCreate(Body):
    duration_seconds: float
    channel: str | None = None
    stream_id: str | None = None
    # Seconds from the broadcast's start; negative counts back from the live edge;
    # absent: the last `duration_seconds`.
    offset_seconds: float | None = None


class LocationAdd(Body):
    node: str


class RetentionSet(Body):
    days: float
