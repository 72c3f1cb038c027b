"""The node's side of WHIP: offers checked and authorized here, answered by the worker.

`WhipIngest.publish` and `.end` are what the delivery layer's `/whip/` routes call; the
outcome is plain values (`WhipAccepted`/`WhipRefused`) the routes turn into HTTP. A
granted session feeds the same `IngestSink` RTMP does, and ends the same way: a
`SourceEnd` into the sink, `stopped` to the authorizer.
"""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import trio

from edge_node.ingest.publishing import (
    STOPPED_NOTICE_TIMEOUT,
    IngestSink,
    PublishAuthorizer,
    PublishGrant,
    PublishRefusal,
    client_network,
)
from edge_node.ingest.throttle import FailureThrottle
from edge_node.ingest.whip import WhipAccepted, WhipOutcome, WhipRefused, wire
from edge_node.ingest.whip.sdp import OfferRefused, check_offer
from edge_node.media import SourceDiscontinuity, SourceEnd, SourceEvent
from shared.config import WebrtcSection

log = logging.getLogger(__name__)

APP = "live"  # what the control plane's publish authorization expects, as for RTMP
# The control plane answers in milliseconds and the worker in tens of them (it gathers
# host candidates only); past these the broadcaster is told to retry.
AUTHORIZE_TIMEOUT = 5.0
ANSWER_TIMEOUT = 10.0
# An answered offer whose ICE has not connected by then is dropped with its UDP port
# (and its grant): offers that never connect cannot pile up.
ICE_TIMEOUT = 15.0
# Batches of events per session between the worker's pipe and the origin's sink.
INBOX = 256
MAX_SESSIONS = 64
# Wrong keys from one address before it waits, as `rtmp.max_publish_failures` and
# `rtmp.publish_failure_window` default: a key guesser gets 429 without a round trip.
MAX_KEY_FAILURES = 5
KEY_FAILURE_WINDOW = 60.0
# After the worker dies, wait this long before starting another.
RESTART_DELAY = 1.0


@dataclass
class _Live:
    sid: str
    channel: str
    grant: PublishGrant | None
    send: trio.MemorySendChannel[list[SourceEvent]]
    receive: trio.MemoryReceiveChannel[list[SourceEvent]]
    reason: str = "broadcaster left"
    finished: bool = False

    def finish(self, reason: str) -> None:
        if not self.finished:  # the first reason is the one reported
            self.finished = True
            self.reason = reason
            self.send.close()


class WhipIngest:
    def __init__(
        self,
        config: WebrtcSection,
        authorizer: PublishAuthorizer,
        sink: IngestSink,
        *,
        max_sessions: int = MAX_SESSIONS,
        ice_timeout: float = ICE_TIMEOUT,
    ) -> None:
        self._ice_timeout = ice_timeout
        self._config = config
        self._authorizer = authorizer
        self._sink = sink
        self._max_sessions = max_sessions
        self._sessions: dict[str, _Live] = {}
        self._requests: dict[int, trio.MemorySendChannel[tuple[Any, ...]]] = {}
        self._next_request = 0
        self._process: trio.Process | None = None
        self._write_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._throttle = FailureThrottle(
            limit=MAX_KEY_FAILURES, window=KEY_FAILURE_WINDOW, capacity=4096
        )

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep a worker running (restarted if it dies) until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            started = False
            while True:
                await self._run_worker(task_status if not started else None)
                started = True
                self._end_all("the WebRTC worker stopped")
                await trio.sleep(RESTART_DELAY)

    async def _run_worker(self, task_status: trio.TaskStatus[None] | None) -> None:
        command = [
            sys.executable,
            "-m",
            "edge_node.ingest.whip.worker",
            self._config.public_ip,
            str(self._config.udp_port_min),
            str(self._config.udp_port_max),
            str(self._ice_timeout),
        ]
        process = await trio.lowlevel.open_process(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        try:
            self._process = process
            if task_status is not None:
                task_status.started()
            try:
                await self._read(process)
            except wire.WireError as exc:
                # Only a broken worker writes garbage: it is replaced, the node goes on.
                log.error("WebRTC worker sent %s; restarting it", exc)
            else:
                log.error("WebRTC worker exited (%s); ending its sessions", await process.wait())
        finally:
            self._process = None
            with trio.CancelScope(shield=True):
                process.kill()
                await process.wait()

    async def _read(self, process: trio.Process) -> None:
        assert process.stdout is not None
        decoder = wire.Decoder()
        while data := await process.stdout.receive_some(256 * 1024):
            for message in decoder.feed(data):
                self._dispatch(message)

    def _dispatch(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind in ("answer", "refused"):
            reply = self._requests.pop(message[1], None)
            if reply is not None:
                reply.send_nowait(message)
        elif kind == "events":
            live = self._sessions.get(message[1])
            if live is None:
                return
            try:
                live.send.send_nowait(message[2])
            except trio.WouldBlock:
                live.finish(f"dropping stream: the consumer is {INBOX} batches behind")
                self._tell_worker(("close", live.sid, "consumer behind"))
            except trio.ClosedResourceError:
                pass
        elif kind == "ended":
            live = self._sessions.get(message[1])
            if live is not None:
                live.finish(message[2])

    def _end_all(self, reason: str) -> None:
        for live in list(self._sessions.values()):
            live.finish(reason)
        for reply in self._requests.values():
            reply.close()
        self._requests.clear()

    async def _send(self, message: tuple[Any, ...]) -> None:
        process = self._process
        if process is None or process.stdin is None:
            raise trio.BrokenResourceError("no WebRTC worker")
        async with self._write_lock:
            await process.stdin.send_all(wire.encode(message))

    def _tell_worker(self, message: tuple[Any, ...]) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._send_quietly, message)

    async def _send_quietly(self, message: tuple[Any, ...]) -> None:
        with suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await self._send(message)

    # ------------------------------------------------------------ the routes

    async def publish(self, channel: str, stream_key: str, body: bytes, client: str) -> WhipOutcome:
        try:
            offer = check_offer(body)
        except OfferRefused as exc:
            return WhipRefused(exc.status, exc.reason)
        if self._process is None or self._nursery is None:
            return WhipRefused(503, "WebRTC ingest is starting; retry")
        if len(self._sessions) >= self._max_sessions:
            return WhipRefused(503, "too many WebRTC sessions on this node; retry later")
        network = client_network(client)
        if not self._throttle.allows(network, trio.current_time()):
            return WhipRefused(
                429, f"too many wrong stream keys; retry after {KEY_FAILURE_WINDOW:g} s"
            )
        sid = secrets.token_hex(16)
        send, receive = trio.open_memory_channel[list[SourceEvent]](INBOX)
        live = _Live(sid, channel, None, send, receive)
        # Held from here so that concurrent offers count against the cap.
        self._sessions[sid] = live
        outcome: WhipOutcome = WhipRefused(503, "cancelled")
        try:
            outcome = await self._admit(live, stream_key, offer.text, client)
        finally:
            if not isinstance(outcome, WhipAccepted):
                self._sessions.pop(sid, None)
        return outcome

    async def _admit(self, live: _Live, key: str, sdp: str, client: str) -> WhipOutcome:
        decision: PublishGrant | PublishRefusal | None = None
        with trio.move_on_after(AUTHORIZE_TIMEOUT):
            # The channel goes with the key: the control plane refuses a key of another
            # channel before it starts (or resumes) anything for the key's own.
            decision = await self._authorizer.authorize(
                APP, key, client, live.sid, channel=live.channel
            )
        if decision is None:
            return WhipRefused(503, "the control plane did not answer; retry")
        if isinstance(decision, PublishRefusal):
            self._log_refusal(client, live.channel, decision)
            if decision.other_channel:
                return WhipRefused(404, f"no channel {live.channel!r} for this stream key")
            return WhipRefused(401 if decision.code == "BadName" else 403, decision.reason)
        if decision.channel != live.channel:
            # Only a control plane older than the channel check grants another channel
            # (a fleet mid-upgrade): the grant taken in passing is handed back.
            await self._stopped(decision, live.sid, "stream key is for another channel")
            return WhipRefused(404, f"no channel {live.channel!r} for this stream key")
        reply_send, reply_receive = trio.open_memory_channel[tuple[Any, ...]](1)
        request = self._next_request = self._next_request + 1
        self._requests[request] = reply_send
        reply: tuple[Any, ...] | None = None
        with trio.move_on_after(ANSWER_TIMEOUT):
            try:
                await self._send(("offer", request, live.sid, sdp))
                reply = await reply_receive.receive()
            except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel):
                reply = None
        self._requests.pop(request, None)
        if reply is None or reply[0] != "answer":
            self._tell_worker(("close", live.sid, "not answered"))
            await self._stopped(decision, live.sid, "offer not answered")
            if reply is None:
                return WhipRefused(503, "the WebRTC worker did not answer; retry")
            return WhipRefused(reply[2], reply[3])
        live.grant = decision
        assert self._nursery is not None
        self._nursery.start_soon(self._carry, live)
        log.info(
            "whip %s [%s]: publishing channel %r as stream %s%s",
            client,
            live.sid,
            decision.channel,
            decision.stream_id,
            " (resumed)" if decision.resumed else "",
        )
        return WhipAccepted(live.sid, reply[2])

    def _log_refusal(self, client: str, channel: str, refusal: PublishRefusal) -> None:
        now = trio.current_time()
        # As for RTMP: an address's first wrong key is logged, the rest summed per window.
        # A valid key sent to the wrong channel is a broadcaster's typo, not a key being
        # guessed: it is logged but not held against the address.
        wrong_key = refusal.code == "BadName" and not refusal.other_channel
        first = not wrong_key or self._throttle.failed(client_network(client), now)
        if first:
            log.warning("whip %s: publish to %r refused: %s", client, channel, refusal.reason)
        for summary in self._throttle.summaries(now):
            log.warning(
                "whip %s: %d publishes with wrong keys, %d of them refused without asking",
                summary.address,
                summary.failures + summary.throttled,
                summary.throttled,
            )

    async def end(self, channel: str, session: str) -> bool:
        """DELETE of a session's resource: False when it is not one of ours."""
        live = self._sessions.get(session)
        if live is None or live.channel != channel or live.grant is None:
            return False
        live.finish("broadcaster ended the session")
        self._tell_worker(("close", session, "DELETE"))
        return True

    async def _carry(self, live: _Live) -> None:
        """Events of one granted session into the sink until it ends."""
        assert live.grant is not None
        try:
            async with self._sink.open(live.grant) as channel:
                try:
                    if live.grant.resumed:
                        channel.send_nowait(SourceDiscontinuity("broadcaster reconnected"))
                    async for events in live.receive:
                        for event in events:
                            channel.send_nowait(event)
                except trio.WouldBlock:
                    live.finish("dropping stream: the consumer fell behind")
                    self._tell_worker(("close", live.sid, "consumer behind"))
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    live.finish("dropping stream: the consumer went away")
                    self._tell_worker(("close", live.sid, "consumer gone"))
                with suppress(trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    channel.send_nowait(SourceEnd(live.reason))
        finally:
            self._sessions.pop(live.sid, None)
            log.info("whip [%s]: stream %s ended: %s", live.sid, live.grant.stream_id, live.reason)
            await self._stopped(live.grant, live.sid, live.reason)

    async def _stopped(self, grant: PublishGrant, sid: str, reason: str) -> None:
        with trio.move_on_after(STOPPED_NOTICE_TIMEOUT) as notice:
            notice.shield = True
            await self._authorizer.stopped(grant, sid, reason)
