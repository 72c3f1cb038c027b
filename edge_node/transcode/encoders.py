"""Which H.264 encoders this machine can open, and how each is opened for live.

The probe opens each candidate once at a tiny size: PyAV ships h264_nvenc in every
build, so only opening it tells whether a GPU with an NVENC engine is present (without
one `avcodec_open2` raises `av.FFmpegError`). The result is a list of small frozen
records for the fleet report (`Encoder` in fleet.proto).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import av
import av.codec

from edge_node.transcode.ladder import RenditionPlan
from shared.config import TranscodeSection

log = logging.getLogger(__name__)

# Probed in this order for H.264; the HEVC pair is only noted for later.
H264_ENCODERS = ("h264_nvenc", "libx264")
NOTED_ENCODERS = ("hevc_nvenc", "libx265")
HARDWARE = frozenset({"h264_nvenc", "hevc_nvenc"})
CHOICES = {"auto": H264_ENCODERS, "nvenc": ("h264_nvenc",), "libx264": ("libx264",)}

VIDEO_TIMEBASE = Fraction(1, 90_000)
# Keyframes are forced by pts at segment boundaries; the encoder's own GOP limit sits
# well beyond that so it never inserts one off the grid.
_GOP_SEGMENTS = 8


class EncoderUnavailable(RuntimeError):
    """The configured encoder cannot be opened on this machine."""


@dataclass(frozen=True, slots=True)
class EncoderStatus:
    name: str
    hardware: bool
    usable: bool
    detail: str


@functools.cache
def probe_encoders() -> tuple[EncoderStatus, ...]:
    """Open every candidate once (cached for the process) and say which work."""
    return tuple(_probe(name) for name in (*H264_ENCODERS, *NOTED_ENCODERS))


def choose_h264(choice: str, statuses: tuple[EncoderStatus, ...]) -> str:
    """The H.264 encoder for `transcode.encoder` ("auto" | "nvenc" | "libx264")."""
    if choice not in CHOICES:
        raise EncoderUnavailable(f"transcode.encoder {choice!r}: one of {sorted(CHOICES)}")
    by_name = {s.name: s for s in statuses}
    for name in CHOICES[choice]:
        status = by_name.get(name)
        if status is not None and status.usable:
            if choice == "auto" and name != H264_ENCODERS[0]:
                log.info("h264_nvenc unavailable, using %s", name)
            return name
    details = "; ".join(f"{s.name}: {s.detail}" for s in statuses if s.name in CHOICES[choice])
    raise EncoderUnavailable(
        f"transcode.encoder = {choice!r} but no such encoder opens here ({details})"
    )


def video_encoder_options(name: str, plan: RenditionPlan, *, preset: str) -> dict[str, str]:
    """AVOptions for a live rendition: no B-frames, closed GOP, CBR-like rate control."""
    gop = str(max(1, round(plan.fps * _GOP_SEGMENTS * 2)))
    common = {
        "bf": "0",
        "g": gop,
        "forced-idr": "1",
        "maxrate": str(plan.maxrate),
        "bufsize": str(plan.bufsize),
        "profile": plan.profile,
    }
    if name == "h264_nvenc":
        return common | {"preset": preset or "p4", "tune": "ll", "rc": "cbr", "zerolatency": "1"}
    if name == "libx264":
        return common | {
            "preset": preset or "veryfast",
            "tune": "zerolatency",
            "level": f"{plan.level // 10}.{plan.level % 10}",
            "sc_threshold": "0",
            "x264-params": "open-gop=0:scenecut=0:nal-hrd=none",
            # Renditions already run in parallel, one thread each, and keep the cores
            # busy; slice threads would add ~8% CPU for no gain in throughput.
            "threads": "1",
        }
    raise EncoderUnavailable(f"no live settings for encoder {name!r}")


def open_video_encoder(name: str, plan: RenditionPlan, *, preset: str) -> av.VideoCodecContext:
    """An opened encoder for `plan`, time base 1/90000, frames in yuv420p."""
    ctx = cast(av.VideoCodecContext, av.codec.CodecContext.create(name, "w"))
    ctx.width = plan.width
    ctx.height = plan.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = VIDEO_TIMEBASE
    ctx.framerate = Fraction(plan.fps).limit_denominator(1001)
    ctx.bit_rate = plan.video_bitrate
    ctx.options = video_encoder_options(name, plan, preset=preset)
    # Global headers put SPS/PPS in extradata, where the avcC for the init segment comes from.
    ctx.flags |= av.codec.context.Flags.global_header
    if name == "libx264":
        ctx.flags |= av.codec.context.Flags.closed_gop
    ctx.open()
    return ctx


def open_live_encoder(
    name: str, plan: RenditionPlan, settings: TranscodeSection
) -> tuple[str, av.VideoCodecContext]:
    """Open `name` for `plan`; if NVENC refuses (e.g. the GPU's sessions are all in use),
    this rendition falls back to libx264 rather than going dark. Returns the one used."""
    preset = settings.nvenc_preset if name == "h264_nvenc" else settings.x264_preset
    try:
        return name, open_video_encoder(name, plan, preset=preset)
    except av.FFmpegError as exc:
        if name == "libx264":
            raise
        log.warning("%s refused rendition %s (%s); using libx264 for it", name, plan.name, exc)
        x264 = settings.x264_preset
        return "libx264", open_video_encoder("libx264", plan, preset=x264)


def _probe(name: str) -> EncoderStatus:
    hardware = name in HARDWARE
    try:
        ctx = cast(av.VideoCodecContext, av.codec.CodecContext.create(name, "w"))
        ctx.width, ctx.height = 256, 144
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = Fraction(1, 30)
        ctx.framerate = Fraction(30)
        if name == "libx265":
            ctx.options = {"x265-params": "log-level=none"}
        ctx.open()
    except (av.FFmpegError, ValueError) as exc:
        # UnknownCodecError is a ValueError: the build lacks the encoder entirely.
        return EncoderStatus(name, hardware, False, f"does not open: {exc}")
    return EncoderStatus(name, hardware, True, "opened")
