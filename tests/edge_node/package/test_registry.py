"""The packager and LiveStreams under trio: files on disk, playlists, blocking reload, DVR."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import AsyncIterator, Callable, Iterable
from itertools import chain
from pathlib import Path

import m3u8
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_node.media import (
    EncodedEvent,
    EncodedSample,
    LadderPlanned,
    RenditionStart,
    RenditionStop,
    SourceDiscontinuity,
    SourceEnd,
)
from edge_node.package.packager import PackagerConfig, StreamPackager
from edge_node.package.registry import LADDER_WAIT, LiveStreams
from shared.config import EdgeConfig


@pytest.fixture
async def streams(tmp_path: Path) -> AsyncIterator[LiveStreams]:
    live = LiveStreams(tmp_path, PackagerConfig(live_window_seconds=8.0), clock=lambda: 1.79e9)
    async with trio.open_nursery() as nursery:
        await nursery.start(live.run)
        yield live
        nursery.cancel_scope.cancel()


def events_for(clip, rendition: str = "v") -> list[EncodedEvent]:  # type: ignore[no-untyped-def]
    out: list[EncodedEvent] = [RenditionStart(rendition, clip.video, clip.audio)]
    for s in clip.samples:
        out.append(dataclasses.replace(s, rendition=rendition) if s.kind == "video" else s)
    return out


def _for_rendition(event: EncodedEvent, rendition: str) -> EncodedEvent:
    if isinstance(event, EncodedSample | RenditionStart):
        return dataclasses.replace(event, rendition=rendition)
    return event


async def feed(live: LiveStreams, stream_id: str, events: Iterable[EncodedEvent]) -> None:
    handle = await live.open_stream(stream_id)
    async with handle.send:
        for event in events:
            await handle.send.send(event)
        await handle.send.send(SourceEnd("done"))
    with trio.fail_after(30):
        await handle.done.wait()


async def until(condition: Callable[[], object]) -> None:
    """Until the packager (which writes in worker threads) has got this far."""
    with trio.fail_after(10):
        while not condition():
            await trio.testing.wait_all_tasks_blocked(cushion=0.01)


async def written(live: LiveStreams, stream_id: str, rendition: str, name: str) -> None:
    await until(lambda: live.file_path(stream_id, rendition, name) is not None)


def ffprobe_playlist(path: Path) -> tuple[str, dict[str, int]]:
    """(errors, packets per codec type) reading a whole playlist through ffmpeg's HLS demuxer."""
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-show_entries",
            "stream=codec_type,nb_read_packets",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    packets = {}
    for line in result.stdout.split():
        kind, count = line.split(",")[:2]
        packets[kind] = int(count)
    return result.stderr.strip(), packets


async def test_packaged_stream_plays_as_playlists(
    streams: LiveStreams, tmp_path: Path, make_clip: Callable, check_playlist: Callable
) -> None:
    clip = make_clip(6.0)
    # As the transcoder does: the shared audio is a rendition of its own too.
    audio_start = RenditionStart("audio", None, clip.audio)
    await feed(streams, "s1", [audio_start, *events_for(clip, "360p")])
    directory = tmp_path / "live" / "s1" / "360p"
    assert sorted(p.name for p in directory.glob("*.m4s") if p.name.count(".") == 1) == [
        "0.m4s",
        "1.m4s",
        "2.m4s",
    ]
    assert (directory / "init.mp4").is_file()
    # A segment is exactly styp + its parts' bytes.
    parts = b"".join((directory / f"1.{i}.m4s").read_bytes() for i in range(6))
    assert (directory / "1.m4s").read_bytes().endswith(parts)
    master = streams.master_playlist("s1")
    assert master is not None
    variant, audio_only = m3u8.loads(master.decode()).playlists
    assert variant.uri == "360p/index.m3u8"
    assert audio_only.uri == "audio/index.m3u8" and audio_only.stream_info.codecs == "mp4a.40.2"
    assert variant.stream_info.codecs == f"{clip.video.codec_string},mp4a.40.2"
    assert variant.stream_info.resolution == (320, 180)
    assert variant.stream_info.bandwidth >= variant.stream_info.average_bandwidth > 0
    text = await streams.media_playlist("s1", "360p")
    assert isinstance(text, bytes) and text.endswith(b"#EXT-X-ENDLIST\n")
    assert b"#EXT-X-RENDITION-REPORT" not in text  # nothing to report once ended
    check_playlist(text.decode())
    index = directory / "index.m3u8"
    index.write_bytes(text)
    errors, packets = ffprobe_playlist(index)
    assert errors == "" and packets["video"] == 180 and packets["audio"] > 280
    dvr = await streams.media_playlist("s1", "360p", dvr=True)
    assert isinstance(dvr, bytes)
    checked = check_playlist(dvr.decode(), low_latency=False)
    assert checked.segments == ("0.m4s", "1.m4s", "2.m4s")
    media = [p for p in directory.parent.glob("*/*") if p.suffix in (".m4s", ".mp4")]
    assert streams.disk_bytes() == sum(p.stat().st_size for p in media)


async def test_blocking_reload_wakes_on_the_write(
    streams: LiveStreams, make_clip: Callable
) -> None:
    clip = make_clip(4.0, audio=False)
    # Each event for rendition "v" is followed by the same for a sibling "w".
    events = [(e, _for_rendition(e, "w")) for e in events_for(clip)]
    handle = await streams.open_stream("s2")
    answers: list[tuple[float, bytes | int]] = []
    first_answer = trio.Event()

    async def reader(msn: int, part: int) -> None:
        answers.append(
            (trio.current_time(), await streams.media_playlist("s2", "v", msn, part, None, False))
        )
        first_answer.set()

    async with handle.send, trio.open_nursery() as nursery:
        for event in events[0]:  # RenditionStart
            await handle.send.send(event)
        await until(lambda: streams.master_playlist("s2") is not None)
        nursery.start_soon(reader, 0, 2)
        nursery.start_soon(reader, 1, 0)
        await trio.testing.wait_all_tasks_blocked()
        for event in chain.from_iterable(events[1:21]):  # 20 frames: parts 0.0 and 0.1 exist
            await handle.send.send(event)
        await trio.sleep(0.2)
        assert answers == []  # 0.2 is not written yet
        for event in chain.from_iterable(events[21:31]):  # frame 30 completes part 0.2
            await handle.send.send(event)
        with trio.fail_after(5):
            await first_answer.wait()
        body = answers[0][1]
        assert isinstance(body, bytes) and b'URI="0.2.m4s"' in body
        assert b'PRELOAD-HINT:TYPE=PART,URI="0.3.m4s"' in body
        assert b'#EXT-X-RENDITION-REPORT:URI="../w/index.m3u8",LAST-MSN=0,LAST-PART=' in body
        assert len(answers) == 1
        for event in chain.from_iterable(events[31:]):
            await handle.send.send(event)
    assert len(answers) == 2 and isinstance(answers[1][1], bytes)
    assert b"1.0.m4s" in answers[1][1]


async def test_too_far_unknown_and_timeouts(streams: LiveStreams, make_clip: Callable) -> None:
    clip = make_clip(2.0, audio=False)
    handle = await streams.open_stream("s3")
    async with handle.send:
        for event in events_for(clip)[:31]:
            await handle.send.send(event)
        await written(streams, "s3", "v", "0.2.m4s")
        assert await streams.media_playlist("s3", "v", 0, 0, None, False) != 404
        assert await streams.media_playlist("s3", "v", 9, 0, None, False) == 400
        assert await streams.media_playlist("s3", "v", None, 1, None, False) == 400
        assert await streams.media_playlist("s3", "nope", None, None, None, False) == 404
        assert await streams.media_playlist("nope", "v", None, None, None, False) == 404
        assert streams.master_playlist("nope") is None
        with trio.fail_after(30):
            # 3 target durations (6 s) of waiting for a part that never comes.
            assert await streams.media_playlist("s3", "v", 1, 0, None, False) == 503
        assert await streams.wait_file("s3", "v", "0.1.m4s") is not None
        assert await streams.wait_file("s3", "v", "9.0.m4s") is None
        assert await streams.wait_file("s3", "v", "../../x") is None
        with pytest.raises(ValueError):
            await streams.open_stream("s3")


async def test_file_path_is_safe(streams: LiveStreams, make_clip: Callable) -> None:
    await feed(streams, "s4", events_for(make_clip(2.0, audio=False)))
    assert streams.file_path("s4", "v", "init.mp4") is not None
    assert streams.file_path("s4", "v", "0.0.m4s") is not None
    for rendition, name in [
        ("v", "../v/init.mp4"),
        ("..", "init.mp4"),
        ("v", "/etc/passwd"),
        ("v", ".init.mp4.tmp"),
        ("v", "init.mp4\x00"),
        ("v", "index.m3u8"),
        ("v/..", "init.mp4"),
        ("v", "7.m4s"),
    ]:
        assert streams.file_path("s4", rendition, name) is None, (rendition, name)
    assert streams.file_path("other", "v", "init.mp4") is None
    with pytest.raises(ValueError):
        await streams.open_stream("../evil")


async def test_dvr_window_trims_files_and_bounds_disk(tmp_path: Path, make_clip: Callable) -> None:
    config = PackagerConfig(live_window_seconds=2.0, dvr_window_seconds=4.0)
    live = LiveStreams(tmp_path, config)
    async with trio.open_nursery() as nursery:
        await nursery.start(live.run)
        await feed(live, "s5", events_for(make_clip(12.0, audio=False)))
        nursery.cancel_scope.cancel()
    directory = tmp_path / "live" / "s5" / "v"
    segments = sorted(p.name for p in directory.glob("*.m4s") if p.name.count(".") == 1)
    assert segments == ["4.m4s", "5.m4s"]
    parts = sorted(p.name for p in directory.glob("*.*.m4s"))
    assert all(p.startswith("5.") for p in parts)
    assert live.disk_bytes() == sum(p.stat().st_size for p in directory.iterdir())


@pytest.mark.parametrize(
    "case", ["no_audio", "audio_only", "resolution_change", "long_gop", "hour_jump"]
)
async def test_awkward_sources_keep_valid_playlists(
    case: str, streams: LiveStreams, tmp_path: Path, make_clip: Callable, check_playlist: Callable
) -> None:
    if case == "no_audio":
        events = events_for(make_clip(4.0, audio=False))
    elif case == "audio_only":
        events = events_for(make_clip(4.0, video=False), "audio")
    elif case == "resolution_change":
        a, b = make_clip(2.0), make_clip(2.0, width=256, height=144, pts_offset=2 * 90000)
        events = [*events_for(a), SourceDiscontinuity("new size"), *events_for(b)]
    elif case == "long_gop":
        events = events_for(make_clip(12.0, audio=False, keyint=300))
    else:
        a, b = make_clip(4.0), make_clip(4.0, pts_offset=3600 * 90000)
        events = events_for(a) + [e for e in events_for(b) if isinstance(e, EncodedSample)]
    await feed(streams, case, events)
    rendition = "audio" if case == "audio_only" else "v"
    text = await streams.media_playlist(case, rendition)
    assert isinstance(text, bytes)
    checked = check_playlist(text.decode())
    if case in ("resolution_change", "hour_jump"):
        assert b"#EXT-X-DISCONTINUITY\n" in text
    if case == "resolution_change":
        assert b'EXT-X-MAP:URI="init-1.mp4"' in text
    if case == "long_gop":
        assert checked.target == 10
    master = streams.master_playlist(case)
    assert master is not None
    codecs = m3u8.loads(master.decode()).playlists[0].stream_info.codecs
    assert ("avc1." in codecs) == (case != "audio_only")
    assert ("mp4a.40.2" in codecs) == (case not in ("no_audio", "long_gop"))
    index = tmp_path / "live" / case / rendition / "index.m3u8"
    index.write_bytes(text)
    errors, _ = ffprobe_playlist(index)
    assert errors == ""


async def test_bad_codec_data_ends_the_stream_not_the_node(
    streams: LiveStreams, make_clip: Callable
) -> None:
    clip = make_clip(2.0)
    bad = dataclasses.replace(clip.video, codec_private=b"\x00garbage")
    handle = await streams.open_stream("bad")
    async with handle.send:
        await handle.send.send(RenditionStart("v", bad, clip.audio))
        with trio.fail_after(10):
            await handle.done.wait()
    # The node carries on: another stream packages normally.
    await feed(streams, "good", events_for(clip))
    assert streams.master_playlist("good") is not None


def _passthrough(clip) -> list[EncodedEvent]:  # type: ignore[no-untyped-def]
    """A "source" rendition as the transcoder passes it through: no bitrate known."""
    unknown = dataclasses.replace(clip.video, bitrate=0)
    return [RenditionStart("source", unknown, None)] + [
        dataclasses.replace(s, rendition="source") for s in clip.samples
    ]


async def test_passthrough_without_bitrate_is_listed_once_measured(
    streams: LiveStreams, make_clip: Callable
) -> None:
    clip = make_clip(4.0, audio=False)
    events = _passthrough(clip)
    handle = await streams.open_stream("pt")
    async with handle.send:
        await handle.send.send(events[0])
        await until(lambda: "source" in (streams._streams["pt"].renditions))
        assert streams.master_playlist("pt") is None
        for event in events[1:31]:
            await handle.send.send(event)
        await written(streams, "pt", "source", "0.0.m4s")
        master = streams.master_playlist("pt")
        assert master is not None and b"BANDWIDTH=" in master
        for event in events[31:]:
            await handle.send.send(event)
    with trio.fail_after(10):
        await handle.done.wait()
    final = streams.master_playlist("pt")
    assert final is not None and b"AVERAGE-BANDWIDTH=" in final


_PIECES = ["..", "/", ".", "v", "s", "init", ".mp4", "0", ".m4s", "secret", "\\", "\x00", "%2e"]
_pieced = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendition=_pieced | st.text(max_size=8), name=_pieced | st.text(max_size=16))
def test_file_path_never_leaves_the_stream(
    tmp_path_factory: pytest.TempPathFactory, rendition: str, name: str
) -> None:
    root = tmp_path_factory.getbasetemp() / "fuzz"
    stream_dir = root / "live" / "s"
    (stream_dir / "v").mkdir(parents=True, exist_ok=True)
    for decoy in (root / "live" / "secret.mp4", root / "init.mp4", stream_dir / "init.mp4"):
        decoy.write_bytes(b"x")
    (stream_dir / "v" / "init.mp4").write_bytes(b"x")
    live = LiveStreams(root)
    live._streams["s"] = StreamPackager("s", stream_dir, PackagerConfig())
    path = live.file_path("s", rendition, name)
    if path is not None:
        assert path.resolve().parent == (stream_dir / rendition).resolve()
        assert path.resolve().is_relative_to(stream_dir.resolve()) and path.parent != stream_dir
    assert live.file_path("s", "v", "init.mp4") is not None


def test_config_from_the_node_settings() -> None:
    edge = EdgeConfig()
    config = PackagerConfig.from_edge(edge, dvr_window_seconds=600)
    assert config.segment_duration == edge.transcode.segment_duration
    assert config.part_duration == edge.transcode.part_duration
    assert config.dvr_window_seconds == 600
    assert PackagerConfig.from_edge(edge).dvr_window_seconds == edge.dvr.window_seconds


async def test_a_stopped_rendition_can_come_back(
    streams: LiveStreams, make_clip: Callable, check_playlist: Callable
) -> None:
    a = make_clip(2.0, audio=False)
    b = make_clip(2.0, audio=False, pts_offset=2 * 90000)
    events = [
        *events_for(a),
        RenditionStop("v", "not in the ladder"),
        SourceDiscontinuity("source size changed"),
        *events_for(b),
    ]
    await feed(streams, "back", events)
    text = await streams.media_playlist("back", "v")
    assert isinstance(text, bytes)
    checked = check_playlist(text.decode())
    assert checked.segments == ("0.m4s", "1.m4s")
    assert text.count(b"#EXT-X-DISCONTINUITY\n") == 1 and text.count(b"#EXT-X-ENDLIST") == 1


async def test_reopening_a_stream_continues_it(
    streams: LiveStreams, make_clip: Callable, check_playlist: Callable
) -> None:
    a = make_clip(2.0)
    b = make_clip(2.0, pts_offset=50 * 90000)
    await feed(streams, "again", events_for(a))
    first = await streams.media_playlist("again", "v")
    assert isinstance(first, bytes) and first.endswith(b"#EXT-X-ENDLIST\n")
    await feed(streams, "again", events_for(b))
    text = await streams.media_playlist("again", "v")
    assert isinstance(text, bytes)
    checked = check_playlist(text.decode())
    assert checked.segments == ("0.m4s", "1.m4s")
    assert text.count(b"#EXT-X-DISCONTINUITY\n") == 1
    assert text.count(b'#EXT-X-MAP:URI="init.mp4"') == 1  # same tracks, same init


async def test_master_waits_for_every_planned_rendition(
    streams: LiveStreams, make_clip: Callable
) -> None:
    clip = make_clip(4.0, audio=False)
    source = _passthrough(clip)
    answered = trio.Event()

    async def ask() -> None:
        await streams.wait_ladder("lad")
        answered.set()

    handle = await streams.open_stream("lad")
    async with trio.open_nursery() as nursery, handle.send:
        await handle.send.send(LadderPlanned(("source", "small", "gone")))
        await handle.send.send(source[0])
        await until(lambda: "source" in streams._streams["lad"].renditions)
        nursery.start_soon(ask)
        await handle.send.send(RenditionStart("small", clip.video, None))
        await handle.send.send(RenditionStop("gone", "encoder failed"))
        await until(lambda: "small" in streams._streams["lad"].renditions)
        await trio.testing.wait_all_tasks_blocked(cushion=0.05)
        assert not answered.is_set()  # the passthrough has no bitrate before a part
        for event in source[1:31]:
            await handle.send.send(event)
        with trio.fail_after(10):
            await answered.wait()
        master = streams.master_playlist("lad")
        assert master is not None
        listed = [p.uri for p in m3u8.loads(master.decode()).playlists]
        assert listed == ["source/index.m3u8", "small/index.m3u8"]


async def test_master_wait_is_bounded(
    streams: LiveStreams, make_clip: Callable, autojump_clock: trio.testing.MockClock
) -> None:
    clip = make_clip(1.0, audio=False)
    handle = await streams.open_stream("stuck")
    async with handle.send:
        await handle.send.send(LadderPlanned(("never",)))
        await handle.send.send(RenditionStart("v", clip.video, None))
        await until(lambda: "v" in streams._streams["stuck"].renditions)
        with trio.fail_after(LADDER_WAIT + 1):
            await streams.wait_ladder("stuck")
        assert streams.master_playlist("stuck") is not None
