"""What an ingest listener's `FleetAuthorizer` asks of the control plane, and how the
answer comes back: each listener names its protocol, WHIP also the channel."""

from __future__ import annotations

from typing import Any

from edge_node.authorizer import FleetAuthorizer
from edge_node.ingest.publishing import PublishGrant, PublishRefusal
from shared.fleet import fleet_pb2 as pb


class Session:
    """The fleet session's unary call, answering with a set decision."""

    def __init__(self, decision: pb.PublishDecision) -> None:
        self.decision = decision
        self.requests: list[pb.PublishRequest] = []

    async def authorize_publish(self, request: pb.PublishRequest) -> pb.PublishDecision:
        self.requests.append(request)
        return self.decision


def authorizer(session: Session, protocol: Any) -> FleetAuthorizer:
    return FleetAuthorizer(session, {}, protocol=protocol)  # type: ignore[arg-type]


async def test_the_request_names_the_protocol_and_only_whip_the_channel() -> None:
    allowed = pb.PublishDecision(outcome=pb.PublishDecision.ALLOWED, channel="demo", stream_id="s")
    session = Session(allowed)
    grant = await authorizer(session, "rtmp").authorize("live", "k", "127.0.0.1:1", "c1")
    assert grant == PublishGrant("demo", "s", resumed=False)
    await authorizer(session, "whip").authorize("live", "k", "127.0.0.1:2", "c2", channel="demo")
    rtmp, whip = session.requests
    assert (rtmp.protocol, rtmp.channel) == ("rtmp", "")
    assert (whip.protocol, whip.channel) == ("whip", "demo")


async def test_a_key_for_another_channel_comes_back_as_such() -> None:
    other = pb.PublishDecision(
        outcome=pb.PublishDecision.BAD_NAME,
        reason="stream key is for another channel",
        other_channel=True,
    )
    refusal = await authorizer(Session(other), "whip").authorize(
        "live", "k", "127.0.0.1:1", "c1", channel="elsewhere"
    )
    assert refusal == PublishRefusal("BadName", "stream key is for another channel", True)
    unknown = pb.PublishDecision(outcome=pb.PublishDecision.BAD_NAME, reason="unknown stream key")
    refusal = await authorizer(Session(unknown), "whip").authorize(
        "live", "nope", "127.0.0.1:1", "c2", channel="demo"
    )
    assert isinstance(refusal, PublishRefusal) and not refusal.other_channel
