from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import pytest
from av.video.frame import PictureType
from enhanced_media import encode_flv, video_tag_bodies
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_node.codecs import video_codec_string
from edge_node.ingest.rtmp._media import parse_video
from edge_node.media import (
    AudioConfig,
    EncodedEvent,
    EncodedSample,
    LadderPlanned,
    RenditionStart,
    RenditionStop,
    SourceConfig,
    SourceDiscontinuity,
    SourceEnd,
    SourceEvent,
    SourcePacket,
    VideoConfig,
)
from edge_node.transcode.pipeline import Pipeline
from shared.config import RenditionEntry, TranscodeSection

from .conftest import decode_video, samples_of, synthetic_source

Clip = Callable[..., list[SourceEvent]]
SMALL = TranscodeSection(
    ladder=[
        RenditionEntry(name="source", passthrough=True),
        RenditionEntry(name="160p30", height=160, video_bitrate=250_000, profile="baseline"),
    ]
)


def run(
    events: list[SourceEvent], settings: TranscodeSection = SMALL, **kw: object
) -> list[EncodedEvent]:
    out: list[EncodedEvent] = []
    pipeline = Pipeline(settings, "libx264", out.append, **kw)  # type: ignore[arg-type]
    for event in events:
        pipeline.feed(event)
    pipeline.close("test over")
    assert isinstance(out[-1], SourceEnd)
    return out


def starts(out: list[EncodedEvent]) -> dict[str, RenditionStart]:
    return {e.rendition: e for e in out if isinstance(e, RenditionStart)}


def test_full_ladder_aligned_keyframes_no_b_frames_shared_audio(clip: Clip) -> None:
    out = run(clip(4.2), TranscodeSection())
    begun = starts(out)
    assert set(begun) == {"audio", "source", "480p30", "360p30", "160p30"}
    audio_info = begun["audio"].audio
    assert audio_info is not None and audio_info.codec_string == "mp4a.40.2"
    sizes = {}
    keyframes = {}
    for name in ("source", "480p30", "360p30", "160p30"):
        video = begun[name].video
        assert video is not None and begun[name].audio == audio_info
        sizes[name] = (video.width, video.height)
        samples = samples_of(out, name)
        keyframes[name] = [s.pts for s in samples if s.keyframe]
        assert all(s.duration > 0 for s in samples)
        frames = list(decode_video(samples, video.codec_private))
        assert len(frames) == len(samples)
        assert (frames[0].width, frames[0].height) == sizes[name]
        if name != "source":
            assert video.codec_string.startswith("avc1.")
            # No B-frames: decode order is presentation order.
            assert all(s.pts == s.dts for s in samples)
            assert [s.pts for s in samples] == sorted(s.pts for s in samples)
            assert all(f.pict_type != PictureType.B for f in frames)
    assert sizes == {
        "source": (1280, 720),
        "480p30": (854, 480),
        "360p30": (640, 360),
        "160p30": (284, 160),
    }
    first = keyframes["source"][0]
    assert keyframes["source"] == [first, first + 180_000, first + 360_000]
    assert keyframes["480p30"] == keyframes["360p30"] == keyframes["160p30"] == keyframes["source"]
    audio = samples_of(out, "audio")
    assert len(audio) > 150 and all(s.duration == 1024 for s in audio)
    assert all(b.pts - a.pts == 1024 for a, b in itertools.pairwise(audio))
    stops = [e.rendition for e in out if isinstance(e, RenditionStop)]
    assert sorted(stops) == ["160p30", "360p30", "480p30", "audio", "source"]


def test_no_audio(clip: Clip) -> None:
    out = run(clip(1.0, audio=False))
    begun = starts(out)
    assert set(begun) == {"source", "160p30"}
    assert begun["160p30"].audio is None
    assert samples_of(out, "160p30") and not samples_of(out, "audio")


def test_audio_only(clip: Clip) -> None:
    out = run(clip(1.0, video=False))
    assert set(starts(out)) == {"audio"}
    assert len(samples_of(out, "audio")) >= 45


def test_hour_jump_gives_one_discontinuity_and_a_continuous_clock(clip: Clip) -> None:
    events = clip(3.0)
    head = [e for e in events if not isinstance(e, SourcePacket) or e.dts < 1500]
    tail: list[SourceEvent] = [
        replace(e, dts=e.dts + 3_600_000, pts=e.pts + 3_600_000)
        for e in events
        if isinstance(e, SourcePacket) and e.dts >= 1500
    ]
    out = run(head + tail)
    breaks = [e for e in out if isinstance(e, SourceDiscontinuity)]
    assert len(breaks) == 1 and "jumped" in breaks[0].reason
    at = out.index(breaks[0])
    after = [e for e in out[at:] if isinstance(e, EncodedSample) and e.kind == "video"]
    assert after and max(s.pts for s in after) < 4 * 90_000  # no hour-long hole
    assert {"source", "160p30", "audio"} <= set(starts(out[at:]))
    for name in ("source", "160p30"):
        first = next(s for s in after if s.rendition == name)
        assert first.keyframe


def test_a_loop_stepping_back_one_audio_frame_loses_nothing(clip: Clip) -> None:
    # A source looped by its video's length: at the seam both tracks step back 21 ms,
    # mid-GOP. Every frame must still come out, with no break in the playlists.
    events = clip(3.0)
    seam = next(i for i, e in enumerate(events) if isinstance(e, SourcePacket) and e.dts >= 1500)
    stepped = events[:seam] + [
        replace(e, dts=e.dts - 21, pts=e.pts - 21) if isinstance(e, SourcePacket) else e
        for e in events[seam:]
    ]
    out = run(stepped)
    assert not [e for e in out if isinstance(e, SourceDiscontinuity)]
    frames = sum(1 for e in events if isinstance(e, SourcePacket) and e.kind == "video")
    for name in ("source", "160p30"):
        samples = samples_of(out, name)
        assert len(samples) == frames
        assert all(b.dts > a.dts for a, b in itertools.pairwise(samples))


def test_new_source_config_with_a_smaller_picture_restarts_the_ladder(clip: Clip) -> None:
    first = run(clip(1.0, audio=False), TranscodeSection())
    small = starts(first)["360p30"].video
    assert small is not None
    # The 360p rendition becomes a broadcaster who changed resolution mid-stream.
    resent = [
        SourcePacket("video", s.dts // 90 + 2000, s.pts // 90 + 2000, s.keyframe, s.data)
        for s in samples_of(first, "360p30")
    ]
    events = clip(1.0, audio=False)
    events += [SourceConfig(VideoConfig("h264", small.codec_private), None), *resent]
    out = run(events, TranscodeSection())
    breaks = [e for e in out if isinstance(e, SourceDiscontinuity)]
    assert [b.reason for b in breaks] == ["source configuration changed"]
    at = out.index(breaks[0])
    after = starts(out[at:])
    assert set(after) == {"source", "160p30"}
    assert after["source"].video is not None and after["source"].video.width == 640
    stopped = {e.rendition: e.reason for e in out[at:] if isinstance(e, RenditionStop)}
    assert stopped["480p30"].startswith("not in the ladder") and "360p30" in stopped
    assert len(samples_of(out[at:], "160p30")) == len(resent)


def test_corrupt_nal_units_do_not_stop_the_stream(clip: Clip) -> None:
    events = clip(2.0, audio=False)
    mangled: list[SourceEvent] = []
    for i, e in enumerate(events):
        if isinstance(e, SourcePacket) and i % 7 == 3:
            data = bytearray(e.data)
            if i % 2:
                data[4:40] = bytes(range(36))  # garbage inside a NAL unit
            else:
                data[0:4] = (len(data) * 2).to_bytes(4, "big")  # a length past the end
            e = replace(e, data=bytes(data))
        mangled.append(e)
    out = run(mangled)
    assert len(samples_of(out, "160p30")) > 20
    assert samples_of(out, "source")[0].keyframe


def test_behind_real_time_sheds_the_most_expensive_rendition_first(clip: Clip) -> None:
    ticks = itertools.count()
    # A wall clock racing ahead of media time: every frame "takes" half a second.
    out = run(clip(2.0, audio=False), TranscodeSection(), clock=lambda: next(ticks) * 0.5)
    sheds = [e for e in out if isinstance(e, RenditionStop) and e.reason.startswith("shed")]
    assert [e.rendition for e in sheds][:2] == ["480p30", "360p30"]
    assert sheds[0].reason == "shed: behind real time"
    later = out[out.index(sheds[0]) :]
    assert not samples_of(later, "480p30")
    assert samples_of(later, "source")


def _aac_32k(seconds: float) -> tuple[AudioConfig, list[SourcePacket]]:
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 32_000, "mono", "fltp"
    encoder.time_base = Fraction(1, 32_000)
    encoder.flags |= av.codec.context.Flags.global_header
    encoder.open()
    packets: list[SourcePacket] = []
    for n in range(int(seconds * 32_000 / 1024)):
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.planes[0].update(bytes(4096))
        frame.sample_rate, frame.pts = 32_000, n * 1024
        for p in encoder.encode(frame):
            ms = (p.pts or 0) * 1000 // 32_000
            packets.append(SourcePacket("audio", ms, ms, True, bytes(p)))
    return AudioConfig("aac", bytes(encoder.extradata or b""), 32_000, 1), packets


def test_unusual_audio_is_transcoded_to_48k_aac() -> None:
    config, packets = _aac_32k(1.0)
    out = run([SourceConfig(None, config), *packets])
    info = starts(out)["audio"].audio
    assert info is not None and (info.sample_rate, info.channels) == (48_000, 2)
    samples = samples_of(out, "audio")
    assert len(samples) >= 40
    decoder = av.CodecContext.create("aac", "r")
    decoder.extradata = info.codec_private
    decoded = sum(f.samples for s in samples for f in decoder.decode(av.Packet(s.data)))
    assert decoded >= 40 * 1024


@pytest.mark.parametrize("bad", [b"", b"\x01\x64", b"\x02" + bytes(20)])
def test_bad_video_config_is_ignored_not_fatal(clip: Clip, bad: bytes) -> None:
    events = clip(0.5, video=True)
    config = events[0]
    assert isinstance(config, SourceConfig) and config.video is not None
    out = run([replace(config, video=replace(config.video, extradata=bad)), *events[1:]])
    assert set(starts(out)) == {"audio"}


def test_in_band_resolution_change_restarts_the_renditions() -> None:
    events = synthetic_source([(640, 360), (480, 270)], 1.0)
    out = run(events)
    breaks = [e for e in out if isinstance(e, SourceDiscontinuity)]
    assert [b.reason for b in breaks] == ["resolution changed 640x360 -> 480x270"]
    at = out.index(breaks[0])
    before, after = starts(out[:at]), starts(out[at:])
    assert before["160p30"].video is not None and before["160p30"].video.width == 284
    assert after["160p30"].video is not None and after["160p30"].video.width == 284
    resumed = samples_of(out[at:], "160p30")
    assert resumed[0].keyframe and len(resumed) >= 28


def test_long_source_gop_still_gives_two_second_renditions() -> None:
    # A broadcaster with a 10 s keyframe interval: the transcoded rendition still cuts
    # every 2 s; the passthrough keeps the source's keyframes.
    out = run(synthetic_source([(640, 360)], 6.0, keyint=300))
    encoded = [s.pts for s in samples_of(out, "160p30") if s.keyframe]
    assert [b - a for a, b in itertools.pairwise(encoded)] == [180_000, 180_000]
    assert [s.pts for s in samples_of(out, "source") if s.keyframe] == [encoded[0]]


@functools.cache
def _small_source() -> tuple[SourceEvent, ...]:
    return tuple(synthetic_source([(320, 180)], 1.0, keyint=15))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzzed_packets_never_raise_or_hang(data: st.DataObject) -> None:
    events = list(_small_source())
    for _ in range(data.draw(st.integers(0, 8))):
        i = data.draw(st.integers(1, len(events) - 1))
        packet = events[i]
        assert isinstance(packet, SourcePacket)
        events[i] = replace(
            packet,
            dts=data.draw(st.integers(-(2**40), 2**40)),
            data=data.draw(st.binary(max_size=64)) if data.draw(st.booleans()) else packet.data,
            keyframe=data.draw(st.booleans()),
        )
    out = run(events)
    assert out[-1] == SourceEnd("test over")


def test_passthrough_only_ladder_stops_decoding_once_the_size_is_known(clip: Clip) -> None:
    settings = TranscodeSection(ladder=[RenditionEntry(name="source", passthrough=True)])
    out: list[EncodedEvent] = []
    pipeline = Pipeline(settings, "libx264", out.append)
    for event in clip(2.0):
        pipeline.feed(event)
    pipeline.close("over")
    source = samples_of(out, "source")
    assert len(source) >= 55 and source[0].keyframe
    assert starts(out)["source"].video is not None
    # Only the frames the decoder had in flight when the first picture told the size.
    assert 1 <= pipeline.frames_decoded <= 5


def test_reconnect_with_a_new_config_is_one_discontinuity(clip: Clip) -> None:
    first = clip(1.0)
    config = first[0]
    assert isinstance(config, SourceConfig) and config.video is not None
    # The broadcaster reconnects: a break, a (different) sequence header, clocks from 0.
    changed = replace(config, video=replace(config.video, width=1281))
    out = run([*first, SourceDiscontinuity("reconnect"), changed, *clip(1.0)[1:]])
    breaks = [e.reason for e in out if isinstance(e, SourceDiscontinuity)]
    assert breaks == ["reconnect"]
    video = samples_of(out, "source")
    assert all(b.dts > a.dts for a, b in itertools.pairwise(video))


def test_cascaded_renditions_encode_every_picture(clip: Clip) -> None:
    # 360p scales from 480p's pictures and 160p from 360p's: none may go missing.
    out = run(clip(2.2, audio=False), TranscodeSection())
    counts = {name: len(samples_of(out, name)) for name in ("480p30", "360p30", "160p30")}
    assert counts["480p30"] > 0
    assert counts["360p30"] == counts["160p30"] == counts["480p30"]
    # The ladder is announced before any of it starts: the master waits for all of it.
    (planned,) = [e for e in out if isinstance(e, LadderPlanned)]
    video = [e.rendition for e in out if isinstance(e, RenditionStart) and e.video is not None]
    assert set(planned.renditions) == set(video) and out.index(planned) < min(
        i for i, e in enumerate(out) if isinstance(e, RenditionStart) and e.video is not None
    )


@pytest.mark.parametrize("codec", ["hevc", "av1"])
def test_hevc_and_av1_sources_make_an_h264_ladder_and_keep_a_passthrough(
    tmp_path: Path, codec: str
) -> None:
    """An Enhanced RTMP source: decoded once, encoded to H.264; passthrough keeps it."""
    events: list[SourceEvent] = []
    for stamp, body in video_tag_bodies(encode_flv(tmp_path / "source.flv", codec, 50)):
        parsed = parse_video(body)
        if parsed is None:
            continue
        if parsed.config:
            events.append(SourceConfig(VideoConfig(codec, parsed.data), None))
            continue
        pts = stamp + parsed.composition_offset
        events.append(SourcePacket("video", stamp, pts, parsed.keyframe, parsed.data))
    out = run(events)
    begun = starts(out)
    source, small = begun["source"].video, begun["160p30"].video
    assert source is not None and small is not None
    assert source.codec_string == video_codec_string(codec, events[0].video.extradata)  # type: ignore[union-attr]
    assert (source.width, source.height) == (320, 240)
    assert small.codec_string.startswith("avc1.")
    assert len(samples_of(out, "source")) == 50
    frames = list(decode_video(samples_of(out, "160p30"), small.codec_private))
    assert len(frames) == 50 and (frames[0].width, frames[0].height) == (214, 160)
