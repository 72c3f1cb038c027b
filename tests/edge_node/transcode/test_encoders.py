from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

import av
import av.codec
import pytest

from edge_node.transcode.avc import avcc_config_from_annexb, parse_avcc_config
from edge_node.transcode.encoders import (
    EncoderStatus,
    EncoderUnavailable,
    choose_h264,
    open_live_encoder,
    open_video_encoder,
    probe_encoders,
)
from edge_node.transcode.ladder import SourceVideo, codec_string_from_avcc, plan_ladder
from shared.config import TranscodeSection

PLANS = plan_ladder(TranscodeSection().ladder, SourceVideo(1280, 720, 30.0))
P480 = next(p for p in PLANS if p.name == "480p30")


def test_probe_on_this_machine_falls_back_to_libx264() -> None:
    statuses = probe_encoders()
    by_name = {s.name: s for s in statuses}
    assert set(by_name) == {"h264_nvenc", "libx264", "hevc_nvenc", "libx265"}
    assert by_name["libx264"].usable and not by_name["libx264"].hardware
    assert by_name["h264_nvenc"].hardware
    if not by_name["h264_nvenc"].usable:  # no GPU here: the documented fallback
        assert "does not open" in by_name["h264_nvenc"].detail
        assert choose_h264("auto", statuses) == "libx264"
        with pytest.raises(EncoderUnavailable, match="nvenc"):
            choose_h264("nvenc", statuses)
    assert choose_h264("libx264", statuses) == "libx264"


def test_unknown_choice_is_refused() -> None:
    with pytest.raises(EncoderUnavailable, match="one of"):
        choose_h264("qsv", (EncoderStatus("libx264", False, True, "opened"),))


def test_libx264_opens_with_plan_and_its_avcc_matches_the_plan() -> None:
    ctx = open_video_encoder("libx264", P480, preset="veryfast")
    record = avcc_config_from_annexb(bytes(ctx.extradata or b""))
    assert parse_avcc_config(record).sps
    assert codec_string_from_avcc(record) == P480.codec_string
    assert (ctx.width, ctx.height) == (854, 480)


class _FakeContext:
    """Stands in for an opened codec context: records what the code asked for."""

    opened: ClassVar[list[_FakeContext]] = []

    def __init__(self, name: str) -> None:
        self.name = name
        self.options: dict[str, str] = {}
        self.flags = 0
        self.width = self.height = self.bit_rate = 0
        self.pix_fmt = ""
        self.time_base: Fraction | None = None
        self.framerate: Fraction | None = None

    @classmethod
    def create(cls, name: str, mode: str) -> _FakeContext:
        assert mode == "w"
        return cls(name)

    refuse: ClassVar[set[str]] = {"libx265"}

    def open(self) -> None:
        if self.name in self.refuse:
            raise av.FFmpegError(1, "pretend it does not open")
        _FakeContext.opened.append(self)


def test_nvenc_is_chosen_and_configured_when_it_opens(monkeypatch: Any) -> None:
    monkeypatch.setattr(av.codec, "CodecContext", _FakeContext)
    _FakeContext.opened.clear()
    statuses = probe_encoders.__wrapped__()
    assert [s.name for s in statuses if s.usable] == ["h264_nvenc", "libx264", "hevc_nvenc"]
    assert choose_h264("auto", statuses) == "h264_nvenc"
    assert choose_h264("nvenc", statuses) == "h264_nvenc"

    ctx: Any = open_video_encoder("h264_nvenc", P480, preset="p4")
    assert ctx.options["preset"] == "p4"
    assert ctx.options["tune"] == "ll"
    assert ctx.options["rc"] == "cbr"
    assert ctx.options["bf"] == "0"
    assert ctx.options["forced-idr"] == "1"
    assert ctx.options["maxrate"] == ctx.options["bufsize"] == "1500000"
    assert ctx.flags & av.codec.context.Flags.global_header
    assert (ctx.width, ctx.height, ctx.bit_rate) == (854, 480, 1_500_000)


def test_a_refusing_nvenc_session_falls_back_to_libx264(monkeypatch: Any) -> None:
    monkeypatch.setattr(av.codec, "CodecContext", _FakeContext)
    monkeypatch.setattr(_FakeContext, "refuse", {"h264_nvenc"})
    used, ctx = open_live_encoder("h264_nvenc", P480, TranscodeSection())
    assert used == "libx264"
    assert isinstance(ctx, _FakeContext) and ctx.name == "libx264"
    assert ctx.options["preset"] == "veryfast" and ctx.options["tune"] == "zerolatency"
