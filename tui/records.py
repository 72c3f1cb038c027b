"""What the control plane's API answers, as frozen records.

Parsing is deliberately forgiving: the TUI must keep working while the API grows,
so a missing or mistyped field becomes None (shown as "-") instead of an error.
Only the identity of a record (a node's name, a stream's id) is required.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NODE_STATUSES = ("pending", "healthy", "degraded", "unhealthy", "draining", "revoked")


class RecordError(ValueError):
    """A record lacks the field that identifies it."""


def _num(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = _num(data, key)
    return None if value is None else int(value)


def _str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _strings(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(str(item) for item in value if isinstance(item, str | int | float))


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _dicts(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key)
    if isinstance(value, Mapping):
        # Some APIs key checks by name: {"cache_writable": {"ok": true, ...}}.
        return [{"name": name, **item} for name, item in value.items() if isinstance(item, Mapping)]
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _timestamp(data: Mapping[str, Any], key: str) -> float | None:
    """Unix seconds, from a number or an ISO 8601 string."""
    value = data.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    return None


def _required(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise RecordError(f"{what} without {key!r}")
    return value


@dataclass(frozen=True, slots=True)
class Load:
    cpu: float | None = None
    egress_bps: float | None = None
    cache_bytes: float | None = None
    cache_hit_ratio: float | None = None
    streams_originated: int | None = None
    viewer_sessions: int | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Load:
        return cls(
            cpu=_num(data, "cpu"),
            egress_bps=_num(data, "egress_bps"),
            cache_bytes=_num(data, "cache_bytes"),
            cache_hit_ratio=_num(data, "cache_hit_ratio"),
            streams_originated=_int(data, "streams_originated"),
            viewer_sessions=_int(data, "viewer_sessions"),
        )


@dataclass(frozen=True, slots=True)
class Capacity:
    egress_bps: float | None = None
    max_streams: int | None = None
    cache_bytes: float | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Capacity:
        return cls(
            egress_bps=_num(data, "egress_bps"),
            max_streams=_int(data, "max_streams"),
            cache_bytes=_num(data, "cache_bytes"),
        )


@dataclass(frozen=True, slots=True)
class Encoder:
    name: str
    hardware: bool | None
    usable: bool | None
    detail: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Encoder:
        return cls(
            name=_str(data, "name") or "?",
            hardware=_bool(data, "hardware"),
            usable=_bool(data, "usable"),
            detail=_str(data, "detail") or "",
        )


@dataclass(frozen=True, slots=True)
class TurnupCheck:
    name: str
    ok: bool | None
    detail: str

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> TurnupCheck:
        return cls(
            name=_str(data, "name") or "?",
            ok=_bool(data, "ok"),
            detail=_str(data, "detail") or "",
        )


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    status: str | None = None
    region: str | None = None
    roles: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    http_url: str | None = None
    rtmp_url: str | None = None
    last_report_age: float | None = None
    draining: bool | None = None
    approved: bool | None = None
    load: Load = Load()
    capacity: Capacity = Capacity()
    encoders: tuple[Encoder, ...] = ()
    turnup: tuple[TurnupCheck, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Node:
        return cls(
            name=_required(data, "name", "node"),
            status=_str(data, "status"),
            region=_str(data, "region"),
            roles=_strings(data, "roles"),
            prefixes=_strings(data, "prefixes"),
            http_url=_str(data, "http_url"),
            rtmp_url=_str(data, "rtmp_url"),
            last_report_age=_num(data, "last_report_age"),
            draining=_bool(data, "draining"),
            approved=_bool(data, "approved"),
            load=Load.parse(_mapping(data, "load")),
            capacity=Capacity.parse(_mapping(data, "capacity")),
            encoders=tuple(Encoder.parse(e) for e in _dicts(data, "encoders")),
            turnup=tuple(TurnupCheck.parse(c) for c in _dicts(data, "turnup")),
        )

    @property
    def has_nvenc(self) -> bool | None:
        if not self.encoders:
            return None
        return any("nvenc" in e.name and e.usable for e in self.encoders)


@dataclass(frozen=True, slots=True)
class Stream:
    stream_id: str
    channel: str
    title: str | None = None
    category: str | None = None
    status: str | None = None
    viewer_count: int | None = None
    peak_viewers: int | None = None
    started_at: float | None = None
    origin_node: str | None = None
    renditions: tuple[str, ...] = ()
    ingest_bitrate: float | None = None
    ingest_fps: float | None = None
    transcode_lag: float | None = None
    ingest_protocol: str | None = None  # rtmp, srt, whip (the latest publish's)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Stream:
        channel = _required(data, "channel", "stream")
        return cls(
            # Without an id the channel stands in: one live stream per channel.
            stream_id=_str(data, "stream_id") or _str(data, "id") or channel,
            channel=channel,
            title=_str(data, "title"),
            category=_str(data, "category"),
            status=_str(data, "status"),
            viewer_count=_int(data, "viewer_count"),
            peak_viewers=_int(data, "peak_viewers"),
            started_at=_timestamp(data, "started_at"),
            origin_node=_str(data, "origin_node"),
            renditions=_strings(data, "renditions"),
            ingest_bitrate=_num(data, "ingest_bitrate"),
            ingest_fps=_num(data, "ingest_fps"),
            transcode_lag=_num(data, "transcode_lag"),
            ingest_protocol=_str(data, "ingest_protocol"),
        )


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    title: str | None = None
    category: str | None = None
    stream_key: str | None = None  # present only in the answer that created or rotated it

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Channel:
        return cls(
            name=_required(data, "name", "channel"),
            title=_str(data, "title"),
            category=_str(data, "category"),
            stream_key=_str(data, "stream_key"),
        )


@dataclass(frozen=True, slots=True)
class EnrollmentToken:
    id: str
    node_name: str | None = None
    expires_at: float | None = None
    state: str | None = None  # unused, used, expired
    used_by: str | None = None
    manual_approval: bool | None = None
    token: str | None = None  # the secret: present only in the answer that created it

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> EnrollmentToken:
        state = _str(data, "state")
        if state is None and "used_at" in data:
            state = "unused" if data["used_at"] is None else "used"
        return cls(
            id=_required(data, "id", "enrollment token"),
            node_name=_str(data, "node_name"),
            expires_at=_timestamp(data, "expires_at"),
            state=state,
            used_by=_str(data, "used_by"),
            manual_approval=_bool(data, "manual_approval"),
            token=_str(data, "token"),
        )
