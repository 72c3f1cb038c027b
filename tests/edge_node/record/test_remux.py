"""The MP4 download from segments an encoder with B-frames made, across discontinuities
whose declared lengths are shorter than the media (audio running past video)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
from fleetlib import SOURCE_CLIP

from edge_node.record.manifest import VodRendition, VodSegment
from edge_node.record.remux import ChainedFile, remux_rendition


def _segments(directory: Path) -> list[Path]:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(SOURCE_CLIP), "-t", "6", "-c", "copy",
         "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4",
         "-hls_fmp4_init_filename", "init.mp4",
         "-hls_segment_filename", str(directory / "%d.m4s"), str(directory / "x.m3u8")],
        check=True,
    )  # fmt: skip
    return sorted(directory.glob("[0-9]*.m4s"))


def test_runs_join_without_stepping_back(tmp_path: Path) -> None:
    files = _segments(tmp_path)
    # Every segment its own run (a discontinuity each), each declared 1.9 s long.
    segments = tuple(
        VodSegment(i, 1.9, "init.mp4", True, f.stat().st_size) for i, f in enumerate(files)
    )
    out = tmp_path / "vod.mp4"
    remux_rendition(tmp_path, VodRendition("v", segments, 1280, 720), out)
    with av.open(str(out)) as container:
        assert container.streams.video and container.streams.audio
        for stream in container.streams:
            last = None
            for packet in container.demux(stream):
                if packet.dts is None:
                    continue
                assert last is None or packet.dts > last
                last = packet.dts
    with av.open(str(out)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(tmp_path / "x.m3u8")) as container:
        assert frames == sum(1 for _ in container.decode(video=0))
    assert _top_level_boxes(out.read_bytes()).index(b"moov") < _top_level_boxes(
        out.read_bytes()
    ).index(b"mdat")  # faststart: players start before the whole file is there


def _top_level_boxes(data: bytes) -> list[bytes]:
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8])
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        pos += size if size else len(data)
    return boxes


def test_chained_files_read_and_seek_as_one(tmp_path: Path) -> None:
    parts = []
    for index, data in enumerate((b"abc", b"", b"defgh", b"ij")):
        parts.append(tmp_path / f"{index}")
        parts[-1].write_bytes(data)
    with ChainedFile(parts) as chained:
        assert chained.read() == b"abcdefghij"
        chained.seek(2)
        assert chained.read(4) == b"cdef"
        chained.seek(-3, 2)
        assert chained.read() == b"hij"
        assert chained.read(5) == b""
