"""The gRPC `Fleet` service. Every call takes the node's identity from its client
certificate (mutual TLS), checked against the certificate on record."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import grpc

from control_plane.errors import DomainError
from control_plane.fleet.live import LiveFleet, NodeSession, StreamSnapshot
from control_plane.fleet.report_check import ReportRefused
from control_plane.fleet.service import FleetService, NodeRefused
from control_plane.metrics import Metrics
from control_plane.streams.catalog import StreamCatalog
from control_plane.streams.publishing import PublishService
from control_plane.vods.deps import Recording
from shared import pki
from shared.fleet import fleet_pb2, fleet_pb2_grpc

log = logging.getLogger(__name__)


def _peer_certificate(context: grpc.aio.ServicerContext) -> tuple[str, str]:
    """(common name, sha256 fingerprint) of the verified client certificate."""
    auth = context.auth_context()
    pems = auth.get("x509_pem_cert") or []
    if not pems:
        raise NodeRefused("no client certificate")
    cert = pki.load_certificate(pems[0])
    return pki.common_name(cert.subject), pki.fingerprint(cert)


class FleetServicer(fleet_pb2_grpc.FleetServicer):
    def __init__(
        self,
        fleet: FleetService,
        publishing: PublishService,
        catalog: StreamCatalog,
        live: LiveFleet,
        metrics: Metrics,
        recording: Recording,
    ) -> None:
        self._fleet = fleet
        self._publishing = publishing
        self._catalog = catalog
        self._live = live
        self._metrics = metrics
        self._recording = recording

    async def _identify(self, context: grpc.aio.ServicerContext) -> str:
        try:
            name, fp = _peer_certificate(context)
            return self._fleet.identify(name, fp).name
        except (NodeRefused, pki.PkiError) as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
            raise AssertionError("abort returns only by raising") from None

    async def Session(
        self,
        request_iterator: AsyncIterator[fleet_pb2.NodeReport],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[fleet_pb2.Command]:
        name = await self._identify(context)
        session = self._live.open_session(name)
        reader = asyncio.create_task(self._read_reports(name, session, request_iterator))
        log.info("node %s: session open", name)
        try:
            while True:
                command = await session.commands.get()
                if command is None:
                    break
                yield command
        finally:
            reader.cancel()
            self._live.close_session(session)
            log.info("node %s: session closed", name)
        failure = reader.exception() if reader.done() and not reader.cancelled() else None
        if isinstance(failure, NodeRefused):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(failure))
        elif isinstance(failure, ReportRefused):
            log.warning("node %s: report refused: %s", name, failure)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"report refused: {failure}")
        elif failure is not None:
            log.error("node %s: session failed", name, exc_info=failure)
            await context.abort(grpc.StatusCode.INTERNAL, "control plane error")

    async def _read_reports(
        self,
        name: str,
        session: NodeSession,
        reports: AsyncIterator[fleet_pb2.NodeReport],
    ) -> None:
        try:
            async for report in reports:
                status = self._fleet.handle_report(name, report)
                self._metrics.fleet_reports.inc()
                self._publishing.reclaim(name, [StreamSnapshot.from_pb(s) for s in report.streams])
                self._catalog.viewers.record_peaks([s.stream_id for s in report.streams])
                ack = fleet_pb2.ReportAck(seq=report.seq, status=status)
                await session.commands.put(fleet_pb2.Command(ack=ack))
        finally:
            # The node hung up or was refused: end the response stream too.
            session.close()

    async def AuthorizePublish(
        self, request: fleet_pb2.PublishRequest, context: grpc.aio.ServicerContext
    ) -> fleet_pb2.PublishDecision:
        name = await self._identify(context)
        result = self._publishing.authorize(
            name,
            request.stream_key,
            request.connection_id,
            channel_name=request.channel,
            protocol=request.protocol,
        )
        if result.resumed:
            # A new origin: every shield and edge pulls from it now, not at the next tick.
            self._catalog.upstreams.repoint()
        log.info(
            "node %s: publish %s on %s: %s (%s)",
            name,
            result.stream_id or "-",
            result.channel or request.channel or "?",
            result.outcome,
            result.reason,
        )
        return fleet_pb2.PublishDecision(
            outcome=result.outcome,
            reason=result.reason,
            channel=result.channel,
            stream_id=result.stream_id,
            resumed=result.resumed,
            discontinuity=result.discontinuity,
            reconnect_grace_seconds=result.reconnect_grace_seconds,
            dvr_window_seconds=result.dvr_window_seconds,
            media_sequence=result.media_sequence,
            discontinuity_sequence=result.discontinuity_sequence,
            other_channel=result.other_channel,
        )

    async def PublishStopped(
        self, request: fleet_pb2.PublishStoppedRequest, context: grpc.aio.ServicerContext
    ) -> fleet_pb2.PublishStoppedResponse:
        name = await self._identify(context)
        self._publishing.stopped(name, request.stream_id, request.connection_id)
        return fleet_pb2.PublishStoppedResponse()

    # ------------------------------------------------------------- recording

    async def RecordVod(
        self, request: fleet_pb2.RecordVodRequest, context: grpc.aio.ServicerContext
    ) -> fleet_pb2.RecordVodResponse:
        name = await self._identify(context)
        try:
            expires_at = self._recording.vods.record(name, request)
        except DomainError as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, exc.detail)
            raise AssertionError("abort returns only by raising") from None
        return fleet_pb2.RecordVodResponse(expires_at=expires_at)

    async def LocateVod(
        self, request: fleet_pb2.LocateVodRequest, context: grpc.aio.ServicerContext
    ) -> fleet_pb2.LocateVodResponse:
        name = await self._identify(context)
        urls = self._recording.vods.locate(request.vod_id, name)
        return fleet_pb2.LocateVodResponse(http_urls=urls)

    async def ClipDone(
        self, request: fleet_pb2.ClipDoneRequest, context: grpc.aio.ServicerContext
    ) -> fleet_pb2.ClipDoneResponse:
        name = await self._identify(context)
        try:
            self._recording.clips.done(name, request)
        except DomainError as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, exc.detail)
        return fleet_pb2.ClipDoneResponse()
