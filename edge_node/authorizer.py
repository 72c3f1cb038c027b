"""Publish authorization at the ingest port, asked of the control plane.

The RTMP server calls `authorize` when a broadcaster sends `publish`; the answer comes
from the control plane over the fleet session (a unary call, milliseconds). With the
control plane unreachable a publish is refused at once: a node cannot know whether a
key is valid or whether the channel is already live elsewhere.
"""

from __future__ import annotations

import logging
from typing import Literal

from edge_node.fleet.session import ControlPlaneUnavailable, FleetSession
from edge_node.ingest.publishing import PublishGrant, PublishRefusal
from edge_node.package.packager import Continuation
from shared.fleet import fleet_pb2 as pb

log = logging.getLogger(__name__)

APP = "live"

IngestProtocol = Literal["rtmp", "srt", "whip"]


class FleetAuthorizer:
    def __init__(
        self,
        session: FleetSession,
        graces: dict[str, float],
        continuations: dict[str, Continuation] | None = None,
        *,
        protocol: IngestProtocol,
    ) -> None:
        self._session = session
        # One authorizer per listener: the control plane records on each stream how its
        # broadcaster publishes (a reconnect may come over another protocol).
        self._protocol = protocol
        # Filled with each granted stream's reconnect grace, for the origin to honour.
        self._graces = graces
        # And, for a stream taken over from another origin, where to number on from.
        self._continuations = {} if continuations is None else continuations

    async def authorize(
        self,
        app: str,
        stream_key: str,
        client_address: str,
        connection_id: str,
        *,
        channel: str = "",
    ) -> PublishGrant | PublishRefusal:
        """`channel`: the channel the broadcaster named (WHIP), checked against the key's
        by the control plane before it starts anything; empty where only the key is
        named (RTMP, SRT)."""
        if app != APP:
            return PublishRefusal("BadName", f"unknown application {app!r}; publish to /{APP}")
        request = pb.PublishRequest(
            app=app,
            stream_key=stream_key,
            client_address=client_address,
            connection_id=connection_id,
            channel=channel,
            protocol=self._protocol,
        )
        try:
            decision = await self._session.authorize_publish(request)
        except ControlPlaneUnavailable as exc:
            log.warning("publish refused: control plane unavailable (%s)", exc)
            return PublishRefusal("Denied", "control plane unavailable, try again")
        if decision.outcome == pb.PublishDecision.ALLOWED:
            if decision.reconnect_grace_seconds > 0:
                self._graces[decision.stream_id] = decision.reconnect_grace_seconds
            if decision.media_sequence > 0:
                self._continuations[decision.stream_id] = Continuation(
                    decision.media_sequence, decision.discontinuity_sequence
                )
            return PublishGrant(
                channel=decision.channel, stream_id=decision.stream_id, resumed=decision.resumed
            )
        if decision.outcome == pb.PublishDecision.BAD_NAME:
            return PublishRefusal(
                "BadName",
                decision.reason or "unknown stream key",
                other_channel=decision.other_channel,
            )
        return PublishRefusal("Denied", decision.reason or "publishing refused")

    async def stopped(self, grant: PublishGrant, connection_id: str, reason: str) -> None:
        request = pb.PublishStoppedRequest(
            stream_id=grant.stream_id, connection_id=connection_id, reason=reason
        )
        try:
            await self._session.publish_stopped(request)
        except ControlPlaneUnavailable as exc:
            # The control plane reconciles from our reports once it is back.
            log.warning("could not report the end of %s: %s", grant.stream_id, exc)
