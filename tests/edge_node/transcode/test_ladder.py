from __future__ import annotations

import pytest
from enhanced_media import AV1C_320x240, HVCC_320x240
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_node.transcode.ladder import (
    LadderError,
    SourceVideo,
    codec_string_from_asc,
    codec_string_from_avcc,
    h264_level,
    plan_ladder,
    scaled_size,
)
from shared.config import RenditionEntry, TranscodeSection

LADDER = TranscodeSection().ladder
# avcC of a 1280x720 High@3.1 stream: version 1, profile 100, compat 0, level 31.
HIGH_31_AVCC = bytes([1, 100, 0, 31, 0xFF, 0xE1, 0, 0])


def test_720p_source_gets_passthrough_and_three_transcodes() -> None:
    plans = plan_ladder(LADDER, SourceVideo(1280, 720, 30.0, HIGH_31_AVCC, 6_000_000))
    assert [p.name for p in plans] == ["source", "480p30", "360p30", "160p30"]
    source, p480, p360, p160 = plans
    assert source.passthrough and (source.width, source.height) == (1280, 720)
    assert source.codec_string == "avc1.64001f" and source.profile == "high"
    assert (p480.width, p480.height) == (854, 480)
    assert (p360.width, p360.height) == (640, 360)
    assert (p160.width, p160.height) == (284, 160)
    assert p480.codec_string == "avc1.4d401f"  # main@3.1 (1620 MBs x 30 > 3.0 limit)
    assert p360.codec_string == "avc1.42c01e"  # constrained baseline@3.0
    assert p160.codec_string == "avc1.42c00c"  # constrained baseline@1.2
    assert p480.maxrate == p480.video_bitrate == p480.bufsize == 1_500_000
    assert p480.average_bandwidth == round((1_500_000 + 128_000) * 1.04)
    assert p480.bandwidth > p480.average_bandwidth


def test_equal_height_kept_without_passthrough() -> None:
    entries = [e for e in LADDER if not e.passthrough]
    plans = plan_ladder(entries, SourceVideo(1280, 720, 30.0))
    assert [p.name for p in plans] == ["720p30", "480p30", "360p30", "160p30"]
    assert (plans[0].width, plans[0].height) == (1280, 720)


def test_small_source_drops_taller_renditions() -> None:
    plans = plan_ladder(LADDER, SourceVideo(640, 360, 25.0, HIGH_31_AVCC))
    assert [p.name for p in plans] == ["source", "160p30"]
    assert plans[1].fps == 25.0  # capped at the source's rate
    assert plans[0].bandwidth == 0  # unknown source rate: the packager measures it


def test_odd_source_sizes_give_even_dimensions_with_aspect() -> None:
    plans = plan_ladder(LADDER, SourceVideo(1279, 719, 29.97))
    p480 = next(p for p in plans if p.name == "480p30")
    assert (p480.width, p480.height) == (854, 480)
    assert p480.fps == 29.97


def test_portrait_source_uses_short_side() -> None:
    plans = plan_ladder(LADDER, SourceVideo(720, 1280, 30.0, HIGH_31_AVCC))
    sizes = {p.name: (p.width, p.height) for p in plans}
    assert sizes == {
        "source": (720, 1280),
        "480p30": (480, 854),
        "360p30": (360, 640),
        "160p30": (160, 284),
    }


def test_bad_inputs_raise() -> None:
    with pytest.raises(LadderError):
        plan_ladder(LADDER, SourceVideo(0, 720))
    with pytest.raises(LadderError):
        plan_ladder(
            [RenditionEntry(name="x", height=100, video_bitrate=1, profile="weird")],
            SourceVideo(640, 360),
        )
    with pytest.raises(LadderError):
        codec_string_from_avcc(b"\x00\x01")


def test_codec_strings() -> None:
    assert codec_string_from_asc(bytes([0x11, 0x90])) == "mp4a.40.2"  # AAC-LC 48k stereo
    assert codec_string_from_asc(bytes([0x29, 0x90])) == "mp4a.40.5"  # HE-AAC
    assert h264_level(1920, 1080, 30, 6_000_000, "high") == 40
    assert h264_level(1920, 1080, 60, 6_000_000, "high") == 42


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 8192),
    st.integers(2, 8192),
    st.floats(0, 240, allow_nan=False),
    st.integers(16, 2160),
)
def test_any_source_plans_even_sizes_within_source(
    width: int, height: int, fps: float, rung: int
) -> None:
    entries = [
        RenditionEntry(name="source", passthrough=True),
        RenditionEntry(name="r", height=rung, fps=30.0, video_bitrate=500_000),
    ]
    for plan in plan_ladder(entries, SourceVideo(width, height, fps)):
        if plan.passthrough:
            continue
        assert plan.width % 2 == 0 and plan.height % 2 == 0
        assert abs(min(plan.width, plan.height) - rung) <= 1
        assert plan.width <= max(width, 2) and plan.height <= max(height, 2)
        assert plan.fps <= 30.0 and (fps == 0 or plan.fps <= fps)


def test_scaled_size_keeps_aspect() -> None:
    w, h = scaled_size(1920, 1080, 360)
    assert (w, h) == (640, 360)


def test_hevc_and_av1_sources_keep_their_codec_only_in_the_passthrough() -> None:
    for codec, record, expected, profile, level in (
        ("hevc", HVCC_320x240, "hvc1.1.6.L60.90", "main", 60),
        ("av1", AV1C_320x240, "av01.0.00M.08", "main", 0),
    ):
        source = SourceVideo(1280, 720, 30.0, record, 4_000_000, codec=codec)
        plans = plan_ladder(LADDER, source)
        passthrough, *ladder = plans
        assert (passthrough.codec_string, passthrough.profile, passthrough.level) == (
            expected,
            profile,
            level,
        )
        assert [p.codec_string[:5] for p in ladder] == ["avc1."] * 3
    with pytest.raises(LadderError):
        plan_ladder(LADDER, SourceVideo(1280, 720, 30.0, HVCC_320x240[:20], codec="hevc"))
