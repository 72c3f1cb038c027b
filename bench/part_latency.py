"""LL-HLS part latency at the origin: last frame of a part sent over RTMP -> part fetchable.

A real local fleet (`glasscast up --no-demo`) takes a 1280x720p30 push from a PyAV
publisher in its own process (`bench/_rtmp_timing.py`) that logs the monotonic time it
wrote each video frame's packet to the socket. For each new part of the `source`
(passthrough) and `360p30` (transcoded) renditions, a viewer at 127.1.0.7 (routed to the
origin, ingest-east) holds a blocking reload for the next part (`_HLS_msn`/`_HLS_part`,
the preload hint's part) and then GETs the part. A part's last frame comes from its
`moof`: the video traf's tfdt + sample durations, against the first part's tfdt (the
stream starts on the publisher's frame 0). Latency = part GET answered 200 - that
frame's send time.

Peer: nginx's RTMP module makes no LL-HLS parts, only whole segments (`hls on;
hls_fragment 2s;`, served by the same nginx over HTTP). For whole segments both sides
are measured the same way, last frame of the segment sent -> segment fetchable: ours
from the source rendition's blocking reloads on the open segment's number (answered
when it is complete), nginx's by polling its playlist every 5 ms (it cannot block; up
to 5 ms of the figure is the polling). Its last frame comes from the EXTINF durations
summed from the stream's first segment.

Rounds alternate ours and nginx, each with its own fresh channel / stream name.
Target (issue 4): part p95 under 100 ms plus one frame (1/fps) of encoder delay.

    .venv/bin/python bench/part_latency.py [--seconds 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import trio

from edge_node.package.cmaf.reader import Box, iter_boxes, parse_traf
from localfleet.topology import free_port

FPS = 30
SIZE = "1280x720"
EAST_VIEWER = "127.1.0.7"  # inside ingest-east's prefixes: /play answers the origin
RENDITIONS = ("source", "360p30")
TARGET_MS = 100.0
NGINX_POLL = 0.005
PUBLISHER = Path(__file__).resolve().parent / "_rtmp_timing.py"
NGINX_CONF = """\
load_module modules/ngx_rtmp_module.so;
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp};
        application live {{
            live on;
            record off;
            hls on;
            hls_path {tmp}/hls;
            hls_fragment 2s;
        }}
    }}
}}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{http};
        location /hls/ {{ alias {tmp}/hls/; add_header Cache-Control no-cache; }}
    }}
}}
"""
_HINT = re.compile(rb'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(([0-9]+)\.([0-9]+)\.m4s[^"]*)"')
_PART = re.compile(rb'#EXT-X-PART:[^\n]*URI="(([0-9]+)\.([0-9]+)\.m4s[^"]*)"')
_SEGMENT_URI = re.compile(rb"^(([0-9]+)\.m4s\S*)$", re.MULTILINE)
_SEQUENCE = re.compile(rb"#EXT-X-MEDIA-SEQUENCE:([0-9]+)")
_EXTINF = re.compile(rb"#EXTINF:([0-9.]+),[^\n]*\n(\S+)")


@dataclass(frozen=True)
class Sample:
    """One object (part or segment) that became fetchable, and the frame it ends on."""

    last_frame: int
    fetchable: float  # time.monotonic()


@dataclass
class Observed:
    parts: dict[str, list[Sample]] = field(default_factory=lambda: {r: [] for r in RENDITIONS})
    segments: list[Sample] = field(default_factory=list)


# --------------------------------------------------------------------------- fMP4


def _full_offset(box: Box, v0: int, v1: int) -> int:
    return v1 if box.full_header()[0] == 1 else v0


def video_track(init: bytes) -> tuple[int, int]:
    """(track id, timescale) of the video track of an init segment."""
    moov = next(b for b in iter_boxes(init) if b.kind == b"moov")
    for trak in (b for b in moov.children() if b.kind == b"trak"):
        mdia = trak.child(b"mdia")
        if bytes(mdia.child(b"hdlr").payload[8:12]) != b"vide":
            continue
        tkhd, mdhd = trak.child(b"tkhd"), mdia.child(b"mdhd")
        track_id = struct.unpack_from(">I", tkhd.payload, _full_offset(tkhd, 12, 20))[0]
        timescale = struct.unpack_from(">I", mdhd.payload, _full_offset(mdhd, 12, 20))[0]
        return int(track_id), int(timescale)
    raise ValueError("no video track in the init segment")


def video_span(media: bytes, track_id: int) -> tuple[int, int]:
    """(first decode time, end decode time) of the video samples in a part or segment."""
    start: int | None = None
    end = 0
    for moof in (b for b in iter_boxes(media) if b.kind == b"moof"):
        for traf in (b for b in moof.children() if b.kind == b"traf"):
            fragment = parse_traf(traf)
            if fragment.track_id == track_id:
                start = fragment.base_decode_time if start is None else start
                end = fragment.base_decode_time + fragment.duration
    if start is None:
        raise ValueError("no video samples")
    return start, end


@dataclass(frozen=True)
class Timeline:
    """Maps a rendition's decode times to publisher frame indices (frame 0 at `origin`)."""

    track_id: int
    timescale: int
    origin: int

    def last_frame(self, media: bytes) -> int:
        _, end = video_span(media, self.track_id)
        return round((end - self.origin) * FPS / self.timescale) - 1


# ---------------------------------------------------------------------- publisher


class Publisher:
    """The timing publisher in a child process; `sends` maps frame index -> send time."""

    def __init__(self, url: str, seconds: float, log: Path) -> None:
        self.log = log
        self.seconds = seconds
        self.sends: dict[int, float] = {}
        self.started = time.monotonic()
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(PUBLISHER), url, "--seconds", str(seconds),
                 "--size", SIZE, "--fps", str(FPS)],
                stdout=out, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def finish(self) -> None:
        try:
            self.process.wait(self.seconds + 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for line in self.log.read_text().splitlines():
            index, sent = line.split()
            self.sends[int(index)] = float(sent)
        if self.process.returncode != 0:
            print(f"  publisher exited {self.process.returncode}", file=sys.stderr)


def latencies(samples: list[Sample], sends: dict[int, float]) -> list[float]:
    """Milliseconds from each sample's last frame sent to it being fetchable."""
    return [(s.fetchable - sends[s.last_frame]) * 1000 for s in samples if s.last_frame in sends]


# ------------------------------------------------------------------- ours (origin)


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    answer = await client.get(url)
    answer.raise_for_status()
    return answer


async def _wait_ok(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    while True:
        answer = await client.get(url, **kwargs)
        if answer.status_code == 200:
            return answer
        await trio.sleep(0.1)


async def _timeline(client: httpx.AsyncClient, url: str) -> tuple[Timeline, bytes]:
    """The rendition's timeline, anchored on the stream's first part, and its playlist."""
    text = (await _get(client, url)).content
    init_uri = re.search(rb'#EXT-X-MAP:URI="([^"]+)"', text)
    first_part = re.search(rb'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)
    if init_uri is None or first_part is None:
        raise RuntimeError(f"no init or part in the first playlist of {url}")
    track_id, timescale = video_track(
        (await _get(client, urljoin(url, init_uri[1].decode()))).content
    )
    first = (await _get(client, urljoin(url, first_part[1].decode()))).content
    origin, _ = video_span(first, track_id)
    return Timeline(track_id, timescale, origin), text


async def watch_rendition(
    client: httpx.AsyncClient, url: str, out: list[Sample], whole_segments: bool = False
) -> None:
    """Blocking-reload each next part and GET what it made fetchable, noting when: the
    new parts, or with `whole_segments` the newly complete segments (a separate watcher,
    so that neither kind waits behind the other's GETs)."""
    timeline, text = await _timeline(client, url)
    # What was there before we came is not measured.
    seen = {int(m[2]) for m in _SEGMENT_URI.finditer(text)}
    last = max(((int(m[2]), int(m[3])) for m in _PART.finditer(text)), default=(-1, -1))
    while True:
        hint = _HINT.search(text)
        if hint is None:
            raise RuntimeError(f"no preload hint in {url}")
        if whole_segments:
            # The open segment itself, no part: answered the moment it is complete (a part
            # index past its end would wait for the next segment's first part, RFC 8216bis).
            blocking = f"{url}&_HLS_msn={int(hint[2])}"
        else:
            blocking = f"{url}&_HLS_msn={int(hint[2])}&_HLS_part={int(hint[3])}"
        text = (await _get(client, blocking)).content
        if whole_segments:
            fresh = [m[1] for m in _SEGMENT_URI.finditer(text) if int(m[2]) not in seen]
            seen.update(int(m[2]) for m in _SEGMENT_URI.finditer(text))
        else:
            # The hinted part, or the next segment's first one when a keyframe ended the
            # segment before the hinted part; a late answer may list more than one.
            fresh, last = fresh_parts(text, last)
        for uri in fresh:
            media = (await _get(client, urljoin(url, uri.decode()))).content
            out.append(Sample(timeline.last_frame(media), time.monotonic()))


def fresh_parts(text: bytes, last: tuple[int, int]) -> tuple[list[bytes], tuple[int, int]]:
    """The URIs of the parts a playlist lists after `last` (msn, part), and the new last."""
    fresh = []
    for match in _PART.finditer(text):
        if (int(match[2]), int(match[3])) > last:
            last = (int(match[2]), int(match[3]))
            fresh.append(match[1])
    return fresh, last


async def _renditions(client: httpx.AsyncClient, master_url: str) -> dict[str, str]:
    """Rendition name -> playlist URI, once the master lists every rendition we measure."""
    while True:
        master = (await _wait_ok(client, master_url)).text
        uris = {line.split("/")[0]: line for line in master.splitlines() if "/index.m3u8" in line}
        if all(name in uris for name in RENDITIONS):
            return uris
        await trio.sleep(0.1)


async def watch_origin(fleet: dict[str, Any], channel: str, until: float) -> Observed:
    """Until `until` (monotonic), measure both renditions of `channel` at the origin."""
    observed = Observed()
    api = fleet["control_plane"]["http"]
    admin = {"Authorization": f"Bearer {fleet['control_plane']['admin_token']}"}
    transport = httpx.AsyncHTTPTransport(local_address=EAST_VIEWER)
    async with httpx.AsyncClient(transport=transport, timeout=15.0) as client:
        with trio.move_on_after(until - time.monotonic()):
            await _wait_ok(client, f"{api}/api/v1/streams/{channel}/live", headers=admin)
            play = (await _wait_ok(client, f"{api}/play/{channel}.m3u8?format=json")).json()
            if play.get("edge") != "ingest-east":
                raise RuntimeError(f"/play sent the viewer to {play.get('edge')}, not the origin")
            master_url = str(play["url"])
            uris = await _renditions(client, master_url)
            async with trio.open_nursery() as nursery:
                for name in RENDITIONS:
                    url = urljoin(master_url, uris[name])
                    nursery.start_soon(watch_rendition, client, url, observed.parts[name])
                source = urljoin(master_url, uris["source"])
                nursery.start_soon(watch_rendition, client, source, observed.segments, True)
    return observed


# --------------------------------------------------------------------------- nginx


async def watch_nginx(base: str, until: float) -> list[tuple[int, float, float]]:
    """(media sequence, EXTINF seconds, fetchable) of each new nginx segment."""
    found: list[tuple[int, float, float]] = []
    seen: set[int] = set()
    async with httpx.AsyncClient(timeout=15.0) as client:
        with trio.move_on_after(until - time.monotonic()):
            while True:
                await trio.sleep(NGINX_POLL)
                answer = await client.get(f"{base}.m3u8")
                if answer.status_code != 200:
                    continue
                sequence = _SEQUENCE.search(answer.content)
                first = int(sequence[1]) if sequence else 0
                for i, match in enumerate(_EXTINF.finditer(answer.content)):
                    if first + i in seen:
                        continue
                    seen.add(first + i)
                    await _get(client, urljoin(f"{base}.m3u8", match[2].decode()))
                    found.append((first + i, float(match[1]), time.monotonic()))
    return found


def nginx_samples(found: list[tuple[int, float, float]]) -> list[Sample]:
    """Segments as samples: a segment ends where the EXTINF durations so far end."""
    found = sorted(found)
    samples, end = [], 0.0
    for i, (sequence, duration, fetchable) in enumerate(found):
        if sequence != found[0][0] + i:
            break  # a gap: the durations after it no longer add up to media time
        end += duration
        samples.append(Sample(round(end * FPS) - 1, fetchable))
    return samples


# ------------------------------------------------------------------------ harness


def start_fleet(state_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    with (state_dir.parent / "up.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "up", "--no-demo", "--state-dir", str(state_dir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"glasscast up exited {process.returncode}; see its log")
        if (state_dir / "fleet.json").exists():
            return process, dict(json.loads((state_dir / "fleet.json").read_text()))
        time.sleep(0.2)
    stop(process, group=True)
    raise RuntimeError("glasscast up was not ready in 120 s")


def stop(process: subprocess.Popen[bytes], group: bool = False) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
            process.wait()


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    rtmp, http = free_port(), free_port()
    (tmp / "hls").mkdir()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, rtmp=rtmp, http=http))
    # -p: where Debian's `modules/` symlink for load_module lives.
    process = subprocess.Popen(
        ["nginx", "-p", "/usr/share/nginx", "-c", str(conf), "-e", "stderr"],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not _listening(rtmp) or not _listening(http):
        if time.monotonic() > deadline or process.poll() is not None:
            stop(process)
            raise RuntimeError("nginx did not start")
        time.sleep(0.1)
    return process, rtmp, http


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def create_channel(fleet: dict[str, Any], name: str) -> str:
    answer = httpx.post(
        f"{fleet['control_plane']['http']}/api/v1/channels",
        json={"name": name, "title": name, "category": "bench"},
        headers={"Authorization": f"Bearer {fleet['control_plane']['admin_token']}"},
        timeout=15.0,
    )
    answer.raise_for_status()
    return str(answer.json()["stream_key"])


@dataclass(frozen=True)
class OursRound:
    """One round at our origin, in milliseconds."""

    parts: dict[str, list[float]]
    segments: list[float]


def round_ours(fleet: dict[str, Any], tmp: Path, round_: int, seconds: float) -> OursRound:
    channel = f"latency{round_}"
    rtmp = next(n["rtmp"] for n in fleet["nodes"] if n["name"] == "ingest-east")
    publisher = Publisher(
        f"{rtmp}/{create_channel(fleet, channel)}", seconds, tmp / f"{channel}.log"
    )
    try:
        observed = trio.run(watch_origin, fleet, channel, publisher.started + seconds - 0.2)
    finally:
        publisher.finish()
    return OursRound(
        parts={r: latencies(s, publisher.sends) for r, s in observed.parts.items()},
        segments=latencies(observed.segments, publisher.sends),
    )


def round_nginx(rtmp: int, http: int, tmp: Path, round_: int, seconds: float) -> list[float]:
    name = f"latency{round_}"
    publisher = Publisher(
        f"rtmp://127.0.0.1:{rtmp}/live/{name}", seconds, tmp / f"nginx-{name}.log"
    )
    base = f"http://127.0.0.1:{http}/hls/{name}"
    try:
        found = trio.run(watch_nginx, base, publisher.started + seconds - 0.2)
    finally:
        publisher.finish()
    return latencies(nginx_samples(found), publisher.sends)


def summary(values: list[float]) -> str:
    if len(values) < 2:
        return f"n={len(values)} (too few to summarise)"
    p95 = statistics.quantiles(values, n=100, method="inclusive")[94]
    return (
        f"p50 {statistics.median(values):6.1f} ms  p95 {p95:6.1f} ms  "
        f"max {max(values):6.1f} ms  (n={len(values)})"
    )


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def report(parts: dict[str, list[float]], ours: list[float], nginx: list[float]) -> None:
    frame_ms = 1000 / FPS
    limit = TARGET_MS + frame_ms
    print()
    for rendition, values in parts.items():
        print(f"part latency {rendition:>7}: {summary(values)}")
    print(f"segment latency    ours: {summary(ours)}")
    print(f"segment latency   nginx: {summary(nginx)}")
    print(
        f"encoder allowance: one frame at {FPS} fps = {frame_ms:.1f} ms; "
        f"target p95 < {limit:.1f} ms"
    )
    if len(ours) >= 2 and len(nginx) >= 2:
        print(
            "ratio segments ours/nginx: "
            f"p50 {statistics.median(ours) / statistics.median(nginx):.2f}x"
            f"  p95 {p95(ours) / p95(nginx):.2f}x"
        )
    for rendition, values in parts.items():
        if len(values) < 2:
            print(f"verdict {rendition}: not enough parts measured")
            continue
        verdict = "PASS" if p95(values) < limit else "FAIL"
        print(f"verdict {rendition}: p95 {p95(values):.1f} ms vs {limit:.1f} ms -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="media pushed per round and side")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    parts: dict[str, list[float]] = {r: [] for r in RENDITIONS}
    ours: list[float] = []
    nginx: list[float] = []
    with tempfile.TemporaryDirectory(prefix="part-latency-") as name:
        tmp = Path(name)
        fleet_process, fleet = start_fleet(tmp / "state")
        try:
            nginx_process, rtmp, http = start_nginx(tmp)
            try:
                for round_ in range(args.rounds):
                    sides = ["ours", "nginx"] if round_ % 2 == 0 else ["nginx", "ours"]
                    for side in sides:
                        if side == "ours":
                            observed = round_ours(fleet, tmp, round_, args.seconds)
                            for rendition, values in observed.parts.items():
                                parts[rendition] += values
                            ours += observed.segments
                            counts = {r: len(s) for r, s in observed.parts.items()}
                            print(f"round {round_ + 1} ours: parts {counts}, "
                                  f"segments {len(observed.segments)}", flush=True)  # fmt: skip
                        else:
                            values = round_nginx(rtmp, http, tmp, round_, args.seconds)
                            nginx += values
                            print(f"round {round_ + 1} nginx: segments {len(values)}", flush=True)
            finally:
                stop(nginx_process)
        finally:
            stop(fleet_process, group=True)
    report(parts, ours, nginx)


if __name__ == "__main__":
    main()
