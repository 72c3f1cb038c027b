"""Thumbnails from keyframes: a poster, sprite sheets with a WebVTT track, live stills.

Blocking (PyAV); run in worker threads. Only keyframes are decoded, one per
`INTERVAL` seconds of media, so a VOD hour costs 360 decoded frames. Sprite sheets
are made by FFmpeg's own `scale` and `tile` filters and encoded as JPEG (mjpeg).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from edge_node.package.cmaf.progressive import NON_SYNC_SAMPLE, InitTrack, read_init
from edge_node.package.cmaf.reader import decoder_config
from edge_node.package.files import write_atomic
from edge_node.record.manifest import VodManifest, VodRendition
from edge_node.record.runs import read_segment, segment_file

INTERVAL = 10.0
POSTER = "thumbnail.jpg"
SPRITE_TRACK = "thumbnails.vtt"
TILE_WIDTH, TILE_HEIGHT = 160, 90
COLUMNS, ROWS = 10, 10
POSTER_WIDTH = 640


def keyframes(directory: Path, rendition: VodRendition, every: float = INTERVAL) -> Iterator[Any]:
    """The keyframe that starts the first segment at or after each multiple of `every`
    seconds, decoded. Every segment starts with a keyframe, so only those segments'
    first frames are read: the rest of the media is never touched."""
    reader = KeyframeReader(directory)
    start = 0.0
    mark = 0.0
    for seg in rendition.segments:
        if start + 1e-3 >= mark:
            frame = reader.first_keyframe(seg.init, segment_file(directory, seg))
            if frame is not None:
                yield frame
                mark = (math.floor(start / every + 1e-6) + 1) * every
        start += seg.duration


# The decoders FFmpeg names for the sample entries a packager may write.
DECODERS = {b"avc1": "h264", b"avc3": "h264", b"hvc1": "hevc", b"hev1": "hevc"}


class KeyframeReader:
    """The first keyframe of segments under one directory, found by their moof tables
    (no demuxer, no container probing) and decoded by one decoder per init."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._inits: dict[str, tuple[dict[int, InitTrack], int, Any]] = {}

    def first_keyframe(self, init: str, segment: Path) -> Any:
        """The segment's first keyframe decoded, or None if it has no video or none."""
        tracks, video, decoder = self._open(init)
        if decoder is None:
            return None
        for chunk in read_segment(segment, tracks).chunks:
            if chunk.track_id != video:
                continue
            position = chunk.position
            for size, flags in zip(chunk.sizes, chunk.flags, strict=True):
                if not flags & NON_SYNC_SAMPLE:
                    with open(segment, "rb") as f:
                        data = os.pread(f.fileno(), size, position)
                    return _decode_alone(decoder, av.Packet(data))
                position += size
        return None

    def _open(self, init: str) -> tuple[dict[int, InitTrack], int, Any]:
        if init not in self._inits:
            tracks = read_init((self._directory / init).read_bytes())
            video = next((t for t in tracks if t.kind == "video"), None)
            decoder = None
            if video is not None:
                kind, config = decoder_config(video.entries[0])
                if kind not in DECODERS:
                    raise ValueError(f"no decoder for {kind!r} video")
                decoder = av.CodecContext.create(DECODERS[kind], "r")
                decoder.extradata = config
            track_id = video.track_id if video is not None else 0
            self._inits[init] = ({t.track_id: t for t in tracks}, track_id, decoder)
        return self._inits[init]


def _decode_alone(decoder: Any, packet: Any) -> Any:
    """Decode one keyframe by itself: drain the decoder's delay, then reset it."""
    try:
        frames = [*decoder.decode(packet), *decoder.decode(None)]
    except av.FFmpegError:
        frames = []
    decoder.flush_buffers()
    return frames[0] if frames else None


def jpeg(frame: Any, width: int) -> bytes:
    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    return _encode_jpeg([small], width, height)[0]


def _encode_jpeg(frames: Sequence[Any], width: int, height: int) -> list[bytes]:
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    out: list[bytes] = []
    for frame in frames:
        frame.pts = None
        out.extend(bytes(p) for p in encoder.encode(frame))
    out.extend(bytes(p) for p in encoder.encode(None))
    return out


def tile_frame(frame: Any, reformatter: Any) -> Any:
    """A keyframe shrunk to a sprite tile (only tiles are kept: an hour is 360 of them);
    one `VideoReformatter` for all of them keeps its scaler from frame to frame (one
    thread's own: a reformatter shared between threads crashes)."""
    return reformatter.reformat(frame, TILE_WIDTH, TILE_HEIGHT, "yuvj420p")


def sprite_sheets(frames: Sequence[Any]) -> list[bytes]:
    """JPEG sheets of COLUMNS x ROWS tiles (see `tile_frame`), in order."""
    sheets: list[bytes] = []
    per_sheet = COLUMNS * ROWS
    for first in range(0, len(frames), per_sheet):
        batch = frames[first : first + per_sheet]
        canvas = _tile(batch)
        sheets.append(_encode_jpeg([canvas], canvas.width, canvas.height)[0])
    return sheets


def _tile(frames: Sequence[Any]) -> Any:
    graph = av.filter.Graph()
    source = graph.add_buffer(
        width=TILE_WIDTH,
        height=TILE_HEIGHT,
        format=av.VideoFormat("yuvj420p"),
        time_base=Fraction(1, 1),
    )
    rows = (len(frames) + COLUMNS - 1) // COLUMNS
    tile = graph.add("tile", f"{COLUMNS}x{rows}")
    fmt = graph.add("format", "yuvj420p")
    sink = graph.add("buffersink")
    source.link_to(tile)
    tile.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    for index, frame in enumerate(frames):
        frame.pts = index
        graph.push(frame)
    graph.push(None)
    return graph.pull()


def vtt_track(
    count: int, duration: float, sheet_names: Sequence[str], every: float = INTERVAL
) -> str:
    """The WebVTT thumbnails track: one cue per tile, `sheet.jpg#xywh=x,y,w,h`."""
    lines = ["WEBVTT", ""]
    per_sheet = COLUMNS * ROWS
    for index in range(count):
        start = index * every
        end = max(duration, start + 0.001) if index == count - 1 else start + every
        cell = index % per_sheet
        x, y = (cell % COLUMNS) * TILE_WIDTH, (cell // COLUMNS) * TILE_HEIGHT
        lines += [
            f"{_clock(start)} --> {_clock(end)}",
            f"{sheet_names[index // per_sheet]}#xywh={x},{y},{TILE_WIDTH},{TILE_HEIGHT}",
            "",
        ]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def write_thumbnails(directory: Path, manifest: VodManifest) -> None:
    """Poster, sprite sheets and the WebVTT track of a VOD being built in `directory`.

    The poster comes from the top rendition; the tiles from the smallest one still as
    tall as a tile, since decoding is most of the cost and a tile is 160x90."""
    top = manifest.top()
    if top is None:
        return
    tall_enough = [r for r in manifest.renditions if r.height >= TILE_HEIGHT] or [top]
    small = min(tall_enough, key=lambda r: (r.height, r.bandwidth))
    posters = list(itertools.islice(keyframes(directory / top.name, top), 2))
    if not posters:
        return
    # The second still (10 s in) says more than a fade-in.
    write_atomic(directory / POSTER, jpeg(posters[-1], POSTER_WIDTH))
    reformatter = av.video.reformatter.VideoReformatter()
    frames = [tile_frame(f, reformatter) for f in keyframes(directory / small.name, small)]
    names = []
    for index, sheet in enumerate(sprite_sheets(frames)):
        names.append(f"sprites-{index}.jpg")
        write_atomic(directory / names[-1], sheet)
    track = vtt_track(len(frames), small.duration, names)
    write_atomic(directory / SPRITE_TRACK, track.encode())


def live_still(init: Path, segment: Path, out: Path) -> bool:
    """A poster from the keyframe that starts a live segment; False if it has none."""
    frame = KeyframeReader(init.parent).first_keyframe(init.name, segment)
    if frame is None:
        return False
    write_atomic(out, jpeg(frame, POSTER_WIDTH))
    return True
