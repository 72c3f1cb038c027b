"""Cut a planned clip into an MP4: whole GOPs remuxed, only the first partial GOP re-encoded.

Blocking (PyAV); run in a worker thread. When the clip starts on a keyframe nothing
is re-encoded. Otherwise the frames from the start to the next keyframe are decoded
and encoded again (libx264, no B-frames) and the rest is copied. The two halves have
different parameter sets, so the video track is written as Annex B with the copied
half's SPS/PPS repeated in-band at its first keyframe (the MP4 muxer converts it all
back to length-prefixed NAL units). Audio is copied for the same range.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from edge_node.record.clip_range import ClipPlan
from edge_node.record.runs import READ_SIZE, ChainedFile, run_files, runs

TIME_BASE = Fraction(1, 90_000)
_START_CODE = b"\x00\x00\x00\x01"


@dataclass
class _Timed:
    packet: Any
    at: float  # seconds from the first segment's start (pts)


def _timed_packets(
    directory: Path, plan: ClipPlan, kind: str, keep: ExitStack
) -> Iterator[tuple[Any, _Timed]]:
    """(stream, packet with its time) of one kind, over every run of the plan. The
    inputs stay open on `keep`: packets and streams point into them."""
    start = 0.0
    for part in runs(plan.segments):
        raw = keep.enter_context(ChainedFile(run_files(directory, part)))
        source = keep.enter_context(av.open(raw, "r", format="mp4", buffer_size=READ_SIZE))
        streams = [s for s in source.streams if s.type == kind]
        if not streams:
            return
        stream = streams[0]
        first: int | None = None
        for packet in source.demux(stream):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else first
            at = start + float((packet.pts - first) * (stream.time_base or 0))
            yield stream, _Timed(packet, at)
        start += part.duration


def annexb(avcc: bytes) -> bytes:
    """Length-prefixed (4-byte) NAL units -> Annex B."""
    out = bytearray()
    pos = 0
    while pos + 4 <= len(avcc):
        (size,) = struct.unpack_from(">I", avcc, pos)
        out += _START_CODE + avcc[pos + 4 : pos + 4 + size]
        pos += 4 + size
    return bytes(out)


def parameter_sets(avcc_record: bytes) -> bytes:
    """The SPS and PPS of an avcC record, as Annex B."""
    out = bytearray()
    count = avcc_record[5] & 0x1F
    pos = 6
    for _ in range(count):
        (size,) = struct.unpack_from(">H", avcc_record, pos)
        out += _START_CODE + avcc_record[pos + 2 : pos + 2 + size]
        pos += 2 + size
    count = avcc_record[pos]
    pos += 1
    for _ in range(count):
        (size,) = struct.unpack_from(">H", avcc_record, pos)
        out += _START_CODE + avcc_record[pos + 2 : pos + 2 + size]
        pos += 2 + size
    return bytes(out)


def cut_clip(directory: Path, plan: ClipPlan, out: Path) -> None:
    """Write `out` (atomically) from the planned segments of the rendition in `directory`."""
    end = plan.skip + plan.duration
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with ExitStack() as keep:
            video = _until(list(_timed_packets(directory, plan, "video", keep)), end)
            audio = [
                p
                for p in _timed_packets(directory, plan, "audio", keep)
                if plan.skip - 1e-4 <= p[1].at < end - 1e-4
            ]
            sink = keep.enter_context(
                av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
            )
            # Every stream is added before the first packet is written (the header).
            cut = _VideoCut(video, plan.skip, sink) if video else None
            audio_out = sink.add_stream_from_template(audio[0][0]) if audio else None
            if cut is not None:
                cut.write()
            for _, timed in audio:
                _mux(sink, audio_out, timed, plan.skip, timed.packet)
            sink.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


class _VideoCut:
    def __init__(self, packets: list[tuple[Any, _Timed]], skip: float, sink: Any) -> None:
        self.source = packets[0][0]
        self.timed = [t for _, t in packets]
        self.skip = skip
        self.sink = sink
        frame_time = 1.0 / float(self.source.average_rate or 30)
        # Where the copied part starts: at once if the clip starts on the first keyframe.
        self.rest_at = 0
        if self.timed[0].at < skip - frame_time / 2:
            self.rest_at = next(
                (
                    i
                    for i, t in enumerate(self.timed)
                    if i > 0 and t.packet.is_keyframe and t.at >= skip - 1e-4
                ),
                len(self.timed),
            )
        if self.rest_at == 0:
            self.output = sink.add_stream_from_template(self.source)
        else:
            self.output = _encoder_stream(sink, self.source)

    def write(self) -> None:
        if self.rest_at == 0:
            for timed in self.timed:
                _mux(self.sink, self.output, timed, self.skip, timed.packet)
            return
        first = self.timed[self.rest_at].packet if self.rest_at < len(self.timed) else None
        reorder = 0.0  # how far the copied part's dts runs ahead of its pts (B-frames)
        if first is not None and first.dts is not None:
            reorder = float((first.pts - first.dts) * first.time_base)
        self._reencode_head(reorder)
        sets = parameter_sets(bytes(self.source.codec_context.extradata or b""))
        for index, timed in enumerate(self.timed[self.rest_at :]):
            packet = av.Packet((sets if index == 0 else b"") + annexb(bytes(timed.packet)))
            packet.duration = timed.packet.duration
            packet.is_keyframe = timed.packet.is_keyframe
            _mux(self.sink, self.output, timed, self.skip, packet)

    def _reencode_head(self, reorder: float) -> None:
        """Decode the first GOP, encode its frames from `skip` on; their dts run
        `reorder` seconds early, so the copied part's dts follow on without a step back."""
        ctx = self.source.codec_context
        decoder = av.CodecContext.create(ctx.name, "r")
        decoder.extradata = ctx.extradata
        gop = self.timed[: self.rest_at]
        times = {t.packet.pts: t.at for t in gop}
        frames = []
        for timed in gop:
            frames.extend(decoder.decode(timed.packet))
        frames.extend(decoder.decode(None))
        for frame in frames:
            at = times.get(frame.pts)
            if at is None or at < self.skip - 1e-4:
                continue
            frame.pts = round((at - self.skip) / TIME_BASE)
            frame.time_base = TIME_BASE
            frame.pict_type = av.video.frame.PictureType.NONE
            self._mux_encoded(self.output.encode(frame), reorder)
        self._mux_encoded(self.output.encode(None), reorder)

    def _mux_encoded(self, packets: list[Any], reorder: float) -> None:
        for packet in packets:
            packet.dts = packet.pts - round(reorder / packet.time_base)
            self.sink.mux(packet)


def _until(packets: list[tuple[Any, _Timed]], end: float) -> list[tuple[Any, _Timed]]:
    """Packets in decoding order up to the last one shown before `end` (the frames a
    B-frame near the end refers to are kept with it)."""
    shown = [i for i, (_, t) in enumerate(packets) if t.at < end - 1e-4]
    return packets[: shown[-1] + 1] if shown else []


def _encoder_stream(sink: Any, source: Any) -> Any:
    ctx = source.codec_context
    output = sink.add_stream("libx264", rate=source.average_rate or Fraction(30))
    output.width, output.height, output.pix_fmt = ctx.width, ctx.height, "yuv420p"
    output.time_base = TIME_BASE
    output.codec_context.time_base = TIME_BASE
    output.options = {"bf": "0", "preset": "veryfast", "crf": "18", "tune": "zerolatency"}
    return output


def _mux(sink: Any, output: Any, timed: _Timed, skip: float, packet: Any) -> None:
    base = timed.packet.time_base
    pts = round((timed.at - skip) / base)
    delta = pts - timed.packet.pts
    packet.pts = pts
    packet.dts = (timed.packet.dts if timed.packet.dts is not None else timed.packet.pts) + delta
    packet.time_base = base
    packet.stream = output
    sink.mux(packet)
