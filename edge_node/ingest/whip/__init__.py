"""WHIP ingest (RFC 9725): WebRTC broadcasters over the node's HTTP port.

The delivery layer routes `/whip/...` to `WhipIngest` (`service`, trio), which checks the
offer (`sdp`, sans-IO), asks the control plane as RTMP does, and hands the offer to a
WebRTC worker process (`worker`, asyncio + aiortc: the two event loops never mix). The
worker turns RTP into the same `SourceEvent`s RTMP produces (`media`) and sends them back
over its stdout (`wire`); the service feeds them to the origin's sink.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WhipAccepted:
    """201: the session's id (its resource is /whip/<channel>/<session>) and SDP answer."""

    session: str
    answer: str


@dataclass(frozen=True, slots=True)
class WhipRefused:
    """An HTTP status (400, 401, 403, 404, 413, 415, 503) and a reason for the client."""

    status: int
    reason: str


WhipOutcome = WhipAccepted | WhipRefused
