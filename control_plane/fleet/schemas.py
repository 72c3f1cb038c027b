"""Request and response bodies of the enrollment and node routes."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from control_plane.store.enrollment import EnrollmentToken
from control_plane.store.nodes import Node
from control_plane.timestamps import iso


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Request bodies: unknown fields are refused, not ignored."""


class EnrollmentTokenCreate(Body):
    node_name: str | None = None
    ttl_seconds: int | None = None
    manual_approval: bool | None = None


class EnrollmentTokenOut(msgspec.Struct, kw_only=True):
    id: str
    token: str
    expires_at: str
    node_name: str | None


class EnrollmentTokenInfo(msgspec.Struct, kw_only=True):
    id: str
    node_name: str | None
    created_at: str
    expires_at: str
    used_at: str | None
    used_by: str | None
    manual_approval: bool
    state: str  # unused, used, expired


class EnrollBody(Body):
    token: str
    name: str
    csr: str
    roles: list[str]
    region: str = "default"
    prefixes: list[str] = msgspec.field(default_factory=list)


class EnrollOut(msgspec.Struct, kw_only=True):
    node_name: str
    certificate: str
    ca_certificate: str
    grpc_address: str
    tls_name: str
    token_public_key: str
    status: str


# What a node reported, as it reported it (`fleet.proto`'s messages of the same
# names): absent until its first report, hence every field may be missing.


class LoadOut(msgspec.Struct, kw_only=True):
    cpu: float | UnsetType = UNSET  # 0..1 of the whole machine
    egress_bps: int | UnsetType = UNSET
    cache_bytes: int | UnsetType = UNSET
    cache_hit_ratio: float | UnsetType = UNSET
    streams_originated: int | UnsetType = UNSET
    viewer_sessions: int | UnsetType = UNSET
    encoder_sessions: int | UnsetType = UNSET


class CapacityOut(msgspec.Struct, kw_only=True):
    egress_bps: int | UnsetType = UNSET
    max_streams: int | UnsetType = UNSET
    encoder_sessions: int | UnsetType = UNSET
    cache_bytes: int | UnsetType = UNSET


class EncoderOut(msgspec.Struct, kw_only=True):
    name: str | UnsetType = UNSET  # h264_nvenc, libx264, ...
    hardware: bool | UnsetType = UNSET
    usable: bool | UnsetType = UNSET
    detail: str | UnsetType = UNSET


class TurnupCheckOut(msgspec.Struct, kw_only=True):
    ok: bool | UnsetType = UNSET
    detail: str | UnsetType = UNSET


class NodeOut(msgspec.Struct, kw_only=True):
    name: str
    roles: list[str]
    region: str
    status: str
    prefixes: list[str]
    http_url: str
    rtmp_url: str
    srt_url: str
    last_report_age: float | None
    load: LoadOut
    capacity: CapacityOut
    encoders: list[EncoderOut]
    turnup: dict[str, TurnupCheckOut]  # by check name
    draining: bool
    approved: bool
    latitude: float | None
    longitude: float | None
    enrolled_at: str


def token_info(token: EnrollmentToken, now: float) -> EnrollmentTokenInfo:
    state = "used" if token.used_at else "expired" if token.expires_at < now else "unused"
    return EnrollmentTokenInfo(
        id=token.id,
        node_name=token.node_name,
        created_at=iso(token.created_at),
        expires_at=iso(token.expires_at),
        used_at=iso(token.used_at) if token.used_at else None,
        used_by=token.used_by,
        manual_approval=token.manual_approval,
        state=state,
    )


def node_out(node: Node, now: float | None = None) -> NodeOut:
    now = time.time() if now is None else now
    return NodeOut(
        name=node.name,
        roles=list(node.roles),
        region=node.region,
        status=node.status,
        prefixes=list(node.prefixes),
        http_url=node.http_url,
        rtmp_url=node.rtmp_url,
        srt_url=node.srt_url,
        last_report_age=round(now - node.last_report_at, 3) if node.last_report_at else None,
        load=_reported(node.load, LoadOut),
        capacity=_reported(node.capacity, CapacityOut),
        encoders=_reported(node.encoders, list[EncoderOut]),
        turnup=_reported(node.turnup, dict[str, TurnupCheckOut]),
        draining=node.draining,
        approved=node.approved,
        latitude=node.latitude,
        longitude=node.longitude,
        enrolled_at=iso(node.enrolled_at),
    )


T = TypeVar("T")


def _reported(stored: Any, kind: type[T]) -> T:
    """A node's report as stored (decoded JSON) in its typed shape: keys it did not
    send stay absent, keys no version of the protocol has are dropped."""
    return msgspec.convert(stored, kind)
