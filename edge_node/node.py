"""A node: its parts built from config and identity, and the tasks that run them.

Which parts run follows the node's roles: `ingest` opens the RTMP port and makes this
node the origin of what it receives (transcoded when it also has `transcode`); every
node serves HTTP from its packager (origin), its segment cache and its upstream (the
stream's shield or origin, as the control plane says); a `shield` serves other nodes
only.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import trio
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from edge_node import turnup
from edge_node.authorizer import FleetAuthorizer
from edge_node.deliver.app import DeliveryApp, DeliverySources
from edge_node.deliver.cache import SegmentCache
from edge_node.deliver.nodeauth import NodeSigner, NodeVerifier
from edge_node.deliver.server import serve_http
from edge_node.deliver.sessions import ViewerSessions
from edge_node.deliver.upstream import Upstream, UpstreamTable
from edge_node.fleet.report import NodeSnapshot, build_report, merge_streams
from edge_node.fleet.session import FleetSession
from edge_node.fleet.state import NodeIdentity
from edge_node.ingest.publishing import IngestSink
from edge_node.ingest.recorder import FlvRecorder
from edge_node.ingest.rtmp.server import serve_rtmp
from edge_node.ingest.srt.server import serve_srt
from edge_node.ingest.tee import TeeSink
from edge_node.ingest.whip.service import WhipIngest
from edge_node.origin import OriginStreams
from edge_node.record.fleet_calls import RecordingCalls
from edge_node.record.service import NodeRecording
from edge_node.sysstats import CpuMeter
from shared import pki
from shared.config import EdgeConfig
from shared.fleet import fleet_pb2 as pb
from shared.tokens import TokenVerifier

log = logging.getLogger(__name__)


class _EgressMeter:
    """Bits per second sent, from the delivery app's byte counter."""

    def __init__(self, app: DeliveryApp) -> None:
        self._app = app
        self._last = (time.monotonic(), self._total())

    def _total(self) -> float:
        for metric in self._app.metrics.bytes_sent.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    return sample.value
        return 0.0

    def sample(self) -> int:
        now, total = time.monotonic(), self._total()
        (then, before), self._last = self._last, (now, total)
        return int(8 * (total - before) / (now - then)) if now > then else 0


class Node:
    def __init__(self, config: EdgeConfig, identity: NodeIdentity) -> None:
        self.config = config
        self.identity = identity
        self.roles = frozenset(config.node.roles)
        self.bound: dict[str, str] = {}
        self.draining = False
        self._cpu = CpuMeter()
        self.session = FleetSession(
            identity, self._report, self._on_command, config.control_plane.report_interval
        )
        ca = pki.load_certificate(identity.ca_pem)
        self.cache = SegmentCache(
            config.cache_dir / "segments",
            config.cache.max_bytes,
            memory_max_bytes=config.cache.memory_max_bytes,
        )
        self.upstreams = UpstreamTable()
        signer = NodeSigner(
            identity.node_name, pki.load_private_key(identity.key_pem), identity.cert_pem
        )
        self.upstream = Upstream(self.upstreams, self.cache, signer=signer)
        self.origin = (
            OriginStreams(config, config.state_dir / "media") if "ingest" in self.roles else None
        )
        self.recording = NodeRecording(
            config.state_dir / "vod",
            RecordingCalls(identity),
            lambda: self.http_url,
            cache=self.cache,
            signer=signer,
            origin=self.origin,
            live_root=config.state_dir / "media" / "live",
        )
        self.sessions = ViewerSessions(
            TokenVerifier.from_pem(identity.enrollment.token_public_key),
            config.http.viewer_tokens,
        )
        # WHIP ingest: authorized and fed like RTMP, served on the HTTP port.
        self.whip: WhipIngest | None = None
        if (origin := self.origin) is not None:
            authorizer = FleetAuthorizer(
                self.session, origin.graces, origin.continuations, protocol="whip"
            )
            self.whip = WhipIngest(config.webrtc, authorizer, self._ingest_sink(origin))
        self.app = DeliveryApp(
            DeliverySources(
                local=self.origin.live if self.origin else None,
                cache=self.cache,
                upstream=self.upstream,
                vod_root=config.state_dir / "vod",
                vod_upstream=self.recording.vod_upstream,
                vod_locations=self.recording.locator,
            ),
            self.sessions,
            node_verifier=NodeVerifier(ca),
            viewer_facing=bool(self.roles & {"edge", "ingest"}),
            health=self._health,
            metrics_text=self._metrics_text,
            whip=self.whip,
        )
        self._egress = _EgressMeter(self.app)
        self._registry = CollectorRegistry()
        Gauge(
            "glasscast_node_draining", "1 while the node is draining", registry=self._registry
        ).set_function(lambda: float(self.draining))

    # ------------------------------------------------------------------ running

    async def serve(self) -> None:
        """Run every part until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.upstream.run)
            port = await nursery.start(serve_http, self.config.http, self.app)
            self.bound["http"] = f"{self.config.http.host}:{port}"
            if self.origin is not None:
                await nursery.start(self.origin.run)
                listeners = await nursery.start(
                    serve_rtmp,
                    self.config.rtmp,
                    FleetAuthorizer(
                        self.session, self.origin.graces, self.origin.continuations, protocol="rtmp"
                    ),
                    self._ingest_sink(self.origin),
                )
                host, rtmp_port = listeners[0].socket.getsockname()[:2]
                self.bound["rtmp"] = f"{host}:{rtmp_port}"
                if self.config.srt.enabled:
                    srt_port = await nursery.start(
                        serve_srt,
                        self.config.srt,
                        FleetAuthorizer(
                            self.session,
                            self.origin.graces,
                            self.origin.continuations,
                            protocol="srt",
                        ),
                        self._ingest_sink(self.origin),
                        self.config.rtmp,
                    )
                    self.bound["srt"] = f"{self.config.srt.host}:{srt_port}"
            if self.whip is not None:
                await nursery.start(self.whip.run)
            await nursery.start(self.recording.run)
            await nursery.start(self.session.run)
            log.info(
                "node %s up: roles %s, %s",
                self.identity.node_name,
                ",".join(sorted(self.roles)),
                ", ".join(f"{k} {v}" for k, v in sorted(self.bound.items())),
            )

    def _ingest_sink(self, origin: OriginStreams) -> IngestSink:
        record_dir = self.config.rtmp.record_dir
        if not record_dir:
            return origin
        Path(record_dir).mkdir(parents=True, exist_ok=True)
        return TeeSink([origin, FlvRecorder(Path(record_dir))], self.config.rtmp.handoff_queue)

    # ---------------------------------------------------------------- reporting

    @property
    def http_url(self) -> str:
        return self.config.http.public_url or f"http://{self.bound.get('http', '')}"

    @property
    def rtmp_url(self) -> str:
        if "rtmp" not in self.bound:
            return ""
        return self.config.rtmp.public_url or f"rtmp://{self.bound['rtmp']}/live"

    @property
    def srt_url(self) -> str:
        if "srt" not in self.bound:
            return ""
        return self.config.srt.public_url or f"srt://{self.bound['srt']}"

    def _checks(self) -> tuple[turnup.Check, ...]:
        checks = [
            turnup.flag(
                "control_plane",
                self.session.status.connected or self.session.status.reconnects == 0,
                self.session.status.last_error or "session open",
            ),
            turnup.port_bound("http_port", self.bound.get("http")),
            turnup.writable_dir("cache_dir", self.cache.directory),
            turnup.cache_space(self.cache.space),
        ]
        if self.origin is not None:
            checks.append(turnup.port_bound("rtmp_port", self.bound.get("rtmp")))
            if self.config.srt.enabled:
                checks.append(turnup.port_bound("srt_port", self.bound.get("srt")))
            checks.append(
                turnup.flag(
                    "encoder_probe",
                    bool(self.origin.encoders),
                    ", ".join(e.name for e in self.origin.encoders if e.usable) or "none usable",
                )
            )
        return tuple(checks)

    def _report(self) -> pb.NodeReport:
        origin_streams = self.origin.loads() if self.origin else ()
        streams = merge_streams(origin_streams, self.sessions.active_sessions())
        stats = self.cache.stats()
        snapshot = NodeSnapshot(
            cpu=self._cpu.sample(),
            egress_bps=self._egress.sample(),
            cache_bytes=stats.bytes,
            cache_hit_ratio=stats.hits / (stats.hits + stats.misses)
            if stats.hits + stats.misses
            else 0.0,
            encoder_sessions=len(origin_streams),
            streams=streams,
            checks=self._checks(),
            encoders=self.origin.encoders if self.origin else (),
        )
        return build_report(
            self.config, self.http_url, self.rtmp_url, snapshot, srt_url=self.srt_url
        )

    def _health(self) -> dict[str, Any]:
        return {
            "node": self.identity.node_name,
            "roles": sorted(self.roles),
            "control_plane": "connected" if self.session.status.connected else "disconnected",
            "status": self.session.status.status,
            "draining": self.draining,
        }

    def _metrics_text(self) -> bytes:
        return generate_latest(self._registry)

    # ----------------------------------------------------------------- commands

    async def _on_command(self, command: pb.Command) -> None:
        kind = command.WhichOneof("kind")
        if kind == "drain":
            self.draining = True
            log.info("draining: %s", command.drain.reason or "operator request")
        elif kind == "undrain":
            self.draining = False
            log.info("drain lifted")
        elif kind == "upstreams":
            self.upstreams.replace(command.upstreams.upstreams)
        elif kind == "end_stream":
            if self.origin is not None:
                self.origin.end(command.end_stream.stream_id, command.end_stream.reason)
        elif kind == "config":
            log.warning(
                "live config changes are not applied by this version: %s",
                dict(command.config.values),
            )
        else:
            await self.recording.handle(command)
