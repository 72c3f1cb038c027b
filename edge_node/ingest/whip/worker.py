"""The WebRTC worker: one asyncio process per node running every WHIP session's aiortc
peer connection. Started by `service.WhipIngest` as
`python -m edge_node.ingest.whip.worker PUBLIC_IP PORT_MIN PORT_MAX ICE_TIMEOUT`; talks `wire`
messages over stdin/stdout and exits when stdin closes (the node went away).

aiortc decodes what it receives; for H.264 we want the access units, not pictures, so
the receiver's decoder factory is replaced in this process with one that passes the
depacketized frame (Annex B + RTP timestamp) straight through to the track.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import aiortc.rtcrtpreceiver
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from edge_node.ingest.rtmp import CodecConfig, MediaPacket
from edge_node.ingest.source import SourceBridge
from edge_node.ingest.whip import ice, wire
from edge_node.ingest.whip.audio import OpusToAac
from edge_node.ingest.whip.media import H264Access
from edge_node.media import SourceEvent

log = logging.getLogger("edge_node.ingest.whip.worker")

# An offer whose ICE has not connected by then is dropped with its ports (the issue's
# "1,000 offers that never complete ICE": each holds one UDP socket until this).
ICE_TIMEOUT = 15.0
# Sessions at once, live or still connecting; more are refused (503) by the node first.
MAX_SESSIONS = 64
# While waiting for a decodable start, ask the sender for a keyframe this often.
PLI_INTERVAL = 1.0


class _AccessUnit:
    """What the pass-through 'decoder' hands the track: one depacketized H.264 frame."""

    __slots__ = ("data", "timestamp")

    def __init__(self, data: bytes, timestamp: int) -> None:
        self.data = data
        self.timestamp = timestamp


class _PassThrough:
    def decode(self, encoded_frame: Any) -> list[_AccessUnit]:
        return [_AccessUnit(bytes(encoded_frame.data), encoded_frame.timestamp)]


def _install_h264_passthrough() -> None:
    original = aiortc.rtcrtpreceiver.get_decoder

    def get_decoder(codec: Any) -> Any:
        if codec.mimeType.lower() == "video/h264":
            return _PassThrough()
        return original(codec)

    aiortc.rtcrtpreceiver.get_decoder = get_decoder


class Session:
    def __init__(
        self, sid: str, emit: Callable[[tuple[Any, ...]], None], ice_timeout: float = ICE_TIMEOUT
    ) -> None:
        self.sid = sid
        self._ice_timeout = ice_timeout
        self._emit = emit
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._bridge = SourceBridge()
        self._started = time.monotonic()
        self._ended = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._pc.on("track", self._on_track)
        self._pc.on("connectionstatechange", self._on_state)

    async def answer(self, offer: str) -> str:
        await self._pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        for transceiver in self._pc.getTransceivers():
            _prefer(transceiver)
        await self._pc.setLocalDescription(await self._pc.createAnswer())
        self._spawn(self._ice_deadline())
        return self._pc.localDescription.sdp

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ice_deadline(self) -> None:
        await asyncio.sleep(self._ice_timeout)
        if self._pc.connectionState != "connected":
            await self.close(f"ICE did not connect within {self._ice_timeout:g} s")

    async def _on_state(self) -> None:
        if self._pc.connectionState in ("failed", "closed"):
            await self.close(f"connection {self._pc.connectionState}")

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = next(
            (t.receiver for t in self._pc.getTransceivers() if t.receiver.track is track), None
        )
        if track.kind == "video":
            self._spawn(self._video(track, receiver))
        elif track.kind == "audio":
            self._spawn(self._audio(track))

    def _now_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

    def _send(self, items: list[CodecConfig | MediaPacket]) -> None:
        events: list[SourceEvent] = []
        for item in items:
            events.extend(self._bridge.convert(item))
        if events and not self._ended:
            self._emit(("events", self.sid, events))

    async def _video(self, track: MediaStreamTrack, receiver: RTCRtpReceiver | None) -> None:
        access = H264Access()
        last_pli = 0.0
        try:
            while True:
                unit = await track.recv()
                if not isinstance(unit, _AccessUnit):
                    continue
                self._send(access.convert(unit.data, unit.timestamp, self._now_ms()))
                now = time.monotonic()
                if access.waiting_for_keyframe and receiver and now - last_pli > PLI_INTERVAL:
                    last_pli = now
                    # aiortc sends a PLI on the next packet when its decoder failed;
                    # the flag is private, but it is the receiver's own PLI path.
                    receiver._RTCRtpReceiver__decoder_error.set()  # type: ignore[attr-defined]
        except MediaStreamError:
            pass
        except Exception:
            await self._failed("video")

    async def _audio(self, track: MediaStreamTrack) -> None:
        aac = OpusToAac()
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, av.AudioFrame):
                    self._send(aac.convert(frame, self._now_ms()))
        except MediaStreamError:
            pass
        except Exception:
            await self._failed("audio")

    async def _failed(self, kind: str) -> None:
        # A track that cannot be converted would leave a half stream: end it, with a
        # trace in the node's log, rather than let the task die unnoticed.
        log.exception("whip %s: %s conversion failed", self.sid, kind)
        await self.close(f"{kind} could not be converted")

    async def close(self, reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._emit(("ended", self.sid, reason))
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await self._pc.close()


def _prefer(transceiver: RTCRtpTransceiver) -> None:
    """Answer with H.264 (packetization-mode 1) and Opus only: what we can take."""
    kind = transceiver.kind
    wanted = "video/h264" if kind == "video" else "audio/opus"
    capabilities = RTCRtpReceiver.getCapabilities(kind)
    codecs = [
        c
        for c in (capabilities.codecs if capabilities else [])
        if c.mimeType.lower() == wanted
        and (kind != "video" or c.parameters.get("packetization-mode") == "1")
    ]
    transceiver.setCodecPreferences(codecs)


class Worker:
    def __init__(self, out: Any, ice_timeout: float = ICE_TIMEOUT) -> None:
        self._ice_timeout = ice_timeout
        self._sessions: dict[str, Session] = {}
        self._out = out
        self._tasks: set[asyncio.Task[None]] = set()

    def emit(self, message: tuple[Any, ...]) -> None:
        # Blocking write to the pipe: the node reads it continuously, and a node that
        # stopped reading is gone (then the write fails and the worker exits).
        self._out.write(wire.encode(message))
        self._out.flush()

    async def handle(self, message: tuple[Any, ...]) -> None:
        if message[0] == "offer":
            _, request, sid, sdp = message
            # Answering gathers candidates and may take a while; others go on meanwhile.
            task = asyncio.ensure_future(self._offer(request, sid, sdp))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif message[0] == "close":
            _, sid, reason = message
            session = self._sessions.get(sid)
            if session is not None:
                await session.close(reason)

    async def _offer(self, request: int, sid: str, sdp: str) -> None:
        if len(self._sessions) >= MAX_SESSIONS:
            self.emit(("refused", request, 503, "too many WebRTC sessions on this node"))
            return
        session = Session(sid, self._session_emit, self._ice_timeout)
        self._sessions[sid] = session
        try:
            answer = await session.answer(sdp)
        except Exception as exc:  # aiortc raises anything on offers it cannot take
            log.info("whip %s: offer refused: %s", sid, exc)
            await session.close("offer refused")
            self.emit(("refused", request, 400, f"cannot answer this offer: {exc}"[:300]))
            return
        self.emit(("answer", request, answer))

    def _session_emit(self, message: tuple[Any, ...]) -> None:
        if message[0] == "ended":
            self._sessions.pop(message[1], None)
        self.emit(message)


async def main(public_ip: str, port_min: int, port_max: int, ice_timeout: float) -> None:
    ice.install(public_ip, ice.PortRange(port_min, port_max))
    _install_h264_passthrough()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=wire.MAX_MESSAGE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    # The wire owns the real stdout; anything a library prints goes to stderr (the log).
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    worker = Worker(out, ice_timeout)
    decoder = wire.Decoder()
    while data := await reader.read(64 * 1024):
        for message in decoder.feed(data):
            await worker.handle(message)


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
