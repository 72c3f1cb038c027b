"""What a broadcaster is told to push to on a node, for every protocol the node takes.

RTMP's URL is the node's own report; SRT's address is reported too (nodes without SRT
report none); WHIP lives on the node's HTTP port, at `/whip/{channel}`. Answers that
know no stream key or channel (the public ingest list; a start with the admin token)
carry placeholders instead, spelled like URI templates.
"""

from __future__ import annotations

from urllib.parse import quote

from control_plane.routing.select import NodeView
from control_plane.streams.schemas import IngestOut, SrtIngestOut

STREAM_KEY_PLACEHOLDER = "{stream_key}"
CHANNEL_PLACEHOLDER = "{channel}"


def srt_ingest(node: NodeView, stream_key: str | None) -> SrtIngestOut | None:
    if not node.srt_url:
        return None
    key = stream_key or STREAM_KEY_PLACEHOLDER
    # Keys are URL-safe; a placeholder stays readable rather than percent-encoded.
    in_url = quote(key, safe="") if stream_key else key
    return SrtIngestOut(
        url=f"{node.srt_url}?streamid={in_url}",
        address=node.srt_url,
        stream_id=key,
        access_control_stream_id=f"#!::r={key},m=publish",
    )


def whip_url(node: NodeView, channel: str | None) -> str | None:
    if not node.http_url:
        return None
    name = quote(channel, safe="") if channel else CHANNEL_PLACEHOLDER
    return f"{node.http_url.rstrip('/')}/whip/{name}"


def ingest_out(node: NodeView, channel: str, stream_key: str | None) -> IngestOut:
    return IngestOut(
        node=node.name,
        url=node.rtmp_url,
        srt=srt_ingest(node, stream_key),
        whip_url=whip_url(node, channel),
    )
