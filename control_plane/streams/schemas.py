"""Request and response bodies of the channel and stream routes."""

from __future__ import annotations

import msgspec

from control_plane.store.channels import Channel
from control_plane.timestamps import iso


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


class SrtIngestOut(msgspec.Struct, kw_only=True):
    """Where to push MPEG-TS over SRT. Encoders take either the whole `url` (ffmpeg, OBS's
    Server field) or the `address` and a stream id apart (hardware encoders, vMix): the
    bare key or the access-control form, the node takes both. Where the key is not known
    to the answer, it stands as `{stream_key}`."""

    url: str  # srt://host:port?streamid=KEY
    address: str  # srt://host:port
    stream_id: str  # KEY
    access_control_stream_id: str  # #!::r=KEY,m=publish


class IngestOut(msgspec.Struct, kw_only=True):
    node: str
    url: str  # RTMP: rtmp://host:port/live (the stream key is the stream name)
    srt: SrtIngestOut | None = None  # None when the node takes no SRT
    # WHIP (WebRTC): POST the SDP offer here with `Authorization: Bearer STREAM_KEY`.
    whip_url: str | None = None


class IngestEntry(msgspec.Struct, kw_only=True):
    node: str
    region: str
    url: str
    priority: int  # 0 is the best for the asking address
    default: bool
    srt: SrtIngestOut | None = None
    whip_url: str | None = None  # with `{channel}` standing for the channel's name


class IngestList(msgspec.Struct, kw_only=True):
    ingests: list[IngestEntry]


class RecommendedAudio(msgspec.Struct, kw_only=True):
    codec: str
    bitrate: int
    sample_rate: int
    channels: int


class Recommended(msgspec.Struct, kw_only=True):
    """What a broadcaster is asked to send (the ladder is cut from it)."""

    keyframe_interval_seconds: int
    rate_control: str
    video_codec: str
    max_width: int
    max_height: int
    max_fps: int
    max_video_bitrate: int
    audio: RecommendedAudio


RECOMMENDED = Recommended(
    keyframe_interval_seconds=2,
    rate_control="CBR",
    video_codec="h264",
    max_width=1920,
    max_height=1080,
    max_fps=60,
    max_video_bitrate=6_000_000,
    audio=RecommendedAudio(codec="aac", bitrate=128_000, sample_rate=48_000, channels=2),
)


class StreamStartOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    stream_id: str | None
    channel: str
    primary: IngestOut
    backup: IngestOut | None
    recommended: Recommended
    stream_key: str | None = None  # only when the stream key was the bearer


class LiveStreamOut(msgspec.Struct, kw_only=True):
    """A live (or reconnecting) stream as viewers see it. The origin's figures are
    null until the origin has reported the stream."""

    channel: str
    stream_id: str
    title: str
    category: str
    status: str  # live, reconnecting
    viewer_count: int
    peak_viewers: int
    started_at: str
    origin_node: str
    manifest_url: str
    chat_websocket: str
    renditions: list[str]
    ingest_bitrate: int | None  # bits per second
    ingest_fps: float | None
    transcode_lag: float | None  # seconds behind real time
    thumbnail_url: str | None
    # How the broadcaster publishes now ("rtmp", "srt", "whip"; a reconnect may switch):
    # null for a stream whose protocol was not recorded.
    ingest_protocol: str | None = None


class StreamPage(msgspec.Struct, kw_only=True):
    total: int
    limit: int
    offset: int
    streams: list[LiveStreamOut]


class StreamEndOut(msgspec.Struct, kw_only=True):
    stream_id: str
    channel: str
    status: str


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
