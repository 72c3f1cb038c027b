"""The recorder on a real ended stream: one VOD, whole, however often it is killed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import m3u8
import pytest
import trio

from edge_node.record import build
from edge_node.record.build import VodInfo, VodPaths
from edge_node.record.journal import ORDER, Step
from edge_node.record.recorder import Recorder, VodRefused
from tests.edge_node.record.conftest import Ended


class Crash(Exception):
    """A node dying between two steps."""


def _probe(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout)


def _decodes(path: Path) -> None:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0 and not out.stderr, out.stderr


async def _record(ended: Ended, root: Path, **kwargs: object) -> tuple[VodInfo | None, list[str]]:
    reported: list[str] = []

    async def report(info: VodInfo) -> float:
        reported.append(info.vod_id)
        return 2e9

    recorder = Recorder(root, ended.live, ended.live_root, report, **kwargs)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        info = await recorder.record(ended.stream_id, "chan")
        nursery.cancel_scope.cancel()
    return info, reported


def _check_vod(root: Path, vod_id: str, seconds: float) -> None:
    final = root / vod_id
    assert not (root / build.BUILDING / vod_id).exists()
    assert [p.name for p in root.iterdir() if not p.name.startswith(".")] == [vod_id]
    master = m3u8.load(str(final / "master.m3u8"))
    assert {p.uri for p in master.playlists} == {"high/index.m3u8", "low/index.m3u8"}
    for playlist in master.playlists:
        text = (final / playlist.uri).read_text()
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.endswith("#EXT-X-ENDLIST\n")
        assert text.count("#EXT-X-DISCONTINUITY\n") == 1
        media = m3u8.loads(text)
        assert abs(sum(s.duration for s in media.segments) - seconds) < 0.1
        for segment in media.segments:
            assert (final / playlist.uri).parent.joinpath(segment.uri).is_file()
    assert abs(_probe(final / "master.m3u8") - seconds) < 0.2
    assert abs(_probe(final / build.MP4) - seconds) < 0.2
    _decodes(final / build.MP4)
    assert (final / "thumbnail.jpg").stat().st_size > 0
    assert "sprites-0.jpg#xywh=0,0,160,90" in (final / "thumbnails.vtt").read_text()
    info = json.loads((final / build.INFO).read_text())
    assert info["mp4"] == build.MP4 and abs(info["duration"] - seconds) < 0.1
    assert build.read_expiry(final) == 2e9


async def test_an_ended_stream_becomes_one_vod(ended: Ended, tmp_path: Path) -> None:
    root = tmp_path / "vod"
    info, reported = await _record(ended, root)
    assert info is not None and info.vod_id == ended.stream_id
    assert [r[0] for r in info.renditions] == ["high", "low"]
    _check_vod(root, ended.stream_id, ended.seconds)
    assert reported == [ended.stream_id]
    # Asked again (a repeated end): nothing is redone or reported twice.
    again, reported = await _record(ended, root)
    assert again == info and reported == []


@pytest.mark.parametrize("crash_at", ORDER, ids=[s.value for s in ORDER])
async def test_killed_at_any_step_a_restart_finishes_one_vod(
    ended: Ended, tmp_path: Path, crash_at: Step
) -> None:
    root = tmp_path / "vod"

    def die(vod_id: str, step: Step) -> None:
        if step is crash_at:
            raise Crash(step.value)

    with pytest.RaisesGroup(Crash):
        await _record(ended, root, before_step=die)
    # A new process: the packager's memory is gone, only the disk is left.
    reported: list[str] = []

    async def report(info: VodInfo) -> float:
        reported.append(info.vod_id)
        return 2e9

    recorder = Recorder(root, ended.live, ended.live_root, report)
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        if crash_at is Step.SNAPSHOT:
            # Died before anything was kept: the stream's end makes it from memory.
            await recorder.record(ended.stream_id, "chan")
        with trio.fail_after(30):
            await recorder.wait_made(ended.stream_id)
        nursery.cancel_scope.cancel()
    _check_vod(root, ended.stream_id, ended.seconds)
    assert reported == [ended.stream_id]
    journal = VodPaths(root, ended.stream_id).read_journal()
    assert journal is not None and journal.complete


async def test_a_stream_with_nothing_packaged_makes_no_vod(ended: Ended, tmp_path: Path) -> None:
    reported: list[str] = []

    async def report(info: VodInfo) -> float:
        reported.append(info.vod_id)
        return 0.0

    recorder = Recorder(tmp_path / "vod", ended.live, ended.live_root, report)
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        assert await recorder.record("st_never", "chan") is None
        nursery.cancel_scope.cancel()
    assert reported == []


async def test_a_refused_vod_is_deleted_not_retried(ended: Ended, tmp_path: Path) -> None:
    calls = 0

    async def report(info: VodInfo) -> float:
        nonlocal calls
        calls += 1
        raise VodRefused("stream moved to another origin")

    root = tmp_path / "vod"
    recorder = Recorder(root, ended.live, ended.live_root, report)
    async with trio.open_nursery() as nursery:
        await nursery.start(recorder.run)
        assert await recorder.record(ended.stream_id, "chan") is None
        nursery.cancel_scope.cancel()
    assert calls == 1
    assert not (root / ended.stream_id).exists()
    assert not list((root / build.BUILDING).iterdir())
