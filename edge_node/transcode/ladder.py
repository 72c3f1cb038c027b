"""Renditions and the default ladder: which renditions a source gets, at what size and rate.

Pure functions of the config ladder and what is known about the source, so the
transcoder (which encodes them) and the packager (which advertises them in the master
playlist) agree without talking to each other.

A ladder entry's ``height`` is the short side of the picture ("480p"), so a portrait
source gets 480 pixels of *width* from the 480p entry and keeps its aspect ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from edge_node import codecs
from shared.config import MEDIA_TIMING, RenditionEntry

AUDIO_RENDITION = "audio"

# fMP4 boxes (moof/trun, styp) add a few percent over the elementary stream.
CONTAINER_OVERHEAD = 1.04

_PROFILES = {"baseline": 66, "main": 77, "high": 100}
# constraint_set flags as x264 writes them: baseline is the constrained subset (0xC0).
_CONSTRAINTS = {66: 0xC0, 77: 0x40, 100: 0x00}

# H.264 Table A-1: (level_idc, max macroblocks/s, max frame macroblocks, max kbit/s).
_LEVELS: tuple[tuple[int, int, int, int], ...] = (
    (10, 1_485, 99, 64),
    (11, 3_000, 396, 192),
    (12, 6_000, 396, 384),
    (13, 11_880, 396, 768),
    (20, 11_880, 396, 2_000),
    (21, 19_800, 792, 4_000),
    (22, 20_250, 1_620, 4_000),
    (30, 40_500, 1_620, 10_000),
    (31, 108_000, 3_600, 14_000),
    (32, 216_000, 5_120, 20_000),
    (40, 245_760, 8_192, 20_000),
    (41, 245_760, 8_192, 50_000),
    (42, 522_240, 8_704, 50_000),
    (50, 589_824, 22_080, 135_000),
    (51, 983_040, 36_864, 240_000),
    (52, 2_073_600, 36_864, 240_000),
    (60, 4_177_920, 139_264, 240_000),
    (61, 8_355_840, 139_264, 480_000),
    (62, 16_711_680, 139_264, 800_000),
)


class LadderError(ValueError):
    """The source or a ladder entry cannot be planned (e.g. a malformed avcC)."""


@dataclass(frozen=True, slots=True)
class SourceVideo:
    """What is known about the source picture when the ladder is planned."""

    width: int
    height: int
    fps: float = 0.0  # 0 when not known yet
    extradata: bytes = b""  # the source's avcC/hvcC/av1C record, for passthrough
    bitrate: int = 0  # measured or announced bits/s, 0 when unknown
    codec: str = "h264"  # the source's codec, which only the passthrough keeps


@dataclass(frozen=True, slots=True)
class RenditionPlan:
    """One rendition to produce: everything an encoder and a master playlist need."""

    name: str
    passthrough: bool
    width: int
    height: int
    fps: float
    video_bitrate: int  # target average bits/s (0 for passthrough of unknown rate)
    maxrate: int
    bufsize: int
    profile: str  # "baseline" | "main" | "high" (passthrough: the source's)
    level: int  # level_idc, e.g. 31 for 3.1 (passthrough: in the source codec's units)
    # RFC 6381: "avc1.PPCCLL" expected from the encoder; passthrough: the source's own,
    # which is "hvc1..." or "av01..." for an HEVC or AV1 source.
    codec_string: str
    bandwidth: int  # peak bits/s incl. audio and container, for BANDWIDTH
    average_bandwidth: int  # for AVERAGE-BANDWIDTH

    @property
    def pixels_per_second(self) -> float:
        """Encoding cost proxy: which rendition to shed first when behind real time."""
        return self.width * self.height * self.fps


def plan_ladder(
    entries: Sequence[RenditionEntry],
    source: SourceVideo,
    *,
    audio_bitrate: int = 128_000,
    segment_duration: float = MEDIA_TIMING.segment_duration,
) -> tuple[RenditionPlan, ...]:
    """The renditions to produce for `source`, in ladder order.

    Renditions taller than the source are dropped, and so is one of equal height when
    a passthrough rendition already carries the source at that size.
    """
    if source.width <= 0 or source.height <= 0:
        raise LadderError(f"source size {source.width}x{source.height} is not usable")
    short_side = min(source.width, source.height)
    has_passthrough = any(e.passthrough for e in entries)
    plans: list[RenditionPlan] = []
    for entry in entries:
        if entry.passthrough:
            plans.append(_passthrough_plan(entry, source, audio_bitrate))
        elif entry.height < short_side or (entry.height == short_side and not has_passthrough):
            plans.append(_encoded_plan(entry, source, audio_bitrate, segment_duration))
    return tuple(plans)


def scaled_size(source_width: int, source_height: int, short_side: int) -> tuple[int, int]:
    """The size with `short_side` pixels on the short side, aspect kept, both even."""
    if source_width >= source_height:
        return _even(source_width * short_side / source_height), _even(short_side)
    return _even(short_side), _even(source_height * short_side / source_width)


def h264_level(width: int, height: int, fps: float, maxrate: int, profile: str) -> int:
    """The lowest level_idc whose limits admit this picture size, rate and bitrate."""
    frame_mbs = math.ceil(width / 16) * math.ceil(height / 16)
    mbs_per_second = frame_mbs * max(fps, 1.0)
    # High profile may use 1.25x the level's bitrate (Table A-2, cpbBrVclFactor).
    factor = 1.25 if profile == "high" else 1.0
    for level_idc, max_mbps, max_fs, max_kbps in _LEVELS:
        fits_rate = maxrate <= max_kbps * 1000 * factor
        if frame_mbs <= max_fs and mbs_per_second <= max_mbps and fits_rate:
            return level_idc
    return _LEVELS[-1][0]


def codec_string_from_avcc(avcc: bytes) -> str:
    """RFC 6381 codec string from an AVCDecoderConfigurationRecord."""
    try:
        return codecs.avc_codec_string(avcc)
    except ValueError as exc:
        raise LadderError(str(exc)) from None


def codec_string_from_record(codec: str, record: bytes) -> str:
    """RFC 6381 codec string of a source from its decoder configuration record."""
    try:
        return codecs.video_codec_string(codec, record)
    except ValueError as exc:
        raise LadderError(str(exc)) from None


def codec_string_from_asc(asc: bytes) -> str:
    """RFC 6381 codec string from an AAC AudioSpecificConfig: mp4a.40.<object type>."""
    try:
        return codecs.aac_codec_string(asc)
    except ValueError as exc:
        raise LadderError(str(exc)) from None


def _passthrough_plan(
    entry: RenditionEntry, source: SourceVideo, audio_bitrate: int
) -> RenditionPlan:
    if source.extradata:
        codec_string = codec_string_from_record(source.codec, source.extradata)
        profile, level = _source_profile_level(source.codec, source.extradata)
    else:
        codec_string, profile, level = "", "0", 0
    # A source's rate is only an observation; the peak gets headroom a CBR target does not.
    peak = int(source.bitrate * 1.5)
    return RenditionPlan(
        name=entry.name,
        passthrough=True,
        width=source.width,
        height=source.height,
        fps=source.fps,
        video_bitrate=source.bitrate,
        maxrate=peak,
        bufsize=0,
        profile=profile,
        level=level,
        codec_string=codec_string,
        bandwidth=_with_audio(peak, audio_bitrate) if source.bitrate else 0,
        average_bandwidth=_with_audio(source.bitrate, audio_bitrate) if source.bitrate else 0,
    )


# HEVC general_profile_idc (H.265 Annex A) -> name; AV1 seq_profile -> name.
_HEVC_PROFILES = {1: "main", 2: "main10", 3: "main-still-picture", 4: "rext"}
_AV1_PROFILES = {0: "main", 1: "high", 2: "professional"}


def _source_profile_level(codec: str, record: bytes) -> tuple[str, int]:
    """Profile name and level of the source as its own codec counts them."""
    if codec == "hevc":
        idc = record[1] & 0x1F
        return _HEVC_PROFILES.get(idc, str(idc)), record[12]
    if codec == "av1":
        return _AV1_PROFILES.get(record[1] >> 5, str(record[1] >> 5)), record[1] & 0x1F
    profile_idc = record[1]
    name = next((p for p, idc in _PROFILES.items() if idc == profile_idc), str(profile_idc))
    return name, record[3]


def _encoded_plan(
    entry: RenditionEntry, source: SourceVideo, audio_bitrate: int, segment_duration: float
) -> RenditionPlan:
    if entry.profile not in _PROFILES:
        raise LadderError(f"rendition {entry.name!r}: unknown profile {entry.profile!r}")
    width, height = scaled_size(source.width, source.height, entry.height)
    fps = min(entry.fps, source.fps) if source.fps > 0 else entry.fps
    # CBR-like: the VBV may hold one second, so a segment can overshoot the
    # average by at most bufsize over its duration; that bounds the peak.
    maxrate = entry.video_bitrate
    bufsize = entry.video_bitrate
    peak = maxrate + int(bufsize / segment_duration)
    profile_idc = _PROFILES[entry.profile]
    level = h264_level(width, height, fps, maxrate, entry.profile)
    return RenditionPlan(
        name=entry.name,
        passthrough=False,
        width=width,
        height=height,
        fps=fps,
        video_bitrate=entry.video_bitrate,
        maxrate=maxrate,
        bufsize=bufsize,
        profile=entry.profile,
        level=level,
        codec_string=codecs.avc_codec_string_for(profile_idc, _CONSTRAINTS[profile_idc], level),
        bandwidth=_with_audio(peak, audio_bitrate),
        average_bandwidth=_with_audio(entry.video_bitrate, audio_bitrate),
    )


def _with_audio(video_bps: int, audio_bps: int) -> int:
    return math.ceil((video_bps + audio_bps) * CONTAINER_OVERHEAD)


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))
