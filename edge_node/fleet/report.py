"""Turning a node's state into the `NodeReport` it sends every report interval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from edge_node.turnup import Check
from shared.config import EdgeConfig
from shared.fleet import fleet_pb2 as pb

VERSION = "0.1.0"


@dataclass(frozen=True)
class StreamLoad:
    """What one stream costs and carries at this node right now."""

    stream_id: str
    channel: str = ""
    origin: bool = False
    session_hashes: frozenset[int] = frozenset()
    ingest_bitrate: float = 0.0
    ingest_fps: float = 0.0
    transcode_lag: float = 0.0
    renditions: tuple[str, ...] = ()
    state: str = "live"
    media_sequence: int = 0
    discontinuity_sequence: int = 0


@dataclass(frozen=True)
class EncoderInfo:
    name: str
    hardware: bool
    usable: bool
    detail: str = ""


@dataclass(frozen=True)
class NodeSnapshot:
    """What this node measures and carries right now: the makings of one `NodeReport`."""

    cpu: float = 0.0
    egress_bps: int = 0
    cache_bytes: int = 0
    cache_hit_ratio: float = 0.0
    encoder_sessions: int = 0
    streams: tuple[StreamLoad, ...] = ()
    checks: tuple[Check, ...] = ()
    encoders: tuple[EncoderInfo, ...] = field(default_factory=tuple)


def build_report(
    config: EdgeConfig, http_url: str, rtmp_url: str, snapshot: NodeSnapshot, *, srt_url: str = ""
) -> pb.NodeReport:
    node = config.node
    report = pb.NodeReport(
        roles=node.roles,
        region=node.region,
        prefixes=node.prefixes,
        http_url=http_url,
        rtmp_url=rtmp_url,
        srt_url=srt_url,
        version=VERSION,
        capacity=pb.Capacity(
            egress_bps=node.egress_capacity_bps,
            max_streams=node.max_streams,
            encoder_sessions=node.max_streams if "transcode" in node.roles else 0,
            cache_bytes=config.cache.max_bytes,
        ),
        load=pb.Load(
            cpu=snapshot.cpu,
            egress_bps=snapshot.egress_bps,
            cache_bytes=snapshot.cache_bytes,
            cache_hit_ratio=snapshot.cache_hit_ratio,
            streams_originated=sum(1 for s in snapshot.streams if s.origin),
            viewer_sessions=sum(len(s.session_hashes) for s in snapshot.streams),
            encoder_sessions=snapshot.encoder_sessions,
        ),
        streams=[_stream(s) for s in snapshot.streams],
        turnup=[pb.TurnupCheck(name=c.name, ok=c.ok, detail=c.detail) for c in snapshot.checks],
        encoders=[
            pb.Encoder(name=e.name, hardware=e.hardware, usable=e.usable, detail=e.detail)
            for e in snapshot.encoders
        ],
    )
    if node.latitude is not None:
        report.latitude = node.latitude
    if node.longitude is not None:
        report.longitude = node.longitude
    return report


def _stream(s: StreamLoad) -> pb.StreamReport:
    return pb.StreamReport(
        stream_id=s.stream_id,
        channel=s.channel,
        origin=s.origin,
        viewer_sessions=len(s.session_hashes),
        session_hashes=sorted(s.session_hashes),
        ingest_bitrate=s.ingest_bitrate,
        ingest_fps=s.ingest_fps,
        transcode_lag=s.transcode_lag,
        renditions=list(s.renditions),
        state=s.state,
        media_sequence=s.media_sequence,
        discontinuity_sequence=s.discontinuity_sequence,
    )


def merge_streams(
    origin: Iterable[StreamLoad], sessions: Mapping[str, frozenset[int] | set[int]]
) -> tuple[StreamLoad, ...]:
    """Streams this node originates plus streams it only serves, with their viewers."""
    merged: dict[str, StreamLoad] = {}
    for s in origin:
        merged[s.stream_id] = s
    for stream_id, hashes in sessions.items():
        base = merged.get(stream_id, StreamLoad(stream_id=stream_id))
        merged[stream_id] = replace(base, session_hashes=frozenset(hashes))
    return tuple(merged.values())
