"""The node's session with the control plane: grpcio's sync API in threads, fed to trio.

grpcio has no trio support, so one worker thread iterates the bidirectional `Session`
call's responses and hands each `Command` to trio through a bounded memory channel;
reports go the other way through a small thread-safe queue that grpc's own request
thread drains. Cancelling the trio side cancels the call, which ends the thread.

The session reconnects by itself (backoff capped at `RECONNECT_MAX` seconds) so a
control plane restart is survived within 10 s without re-enrolling; unary calls
(publish authorization) share the same channel and fail fast while it is down.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import grpc
import trio

from shared.fleet import fleet_pb2 as pb
from shared.fleet import fleet_pb2_grpc as pb_grpc

from .state import NodeIdentity

log = logging.getLogger(__name__)

RECONNECT_MIN = 0.5
RECONNECT_MAX = 4.0
UNARY_TIMEOUT = 2.0
COMMAND_QUEUE = 64

ReportBuilder = Callable[[], pb.NodeReport]
CommandHandler = Callable[[pb.Command], Awaitable[None]]


class ControlPlaneUnavailable(RuntimeError):
    """A unary fleet call could not be answered now."""


@dataclass
class SessionStatus:
    connected: bool = False
    status: str = "unknown"  # as the control plane sees this node
    last_ack_at: float = 0.0
    reconnects: int = 0
    last_error: str = ""


def fleet_channel(identity: NodeIdentity) -> grpc.Channel:
    """A mutual-TLS gRPC channel to the control plane, as this node."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem,
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    options = [
        # The control plane's certificate names a fixed TLS name, not an address.
        ("grpc.ssl_target_name_override", identity.enrollment.tls_name),
        ("grpc.keepalive_time_ms", 10_000),
        ("grpc.keepalive_timeout_ms", 5_000),
        ("grpc.initial_reconnect_backoff_ms", 500),
        ("grpc.max_reconnect_backoff_ms", 4_000),
    ]
    return grpc.secure_channel(identity.enrollment.grpc_address, credentials, options=options)


class FleetSession:
    """Owns the gRPC channel; `run` keeps the report/command session alive."""

    def __init__(
        self,
        identity: NodeIdentity,
        build_report: ReportBuilder,
        on_command: CommandHandler,
        report_interval: float,
    ) -> None:
        self._identity = identity
        self._build_report = build_report
        self._on_command = on_command
        self._interval = report_interval
        self._channel = fleet_channel(identity)
        self._stub = pb_grpc.FleetStub(self._channel)
        self.status = SessionStatus()

    def close(self) -> None:
        self._channel.close()

    # ---------------------------------------------------------------- unary calls

    async def authorize_publish(self, request: pb.PublishRequest) -> pb.PublishDecision:
        decision = await self._unary(self._stub.AuthorizePublish, request)
        assert isinstance(decision, pb.PublishDecision)
        return decision

    async def publish_stopped(self, request: pb.PublishStoppedRequest) -> None:
        await self._unary(self._stub.PublishStopped, request)

    async def _unary(self, method: Callable[..., object], request: object) -> object:
        def call() -> object:
            return method(request, timeout=UNARY_TIMEOUT, wait_for_ready=False)

        try:
            return await trio.to_thread.run_sync(call, abandon_on_cancel=True)
        except grpc.RpcError as exc:
            raise ControlPlaneUnavailable(_describe(exc)) from None

    # ------------------------------------------------------------------- session

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep a session open until cancelled; never returns otherwise."""
        task_status.started()
        backoff = RECONNECT_MIN
        try:
            while True:
                started = time.monotonic()
                error = await self._session_once()
                self.status.connected = False
                self.status.last_error = error
                self.status.reconnects += 1
                log.warning("control plane session lost: %s; reconnecting", error)
                if time.monotonic() - started > 10 * self._interval:
                    backoff = RECONNECT_MIN
                await trio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX)
        finally:
            self.close()

    async def _session_once(self) -> str:
        """One call of `Session`; returns why it ended."""
        outbox: queue.Queue[pb.NodeReport | None] = queue.Queue(maxsize=4)
        send, receive = trio.open_memory_channel[pb.Command](COMMAND_QUEUE)
        call = self._stub.Session(_until_none(outbox))
        pumped: list[str] = []
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send_reports, outbox)
                nursery.start_soon(self._pump, call, send, pumped)
                async with receive:
                    stalled = await self._handle_commands(receive)
                nursery.cancel_scope.cancel()
        finally:
            call.cancel()
            _offer(outbox, None)  # wakes grpc's request thread so it ends
        return stalled or (pumped[0] if pumped else "session ended")

    async def _pump(
        self, call: Iterator[pb.Command], send: trio.MemorySendChannel[pb.Command], out: list[str]
    ) -> None:
        """Iterate the call's responses in a thread, handing each to trio."""
        token = trio.lowlevel.current_trio_token()

        def pump() -> str:
            try:
                for command in call:
                    trio.from_thread.run(send.send, command, trio_token=token)
                return "control plane closed the session"
            except grpc.RpcError as exc:
                return _describe(exc)
            except (trio.RunFinishedError, trio.Cancelled, trio.ClosedResourceError):
                return "node stopping"

        async with send:
            out.append(await trio.to_thread.run_sync(pump, abandon_on_cancel=True))

    async def _send_reports(self, outbox: queue.Queue[pb.NodeReport | None]) -> None:
        seq = 0
        while True:
            seq += 1
            report = self._build_report()
            report.seq = seq
            report.sent_at = time.time()
            # If the call is stuck, a newer report replaces the oldest one.
            _offer(outbox, report)
            await trio.sleep(self._interval)

    async def _handle_commands(self, receive: trio.MemoryReceiveChannel[pb.Command]) -> str:
        """Dispatch commands until the call ends (""), or acks stop (a reason)."""
        # A session whose acks stop arriving is dead even if TCP has not noticed yet.
        deadline = 3 * self._interval + UNARY_TIMEOUT
        while True:
            with trio.move_on_after(deadline) as timeout:
                try:
                    command = await receive.receive()
                except trio.EndOfChannel:
                    return ""
            if timeout.cancelled_caught:
                return "no acknowledgement from the control plane"
            if command.WhichOneof("kind") == "ack":
                self._on_ack(command.ack)
            else:
                await self._on_command(command)

    def _on_ack(self, ack: pb.ReportAck) -> None:
        if not self.status.connected:
            log.info("control plane session up; this node is %s", ack.status)
        elif ack.status != self.status.status:
            log.info("control plane says this node is now %s", ack.status)
        self.status.connected = True
        self.status.status = ack.status
        self.status.last_ack_at = time.monotonic()


def _describe(exc: grpc.RpcError) -> str:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    return f"{code.name if code else 'error'}: {details}"


def _until_none(outbox: queue.Queue[pb.NodeReport | None]) -> Iterator[pb.NodeReport]:
    """The request iterator grpc drains in its own thread; None ends it."""
    while (report := outbox.get()) is not None:
        yield report


def _offer(outbox: queue.Queue[pb.NodeReport | None], item: pb.NodeReport | None) -> None:
    """Put without blocking, dropping the oldest entries to make room."""
    while True:
        try:
            outbox.put_nowait(item)
            return
        except queue.Full:
            with contextlib.suppress(queue.Empty):
                outbox.get_nowait()
