"""VODs on the control plane: what nodes recorded, where copies live, how long they stay.

    VodService(db, fleet, clock)
    record(node, request: RecordVodRequest) -> float     expiry (Unix s); idempotent
    locate(vod_id, asking_node) -> list[str]             base URLs, replicas first
    listing(channel) / describe(vod_id) -> dict
    set_retention(channel, days) -> int                  VODs whose expiry moved
    add_location(vod_id, node) / remove_location(vod_id, node)
    expire() -> list[str]                                VODs past their retention
    chat(vod_id, after, limit) -> list[dict]             messages with stream offsets

A VOD is recorded by its origin; the control plane then asks the shield of the
origin's region to copy it (`ReplicateVod`), and records that copy when the shield
reports it. Retention changes and deletions go to every holder as `VodRetention`;
each node's sweeper enforces what it was told.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from control_plane.errors import Conflict, NotFound, Unavailable, Unprocessable
from control_plane.fleet.service import FleetService
from control_plane.store import streams as stream_store
from control_plane.timestamps import iso
from shared.fleet import fleet_pb2

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 60.0
DAY = 86_400.0
STORAGE_TIER = "node-disk"  # the one tier there is: the holders' VOD directories


class VodService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        fleet: FleetService,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._fleet = fleet
        self._clock = clock

    # ------------------------------------------------------------- from nodes

    def record(self, node: str, request: fleet_pb2.RecordVodRequest) -> float:
        now = self._clock()
        row = self._row(request.vod_id)
        first = row is None
        with self._db.conn:
            if row is None:
                if request.replica:
                    raise NotFound(f"no VOD {request.vod_id!r} to hold a copy of")
                self._check_origin(node, request.stream_id)
                row = self._insert(node, request, now)
            elif not request.replica and row["origin_node"] != node:
                raise Conflict(f"VOD {request.vod_id!r} was made by {row['origin_node']}")
            self._db.execute(
                """INSERT INTO vod_locations (vod_id, node, replica, recorded_at)
                   VALUES (?, ?, ?, ?) ON CONFLICT (vod_id, node) DO NOTHING""",
                [request.vod_id, node, int(request.replica), now],
            )
        if first:
            self._replicate_to_shield(request.vod_id, node)
        return float(row["expires_at"])

    def _check_origin(self, node: str, stream_id: str) -> None:
        """One VOD per broadcast: made by the origin that had it last. An origin the
        stream moved away from (a takeover) holds only a fragment of it."""
        stream = stream_store.get(self._db, stream_id)
        if stream is not None and stream.origin_node and stream.origin_node != node:
            raise Conflict(f"stream {stream_id} moved to {stream.origin_node}: not {node}'s VOD")

    def _insert(self, node: str, request: fleet_pb2.RecordVodRequest, now: float) -> dict[str, Any]:
        stream = stream_store.get(self._db, request.stream_id)
        renditions = [
            {"name": r.name, "width": r.width, "height": r.height, "bandwidth": r.bandwidth}
            for r in request.renditions
        ]
        row = {
            "id": request.vod_id,
            "stream_id": request.stream_id,
            "channel": request.channel,
            "origin_node": node,
            "duration": request.duration_seconds,
            "size": request.size_bytes,
            "renditions": json.dumps(renditions),
            "mp4": request.mp4,
            "thumbnail": request.thumbnail,
            "started_at": stream.started_at if stream is not None else None,
            "ended_at": request.ended_at or now,
            "created_at": now,
            "expires_at": (request.ended_at or now) + self.retention_days(request.channel) * DAY,
            "deleted_at": None,
        }
        self._db.execute(
            f"INSERT INTO vods ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        log.info("VOD %s of %s recorded at %s", request.vod_id, request.channel, node)
        return row

    def _replicate_to_shield(self, vod_id: str, origin: str) -> None:
        try:
            source = self._fleet.require(origin)
        except NotFound:
            return
        held = {loc["node"] for loc in self._locations(vod_id)}
        for shield in self._fleet.all():
            if "shield" in shield.roles and shield.region == source.region:
                if shield.name not in held:
                    self._push_copy(vod_id, shield.name, source.http_url)
                return

    def _push_copy(self, vod_id: str, node: str, source_url: str) -> bool:
        order = fleet_pb2.ReplicateVod(vod_id=vod_id, source_http_url=source_url)
        return self._fleet.push(node, fleet_pb2.Command(replicate_vod=order))

    def locate(self, vod_id: str, asking_node: str = "") -> list[str]:
        """Where to fetch `vod_id` from: copies before the origin, live nodes only."""
        row = self._row(vod_id)
        if row is None or row["deleted_at"] is not None:
            return []
        statuses = self._fleet.statuses()
        found = sorted(self._locations(vod_id), key=lambda loc: not loc["replica"])
        urls = []
        for loc in found:
            if loc["node"] == asking_node or statuses.get(loc["node"]) in (None, "offline"):
                continue
            url = self._http_url(loc["node"])
            if url:
                urls.append(url)
        return urls

    # --------------------------------------------------------------- reading

    def listing(self, channel: str | None, limit: int = 100) -> list[dict[str, Any]]:
        self.expire()
        where, args = "deleted_at IS NULL", []
        if channel:
            where += " AND channel = ?"
            args.append(channel)
        rows = self._db.query(
            f"SELECT * FROM vods WHERE {where} ORDER BY ended_at DESC LIMIT ?", [*args, limit]
        )
        return [self._out(row) for row in rows]

    def describe(self, vod_id: str) -> dict[str, Any]:
        self.expire()
        row = self._row(vod_id)
        if row is None or row["deleted_at"] is not None:
            raise NotFound(f"no VOD {vod_id!r}")
        return self._out(row)

    def _out(self, row: dict[str, Any]) -> dict[str, Any]:
        base = f"/vod/{row['id']}/"
        locations = [
            {
                "node": loc["node"],
                "replica": bool(loc["replica"]),
                "http_url": self._http_url(loc["node"]),
                "recorded_at": iso(loc["recorded_at"]),
            }
            for loc in self._locations(row["id"])
        ]
        return {
            "id": row["id"],
            "stream_id": row["stream_id"],
            "channel": row["channel"],
            "origin_node": row["origin_node"],
            "duration_seconds": row["duration"],
            "size_bytes": row["size"],
            "renditions": json.loads(row["renditions"]),
            "storage_tier": STORAGE_TIER,
            "locations": locations,
            "playlist_path": base + "master.m3u8",
            "mp4_path": base + row["mp4"] if row["mp4"] else None,
            "thumbnail_path": base + row["thumbnail"] if row["thumbnail"] else None,
            "thumbnails_vtt_path": base + "thumbnails.vtt" if row["thumbnail"] else None,
            "ended_at": iso(row["ended_at"]),
            "expires_at": iso(row["expires_at"]),
        }

    # ------------------------------------------------------------- operator

    def retention_days(self, channel: str) -> float:
        found = self._db.execute(
            "SELECT days FROM vod_retention WHERE channel = ?", [channel]
        ).fetchone()
        return float(found[0]) if found else DEFAULT_RETENTION_DAYS

    def set_retention(self, channel: str, days: float) -> int:
        """Keep `channel`'s VODs `days` after they ended; every holder is told."""
        if not 0 < days <= 3650:
            raise Unprocessable("retention is 0 to 3650 days")
        with self._db.conn:
            self._db.execute(
                """INSERT INTO vod_retention (channel, days) VALUES (?, ?)
                   ON CONFLICT (channel) DO UPDATE SET days = excluded.days""",
                [channel, days],
            )
            self._db.execute(
                """UPDATE vods SET expires_at = ended_at + ? * ?
                   WHERE channel = ? AND deleted_at IS NULL""",
                [days, DAY, channel],
            )
        rows = list(
            self._db.query(
                "SELECT id, expires_at FROM vods WHERE channel = ? AND deleted_at IS NULL",
                [channel],
            )
        )
        for row in rows:
            self._tell_holders(row["id"], row["expires_at"])
        return len(rows)

    def add_location(self, vod_id: str, node: str) -> bool:
        """Ask `node` to copy the VOD from a node holding it; recorded once it reports."""
        self.describe(vod_id)
        self._fleet.require(node)
        urls = self.locate(vod_id, asking_node=node)
        if not urls:
            raise Conflict(f"no live node holds VOD {vod_id!r} to copy from")
        return self._push_copy(vod_id, node, urls[0])

    def remove_location(self, vod_id: str, node: str) -> None:
        held = {loc["node"] for loc in self._locations(vod_id)}
        if node not in held:
            raise NotFound(f"node {node!r} does not hold VOD {vod_id!r}")
        if held == {node}:
            raise Conflict("that is the VOD's last copy: delete the VOD instead")
        retention = fleet_pb2.VodRetention(vod_id=vod_id, expires_at=0.0)
        self._fleet.push(node, fleet_pb2.Command(vod_retention=retention))
        with self._db.conn:
            self._db.execute(
                "DELETE FROM vod_locations WHERE vod_id = ? AND node = ?", [vod_id, node]
            )

    def delete(self, vod_id: str) -> None:
        self.describe(vod_id)
        self._drop(vod_id, self._clock())

    def expire(self) -> list[str]:
        now = self._clock()
        rows = self._db.query(
            "SELECT id FROM vods WHERE deleted_at IS NULL AND expires_at <= ?", [now]
        )
        gone = [row["id"] for row in rows]
        for vod_id in gone:
            self._drop(vod_id, now)
        return gone

    def _drop(self, vod_id: str, now: float) -> None:
        """Mark deleted, prune its chat, tell every holder (their sweepers delete it)."""
        row = self._row(vod_id)
        if row is None:
            return
        self._tell_holders(vod_id, 0.0)
        with self._db.conn:
            self._db.execute("UPDATE vods SET deleted_at = ? WHERE id = ?", [now, vod_id])
            self._db.execute("DELETE FROM vod_locations WHERE vod_id = ?", [vod_id])
            if row["started_at"] is not None and _has_table(self._db, "chat_messages"):
                self._db.execute(
                    """DELETE FROM chat_messages
                       WHERE channel = ? AND timestamp >= ? AND timestamp <= ?""",
                    [row["channel"], row["started_at"], row["ended_at"]],
                )
        log.info("VOD %s deleted", vod_id)

    def _tell_holders(self, vod_id: str, expires_at: float) -> None:
        retention = fleet_pb2.VodRetention(vod_id=vod_id, expires_at=expires_at)
        for loc in self._locations(vod_id):
            try:
                self._fleet.push(loc["node"], fleet_pb2.Command(vod_retention=retention))
            except Unavailable as exc:  # a stuck node: its sweeper keeps the old expiry
                log.warning("VOD %s: %s not told: %s", vod_id, loc["node"], exc)

    # ------------------------------------------------------------ chat replay

    def chat(self, vod_id: str, after: float = -1.0, limit: int = 500) -> list[dict[str, Any]]:
        """The broadcast's chat, each message with its offset from the stream's start."""
        row = self._row(vod_id)
        if row is None or row["deleted_at"] is not None:
            raise NotFound(f"no VOD {vod_id!r}")
        started = row["started_at"]
        if started is None or not _has_table(self._db, "chat_messages"):
            return []
        rows = self._db.query(
            """SELECT id, name, color, role, content, timestamp, stream_offset
               FROM chat_messages
               WHERE channel = ? AND deleted = 0 AND timestamp >= ? AND timestamp <= ?
               ORDER BY seq""",
            [row["channel"], started, row["ended_at"]],
        )
        out = []
        for message in rows:
            offset = message["stream_offset"]
            offset = message["timestamp"] - started if offset is None else offset
            if offset > after:
                out.append(
                    {
                        "id": message["id"],
                        "offset_seconds": round(offset, 3),
                        "name": message["name"],
                        "color": message["color"],
                        "role": message["role"],
                        "content": message["content"],
                    }
                )
            if len(out) >= limit:
                break
        return out

    # -------------------------------------------------------------- internals

    def _row(self, vod_id: str) -> dict[str, Any] | None:
        rows = list(self._db.query("SELECT * FROM vods WHERE id = ?", [vod_id]))
        return rows[0] if rows else None

    def _locations(self, vod_id: str) -> list[dict[str, Any]]:
        return list(
            self._db.query(
                "SELECT * FROM vod_locations WHERE vod_id = ? ORDER BY recorded_at", [vod_id]
            )
        )

    def _http_url(self, node: str) -> str:
        try:
            return self._fleet.require(node).http_url
        except NotFound:
            return ""


def _has_table(db: sqlite_utils.Database, name: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name]
        ).fetchone()
        is not None
    )
