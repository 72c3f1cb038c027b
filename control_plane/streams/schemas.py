"""Request and response bodies of the channel and stream routes."""

from __future__ import annotations

from typing import Any

import msgspec

from control_plane.store.channels import Channel
from control_plane.streams.catalog import iso


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Request bodies: unknown fields are refused, not ignored."""


class ChannelCreate(Body):
    name: str
    title: str = ""
    category: str = ""


class StreamStart(Body):
    channel: str | None = None


class ChannelOut(msgspec.Struct, kw_only=True):
    name: str
    title: str
    category: str
    stream_key_prefix: str
    created_at: str
    key_rotated_at: str | None


class ChannelWithKeyOut(ChannelOut, kw_only=True):
    stream_key: str


class IngestOut(msgspec.Struct, kw_only=True):
    node: str
    url: str


class IngestEntry(msgspec.Struct, kw_only=True):
    node: str
    region: str
    url: str
    priority: int  # 0 is the best for the asking address
    default: bool


class IngestList(msgspec.Struct, kw_only=True):
    ingests: list[IngestEntry]


class StreamStartOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    stream_id: str | None
    channel: str
    primary: IngestOut
    backup: IngestOut | None
    recommended: dict[str, Any]
    stream_key: str | None = None


class StreamPage(msgspec.Struct, kw_only=True):
    total: int
    limit: int
    offset: int
    streams: list[dict[str, Any]]


class PlayOut(msgspec.Struct, kw_only=True):
    url: str
    edge: str
    stream_id: str
    token: str


def channel_out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        name=channel.name,
        title=channel.title,
        category=channel.category,
        stream_key_prefix=channel.stream_key_prefix,
        created_at=iso(channel.created_at),
        key_rotated_at=iso(channel.key_rotated_at) if channel.key_rotated_at else None,
    )


def channel_with_key(channel: Channel, key: str) -> ChannelWithKeyOut:
    return ChannelWithKeyOut(**msgspec.structs.asdict(channel_out(channel)), stream_key=key)
