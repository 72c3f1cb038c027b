"""The segmenter on real encoded frames: cuts, timelines, and what ffprobe makes of it."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import av
import pytest
from enhanced_media import encode_flv, video_tag_bodies
from hypothesis import given, settings
from hypothesis import strategies as st
from testclip import source_clip

from edge_node.codecs import hevc_codec_string
from edge_node.ingest.rtmp._media import parse_video
from edge_node.media import EncodedSample, TrackInfo
from edge_node.package.cmaf import segment_type
from edge_node.package.cmaf.reader import iter_boxes, parse_traf
from edge_node.package.hls.model import PART_SLACK
from edge_node.package.segmenter import (
    InitWritten,
    Output,
    PartWritten,
    SegmentClosed,
    Segmenter,
    SegmenterConfig,
    SegmentOpened,
)

CONFIG = SegmenterConfig()
# A real Constrained Baseline avcC (320x180), enough for init segments of synthetic samples.
AVCC_SMALL = bytes.fromhex(
    "0142c00dffe1001a6742c00dda05067e7840000003004000000f23c50aa8"
) + bytes.fromhex("010004" + "68ce0fc8")


def run(seg: Segmenter, samples: Iterable[EncodedSample]) -> list[Output]:
    out: list[Output] = []
    for s in samples:
        out += seg.push(s)
    return out + seg.finish()


def segments_of(outputs: list[Output]) -> list[tuple[SegmentOpened, list[PartWritten], bytes]]:
    """(opened, parts, closed data) for every segment."""
    result = []
    opened: SegmentOpened | None = None
    parts: list[PartWritten] = []
    for o in outputs:
        if isinstance(o, SegmentOpened):
            opened, parts = o, []
        elif isinstance(o, PartWritten):
            parts.append(o)
        elif isinstance(o, SegmentClosed):
            assert opened is not None
            result.append((opened, parts, o.data))
    return result


def probe(path: Path) -> tuple[str, list[str]]:
    """(errors, frame key flags) of the first video or audio stream."""
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "frame=key_frame,pts_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stderr.strip(), [ln for ln in result.stdout.splitlines() if ln]


def check_segments(tmp: Path, outputs: list[Output], *, video: bool = True) -> None:
    inits = {o.name: o.data for o in outputs if isinstance(o, InitWritten)}
    limit = CONFIG.part_duration * PART_SLACK
    # Each run of segments sharing an init also decodes as one file, as a player
    # appends them (a new EXT-X-MAP starts a new run).
    wholes: dict[str, list[bytes]] = {}
    for n, (opened, parts, data) in enumerate(segments_of(outputs)):
        assert next(iter_boxes(data)).kind == b"styp"
        # A segment is its styp followed by its parts, byte for byte.
        assert data.endswith(b"".join(p.data for p in parts))
        assert parts[0].independent
        assert all(p.duration <= limit + 1e-9 for p in parts), [p.duration for p in parts]
        path = tmp / f"{n}.mp4"
        path.write_bytes(inits[opened.init] + data)
        errors, frames = probe(path)
        assert errors == "", (n, errors)
        assert frames[0].startswith("1"), (n, frames[:2])  # starts with a keyframe
        wholes.setdefault(opened.init, [inits[opened.init]]).append(data)
    for name, pieces in wholes.items():
        path = tmp / f"whole-{name}"
        path.write_bytes(b"".join(pieces))
        errors, frames = probe(path)
        assert errors == "", (name, errors)
        if video:
            assert frames[0].startswith("1")


def test_audio_video_segments_and_parts(tmp_path: Path, make_clip: Callable) -> None:
    clip = make_clip(6.0)
    outputs = run(Segmenter(CONFIG, clip.video, clip.audio), clip.samples)
    segs = segments_of(outputs)
    assert [round(sum(p.duration for p in parts), 5) for _, parts, _ in segs] == [2.0, 2.0, 2.0]
    assert all(len(parts) == 6 for _, parts, _ in segs)
    assert [o.start for o, _, _ in segs] == [0.0, 2.0, 4.0]
    assert [o.discontinuity for o, _, _ in segs] == [False, False, False]
    assert sum(isinstance(o, InitWritten) for o in outputs) == 1
    check_segments(tmp_path, outputs)
    # Every part carries both tracks, and the audio starts in sync with the video.
    first = segs[0][1][0].data
    moof = next(iter_boxes(first))
    runs = [parse_traf(b) for b in moof.children() if b.kind == b"traf"]
    assert [r.track_id for r in runs] == [1, 2]
    assert runs[0].base_decode_time == 0 and runs[1].base_decode_time == 0
    init = next(o for o in outputs if isinstance(o, InitWritten)).data
    whole = tmp_path / "av.mp4"
    whole.write_bytes(init + b"".join(d for _, _, d in segs))
    with av.open(str(whole)) as c:
        stream = c.streams.audio[0]
        assert stream.start_time is not None and stream.time_base is not None
        assert abs(float(stream.start_time * stream.time_base)) < 0.03
        assert c.streams.audio[0].codec_context.sample_rate == 48000


def test_video_only_and_audio_only(tmp_path: Path, make_clip: Callable) -> None:
    clip = make_clip(4.0, audio=False)
    outputs = run(Segmenter(CONFIG, clip.video, None), clip.samples)
    assert len(segments_of(outputs)) == 2
    check_segments(tmp_path, outputs)
    clip = make_clip(4.0, video=False)
    outputs = run(Segmenter(CONFIG, None, clip.audio), clip.samples)
    segs = segments_of(outputs)
    assert len(segs) == 3  # 4 s plus the encoder's priming and flushed frames
    assert 1.99 < sum(p.duration for p in segs[0][1]) < 2.03
    (tmp_path / "a").mkdir()
    check_segments(tmp_path / "a", outputs, video=False)


def test_long_gop_makes_long_segments(tmp_path: Path, make_clip: Callable) -> None:
    clip = make_clip(12.0, audio=False, keyint=300)
    outputs = run(Segmenter(CONFIG, clip.video, None), clip.samples)
    durations = [round(sum(p.duration for p in parts), 3) for _, parts, _ in segments_of(outputs)]
    assert durations == [10.0, 2.0]
    parts = segments_of(outputs)[0][1]
    assert parts[0].independent and not any(p.independent for p in parts[1:])
    check_segments(tmp_path, outputs)


def test_timestamp_jump_starts_a_discontinuous_generation(
    tmp_path: Path, make_clip: Callable
) -> None:
    a = make_clip(4.0)
    b = make_clip(4.0, pts_offset=3600 * 90000)
    outputs = run(Segmenter(CONFIG, a.video, a.audio), [*a.samples, *b.samples])
    segs = segments_of(outputs)
    assert [o.discontinuity for o, _, _ in segs] == [False, False, True, False]
    assert [o.new_timeline for o, _, _ in segs] == [True, False, True, False]
    # The fMP4 timeline continues instead of jumping an hour.
    assert 3.9 < segs[2][0].start < 4.2
    check_segments(tmp_path, outputs)


def test_new_tracks_get_a_new_init(tmp_path: Path, make_clip: Callable) -> None:
    a = make_clip(2.0)
    b = make_clip(2.0, width=256, height=144, pts_offset=2 * 90000)
    seg = Segmenter(CONFIG, a.video, a.audio)
    outputs = [o for s in a.samples for o in seg.push(s)]
    outputs += seg.restart(a.video, a.audio)  # same tracks: a discontinuity only
    outputs += seg.restart(b.video, b.audio)
    outputs += run(seg, b.samples)
    inits = [o.name for o in outputs if isinstance(o, InitWritten)]
    assert inits == ["init.mp4", "init-1.mp4"]
    segs = segments_of(outputs)
    assert [o.init for o, _, _ in segs] == ["init.mp4", "init-1.mp4"]
    assert segs[1][0].discontinuity
    check_segments(tmp_path, outputs)


def test_waits_for_a_keyframe_and_ignores_foreign_tracks(make_clip: Callable) -> None:
    clip = make_clip(2.0, audio=False)
    seg = Segmenter(CONFIG, clip.video, None)
    video = [s for s in clip.samples if s.kind == "video"]
    assert seg.push(video[1]) == []  # not a keyframe: nothing to start from
    audio = dataclasses.replace(video[0], kind="audio", rendition="audio")
    assert seg.push(audio) == []
    outputs = run(seg, video)
    assert len(segments_of(outputs)) == 1
    assert seg.push(video[0]) == []  # ended


def _demux(path: Path, seconds: float) -> tuple[list[EncodedSample], object, object]:
    """Passthrough-style samples from an MP4 with B-frames (as OBS sends)."""
    from edge_node.media import TrackInfo, TrackKind
    from edge_node.package.cmaf import aac_codec_string, avc_codec_string

    samples = []
    with av.open(str(path)) as c:
        vs, as_ = c.streams.video[0], c.streams.audio[0]
        avcc = bytes(vs.codec_context.extradata or b"")
        asc = bytes(as_.codec_context.extradata or b"")
        video = TrackInfo("video", 90000, avc_codec_string(avcc), avcc, vs.width, vs.height, 30.0)
        audio = TrackInfo(
            "audio",
            as_.sample_rate,
            aac_codec_string(asc),
            asc,
            sample_rate=as_.sample_rate,
            channels=2,
        )
        for p in c.demux(vs, as_):
            if p.dts is None or p.pts is None or p.time_base is None:
                continue
            scale = 90000 if p.stream is vs else as_.sample_rate
            dts, pts = (int(t * p.time_base * scale) for t in (p.dts, p.pts))
            if dts / scale > seconds - 0.1:
                continue
            kind: TrackKind = "video" if p.stream is vs else "audio"
            samples.append(
                EncodedSample(
                    kind if kind == "audio" else "source",
                    kind,
                    dts,
                    pts,
                    int((p.duration or 0) * p.time_base * scale),
                    p.is_keyframe,
                    bytes(p),
                )
            )
    return samples, video, audio


def test_passthrough_with_b_frames(tmp_path: Path) -> None:
    samples, video, audio = _demux(source_clip(), 4.0)
    assert any(s.pts != s.dts for s in samples if s.kind == "video")
    outputs = run(Segmenter(CONFIG, video, audio), samples)  # type: ignore[arg-type]
    assert len(segments_of(outputs)) == 2
    check_segments(tmp_path, outputs)


# A synthetic source: (kind, dts step in ms, keyframe); steps may jump or go backwards.
_events_st = st.lists(
    st.tuples(
        st.sampled_from(["video", "video", "audio"]),
        st.sampled_from([33, 33, 34, 0, 500, -200, 4000, 3_600_000]),
        st.booleans(),
    ),
    min_size=1,
    max_size=150,
)


@settings(max_examples=60, deadline=None)
@given(events=_events_st, with_audio=st.booleans())
def test_random_sources_keep_the_timeline_invariants(
    events: list[tuple[str, int, bool]], with_audio: bool
) -> None:
    clip_video = TrackInfo("video", 90000, "avc1.42c00d", AVCC_SMALL, 320, 180, 30.0)
    clip_audio = TrackInfo("audio", 48000, "mp4a.40.2", bytes.fromhex("1190"), sample_rate=48000)
    seg = Segmenter(CONFIG, clip_video, clip_audio if with_audio else None)
    clocks = {"video": 0, "audio": 0}
    outputs: list[Output] = []
    for n, (kind, step, key) in enumerate(events):
        clocks[kind] += step
        scale = 90 if kind == "video" else 48
        duration = 3000 if kind == "video" else 1024
        t = clocks[kind] * scale
        sample = EncodedSample("v", kind, t, t, duration, key or n == 0, bytes([n % 256]) * 3)  # type: ignore[arg-type]
        outputs += seg.push(sample)
    outputs += seg.finish()
    ends: dict[int, int] = {}
    limit = CONFIG.part_duration * PART_SLACK
    for _opened, parts, data in segments_of(outputs):
        assert parts[0].independent
        assert data == segment_type() + b"".join(p.data for p in parts)
        for part in parts:
            moof = next(iter_boxes(part.data))
            fragments = [parse_traf(b) for b in moof.children() if b.kind == b"traf"]
            (video,) = fragments[0].runs
            if len(video.durations) > 1:
                assert part.duration <= limit + 1e-9 or max(video.durations) > limit * 90000 / 2
            for fragment in fragments:
                # Decode time never goes backwards on any track, whatever the source did.
                assert fragment.base_decode_time >= ends.get(fragment.track_id, 0)
                ends[fragment.track_id] = fragment.base_decode_time + fragment.duration


def _enhanced_rtmp_track(tmp_path: Path) -> tuple[TrackInfo, list[EncodedSample]]:
    """An HEVC source as the passthrough rendition hands it over: the publisher's hvcC
    and length-prefixed frames, at 90 kHz."""
    record, samples = b"", []
    for stamp, body in video_tag_bodies(encode_flv(tmp_path / "hevc.flv", "hevc", 75)):
        parsed = parse_video(body)
        if parsed is None:
            continue
        if parsed.config:
            record = parsed.data
            continue
        pts = (stamp + parsed.composition_offset) * 90
        samples.append(
            EncodedSample("source", "video", stamp * 90, pts, 3600, parsed.keyframe, parsed.data)
        )
    return TrackInfo("video", 90000, hevc_codec_string(record), record, 320, 240, 25.0), samples


def test_hevc_passthrough_segments_decode(tmp_path: Path) -> None:
    video, samples = _enhanced_rtmp_track(tmp_path)
    outputs = run(Segmenter(CONFIG, video, None), samples)
    init = next(o for o in outputs if isinstance(o, InitWritten)).data
    assert b"hvc1" in init and b"hvcC" in init
    whole = tmp_path / "hevc.mp4"
    whole.write_bytes(init + b"".join(d for _, _, d in segments_of(outputs)))
    with av.open(str(whole)) as c:
        assert c.streams.video[0].codec_context.name == "hevc"
        assert sum(1 for _ in c.decode(video=0)) == 75


def test_a_sample_entry_the_packager_cannot_write_is_refused(tmp_path: Path) -> None:
    video, _ = _enhanced_rtmp_track(tmp_path)
    with pytest.raises(ValueError, match="vp09"):
        Segmenter(CONFIG, dataclasses.replace(video, codec_string="vp09.00.10.08"), None)
