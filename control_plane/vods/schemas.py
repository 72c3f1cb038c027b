"""Request and response bodies of the VOD and clip routes.

The services shape their answers as plain dicts (`VodService`, `ClipService`); the
routes turn them into these types with `msgspec.convert`. The response types refuse
a key they do not declare, so a field added on one side and not the other fails the
tests rather than vanishing from the API.
"""

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


class Out(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Response bodies: converted from the services' dicts, every key declared."""


class VodRenditionOut(Out):
    name: str
    width: int
    height: int
    bandwidth: int  # bits per second


class VodLocationOut(Out):
    node: str
    replica: bool  # a copy, not the origin's recording
    http_url: str  # empty when the node is no longer enrolled
    recorded_at: str


class VodOut(Out):
    id: str
    stream_id: str
    channel: str
    origin_node: str
    duration_seconds: float
    size_bytes: int
    renditions: list[VodRenditionOut]
    storage_tier: str
    locations: list[VodLocationOut]
    # Paths on any edge (`/vod/{id}/...`); null when the recording has no such file.
    playlist_path: str
    mp4_path: str | None
    thumbnail_path: str | None
    thumbnails_vtt_path: str | None
    ended_at: str
    expires_at: str


class VodChatMessageOut(Out):
    id: str
    offset_seconds: float  # from the broadcast's start
    name: str
    color: str
    role: str
    content: str


class VodChatOut(Out):
    vod_id: str
    messages: list[VodChatMessageOut]


class VodPlayOut(Out):
    vod_id: str
    edge: str
    url: str


class LocationAddedOut(Out):
    vod_id: str
    node: str
    copy_requested: bool  # false when the node has no open session to ask


class RetentionOut(Out):
    channel: str
    days: float


class RetentionSetOut(Out):
    channel: str
    days: float
    vods_updated: int


class ClipOut(Out):
    id: str
    status: str  # processing, ready, failed
    channel: str
    stream_id: str
    offset_seconds: float
    duration_seconds: float
    size_bytes: int
    error: str | None
    url: str | None  # once ready
    created_at: str
