"""Node lifecycle: reports in, status out, operator actions pushed to sessions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils
from google.protobuf.message import Message

from control_plane.errors import Conflict, NotFound, Unavailable
from control_plane.events import EventBus
from control_plane.fleet import status as st
from control_plane.fleet.live import LiveFleet, StreamSnapshot
from control_plane.fleet.report_check import check_report
from control_plane.routing.select import NodeLoad, NodeView
from control_plane.store import nodes
from shared.config import FleetSection
from shared.fleet import fleet_pb2


class NodeRefused(Exception):
    """The caller's certificate does not belong to a node allowed on the fleet."""


def _fields(message: Message) -> dict[str, Any]:
    return {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields}


def _facts(node: nodes.Node) -> st.NodeFacts:
    return st.reported_facts(
        node.turnup,
        draining=node.draining,
        approved=node.approved,
        last_report_at=node.last_report_at,
        revoked=node.status == st.REVOKED,
    )


def load_fraction(node: nodes.Node) -> float:
    return _egress_fraction(node.capacity, node.load)


def _egress_fraction(capacity: dict[str, Any], load: dict[str, Any]) -> float:
    limit = capacity.get("egress_bps") or 0
    egress = load.get("egress_bps") or 0
    return egress / limit if limit else 0.0


def node_load(capacity: dict[str, Any], load: dict[str, Any]) -> NodeLoad:
    sessions = capacity.get("encoder_sessions") or 0
    return NodeLoad(
        egress=_egress_fraction(capacity, load),
        cpu=float(load.get("cpu") or 0.0),
        encoders_free=not sessions or (load.get("encoder_sessions") or 0) < sessions,
    )


# The node's turn-up check that it reaches the control plane.
CONTROL_PLANE_CHECK = "control_plane"

# What a node reports that changes where clients are sent (load aside).
_ROUTING_FACTS = (
    *("roles", "region", "prefixes", "latitude", "longitude"),
    *("http_url", "rtmp_url", "srt_url"),
)


def _routing_facts(node: nodes.Node) -> dict[str, Any]:
    return {
        "roles": list(node.roles),
        "region": node.region,
        "prefixes": list(node.prefixes),
        "latitude": node.latitude,
        "longitude": node.longitude,
        "http_url": node.http_url,
        "rtmp_url": node.rtmp_url,
        "srt_url": node.srt_url,
    }


class FleetService:
    def __init__(
        self,
        db: sqlite_utils.Database,
        live: LiveFleet,
        events: EventBus,
        settings: FleetSection,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._live = live
        self._events = events
        self._settings = settings
        self._clock = clock
        # Bumped whenever a change would route a client differently, so routing
        # tables are rebuilt on fleet changes and never per request.
        self.generation = 0
        self._snapshot: tuple[int, tuple[NodeView, ...]] | None = None
        # Per report, read at decision time: load never forces a rebuild.
        self.loads: dict[str, NodeLoad] = {
            n.name: node_load(n.capacity, n.load) for n in nodes.all_nodes(db)
        }

    @property
    def report_interval(self) -> float:
        return self._settings.report_interval

    def now(self) -> float:
        return self._clock()

    @property
    def unhealthy_after(self) -> float:
        return self._settings.missed_reports_unhealthy * self._settings.report_interval

    # ------------------------------------------------------------------ identity

    def identify(self, common_name: str, cert_fingerprint: str) -> nodes.Node:
        node = nodes.get(self._db, common_name)
        if node is None:
            raise NodeRefused(f"no node named {common_name!r}")
        if node.status == st.REVOKED:
            raise NodeRefused(f"node {common_name!r} is revoked")
        if node.cert_fingerprint != cert_fingerprint:
            raise NodeRefused(f"certificate is not node {common_name!r}'s current one")
        return node

    # ------------------------------------------------------------------- reports

    def handle_report(self, name: str, report: fleet_pb2.NodeReport) -> str:
        """Record a report; returns the node's status as acknowledged to it."""
        now = self._clock()
        node = nodes.get(self._db, name)
        if node is None or node.status == st.REVOKED:
            raise NodeRefused(f"node {name!r} is no longer enrolled")
        check_report(report)
        turnup: dict[str, dict[str, Any]] = {
            c.name: {"ok": c.ok, "detail": c.detail} for c in report.turnup
        }
        reach = turnup.get(CONTROL_PLANE_CHECK)
        if reach is not None and not reach["ok"]:
            # This report is the proof: the node's own check predates our return
            # (an outage), and must not keep a reporting node out of routing.
            turnup[CONTROL_PLANE_CHECK] = {
                "ok": True,
                "detail": f"reporting (the node's last check said: {str(reach['detail'])[:200]})",
            }
        values: dict[str, Any] = {
            "roles": list(report.roles),
            "region": report.region,
            "prefixes": list(report.prefixes),
            "latitude": report.latitude if report.HasField("latitude") else None,
            "longitude": report.longitude if report.HasField("longitude") else None,
            "http_url": report.http_url,
            "rtmp_url": report.rtmp_url,
            "srt_url": report.srt_url,
            "capacity": _fields(report.capacity),
            "load": _fields(report.load),
            "turnup": turnup,
            "encoders": [_fields(e) for e in report.encoders],
            "last_report_at": now,
        }
        facts = st.reported_facts(
            turnup, draining=node.draining, approved=node.approved, last_report_at=now
        )
        values["status"] = st.node_status(facts, now=now, unhealthy_after=self.unhealthy_after)
        with self._db.conn:
            nodes.update(self._db, name, values)
        self.loads[name] = node_load(values["capacity"], values["load"])
        old = _routing_facts(node)
        if values["status"] != node.status or any(values[k] != old[k] for k in _ROUTING_FACTS):
            self.generation += 1
        self._live.record_streams(
            name, [StreamSnapshot.from_pb(s) for s in report.streams], now=now
        )
        if values["status"] != node.status:
            self._events.publish("node.status", {"node": name, "status": values["status"]})
        self._events.publish(
            "node.report",
            {"node": name, "status": values["status"], "load": values["load"]},
        )
        return str(values["status"])

    def refresh_statuses(self) -> list[str]:
        """Re-derive every node's status; returns the nodes that just went unhealthy."""
        now = self._clock()
        lost: list[str] = []
        # Only the columns status depends on: this runs every second, and decoding
        # every node's prefixes each time would stall the loop on a large fleet.
        rows = self._db.query(
            "SELECT name, status, approved, draining, turnup, last_report_at FROM nodes"
            " WHERE status != ?",
            [st.REVOKED],
        )
        for row in list(rows):
            facts = st.reported_facts(
                json.loads(row["turnup"] or "{}"),
                draining=bool(row["draining"]),
                approved=bool(row["approved"]),
                last_report_at=row["last_report_at"],
            )
            new = st.node_status(facts, now=now, unhealthy_after=self.unhealthy_after)
            if new == row["status"]:
                continue
            name = row["name"]
            with self._db.conn:
                nodes.update(self._db, name, {"status": new})
            self.generation += 1
            if new == st.UNHEALTHY:
                self._live.record_streams(name, [])
                lost.append(name)
            self._events.publish("node.status", {"node": name, "status": new})
        return lost

    # --------------------------------------------------------- operator actions

    def require(self, name: str) -> nodes.Node:
        node = nodes.get(self._db, name)
        if node is None:
            raise NotFound(f"no node named {name!r}")
        return node

    def _set(self, name: str, values: dict[str, Any]) -> nodes.Node:
        node = self.require(name)
        if node.status == st.REVOKED:
            raise Conflict(f"node {name!r} is revoked")
        with self._db.conn:
            nodes.update(self._db, name, values)
            updated = self.require(name)
            status = st.node_status(
                _facts(updated), now=self._clock(), unhealthy_after=self.unhealthy_after
            )
            nodes.update(self._db, name, {"status": status})
        self.generation += 1
        if status != node.status:
            self._events.publish("node.status", {"node": name, "status": status})
        return self.require(name)

    def approve(self, name: str) -> nodes.Node:
        return self._set(name, {"approved": 1})

    def drain(self, name: str, reason: str = "operator") -> nodes.Node:
        node = self._set(name, {"draining": 1})
        self.push(name, fleet_pb2.Command(drain=fleet_pb2.Drain(reason=reason)))
        return node

    def undrain(self, name: str) -> nodes.Node:
        node = self._set(name, {"draining": 0})
        self.push(name, fleet_pb2.Command(undrain=fleet_pb2.Undrain()))
        return node

    def revoke(self, name: str) -> nodes.Node:
        self.require(name)
        with self._db.conn:
            nodes.update(self._db, name, {"status": st.REVOKED, "revoked_at": self._clock()})
        self.generation += 1
        self._live.forget(name)
        self._events.publish("node.status", {"node": name, "status": st.REVOKED})
        return self.require(name)

    def push(self, name: str, command: fleet_pb2.Command) -> bool:
        """Queue a command into the node's open session; False when none is open."""
        session = self._live.session(name)
        if session is None:
            return False
        if not session.push(command):
            raise Unavailable(f"node {name!r} is not reading its commands")
        return True

    # ----------------------------------------------------------------- snapshots

    def all(self) -> list[nodes.Node]:
        return nodes.all_nodes(self._db)

    def statuses(self) -> dict[str, str]:
        rows = self._db.query("SELECT name, status FROM nodes")
        return {row["name"]: row["status"] for row in rows}

    def snapshot(self) -> list[NodeView]:
        """The fleet as routing sees it, decoded once per fleet change (`generation`):
        asked every second by the upkeep and on every routing table rebuild. `load`
        in it is as of that change; current load is `loads`."""
        cached = self._snapshot
        if cached is not None and cached[0] == self.generation:
            return list(cached[1])
        views = self._read_snapshot()
        self._snapshot = (self.generation, tuple(views))
        return views

    def _read_snapshot(self) -> list[NodeView]:
        return [
            NodeView(
                name=n.name,
                roles=n.roles,
                region=n.region,
                prefixes=n.prefixes,
                http_url=n.http_url,
                rtmp_url=n.rtmp_url,
                srt_url=n.srt_url,
                status=n.status,
                load=load_fraction(n),
                latitude=n.latitude,
                longitude=n.longitude,
            )
            for n in nodes.all_nodes(self._db)
        ]
