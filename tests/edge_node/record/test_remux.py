"""The MP4 download from segments an encoder with B-frames made, across discontinuities
whose declared lengths are shorter than the media (audio running past video), and
across a reconnect whose encoder changed the resolution (a new init)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import av
import pytest
from testclip import source_clip

from edge_node.record import remux
from edge_node.record.manifest import VodRendition, VodSegment
from edge_node.record.remux import remux_rendition


def _segments(
    directory: Path, *encode: str, seconds: float = 6, init: str = "init.mp4"
) -> list[Path]:
    directory.mkdir(exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source_clip()), "-t", str(seconds), *encode,
         "-f", "hls", "-hls_time", "2", "-hls_segment_type", "fmp4",
         "-hls_fmp4_init_filename", init,
         "-hls_segment_filename", str(directory / "%d.m4s"), str(directory / "x.m3u8")],
        check=True,
    )  # fmt: skip
    return sorted(directory.glob("[0-9]*.m4s"), key=lambda p: int(p.stem))


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,nb_read_frames,duration:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    probed: dict[str, Any] = json.loads(out.stdout)
    return probed


def _frames(path: Path) -> list[tuple[int, int]]:
    """(width, height) of every video frame, decoded by PyAV."""
    with av.open(str(path)) as container:
        return [(f.width, f.height) for f in container.decode(video=0)]


def _rendition(files: list[Path], seconds: float, discontinuity: bool) -> VodRendition:
    """The segment files as one rendition, each declared `seconds` long."""
    segments = tuple(
        VodSegment(i, seconds, "init.mp4", discontinuity, f.stat().st_size)
        for i, f in enumerate(files)
    )
    return VodRendition("v", segments, 1280, 720)


def test_runs_join_without_stepping_back(tmp_path: Path) -> None:
    files = _segments(tmp_path, "-c", "copy")
    # Every segment its own run (a discontinuity each), each declared 1.9 s long.
    out = tmp_path / "vod.mp4"
    remux_rendition(tmp_path, _rendition(files, 1.9, discontinuity=True), out)
    with av.open(str(out)) as container:
        assert container.streams.video and container.streams.audio
        for stream in container.streams:
            last = None
            for packet in container.demux(stream):
                if packet.dts is None:
                    continue
                assert last is None or packet.dts > last
                last = packet.dts
    assert len(_frames(out)) == len(_frames(tmp_path / "x.m3u8"))
    boxes = _top_level_boxes(out.read_bytes())
    assert boxes.index(b"moov") < boxes.index(b"mdat")  # faststart: players start early


def test_one_run_matches_the_source(tmp_path: Path) -> None:
    files = _segments(tmp_path, "-c", "copy")
    out = tmp_path / "vod.mp4"
    remux_rendition(tmp_path, _rendition(files, 2.0, discontinuity=False), out)
    ours, source = _probe(out), _probe(tmp_path / "x.m3u8")
    assert [s["codec_name"] for s in ours["streams"]] == ["h264", "aac"]
    assert [s["nb_read_frames"] for s in ours["streams"]] == [
        s["nb_read_frames"] for s in source["streams"]
    ]
    video = ours["streams"][0]
    assert abs(float(video["duration"]) - int(video["nb_read_frames"]) / 30) < 1e-3
    boxes = _top_level_boxes(out.read_bytes())
    assert boxes == [b"ftyp", b"moov", b"mdat"]


def test_same_bytes_through_the_page_cache_and_a_small_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The O_DIRECT path and the buffered one (a filesystem that refuses O_DIRECT)
    write the same file, whatever the buffer's size against segment boundaries."""
    files = _segments(tmp_path, "-c", "copy")
    rendition = _rendition(files, 2.0, discontinuity=False)
    remux_rendition(tmp_path, rendition, tmp_path / "direct.mp4")
    monkeypatch.setattr(remux, "DIRECT", 0)
    monkeypatch.setattr(remux, "BUFFER", 3 * remux.BLOCK)
    remux_rendition(tmp_path, rendition, tmp_path / "buffered.mp4")
    direct = (tmp_path / "direct.mp4").read_bytes()
    assert direct == (tmp_path / "buffered.mp4").read_bytes()
    assert len(direct) > 3 * remux.BLOCK and len(direct) % remux.BLOCK


def test_reconnect_with_another_resolution(tmp_path: Path) -> None:
    """A second run whose init has other SPS/PPS: both halves decode at their size."""
    big = _segments(tmp_path / "a", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
                    "-s", "320x180", "-c:a", "copy", seconds=4)  # fmt: skip
    small = _segments(tmp_path / "b", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
                      "-s", "160x90", "-c:a", "copy", seconds=4)  # fmt: skip
    directory = tmp_path / "vod"
    directory.mkdir()
    segments: list[VodSegment] = []
    for init, files in (("init.mp4", big), ("init-1.mp4", small)):
        (directory / init).write_bytes((files[0].parent / "init.mp4").read_bytes())
        for index, f in enumerate(files):
            msn = len(segments)
            (directory / f"{msn}.m4s").write_bytes(f.read_bytes())
            segments.append(VodSegment(msn, 2.0, init, index == 0, f.stat().st_size))
    out = directory / "vod.mp4"
    remux_rendition(directory, VodRendition("v", tuple(segments), 320, 180), out)
    frames = _frames(out)
    halves = _frames(tmp_path / "a" / "x.m3u8"), _frames(tmp_path / "b" / "x.m3u8")
    assert frames == [*halves[0], *halves[1]]
    assert {*halves[0]} == {(320, 180)} and {*halves[1]} == {(160, 90)}
    assert abs(float(_probe(out)["format"]["duration"]) - 8.0) < 0.1


def _top_level_boxes(data: bytes) -> list[bytes]:
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8])
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        pos += size if size else len(data)
    return boxes
