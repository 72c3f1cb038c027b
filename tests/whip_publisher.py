"""A scripted WHIP publisher (aiortc), run as a process by the tests and benchmarks.

    python tests/whip_publisher.py URL KEY [--seconds N] [--size WxH]

POSTs an offer (H.264 constrained baseline + Opus, as OBS 30 sends) with the key as a
Bearer token, prints one JSON line `{"status": ..., "location": ..., "reason": ...}`,
and on 201 streams a synthetic 30 fps picture and a tone until `--seconds` pass or its
stdin closes; then DELETEs the session and prints `{"deleted": STATUS}`. Exits 0 when
the POST was answered 201, 1 otherwise. Its own asyncio loop: the tests drive it from
trio or plain threads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import math
import struct
import sys
import threading
from urllib.parse import urljoin

import aioice.ice
import av
import httpx
from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)


class Picture(VideoStreamTrack):
    """A moving gradient, cheap to make without numpy and never quite still for x264."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__()
        self._size = (width, height)
        self._n = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        width, height = self._size
        frame = av.VideoFrame(width, height, "yuv420p")
        shift = self._n % 256
        self._n += 1
        row = bytes((x + shift) & 0xFF for x in range(frame.planes[0].line_size))
        frame.planes[0].update(row * height)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * (plane.line_size * (height // 2)))
        frame.pts, frame.time_base = pts, time_base
        return frame


class Tone(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        rate, count = 48_000, 960
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        wait = self._start + self._samples / rate - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        values = (
            int(8000 * math.sin(2 * math.pi * 440 * (self._samples + i) / rate))
            for i in range(count)
        )
        frame = av.AudioFrame(format="s16", layout="stereo", samples=count)
        frame.planes[0].update(b"".join(struct.pack("<hh", v, v) for v in values))
        frame.sample_rate = rate
        frame.pts, frame.time_base = self._samples, fractions.Fraction(1, rate)
        self._samples += count
        return frame


def _only_h264(pc: RTCPeerConnection) -> None:
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            caps = RTCRtpSender.getCapabilities("video")
            codecs = [c for c in caps.codecs if c.mimeType.lower() == "video/h264"]
            transceiver.setCodecPreferences(codecs)


async def publish(url: str, key: str, seconds: float, size: tuple[int, int]) -> int:
    # Loopback is what the test node advertises; aioice leaves it out by default.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    pc = RTCPeerConnection()
    pc.addTransceiver(Picture(*size), direction="sendonly")
    pc.addTransceiver(Tone(), direction="sendonly")
    _only_h264(pc)
    await pc.setLocalDescription(await pc.createOffer())
    headers = {"content-type": "application/sdp", "authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=15) as client:
        reply = await client.post(url, content=pc.localDescription.sdp, headers=headers)
        location = reply.headers.get("location")
        print(
            json.dumps({"status": reply.status_code, "location": location, "reason": reply.text})
            if reply.status_code != 201
            else json.dumps({"status": 201, "location": location}),
            flush=True,
        )
        if reply.status_code != 201:
            await pc.close()
            return 1
        await pc.setRemoteDescription(RTCSessionDescription(reply.text, "answer"))
        # Stdin is watched from a daemon thread: an executor's would hold the exit.
        loop = asyncio.get_running_loop()
        stdin_closed = asyncio.Event()

        def watch() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(stdin_closed.set)

        threading.Thread(target=watch, daemon=True).start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stdin_closed.wait(), seconds)
        deleted = await client.delete(urljoin(url, location))
        print(json.dumps({"deleted": deleted.status_code}), flush=True)
    await pc.close()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="320x240")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    sys.exit(asyncio.run(publish(args.url, args.key, args.seconds, (width, height))))


if __name__ == "__main__":
    main()
