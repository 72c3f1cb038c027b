"""Clips: asked over HTTP, cut by the stream's origin, answered with `ClipDone`.

ClipService(db, fleet, clock)
create(requested_by, channel=None, stream_id=None, duration, offset) -> dict
    422 when the range is not in the broadcast so far (the origin checks its
    exact window again and fails the clip if it no longer holds it), 429 over
    the per-user limit, 503 when the origin is not connected
done(node, request: ClipDoneRequest)        from the origin
describe(clip_id) -> dict
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from control_plane.errors import NotFound, TooManyRequests, Unavailable, Unprocessable
from control_plane.fleet.service import FleetService
from control_plane.store import streams as stream_store
from control_plane.timestamps import iso
from shared.fleet import fleet_pb2

MIN_SECONDS, MAX_SECONDS = 5.0, 60.0
PER_USER_PER_HOUR = 20
HOUR = 3600.0


def new_clip_id() -> str:
    return "cl_" + secrets.token_hex(8)


class ClipService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        fleet: FleetService,
        clock: Callable[[], float] = time.time,
        per_user_per_hour: int = PER_USER_PER_HOUR,
    ) -> None:
        self._db = db
        self._fleet = fleet
        self._clock = clock
        self._per_hour = per_user_per_hour

    def create(
        self,
        requested_by: str,
        *,
        channel: str | None,
        stream_id: str | None,
        duration: float,
        offset: float | None,
    ) -> dict[str, Any]:
        if not MIN_SECONDS <= duration <= MAX_SECONDS:
            raise Unprocessable(f"duration_seconds is {MIN_SECONDS:g} to {MAX_SECONDS:g}")
        stream = self._stream(channel, stream_id)
        now = self._clock()
        # The broadcast so far, by the control plane's clock; the origin has the
        # exact window. No offset: the last `duration` seconds.
        elapsed = now - stream.started_at
        start = -duration if offset is None else offset
        if (start >= 0 and start + duration > elapsed) or (start < 0 and -start > elapsed):
            raise Unprocessable("that range is not in the broadcast's window")
        if start < 0 and start + duration > 1e-6:
            raise Unprocessable("a range counted from the live edge must end by it")
        self._check_limit(requested_by, now)
        clip_id = new_clip_id()
        order = fleet_pb2.CutClip(
            clip_id=clip_id, stream_id=stream.id, offset_seconds=start, duration_seconds=duration
        )
        if not self._fleet.push(stream.origin_node, fleet_pb2.Command(cut_clip=order)):
            raise Unavailable("the stream's origin is not connected")
        row = {
            "id": clip_id,
            "stream_id": stream.id,
            "channel": stream.channel,
            "origin_node": stream.origin_node,
            "offset_seconds": start,
            "duration": duration,
            "requested_by": requested_by,
            "status": "processing",
            "error": "",
            "size": 0,
            "created_at": now,
            "ready_at": None,
        }
        with self._db.conn:
            self._db.execute(
                f"INSERT INTO clips ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
        return self._out(row)

    def _stream(self, channel: str | None, stream_id: str | None) -> stream_store.Stream:
        if stream_id:
            stream = stream_store.get(self._db, stream_id)
        elif channel:
            stream = stream_store.current_for_channel(self._db, channel)
        else:
            raise Unprocessable('give "channel" or "stream_id"')
        if stream is None or stream.status not in stream_store.ACTIVE:
            raise Unprocessable("clips are cut from a live stream's window")
        return stream

    def _check_limit(self, requested_by: str, now: float) -> None:
        found = self._db.execute(
            "SELECT COUNT(*), MIN(created_at) FROM clips WHERE requested_by = ? AND created_at > ?",
            [requested_by, now - HOUR],
        ).fetchone()
        if found[0] >= self._per_hour:
            retry = max(1, int(found[1] + HOUR - now) + 1)
            raise TooManyRequests(f"at most {self._per_hour} clips an hour", retry)

    def done(self, node: str, request: fleet_pb2.ClipDoneRequest) -> None:
        row = self._row(request.clip_id)
        if row is None or row["origin_node"] != node:
            raise NotFound(f"no clip {request.clip_id!r} asked of {node!r}")
        values = (
            ("ready", "", request.size_bytes, request.duration_seconds)
            if request.ok
            else ("failed", request.error or "failed", 0, row["duration"])
        )
        with self._db.conn:
            self._db.execute(
                "UPDATE clips SET status = ?, error = ?, size = ?, duration = ?, ready_at = ? "
                "WHERE id = ?",
                [*values, self._clock(), request.clip_id],
            )

    def describe(self, clip_id: str) -> dict[str, Any]:
        row = self._row(clip_id)
        if row is None:
            raise NotFound(f"no clip {clip_id!r}")
        return self._out(row)

    def _out(self, row: dict[str, Any]) -> dict[str, Any]:
        url = None
        if row["status"] == "ready":
            try:
                base = self._fleet.require(row["origin_node"]).http_url.rstrip("/")
                url = f"{base}/vod/clips/{row['id']}.mp4"
            except NotFound:
                url = None
        return {
            "id": row["id"],
            "status": row["status"],
            "channel": row["channel"],
            "stream_id": row["stream_id"],
            "offset_seconds": row["offset_seconds"],
            "duration_seconds": row["duration"],
            "size_bytes": row["size"],
            "error": row["error"] or None,
            "url": url,
            "created_at": iso(row["created_at"]),
        }

    def _row(self, clip_id: str) -> dict[str, Any] | None:
        rows = list(self._db.query("SELECT * FROM clips WHERE id = ?", [clip_id]))
        return rows[0] if rows else None
