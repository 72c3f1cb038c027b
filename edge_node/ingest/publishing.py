"""What every ingest protocol (RTMP, SRT, WHIP) shares once a broadcaster has named a
key: the publish authorization asked of the control plane, the sink the media goes to,
the per-address unit the limits count, and the end of a granted publish."""

from __future__ import annotations

import ipaddress
import logging
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from typing import Literal, Protocol

import trio

from edge_node.ingest.throttle import FailureThrottle
from edge_node.media import SourceEnd, SourceEvent

# How long a granted publish's `stopped` notice may take when the connection is torn down.
STOPPED_NOTICE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class PublishGrant:
    channel: str
    stream_id: str
    resumed: bool  # a reconnect within the grace: same stream id, after a discontinuity


@dataclass(frozen=True, slots=True)
class PublishRefusal:
    code: Literal["BadName", "Denied"]
    reason: str
    # BadName for a valid key of another channel than the one named (WHIP's 404, not
    # 401; never set for RTMP and SRT, which name no channel).
    other_channel: bool = False


class PublishAuthorizer(Protocol):
    async def authorize(
        self,
        app: str,
        stream_key: str,
        client_address: str,
        connection_id: str,
        *,
        channel: str = "",
    ) -> PublishGrant | PublishRefusal:
        """`channel`: the channel the broadcaster named, where its protocol names one
        (WHIP); a key of another channel is then refused with `other_channel`."""
        ...

    async def stopped(self, grant: PublishGrant, connection_id: str, reason: str) -> None:
        """Called once when a granted publish ends, whatever the reason."""


class IngestSink(Protocol):
    def open(
        self, grant: PublishGrant
    ) -> AbstractAsyncContextManager[trio.MemorySendChannel[SourceEvent]]:
        """The channel for one publish. The server only ever uses `send_nowait` on it and
        leaves the context (closing the channel) when the publish ends; a full channel
        means the consumer fell behind, and the stream is dropped."""
        ...


def client_network(host: str) -> str:
    """What the per-address limits count: an IPv4 address, or an IPv6 /64.

    A /64 is the least a site gets, and its owner can rotate through its addresses at
    will, so counting them one by one would cap nothing."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network((address, 64), strict=False))
    return str(address)


async def end_publish(
    channel: trio.MemorySendChannel[SourceEvent] | None,
    grant: PublishGrant | None,
    authorizer: PublishAuthorizer,
    connection_id: str,
    reason: str,
) -> None:
    """End a granted publish: SourceEnd to the sink, then `stopped` to the authorizer
    (shielded and bounded: it runs while its connection is being torn down)."""
    if channel is not None:
        # A consumer that cannot take this one last item learns of the end from the close.
        with suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            channel.send_nowait(SourceEnd(reason))
        await channel.aclose()
    if grant is not None:
        with trio.move_on_after(STOPPED_NOTICE_TIMEOUT) as notice:
            notice.shield = True
            await authorizer.stopped(grant, connection_id, reason)


async def report_refusals(
    throttle: FailureThrottle, window: float, protocol: str, log: logging.Logger
) -> None:
    """Log each address's refused publishes once per window, until cancelled: the throttle's
    one I/O shell, shared by every ingest protocol."""
    while True:
        now = trio.current_time()
        for summary in throttle.summaries(now):
            log.warning(
                "%s %s: %d publishes refused in %g s: %d for unknown stream keys, "
                "%d more without asking (too many failures)",
                protocol,
                summary.address,
                summary.failures + summary.throttled,
                window,
                summary.failures,
                summary.throttled,
            )
        expiry = throttle.next_expiry()
        await trio.sleep_until(now + window if expiry is None else expiry)
