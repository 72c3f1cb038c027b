"""Ingest over RTMP, SRT and WHIP against nginx's RTMP module: CPU per media second and
publish-to-part latency.

The project's test clip (`tests/testclip.py`: 1280x720p30 H.264 High at ~6 Mbit/s, an
IDR every 2 s, 2 B-frames, AAC) is pushed for `--seconds` at real time (`-re`, looped
with `-stream_loop`) to a local fleet's origin (`glasscast up --no-demo`, ingest-east):

- RTMP: ffmpeg CLI `-c copy -f flv rtmp://.../live/KEY`;
- SRT: ffmpeg CLI `-c copy -f mpegts 'srt://HOST:PORT?streamid=KEY&linger=2'`;
- WHIP: an aiortc publisher in this file (`--whip-publish`, its own process) sending the
  clip's pictures as H.264 packets without re-encoding them in the publisher, plus an
  Opus tone (tests/whip_publisher.py's `Tone`). WebRTC carries no B-frames (the node's
  WHIP path takes pts == dts), so the bench first re-encodes the looped clip once to
  constrained baseline, no B-frames, 6 Mbit/s, the same IDR cadence: same pictures and
  bitrate, the one profile WHIP senders use;
- peer: nginx with `ngx_rtmp_module` (`live on`, no recording, one worker), the same
  ffmpeg RTMP push as ours.

The fleet runs with a passthrough-only ladder (`GLASSCAST_TRANSCODE_LADDER`, the
`[transcode] ladder` setting: only `source`), so the figure is ingest + hand-off +
LL-HLS packaging of the source rendition, not x264. Our CPU is user + system of the
ingest-east node process and all its descendants (the transcode worker), including
reaped children (cutime/cstime), from /proc, read before the push and 1 s after it
ends; nginx's is its master + worker. Each push also has one LL-HLS viewer at the
origin (the latency watcher below), which the node serves within the measured CPU:
~3 blocking playlist reloads and ~3 part GETs a second; nginx serves no viewer.
Every push is to a fresh channel; rounds alternate the order of the four sides.

Latency (ours only; nginx makes no LL-HLS parts): as bench/part_latency.py, a viewer
at the origin holds a blocking reload for each next part of the `source` rendition and
GETs it; the part's last frame comes from its moof (tfdt + durations against the
stream's first segment, msn 0, which starts on the publisher's frame 0). Each round's
line says which frame the last measured part ends on, of how many were sent: a check
of that anchoring (a stream that started a GOP late would claim frames never sent).
Send time of frame i:
- ffmpeg: `t0 + i/30`, t0 = min over `-progress` reports (every 20 ms) of (arrival -
  out_time). Reports come after the mux, so t0 is at most one report late; out_time is
  a pts, up to 2 frames (67 ms) ahead of the dts that -re paces by, which makes t0 up
  to 67 ms early. So the RTMP/SRT figures may read up to ~67 ms high, not low;
- WHIP: the publisher logs the monotonic time it hands each frame to aiortc's
  packetizer (immediately followed by the RTP send).
Latency = part GET answered 200 - send time of its last frame; p95 over all rounds.

    .venv/bin/python bench/ingest_protocols.py [--rounds 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

import httpx  # noqa: E402
import trio  # noqa: E402

FPS = 30
TICKS = os.sysconf("SC_CLK_TCK")
SIDES = ("rtmp", "srt", "whip", "nginx")
PASSTHROUGH_LADDER = '[{name = "source", passthrough = true}]'


# ------------------------------------------------------------------ WHIP publisher


def whip_publish(url: str, key: str, clip: Path) -> int:
    """Send `clip` (Annex B H.264, no B-frames) over WHIP at real time; print
    `<frame index> <monotonic>` per frame as it goes to the packetizer."""
    import aioice.ice
    import av
    from aiortc import (
        MediaStreamTrack,
        RTCPeerConnection,
        RTCRtpSender,
        RTCSessionDescription,
    )
    from aiortc.mediastreams import MediaStreamError
    from whip_publisher import Tone

    class ClipTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._container = av.open(str(clip))
            self._packets = self._container.demux(video=0)
            self._index = 0
            self._start: float | None = None
            self.sends: list[tuple[int, float]] = []
            self.ended = asyncio.Event()

        async def recv(self) -> Any:
            while True:
                try:
                    packet = next(self._packets)
                except StopIteration:
                    self.ended.set()
                    self.stop()
                    raise MediaStreamError from None
                if packet.size:
                    break
            if self._start is None:
                self._start = time.monotonic()
            wait = self._start + self._index / FPS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            packet.pts = packet.dts = self._index * (90_000 // FPS)
            packet.time_base = Fraction(1, 90_000)
            self.sends.append((self._index, time.monotonic()))
            self._index += 1
            return packet

    async def run() -> int:
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
        pc = RTCPeerConnection()
        video = ClipTrack()
        pc.addTransceiver(video, direction="sendonly")
        pc.addTransceiver(Tone(), direction="sendonly")
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "video":
                caps = RTCRtpSender.getCapabilities("video")
                transceiver.setCodecPreferences(
                    [c for c in caps.codecs if c.mimeType.lower() == "video/h264"]
                )
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"content-type": "application/sdp", "authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(timeout=15) as client:
            reply = await client.post(url, content=pc.localDescription.sdp, headers=headers)
            if reply.status_code != 201:
                print(f"WHIP POST {reply.status_code}: {reply.text}", file=sys.stderr)
                await pc.close()
                return 1
            await pc.setRemoteDescription(RTCSessionDescription(reply.text, "answer"))
            await video.ended.wait()
            await client.delete(urljoin(url, reply.headers["location"]))
        await pc.close()
        print("\n".join(f"{i} {t}" for i, t in video.sends), flush=True)
        return 0

    return asyncio.run(run())


# ---------------------------------------------------------------------- /proc CPU


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu(pid: int) -> float:
    """User + system CPU of a process, its reaped children and its live descendants."""
    total = 0.0
    pending = [pid]
    while pending:
        one = pending.pop()
        try:
            fields = _stat(one)
            tasks = list(Path(f"/proc/{one}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS
        for task in tasks:
            with contextlib.suppress(FileNotFoundError):
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total


def find_node_pid(config_path: Path) -> int:
    """The edge node process started with `config_path`."""
    wanted = str(config_path.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted.encode() in argv and b"edge" in argv:
            return int(entry.name)
    raise RuntimeError(f"no node process runs with {wanted}")


# ------------------------------------------------------------------------ pushers


class FfmpegPush:
    """ffmpeg pushing the looped clip at real time, with -progress for its clock."""

    def __init__(self, clip: Path, seconds: float, fmt: str, url: str) -> None:
        loops = math.ceil(seconds / 10) + 1
        self.reports: list[tuple[float, float]] = []  # (monotonic, out_time seconds)
        self.process = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-re", "-stream_loop", str(loops - 1),
             "-i", str(clip), "-t", str(seconds), "-c", "copy",
             "-progress", "pipe:1", "-stats_period", "0.02", "-f", fmt, url],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.started = time.monotonic()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(b"out_time_us="):
                with contextlib.suppress(ValueError):
                    out = int(line.split(b"=", 1)[1]) / 1e6
                    if out > 0:
                        self.reports.append((time.monotonic(), out))

    def finish(self, timeout: float) -> dict[int, float]:
        """Wait for the end; frame index -> estimated send time."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(5)
        if self.process.returncode != 0:
            print(f"  ffmpeg exited {self.process.returncode}", file=sys.stderr)
        if not self.reports:
            return {}
        t0 = min(arrival - out for arrival, out in self.reports)
        last = max(out for _, out in self.reports)
        return {i: t0 + i / FPS for i in range(round(last * FPS))}


class WhipPush:
    def __init__(self, clip: Path, url: str, key: str, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, __file__, "--whip-publish", url, key, str(clip)],
                stdout=out, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.started = time.monotonic()

    def finish(self, timeout: float) -> dict[int, float]:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.returncode != 0:
            print(f"  WHIP publisher exited {self.process.returncode}", file=sys.stderr)
        sends = {}
        for line in self.log.read_text().splitlines():
            index, sent = line.split()
            sends[int(index)] = float(sent)
        return sends


# ------------------------------------------------------------------------ harness


async def _anchored_timeline(client: httpx.AsyncClient, url: str) -> tuple[Any, bytes]:
    """The rendition's timeline anchored on the stream's first segment (msn 0): the
    publisher's frame 0. (Anchoring on the first listed part, as part_latency does, is
    off by whole segments when the viewer comes after the first segment has dropped
    its parts from the playlist.)"""
    from part_latency import Timeline, _get, video_span, video_track

    text = (await _get(client, url)).content
    init_uri = re.search(rb'#EXT-X-MAP:URI="([^"]+)"', text)
    sequence = re.search(rb"#EXT-X-MEDIA-SEQUENCE:([0-9]+)", text)
    if init_uri is None or sequence is None or int(sequence[1]) != 0:
        raise RuntimeError(f"the playlist no longer starts at the stream's start: {url}")
    track_id, timescale = video_track(
        (await _get(client, urljoin(url, init_uri[1].decode()))).content
    )
    first = await client.get(urljoin(url, "0.m4s"))
    if first.status_code != 200:
        first = await _get(client, urljoin(url, "0.0.m4s"))
    origin, _ = video_span(first.content, track_id)
    return Timeline(track_id, timescale, origin), text


async def watch_source_parts(client: httpx.AsyncClient, url: str, out: list[Any]) -> None:
    """part_latency.watch_rendition (parts only), with the timeline anchored above."""
    from part_latency import _HINT, _PART, Sample, _get, fresh_parts

    timeline, text = await _anchored_timeline(client, url)
    last = max(((int(m[2]), int(m[3])) for m in _PART.finditer(text)), default=(-1, -1))
    while True:
        hint = _HINT.search(text)
        if hint is None:
            raise RuntimeError(f"no preload hint in {url}")
        blocking = f"{url}&_HLS_msn={int(hint[2])}&_HLS_part={int(hint[3])}"
        text = (await _get(client, blocking)).content
        fresh, last = fresh_parts(text, last)
        for uri in fresh:
            media = (await _get(client, urljoin(url, uri.decode()))).content
            out.append(Sample(timeline.last_frame(media), time.monotonic()))


async def watch_source(fleet: dict[str, Any], channel: str, until: float) -> list[Any]:
    """Parts of the `source` rendition at the origin as `part_latency.Sample`s."""
    from part_latency import EAST_VIEWER, _wait_ok

    samples: list[Any] = []
    api = fleet["control_plane"]["http"]
    admin = {"Authorization": f"Bearer {fleet['control_plane']['admin_token']}"}
    transport = httpx.AsyncHTTPTransport(local_address=EAST_VIEWER)
    async with httpx.AsyncClient(transport=transport, timeout=15.0) as client:
        with trio.move_on_after(until - time.monotonic()):
            await _wait_ok(client, f"{api}/api/v1/streams/{channel}/live", headers=admin)
            play = (await _wait_ok(client, f"{api}/play/{channel}.m3u8?format=json")).json()
            master_url = str(play["url"])
            while True:
                master = (await _wait_ok(client, master_url)).text
                source = [line for line in master.splitlines() if line.startswith("source/")]
                if source:
                    break
                await trio.sleep(0.1)
            await watch_source_parts(client, urljoin(master_url, source[0]), samples)
    return samples


def idle_cpu(pid: int, seconds: float) -> float:
    before = tree_cpu(pid)
    time.sleep(seconds)
    return (tree_cpu(pid) - before) / seconds


def make_whip_clip(clip: Path, seconds: float, target: Path) -> None:
    loops = math.ceil(seconds / 10) + 1
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", str(loops - 1),
         "-i", str(clip), "-t", str(seconds), "-an", "-c:v", "libx264",
         "-preset", "veryfast", "-profile:v", "baseline", "-bf", "0", "-threads", "2",
         "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M", "-g", "60", "-keyint_min", "60",
         "-sc_threshold", "0", "-bsf:v", "h264_mp4toannexb", "-f", "mpegts", str(target)],
        check=True,
    )  # fmt: skip


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--whip-publish":
        sys.exit(whip_publish(sys.argv[2], sys.argv[3], Path(sys.argv[4])))
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20, help="media seconds per push")
    args = parser.parse_args()
    for tool in ("ffmpeg", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed")

    from ingest_rtmp import free_port, start_nginx, wait_listening
    from part_latency import create_channel, latencies, start_fleet, stop, summary
    from testclip import source_clip

    clip = source_clip()
    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    latency: dict[str, list[float]] = {side: [] for side in SIDES if side != "nginx"}
    seconds = args.seconds
    os.environ["GLASSCAST_TRANSCODE_LADDER"] = PASSTHROUGH_LADDER
    with tempfile.TemporaryDirectory(prefix="ingest-protocols-") as name:
        tmp = Path(name)
        whip_clip = tmp / "whip.ts"
        make_whip_clip(clip, seconds, whip_clip)
        megabits = clip.stat().st_size * 8 / 1e6 / 10
        whip_megabits = whip_clip.stat().st_size * 8 / 1e6 / seconds
        print(f"clip: {clip.name}, 1280x720p30 H.264 High + AAC, {megabits:.2f} Mbit/s (file)")
        print(f"WHIP: the same pictures, baseline no B-frames, {whip_megabits:.2f} Mbit/s + Opus")
        print(f"each push: {seconds:g} media seconds at real time; ladder: source passthrough only")
        fleet_process, fleet = start_fleet(tmp / "state")
        nginx: subprocess.Popen[bytes] | None = None
        try:
            east = next(n for n in fleet["nodes"] if n["name"] == "ingest-east")
            node_pid = find_node_pid(tmp / "state" / "nodes" / "ingest-east" / "edge.toml")
            nginx_port = free_port()
            nginx = start_nginx(tmp, nginx_port)
            wait_listening(nginx_port, nginx)
            time.sleep(2.0)
            idle = idle_cpu(node_pid, 5.0)
            print(f"node idle (no stream, for reference): {idle:.4f} CPU s per s", flush=True)
            count = 0
            for round_ in range(args.rounds):
                order = list(SIDES) if round_ % 2 == 0 else list(reversed(SIDES))
                for side in order:
                    count += 1
                    pid = nginx.pid if side == "nginx" else node_pid
                    before = tree_cpu(pid)
                    push: FfmpegPush | WhipPush
                    if side == "nginx":
                        url = f"rtmp://127.0.0.1:{nginx_port}/live/bench{count}"
                        push = FfmpegPush(clip, seconds, "flv", url)
                        push.finish(seconds + 30)
                        samples: list[Any] = []
                        sends: dict[int, float] = {}
                    else:
                        channel = f"proto{count}{side}"
                        key = create_channel(fleet, channel)
                        before = tree_cpu(pid)
                        if side == "rtmp":
                            push = FfmpegPush(clip, seconds, "flv", f"{east['rtmp']}/{key}")
                        elif side == "srt":
                            url = f"{east['srt']}?streamid={key}&linger=2"
                            push = FfmpegPush(clip, seconds, "mpegts", url)
                        else:
                            push = WhipPush(
                                whip_clip, f"{east['http']}/whip/{channel}", key,
                                tmp / f"{channel}.log",
                            )  # fmt: skip
                        try:
                            samples = trio.run(
                                watch_source, fleet, channel, push.started + seconds + 5
                            )
                        finally:
                            sends = push.finish(seconds + 30)
                    time.sleep(1.0)  # let the server finish what is in its buffers
                    used = tree_cpu(pid) - before
                    cpu[side].append(used / seconds)
                    line = f"round {round_ + 1} {side:>5}: {used:.2f} CPU s for {seconds:g} media s"
                    if side != "nginx":
                        values = latencies(samples, sends)
                        latency[side] += values
                        line += f", parts measured {len(values)}"
                        if samples and sends:
                            last = max(sample.last_frame for sample in samples)
                            line += f", last part ends on frame {last} of {len(sends)} sent"
                    print(line, flush=True)
        finally:
            if nginx is not None:
                stop(nginx)
            stop(fleet_process, group=True)
    print()
    p50 = {side: statistics.median(values) for side, values in cpu.items()}
    for side, value in p50.items():
        print(f"p50 CPU {side:>5}: {value:.4f} CPU s per media s ({value * 100:.2f}% of a core)")
    for side, values in latency.items():
        print(f"publish-to-part {side:>5}: {summary(values)}")
    for side in ("rtmp", "srt", "whip"):
        print(f"ratio {side}/nginx CPU: {p50[side] / p50['nginx']:.2f}x")
    for side in ("srt", "whip"):
        print(f"ratio {side}/rtmp CPU: {p50[side] / p50['rtmp']:.2f}x")


if __name__ == "__main__":
    main()
